package token

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"sigil.dev/sigil/oidc/dev"
	"sigil.dev/sigil/trust"
)

// devIssuer serves sigil's dev issuer on a loopback test server.
func devIssuer(t *testing.T, id dev.Identity) *dev.Issuer {
	t.Helper()
	var h http.Handler = http.NotFoundHandler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	iss, err := dev.New(dev.Config{PublicURL: srv.URL + "/oidc", Identity: id})
	if err != nil {
		t.Fatal(err)
	}
	h = iss.Handler()
	return iss
}

func mint(t *testing.T, iss *dev.Issuer, claims map[string]any) string {
	t.Helper()
	tok, err := iss.Mint(claims)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// unsigned builds a token with the given payload and a dummy signature.
func unsigned(payload string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"ES256","typ":"JWT"}`)) + "." + enc([]byte(payload)) + "." + enc([]byte("sig"))
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func subOf(t *testing.T, tok string) string {
	t.Helper()
	c, err := Parse(tok)
	if err != nil {
		t.Fatal(err)
	}
	return c.Subject
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		tok     string
		want    Claims
		wantErr string
	}{
		{"email token", unsigned(`{"iss":"https://i","sub":"s","aud":"sigstore","exp":2000000000,"iat":1999999400,"email":"a@b.c","email_verified":true}`),
			Claims{Issuer: "https://i", Subject: "s", Audience: []string{"sigstore"}, Expiry: time.Unix(2000000000, 0).UTC(), IssuedAt: time.Unix(1999999400, 0).UTC(), Email: "a@b.c", EmailVerified: true}, ""},
		{"audience array, string email_verified", unsigned(`{"iss":"https://i","aud":["x","sigstore"],"exp":2000000000.5,"email_verified":"True"}`),
			Claims{Issuer: "https://i", Audience: []string{"x", "sigstore"}, Expiry: time.Unix(2000000000, 5e8).UTC(), EmailVerified: true}, ""},
		{"padded segments", strings.ReplaceAll(unsigned(`{"iss":"https://i"}`), ".", "==."), Claims{Issuer: "https://i"}, ""},
		{"two parts", "a.b", Claims{}, "three base64url parts"},
		{"four parts", "a.b.c.d", Claims{}, "three base64url parts"},
		{"not base64", "a.%%%.c", Claims{}, "header"},
		{"no alg", base64.RawURLEncoding.EncodeToString([]byte(`{}`)) + ".e30.c", Claims{}, "alg"},
		{"payload not an object", unsigned(`[1]`), Claims{}, "couldn't decode the claims"},
		{"no iss", unsigned(`{"sub":"s"}`), Claims{}, "no iss"},
		{"aud a number", unsigned(`{"iss":"i","aud":5}`), Claims{}, "aud"},
		{"exp a string", unsigned(`{"iss":"i","exp":"soon"}`), Claims{}, "couldn't decode the claims"},
		{"exp negative", unsigned(`{"iss":"i","exp":-1}`), Claims{}, "exp"},
		{"email_verified odd", unsigned(`{"iss":"i","email_verified":"yes"}`), Claims{}, "email_verified"},
		{"too long", strings.Repeat("a", MaxTokenSize+1), Claims{}, "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(tt.tok)
			if tt.wantErr != "" {
				if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want ErrMalformed mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			g, _ := json.Marshal(c)
			w, _ := json.Marshal(tt.want)
			if string(g) != string(w) {
				t.Errorf("got %s\nwant %s", g, w)
			}
		})
	}
}

func TestProofSubject(t *testing.T) {
	tests := []struct {
		c       Claims
		want    string
		wantErr bool
	}{
		{Claims{Subject: "s", Email: "a@b.c", EmailVerified: true}, "a@b.c", false},
		{Claims{Subject: "s", Email: "a@b.c"}, "", true},
		{Claims{Subject: "repo:org/repo:ref:refs/heads/main"}, "repo:org/repo:ref:refs/heads/main", false},
		{Claims{}, "", true},
	}
	for _, tt := range tests {
		got, err := tt.c.ProofSubject()
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("%+v: %q, %v; want %q, error %t", tt.c, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestCheck(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	exp := now.Add(-3 * time.Minute).Unix()
	tests := []struct {
		name   string
		tok    string
		is     error
		saying []string
	}{
		{"good", unsigned(fmt.Sprintf(`{"iss":"https://i","aud":"sigstore","exp":%d}`, now.Add(time.Minute).Unix())), nil, nil},
		{"expired", unsigned(fmt.Sprintf(`{"iss":"https://i","aud":"sigstore","exp":%d}`, exp)), ErrExpired, []string{"2026-11-27T11:57:00Z", "3m0s ago"}},
		{"expires now", unsigned(fmt.Sprintf(`{"iss":"https://i","aud":"sigstore","exp":%d}`, now.Unix())), ErrExpired, nil},
		{"other audience", unsigned(fmt.Sprintf(`{"iss":"https://i","aud":"api://AzureADTokenExchange","exp":%d}`, now.Add(time.Minute).Unix())), ErrAudience,
			[]string{`audience "api://AzureADTokenExchange"`, `not "sigstore"`, "https://i"}},
		{"other audiences", unsigned(fmt.Sprintf(`{"iss":"https://i","aud":["a","b"],"exp":%d}`, now.Add(time.Minute).Unix())), ErrAudience, []string{`["a","b"]`}},
		{"no audience", unsigned(fmt.Sprintf(`{"iss":"https://i","exp":%d}`, now.Add(time.Minute).Unix())), ErrAudience, []string{"no audience"}},
		{"no exp", unsigned(`{"iss":"https://i","aud":"sigstore"}`), ErrMalformed, []string{"no exp"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Check(tt.tok, "sigstore", now)
			if !errors.Is(err, tt.is) || (tt.is == nil) != (err == nil) {
				t.Fatalf("error %v, want %v", err, tt.is)
			}
			for _, s := range tt.saying {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("%q does not say %q", err, s)
				}
			}
		})
	}
}

// githubServer fakes the GitHub Actions token service: it answers the
// given statuses in turn, then tokens minted by iss with the requested
// audience.
func githubServer(t *testing.T, iss *dev.Issuer, statuses ...int) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(calls.Add(1))
		if r.Header.Get("Authorization") != "bearer request-token" || r.URL.Query().Get("api-version") != "2.0" {
			http.Error(w, "bad request token or lost query", http.StatusUnauthorized)
			return
		}
		if n <= len(statuses) {
			http.Error(w, "try later", statuses[n-1])
			return
		}
		tok := mint(t, iss, map[string]any{"aud": r.URL.Query().Get("audience"), "sub": "github"})
		_ = json.NewEncoder(w).Encode(map[string]any{"count": 1, "value": tok})
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

func init() { githubRetryDelays = []time.Duration{0, 0} }

func TestGitHubActions(t *testing.T) {
	iss := devIssuer(t, dev.Identity{})
	tests := []struct {
		name      string
		statuses  []int
		wantCalls int32
		wantErr   string
	}{
		{"first try", nil, 1, ""},
		{"retries a 503 and a 429", []int{503, 429}, 3, ""},
		{"gives up after three tries", []int{500, 502, 503}, 3, "503"},
		{"does not retry a 403", []int{403}, 1, "403 Forbidden"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, calls := githubServer(t, iss, tt.statuses...)
			src := GitHubActions(Options{Getenv: env(map[string]string{
				"ACTIONS_ID_TOKEN_REQUEST_URL": srv.URL + "/token?api-version=2.0", "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "request-token"})})
			tok, err := src.Token(context.Background())
			if calls.Load() != tt.wantCalls {
				t.Errorf("%d requests, want %d", calls.Load(), tt.wantCalls)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c, err := Check(tok, "sigstore", time.Now()); err != nil || c.Subject != "github" {
				t.Errorf("token %+v, %v: want audience sigstore from the provider", c, err)
			}
		})
	}

	t.Run("no value in the answer", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, `{"message":"hi"}`) }))
		defer srv.Close()
		_, err := GitHubActions(Options{Getenv: env(map[string]string{"ACTIONS_ID_TOKEN_REQUEST_URL": srv.URL, "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "x"})}).Token(context.Background())
		if err == nil || !strings.Contains(err.Error(), `no "value"`) {
			t.Errorf("error %v", err)
		}
	})
	t.Run("not in GitHub Actions", func(t *testing.T) {
		_, err := GitHubActions(Options{Getenv: env(nil)}).Token(context.Background())
		var u *Unavailable
		if !errors.As(err, &u) || !errors.Is(err, ErrNoToken) {
			t.Errorf("error %v, want Unavailable", err)
		}
	})
	t.Run("in GitHub Actions without id-token permission", func(t *testing.T) {
		_, err := GitHubActions(Options{Getenv: env(map[string]string{"GITHUB_ACTIONS": "true"})}).Token(context.Background())
		if err == nil || !strings.Contains(err.Error(), "permissions: id-token: write") {
			t.Errorf("error %v, want the permission hint", err)
		}
	})
}

func TestFileSource(t *testing.T) {
	iss := devIssuer(t, dev.Identity{})
	dir := t.TempDir()
	path := filepath.Join(dir, "token")

	if _, err := File(path).Token(context.Background()); err == nil || errors.Is(err, ErrNoToken) {
		t.Errorf("explicit missing file: %v, want a hard error", err)
	}
	if _, err := (&fileSource{path: path}).Token(context.Background()); !errors.Is(err, ErrNoToken) {
		t.Errorf("default missing file: %v, want Unavailable", err)
	}
	// A mounted token rotates: each call reads the file again.
	for _, sub := range []string{"first", "second"} {
		if err := os.WriteFile(path, []byte(mint(t, iss, map[string]any{"sub": sub})+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		tok, err := File(path).Token(context.Background())
		if err != nil || subOf(t, tok) != sub {
			t.Fatalf("read %v, want the %s token", err, sub)
		}
	}
	// Written on Windows: a byte order mark and CRLF around the token.
	if err := os.WriteFile(path, []byte("\ufeff"+mint(t, iss, map[string]any{"sub": "bom"})+"\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if tok, err := File(path).Token(context.Background()); err != nil || subOf(t, tok) != "bom" {
		t.Errorf("token file with a byte order mark: %v", err)
	}
	if tok, err := flagSource(path).Token(context.Background()); err != nil || subOf(t, tok) != "bom" {
		t.Errorf("--identity-token file with a byte order mark: %v", err)
	}
	for content, want := range map[string]string{"": "empty", "\ufeff\r\n": "empty", strings.Repeat("x", MaxTokenSize+1): "larger than"} {
		_ = os.WriteFile(path, []byte(content), 0o600)
		if _, err := File(path).Token(context.Background()); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), want) {
			t.Errorf("file of %d bytes: %v, want %q", len(content), err, want)
		}
	}
}

func TestPrecedence(t *testing.T) {
	iss := devIssuer(t, dev.Identity{})
	dir := t.TempDir()
	flagFile := filepath.Join(dir, "flag-token")
	mounted := filepath.Join(dir, "mounted")
	if err := os.WriteFile(flagFile, []byte(mint(t, iss, map[string]any{"sub": "flag-file"})), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(mounted, []byte(mint(t, iss, map[string]any{"sub": "file"})), 0o600); err != nil {
		t.Fatal(err)
	}
	gh, _ := githubServer(t, iss)
	all := map[string]string{
		"SIGSTORE_ID_TOKEN":              mint(t, iss, map[string]any{"sub": "env"}),
		"ACTIONS_ID_TOKEN_REQUEST_URL":   gh.URL + "?api-version=2.0",
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN": "request-token",
		"SIGSTORE_ID_TOKEN_FILE":         mounted,
	}
	without := func(keys ...string) map[string]string {
		m := map[string]string{}
		for k, v := range all {
			m[k] = v
		}
		for _, k := range keys {
			delete(m, k)
		}
		return m
	}
	flagTok := mint(t, iss, map[string]any{"sub": "flag"})
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"--identity-token first", Options{IdentityToken: flagTok, Getenv: env(all)}, "flag"},
		{"--identity-token as a file", Options{IdentityToken: flagFile, Getenv: env(all)}, "flag-file"},
		{"then SIGSTORE_ID_TOKEN", Options{Getenv: env(all)}, "env"},
		{"then GitHub Actions", Options{Getenv: env(without("SIGSTORE_ID_TOKEN"))}, "github"},
		{"then the token file", Options{Getenv: env(without("SIGSTORE_ID_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_URL"))}, "file"},
		{"the file named by an option", Options{TokenFile: mounted, Getenv: env(nil)}, "file"},
		{"ambient disabled skips to interactive", Options{DisableAmbient: true, Issuer: iss.URL(), Flow: FlowBrowser, Getenv: env(without("SIGSTORE_ID_TOKEN")),
			Output: io.Discard, OpenBrowser: headlessBrowser(t)}, "dev@sigil.test"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := Default(tt.opts).Token(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if got := subOf(t, tok); got != tt.want {
				t.Errorf("token from %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDefaultErrors(t *testing.T) {
	if _, err := os.Stat(DefaultTokenFile); err == nil {
		t.Skipf("%s exists on this machine", DefaultTokenFile)
	}
	iss := devIssuer(t, dev.Identity{})
	missing := filepath.Join(t.TempDir(), "nope")
	tests := []struct {
		name   string
		opts   Options
		is     error
		saying []string
	}{
		{"nothing anywhere", Options{Getenv: env(nil), TokenFile: "", Issuer: "https://issuer.example.com"}, ErrNoToken, []string{
			"--identity-token: not given", "SIGSTORE_ID_TOKEN: not set", "GitHub Actions: ACTIONS_ID_TOKEN_REQUEST_URL",
			"token file " + DefaultTokenFile + ": does not exist", "interactive sign-in: not a terminal", "--oidc-device-flow",
			"permissions: id-token: write", "aud: sigstore"}},
		{"no issuer for interactive", Options{Getenv: env(nil), Interactive: true}, ErrNoToken, []string{"no OIDC issuer known", "--oidc-issuer"}},
		{"ambient disabled", Options{Getenv: env(nil), DisableAmbient: true}, ErrNoToken, []string{"ambient CI providers: disabled"}},
		{"expired SIGSTORE_ID_TOKEN", Options{Getenv: env(map[string]string{"SIGSTORE_ID_TOKEN": mint(t, iss, map[string]any{"exp": time.Now().Add(-time.Hour).Unix()})})},
			ErrExpired, []string{"from SIGSTORE_ID_TOKEN", "expired at", "ago", "get a fresh one"}},
		{"wrong audience", Options{IdentityToken: mint(t, iss, map[string]any{"aud": "api://AzureADTokenExchange"})},
			ErrAudience, []string{"from --identity-token", `audience "api://AzureADTokenExchange"`, `not "sigstore"`, "--oidc-client-id"}},
		{"another client ID expected", Options{IdentityToken: mint(t, iss, nil), ClientID: "private"},
			ErrAudience, []string{`not "private"`}},
		{"flag neither file nor JWT", Options{IdentityToken: "hello"}, ErrMalformed, []string{"neither a readable file nor a JWT"}},
		{"flag file missing", Options{IdentityToken: missing}, os.ErrNotExist, []string{"couldn't read the --identity-token file", missing}},
		{"flag a directory", Options{IdentityToken: filepath.Dir(missing)}, nil, []string{"couldn't read the --identity-token file: it is a directory"}},
		{"explicit token file missing", Options{Getenv: env(map[string]string{"SIGSTORE_ID_TOKEN_FILE": missing})}, os.ErrNotExist, []string{"token file " + missing}},
		{"access token given", Options{IdentityToken: "ghs_abc.def.ghi"}, ErrMalformed, []string{"raw ID token"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Default(tt.opts).Token(context.Background())
			if err == nil || (tt.is != nil && !errors.Is(err, tt.is)) {
				t.Fatalf("error %v, want %v", err, tt.is)
			}
			for _, s := range tt.saying {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error does not say %q:\n%v", s, err)
				}
			}
		})
	}
}

func TestIssuerFromSigningConfig(t *testing.T) {
	now := time.Now()
	sc := &trust.SigningConfig{OIDCProviders: []trust.Service{
		{URL: "https://old.example/auth", MajorAPIVersion: 1, Valid: trust.Window{Start: now.Add(-48 * time.Hour)}},
		{URL: "https://new.example/auth", MajorAPIVersion: 1, Valid: trust.Window{Start: now.Add(-time.Hour)}},
		{URL: "https://future.example/auth", MajorAPIVersion: 1, Valid: trust.Window{Start: now.Add(time.Hour)}},
	}}
	if got, err := IssuerFromSigningConfig(sc, now); err != nil || got != "https://new.example/auth" {
		t.Errorf("got %q, %v; want the newest valid issuer", got, err)
	}
	if _, err := IssuerFromSigningConfig(&trust.SigningConfig{}, now); err == nil {
		t.Error("a signing config without oidcUrls gave an issuer")
	}
}

// A loopback issuer that approves by itself (sigil's dev issuer) signs in
// without a browser or a terminal.
func TestLoopbackIssuerAutoApproves(t *testing.T) {
	iss := devIssuer(t, dev.Identity{})
	var out strings.Builder
	tok, err := Default(Options{Getenv: env(nil), Issuer: iss.URL(), Output: &out}).Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse(tok)
	if err != nil || c.Issuer != iss.URL() {
		t.Fatalf("token %v %+v", err, c)
	}
	if !strings.Contains(out.String(), "Signed in at") {
		t.Fatalf("output %q", out.String())
	}
}

// TestFlagTokenFromPipe: --identity-token names a pipe, as with
// <(get-token) or /dev/stdin, which keep the token out of the argument
// list; cosign reads such a path, and so does sigil.
func TestFlagTokenFromPipe(t *testing.T) {
	iss := devIssuer(t, dev.Identity{})
	tok := mint(t, iss, map[string]any{"sub": "piped"})
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	path := fmt.Sprintf("/dev/fd/%d", r.Fd())
	if _, err := os.Stat(path); err != nil {
		t.Skipf("no %s here: %v", path, err)
	}
	go func() {
		io.WriteString(w, tok+"\n")
		w.Close()
	}()
	got, err := Default(Options{IdentityToken: path, Getenv: env(nil), DisableAmbient: true, Flow: FlowNone}).Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got != tok {
		t.Fatalf("got %q, want the piped token", got)
	}
}

// TestLoopbackIssuerRefusal: a loopback issuer that refuses the
// authorization request outright (400: sigil's dev issuer does for a client
// ID it does not know) is reported as such, at once, and not as an issuer
// that wants a person (which sent scripts to a terminal, and a terminal to
// a browser showing the refusal and five minutes of waiting).
func TestLoopbackIssuerRefusal(t *testing.T) {
	iss := devIssuer(t, dev.Identity{})
	for _, interactive := range []bool{false, true} {
		start := time.Now()
		_, err := Interactive(Options{Getenv: env(nil), Issuer: iss.URL(), ClientID: "foo", Interactive: interactive, Output: io.Discard,
			OpenBrowser: func(string) error { t.Error("opened a browser on a refusal"); return nil }, Timeout: 10 * time.Second}).Token(context.Background())
		if err == nil || errors.Is(err, ErrNoToken) || !strings.Contains(err.Error(), `client_id "foo" is unknown`) {
			t.Errorf("interactive %t: error %v, want the issuer's refusal", interactive, err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("interactive %t: took %s", interactive, d)
		}
	}
}
