package token

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sigil.dev/sigil/oidc/dev"
)

// headlessBrowser is a "browser" that follows the authorization URL: the
// dev issuer approves and redirects to the loopback callback.
func headlessBrowser(t *testing.T) func(string) error {
	return func(u string) error {
		go func() {
			resp, err := http.Get(u)
			if err != nil {
				t.Errorf("browser: %v", err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("browser: the callback page answered %s", resp.Status)
			}
		}()
		return nil
	}
}

// terminal is an Output that a test reads as the user would: it visits
// the first URL printed that matches re.
type terminal struct {
	mu   sync.Mutex
	text strings.Builder
	re   *regexp.Regexp
	once sync.Once
	t    *testing.T
	// visit runs on the URL found; default a GET.
	visit func(string)
}

func (w *terminal) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.text.Write(p)
	if m := w.re.FindString(w.text.String()); m != "" {
		w.once.Do(func() {
			visit := w.visit
			if visit == nil {
				visit = func(u string) {
					resp, err := http.Get(u)
					if err != nil {
						w.t.Errorf("visiting %s: %v", u, err)
						return
					}
					resp.Body.Close()
				}
			}
			go visit(m)
		})
	}
	return len(p), nil
}

func (w *terminal) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.text.String()
}

func TestBrowserFlowHeadless(t *testing.T) {
	iss := devIssuer(t, dev.Identity{Email: "alice@example.com"})
	var opened atomic.Int32
	browser := headlessBrowser(t)
	src := Interactive(Options{Issuer: iss.URL(), Flow: FlowBrowser, Output: io.Discard, OpenBrowser: func(u string) error {
		opened.Add(1)
		if q, _ := url.Parse(u); q.Query().Get("code_challenge_method") != "S256" || !strings.HasPrefix(q.Query().Get("redirect_uri"), "http://localhost:") {
			t.Errorf("authorization URL %s: want PKCE S256 and a localhost redirect", u)
		}
		return browser(u)
	}})
	tok, err := src.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	c, err := Check(tok, "sigstore", time.Now())
	if err != nil || c.Email != "alice@example.com" || c.Issuer != iss.URL() {
		t.Fatalf("claims %+v, %v", c, err)
	}
	if _, err := src.Token(context.Background()); err != nil || opened.Load() != 1 {
		t.Errorf("second call: %v, browser opened %d times; want the cached token", err, opened.Load())
	}
}

func TestBrowserFlowPrintsTheURLWhenNoBrowserOpens(t *testing.T) {
	iss := devIssuer(t, dev.Identity{})
	out := &terminal{t: t, re: regexp.MustCompile(`http://127\.0\.0\.1:\d+/oidc/auth\?\S+`)}
	src := Interactive(Options{Issuer: iss.URL(), Flow: FlowBrowser, Output: out, OpenBrowser: func(string) error { return errors.New("no xdg-open") }})
	if _, err := src.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := out.String(); !strings.Contains(s, "Couldn't open a browser (no xdg-open)") || !strings.Contains(s, "Signed in at") {
		t.Errorf("output:\n%s", s)
	}
}

func TestBrowserFlowIgnoresForeignCallbacksAndReportsRefusals(t *testing.T) {
	iss := devIssuer(t, dev.Identity{})
	tests := []struct {
		name    string
		rewrite func(callback *url.URL) // change the redirect the issuer sent
		wantErr string
	}{
		{"issuer refuses", func(cb *url.URL) {
			q := cb.Query()
			q.Del("code")
			q.Set("error", "access_denied")
			q.Set("error_description", "user said no")
			cb.RawQuery = q.Encode()
		}, "the issuer refused: access_denied: user said no"},
		{"no code", func(cb *url.URL) {
			q := cb.Query()
			q.Del("code")
			cb.RawQuery = q.Encode()
		}, "neither a code nor an error"},
		{"code from another sign-in", func(cb *url.URL) {
			q := cb.Query()
			q.Set("code", "stolen")
			cb.RawQuery = q.Encode()
		}, "couldn't exchange the authorization code"},
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := Interactive(Options{Issuer: iss.URL(), Flow: FlowBrowser, Output: io.Discard, OpenBrowser: func(u string) error {
				go func() {
					resp, err := noRedirect.Get(u)
					if err != nil {
						t.Error(err)
						return
					}
					resp.Body.Close()
					cb, _ := url.Parse(resp.Header.Get("Location"))
					// A callback with another state is answered 400 and ignored.
					forged := *cb
					q := forged.Query()
					q.Set("state", "forged")
					q.Set("error", "access_denied")
					forged.RawQuery = q.Encode()
					if r, err := http.Get(forged.String()); err != nil || r.StatusCode != http.StatusBadRequest {
						t.Errorf("forged callback: %v %v, want 400", r.StatusCode, err)
					} else {
						r.Body.Close()
					}
					tt.rewrite(cb)
					if r, err := http.Get(cb.String()); err == nil {
						r.Body.Close()
					}
				}()
				return nil
			}})
			_, err := src.Token(context.Background())
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %v, want one saying %q", err, tt.wantErr)
			}
		})
	}
}

func TestDeviceFlowHeadless(t *testing.T) {
	iss := devIssuer(t, dev.Identity{Subject: "device-user"})
	out := &terminal{t: t, re: regexp.MustCompile(`http://\S+/oidc/device\?user_code=[A-Z]{4}-[A-Z]{4}`)}
	src := Interactive(Options{Issuer: iss.URL(), Flow: FlowDevice, Output: out,
		OpenBrowser: func(string) error { t.Error("the device flow opened a browser"); return nil }})
	tok, err := src.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c, err := Check(tok, "sigstore", time.Now()); err != nil || c.Subject != "device-user" {
		t.Fatalf("claims %+v, %v", c, err)
	}
	if s := out.String(); !regexp.MustCompile(`open http://\S+/device on any device and enter the code [A-Z]{4}-[A-Z]{4}`).MatchString(s) {
		t.Errorf("prompt:\n%s", s)
	}
}

// TestDeviceFlowSurvivesANetworkError: a dropped connection while polling
// the token endpoint does not end a device sign-in (the user may be
// minutes into it on another device); it ended at the first one.
func TestDeviceFlowSurvivesANetworkError(t *testing.T) {
	var h http.Handler = http.NotFoundHandler()
	var dropped atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/token") && dropped.Add(1) == 1 {
			c, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				c.Close()
			}
			return
		}
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	iss, err := dev.New(dev.Config{PublicURL: srv.URL + "/oidc", Identity: dev.Identity{Subject: "roaming"}})
	if err != nil {
		t.Fatal(err)
	}
	h = iss.Handler()
	out := &terminal{t: t, re: regexp.MustCompile(`http://\S+/oidc/device\?user_code=[A-Z]{4}-[A-Z]{4}`)}
	tok, err := Interactive(Options{Issuer: iss.URL(), Flow: FlowDevice, Output: out}).Token(context.Background())
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if c, err := Check(tok, "sigstore", time.Now()); err != nil || c.Subject != "roaming" {
		t.Fatalf("claims %+v, %v", c, err)
	}
	if dropped.Load() < 2 {
		t.Fatalf("the token endpoint was polled %d times", dropped.Load())
	}
	if s := out.String(); !strings.Contains(s, "Lost contact with the issuer while waiting") {
		t.Errorf("no word of the lost connection:\n%s", s)
	}
}

func TestDeviceFlowDenied(t *testing.T) {
	iss := devIssuer(t, dev.Identity{})
	out := &terminal{t: t, re: regexp.MustCompile(`http://\S+/device\?user_code=\S+`)}
	out.visit = func(u string) {
		if r, err := http.Get(u + "&action=deny"); err == nil {
			r.Body.Close()
		}
	}
	_, err := Interactive(Options{Issuer: iss.URL(), Flow: FlowDevice, Output: out}).Token(context.Background())
	if err == nil || !strings.Contains(err.Error(), "the sign-in was denied") {
		t.Errorf("error %v, want a denial", err)
	}
}

func TestInteractiveFailures(t *testing.T) {
	iss := devIssuer(t, dev.Identity{})
	tests := []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{"issuer down", Options{Issuer: "http://127.0.0.1:1/oidc", Flow: FlowDevice}, "couldn't discover the OIDC issuer http://127.0.0.1:1/oidc"},
		{"redirect not loopback", Options{Issuer: iss.URL(), Flow: FlowBrowser, RedirectURL: "http://example.com:0/cb"}, "must be localhost or a loopback address"},
		{"redirect not http", Options{Issuer: iss.URL(), Flow: FlowBrowser, RedirectURL: "https://localhost:0/cb"}, "want http://localhost:PORT/PATH"},
		{"unknown client", Options{Issuer: iss.URL(), Flow: FlowDevice, ClientID: "other"}, "invalid_client"},
		{"nobody signs in", Options{Issuer: iss.URL(), Flow: FlowBrowser, Timeout: 200 * time.Millisecond, OpenBrowser: func(string) error { return nil }},
			"no answer from the browser"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Output = io.Discard
			_, err := Interactive(tt.opts).Token(context.Background())
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %v, want one saying %q", err, tt.wantErr)
			}
		})
	}
}

func TestAutoFlowChoice(t *testing.T) {
	tests := []struct {
		goos string
		env  map[string]string
		want bool
	}{
		{"linux", nil, false},
		{"linux", map[string]string{"DISPLAY": ":0"}, true},
		{"linux", map[string]string{"WAYLAND_DISPLAY": "wayland-0"}, true},
		{"linux", map[string]string{"BROWSER": "wslview"}, true},
		{"darwin", nil, true},
		{"darwin", map[string]string{"SSH_CONNECTION": "1.2.3.4 5 6.7.8.9 22"}, false},
		{"windows", map[string]string{"SSH_TTY": "/dev/pts/1"}, false},
		{"freebsd", map[string]string{"DISPLAY": ":1"}, true},
	}
	for _, tt := range tests {
		if got := hasDisplay(env(tt.env), tt.goos); got != tt.want {
			t.Errorf("hasDisplay(%s, %v) = %t, want %t", tt.goos, tt.env, got, tt.want)
		}
	}

	// Without a display, FlowAuto picks the device flow.
	iss := devIssuer(t, dev.Identity{})
	out := &terminal{t: t, re: regexp.MustCompile(`http://\S+/device\?user_code=\S+`)}
	tok, err := Interactive(Options{Issuer: iss.URL(), Interactive: true, Getenv: env(nil), Output: out,
		OpenBrowser: func(string) error { t.Error("opened a browser without a display"); return nil }}).Token(context.Background())
	if err != nil || tok == "" {
		t.Fatalf("auto flow without a display: %v", err)
	}
}

func TestOpenBrowserCommand(t *testing.T) {
	if err := openBrowser("http://localhost/x", env(map[string]string{"BROWSER": "/nonexistent/browser %s"}), "linux"); err == nil {
		t.Error("a missing $BROWSER program reported success")
	}
	if err := openBrowser("http://localhost/x", env(map[string]string{"BROWSER": "true"}), "linux"); err != nil {
		t.Errorf("BROWSER=true: %v", err)
	}
}

// TestDeviceFlowPromptIsPrintable: the verification URI and user code of a
// device sign-in come from the issuer and go to the terminal; control
// characters (escape sequences that retitle the window, clear the screen
// or rewrite what was printed) and bidirectional formatting characters
// (which show a URL's end first) are shown as "?", and a long URL is shown
// whole.
func TestDeviceFlowPromptIsPrintable(t *testing.T) {
	var base string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			json.NewEncoder(w).Encode(map[string]string{"issuer": base, "authorization_endpoint": base + "/auth",
				"token_endpoint": base + "/token", "jwks_uri": base + "/jwks", "device_authorization_endpoint": base + "/device"})
		case "/device":
			json.NewEncoder(w).Encode(map[string]any{"device_code": "d", "user_code": "AB\x1b[2JCD\u202eEF",
				"verification_uri": base + "/v\x1b]0;pwned\x07", "verification_uri_complete": base + "/v?c=" + strings.Repeat("x", 400) + "\x1b[1A", "expires_in": 60, "interval": 1})
		case "/token":
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":"access_denied"}`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	base = srv.URL
	var out strings.Builder
	_, err := Interactive(Options{Issuer: base, Flow: FlowDevice, Output: &out}).Token(context.Background())
	if err == nil || !strings.Contains(err.Error(), "denied") {
		t.Fatalf("error %v, want a denial", err)
	}
	if strings.ContainsAny(out.String(), "\x1b\x07") || !strings.Contains(out.String(), "AB?[2JCD?EF") {
		t.Fatalf("prompt %q carries control characters", out.String())
	}
	if !strings.Contains(out.String(), strings.Repeat("x", 400)+"?[1A") {
		t.Fatalf("prompt %q cut the URL short", out.String())
	}
}

// TestIssuerAnswersInErrorsArePrintable: the errors of a sign-in quote the
// issuer's answers (x/oauth2 and go-oidc put a response body that is not
// an OAuth error object in their error text as received); they reach the
// terminal without control characters and cut short, like the prompts.
func TestIssuerAnswersInErrorsArePrintable(t *testing.T) {
	evil := "<html>\x1b]0;pwned\x07\x1b[2J" + strings.Repeat("x", 5000) + "</html>"
	var base string
	tests := []struct {
		name string
		fail string // the path that answers 502 with evil
		flow Flow
	}{
		{"discovery", "/.well-known/openid-configuration", FlowDevice},
		{"device authorization", "/device", FlowDevice},
		{"device token", "/token", FlowDevice},
		{"code exchange", "/token", FlowBrowser},
		{"issuer keys", "/jwks", FlowDevice},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == tt.fail {
					w.Header().Set("Content-Type", "text/html")
					w.WriteHeader(http.StatusBadGateway)
					io.WriteString(w, evil)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				switch r.URL.Path {
				case "/.well-known/openid-configuration":
					json.NewEncoder(w).Encode(map[string]any{"issuer": base, "authorization_endpoint": base + "/auth",
						"token_endpoint": base + "/token", "jwks_uri": base + "/jwks", "device_authorization_endpoint": base + "/device",
						"id_token_signing_alg_values_supported": []string{"ES256"}})
				case "/auth": // approves at once
					q := r.URL.Query()
					http.Redirect(w, r, q.Get("redirect_uri")+"?code=c&state="+url.QueryEscape(q.Get("state")), http.StatusFound)
				case "/token":
					idt := unsigned(fmt.Sprintf(`{"iss":%q,"aud":"sigstore","sub":"s","exp":%d}`, base, time.Now().Add(time.Hour).Unix()))
					json.NewEncoder(w).Encode(map[string]any{"access_token": "a", "token_type": "Bearer", "id_token": idt})
				case "/device":
					json.NewEncoder(w).Encode(map[string]any{"device_code": "d", "user_code": "ABCD", "verification_uri": base + "/v", "expires_in": 60, "interval": 1})
				default:
					http.NotFound(w, r)
				}
			}))
			defer srv.Close()
			base = srv.URL
			_, err := Interactive(Options{Issuer: base, Flow: tt.flow, Output: io.Discard, OpenBrowser: headlessBrowser(t)}).Token(context.Background())
			if err == nil {
				t.Fatal("no error")
			}
			if s := err.Error(); strings.ContainsAny(s, "\x1b\x07") || len(s) > 1000 || !strings.Contains(s, "502") {
				t.Errorf("error (%d bytes) %q", len(s), s)
			}
		})
	}
}

// TestAutoDeviceFlowWithoutEndpoint: where no browser can open, FlowAuto
// picks the device flow by itself; an issuer without one must not be
// answered with advice to drop --oidc-device-flow, which was not given.
func TestAutoDeviceFlowWithoutEndpoint(t *testing.T) {
	// Not a loopback issuer (those sign in with the browser flow): a name
	// the test client dials to the test server.
	const base = "http://issuer.test"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{"issuer": base, "authorization_endpoint": base + "/auth",
			"token_endpoint": base + "/token", "jwks_uri": base + "/jwks"})
	}))
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, srv.Listener.Addr().String())
	}}}
	prev := goos
	goos = "linux"
	defer func() { goos = prev }()
	_, err := Interactive(Options{Issuer: base, Interactive: true, Getenv: env(nil), Output: io.Discard, HTTPClient: client, Timeout: 5 * time.Second,
		OpenBrowser: func(string) error { t.Error("opened a browser without a display"); return nil }}).Token(context.Background())
	if err == nil || strings.Contains(err.Error(), "--oidc-device-flow") || !strings.Contains(err.Error(), "BROWSER") {
		t.Errorf("error %v, want one saying that no browser can open here and what to do", err)
	}
	_, err = Interactive(Options{Issuer: base, Flow: FlowDevice, Output: io.Discard, HTTPClient: client, Timeout: 5 * time.Second}).Token(context.Background())
	if err == nil || !strings.Contains(err.Error(), "drop --oidc-device-flow") {
		t.Errorf("error %v, want one saying to drop --oidc-device-flow", err)
	}
}

// TestDevicePromptSaysHowLongItWaits: the device prompt gives the time
// left to sign in; when the sign-in's own timeout ends first (Google's
// codes last 30 minutes, the timeout is 5), it gives that one, not the
// code's lifetime, after which the command would long have given up.
func TestDevicePromptSaysHowLongItWaits(t *testing.T) {
	var base string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			json.NewEncoder(w).Encode(map[string]string{"issuer": base, "authorization_endpoint": base + "/auth",
				"token_endpoint": base + "/token", "jwks_uri": base + "/jwks", "device_authorization_endpoint": base + "/device"})
		case "/device":
			json.NewEncoder(w).Encode(map[string]any{"device_code": "d", "user_code": "ABCD", "verification_uri": base + "/v", "expires_in": 1800, "interval": 1})
		default:
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":"authorization_pending"}`)
		}
	}))
	defer srv.Close()
	base = srv.URL
	var out strings.Builder
	_, err := Interactive(Options{Issuer: base, Flow: FlowDevice, Output: &out, Timeout: 1500 * time.Millisecond}).Token(context.Background())
	if err == nil || !strings.Contains(err.Error(), "within 1.5s") {
		t.Fatalf("error %v, want the timeout", err)
	}
	if s := out.String(); strings.Contains(s, "30m") || !regexp.MustCompile(`\(sign in within [12]s\)`).MatchString(s) {
		t.Errorf("prompt %q: want the time the command waits", s)
	}
}

// TestBrowserFlowOpensOnlyWebURLs: the sign-in URL is the discovery
// document's authorization_endpoint, handed to the browser opener
// (xdg-open, open, rundll32), which opens files and runs programs too; an
// endpoint that is not an http(s) URL is refused, not opened.
func TestBrowserFlowOpensOnlyWebURLs(t *testing.T) {
	for _, endpoint := range []string{"file:///etc/passwd", "/Applications/Calculator.app", "smb://host/share/x.command", "-a"} {
		var base string
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]string{"issuer": base, "authorization_endpoint": endpoint,
				"token_endpoint": base + "/token", "jwks_uri": base + "/jwks"})
		}))
		base = srv.URL
		_, err := Interactive(Options{Issuer: base, Flow: FlowBrowser, Output: io.Discard, Timeout: time.Second,
			OpenBrowser: func(u string) error { t.Errorf("opened %q", u); return nil }}).Token(context.Background())
		if err == nil || !strings.Contains(err.Error(), "authorization_endpoint") {
			t.Errorf("%s: error %v, want one naming the authorization_endpoint", endpoint, err)
		}
		srv.Close()
	}
}
