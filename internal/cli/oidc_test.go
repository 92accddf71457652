package cli

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"sigil.dev/sigil/oidc/dev"
	"sigil.dev/sigil/oidc/token"
)

// devIssuerURL serves sigil's dev issuer on a loopback test server.
func devIssuerURL(t *testing.T) (*dev.Issuer, string) {
	t.Helper()
	// The issuer needs the server's URL, and the server its handler: the
	// listener comes first, the server starts serving once the handler
	// is in place (setting it afterwards races with the first request).
	srv := httptest.NewUnstartedServer(nil)
	iss, err := dev.New(dev.Config{PublicURL: "http://" + srv.Listener.Addr().String() + "/oidc"})
	if err != nil {
		srv.Close()
		t.Fatal(err)
	}
	srv.Config.Handler = iss.Handler()
	srv.Start()
	t.Cleanup(srv.Close)
	return iss, iss.URL()
}

// noAmbientToken clears what the environment could supply.
func noAmbientToken(t *testing.T) {
	for _, k := range []string{"SIGSTORE_ID_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN", "SIGSTORE_ID_TOKEN_FILE"} {
		t.Setenv(k, "")
	}
}

func TestDevTokenCommand(t *testing.T) {
	noAmbientToken(t)
	iss, issuer := devIssuerURL(t)
	flagTok, err := iss.Mint(map[string]any{"sub": "from-flag"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		code       int
		out, err   string // substrings of stdout and stderr
		hiddenHelp bool
	}{
		{name: "flag token printed", args: []string{"dev-token", "--identity-token", flagTok}, out: flagTok},
		{name: "environment token, decoded", args: []string{"dev-token", "--decode"}, env: map[string]string{"SIGSTORE_ID_TOKEN": flagTok},
			out: `"Subject": "from-flag"`},
		{name: "minted with claims", args: []string{"dev-token", "--oidc-issuer", issuer, "--mint", "--claim", "repository=org/repo", "--claim", "run_attempt=2", "--decode"},
			out: `"ProofSubject": "dev@sigil.test"`},
		{name: "minted claims decoded", args: []string{"dev-token", "--oidc-issuer", issuer, "--mint", "--claim", "repository=org/repo", "--decode"},
			out: `"repository": "org/repo"`},
		{name: "no token anywhere", args: []string{"dev-token", "--oidc-issuer", "https://issuer.example.com", "--oidc-disable-ambient-providers"}, code: 1,
			err: "none found. Tried:\n  - --identity-token: not given\n  - SIGSTORE_ID_TOKEN: not set\n  - ambient CI providers: disabled"},
		{name: "wrong audience", args: []string{"dev-token", "--identity-token", flagTok, "--oidc-client-id", "private"}, code: 1,
			err: `it is for audience "sigstore", not "private"`},
		{name: "mint without issuer", args: []string{"dev-token", "--mint"}, code: 1, err: "--mint needs --oidc-issuer"},
		{name: "claim without mint", args: []string{"dev-token", "--claim", "a=b"}, code: 1, err: "--claim needs --mint"},
		{name: "hidden from help", args: []string{"--help"}, hiddenHelp: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			code, stdout, stderr := run(tt.args...)
			if code != tt.code || !strings.Contains(stdout, tt.out) || !strings.Contains(stderr, tt.err) {
				t.Errorf("exit %d, stdout:\n%s\nstderr:\n%s\nwant exit %d, stdout with %q, stderr with %q", code, stdout, stderr, tt.code, tt.out, tt.err)
			}
			if tt.hiddenHelp && strings.Contains(stdout, "dev-token") {
				t.Errorf("--help lists the hidden dev-token command:\n%s", stdout)
			}
		})
	}
	// Minted claims arrive as JSON values.
	_, stdout, _ := run("dev-token", "--oidc-issuer", issuer, "--mint", "--claim", `extra={"n":1}`, "--claim", "aud=other")
	tok := strings.TrimSpace(stdout)
	if _, err := token.Check(tok, "other", time.Now()); err != nil {
		t.Fatal(err)
	}
	payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	if !strings.Contains(string(payload), `"extra":{"n":1}`) {
		t.Errorf("payload %s: want the claim as a JSON object", payload)
	}
}

// visitor is a stderr that, like a user, opens the device verification
// URL the command prints.
type visitor struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	once sync.Once
}

var deviceURL = regexp.MustCompile(`http://\S+/device\?user_code=[A-Z]{4}-[A-Z]{4}`)

func (v *visitor) Write(p []byte) (int, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.buf.Write(p)
	if u := deviceURL.FindString(v.buf.String()); u != "" {
		v.once.Do(func() {
			go func() {
				if r, err := http.Get(u); err == nil {
					r.Body.Close()
				}
			}()
		})
	}
	return len(p), nil
}

func TestDevTokenDeviceFlowHeadless(t *testing.T) {
	noAmbientToken(t)
	_, issuer := devIssuerURL(t)
	var stdout bytes.Buffer
	stderr := &visitor{}
	code := Main([]string{"dev-token", "--oidc-issuer", issuer, "--oidc-device-flow", "--decode"}, &stdout, stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.buf.String())
	}
	var c struct{ Issuer, ProofSubject string }
	if err := json.Unmarshal(stdout.Bytes(), &c); err != nil || c.Issuer != issuer || c.ProofSubject != dev.DefaultEmail {
		t.Errorf("claims %s (%v)", stdout.String(), err)
	}
	if !strings.Contains(stderr.buf.String(), "enter the code") {
		t.Errorf("stderr:\n%s", stderr.buf.String())
	}
}
