package token

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"sigil.dev/sigil/internal/printable"
)

// goos is the operating system that decides how to open a browser.
var goos = runtime.GOOS

// interactive signs in at the issuer with a browser or the device flow.
type interactive struct {
	o Options

	mu     sync.Mutex
	cached string
	expiry time.Time
}

// Interactive returns the interactive sign-in source: per opts.Flow, the
// authorization code flow with PKCE S256 and a loopback redirect in a
// browser, or the device flow. It is Unavailable when opts.Flow is
// FlowNone, when no issuer is set, or under FlowAuto when opts.Interactive
// is false. A token it got is reused while it has a minute left.
//
// Both flows discover the issuer (OIDC Discovery), ask for the scopes
// "openid email", and verify the ID token they receive (signature via the
// issuer's JWKS, iss, aud = client ID, exp, and for the browser flow the
// nonce), as sigstore/sigstore pkg/oauthflow does.
func Interactive(opts Options) Source { return &interactive{o: opts.withDefaults()} }

func (s *interactive) Token(ctx context.Context) (string, error) {
	o := s.o
	device := o.Flow == FlowDevice
	switch {
	case o.Flow == FlowNone:
		return "", &Unavailable{"interactive sign-in", "disabled"}
	case o.Issuer == "":
		return "", &Unavailable{"interactive sign-in", "no OIDC issuer known (give --oidc-issuer, or a signing config that lists oidcUrls)"}
	case o.Flow == FlowAuto && loopbackIssuer(o.Issuer):
		// A loopback issuer (sigil's dev issuer) may approve by itself:
		// the browser flow first follows the sign-in URL without a
		// browser (see autoApprove).
		device = false
	case o.Flow == FlowAuto && !o.Interactive:
		return "", &Unavailable{"interactive sign-in", "not a terminal (pass --oidc-device-flow to sign in on another device)"}
	case o.Flow == FlowAuto:
		device = !hasDisplay(o.Getenv, goos)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cached != "" && o.Now().Add(time.Minute).Before(s.expiry) {
		return s.cached, nil
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	ctx = oidc.ClientContext(ctx, o.HTTPClient)
	ctx = context.WithValue(ctx, oauth2.HTTPClient, o.HTTPClient)
	p, err := oidc.NewProvider(ctx, o.Issuer)
	if err != nil {
		return "", fmt.Errorf("couldn't discover the OIDC issuer %s: %w", o.Issuer, &issuerText{err})
	}
	cfg := oauth2.Config{
		ClientID: o.ClientID, ClientSecret: o.ClientSecret,
		Endpoint: p.Endpoint(),
		Scopes:   []string{oidc.ScopeOpenID, "email"},
	}
	if o.ClientSecret == "" { // a public client sends its ID in the form (RFC 6749 §2.3.1)
		cfg.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	}
	var idt *oidc.IDToken
	var raw string
	if device {
		raw, idt, err = s.device(ctx, p, cfg)
	} else {
		raw, idt, err = s.browser(ctx, p, cfg)
	}
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return "", fmt.Errorf("couldn't sign in at %s within %s: %w", o.Issuer, o.Timeout, err)
		}
		return "", err
	}
	s.cached, s.expiry = raw, idt.Expiry
	return raw, nil
}

// pkceMethods returns the issuer's code_challenge_methods_supported (RFC
// 8414), nil when it does not say.
func pkceMethods(p *oidc.Provider) []string {
	var c struct {
		Methods []string `json:"code_challenge_methods_supported"`
	}
	_ = p.Claims(&c)
	return c.Methods
}

// browser runs the authorization code flow with PKCE S256 (RFC 7636) and a
// loopback redirect (RFC 8252 §7.3).
func (s *interactive) browser(ctx context.Context, p *oidc.Provider, cfg oauth2.Config) (string, *oidc.IDToken, error) {
	o := s.o
	// PKCE protects the code on its way through the loopback redirect: an
	// issuer that lists its methods must offer S256. One that lists none
	// (some do not advertise it) gets S256 anyway.
	if m := pkceMethods(p); m != nil && !slices.Contains(m, "S256") {
		return "", nil, fmt.Errorf("couldn't sign in at %s: it does not offer PKCE S256 (code_challenge_methods_supported: %v)", o.Issuer, m)
	}
	// The sign-in URL goes to the browser opener (xdg-open, open,
	// rundll32), which also opens files and starts programs: only a web
	// URL from the discovery document is handed to it.
	if u, err := url.Parse(cfg.Endpoint.AuthURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", nil, fmt.Errorf("couldn't sign in at %s: its authorization_endpoint %q is not an http(s) URL", o.Issuer, quoted(cfg.Endpoint.AuthURL))
	}
	ln, redirect, err := listenLoopback(o.RedirectURL)
	if err != nil {
		return "", nil, err
	}
	cfg.RedirectURL = redirect.String()
	state, nonce, verifier := randomString(32), randomString(32), oauth2.GenerateVerifier()
	authURL := cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce), oauth2.AccessTypeOnline)

	results := make(chan callbackResult, 1)
	srv := &http.Server{Handler: callbackHandler(redirect.Path, state, results), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx) // lets the success page reach the browser
	}()

	var res callbackResult
	auto := false
	if o.Flow == FlowAuto && loopbackIssuer(o.Issuer) {
		if auto, err = autoApprove(ctx, authURL, redirect, results, &res); err != nil {
			return "", nil, fmt.Errorf("couldn't sign in at %s: %w", o.Issuer, err)
		}
	}
	switch {
	case auto:
	case !o.Interactive && o.Flow == FlowAuto:
		return "", nil, &Unavailable{"interactive sign-in", "the issuer did not approve without a person, and this is not a terminal"}
	default:
		if err := o.OpenBrowser(authURL); err != nil {
			fmt.Fprintf(o.Output, "Couldn't open a browser (%v).\nTo sign in, open this URL in a browser on this machine:\n\n  %s\n\n", err, printable.Text(authURL))
		} else {
			fmt.Fprintf(o.Output, "Signing in at %s in your browser. If it did not open, visit:\n\n  %s\n\n", o.Issuer, printable.Text(authURL))
		}
	}
	if !auto {
		select {
		case res = <-results:
		case <-ctx.Done():
			return "", nil, fmt.Errorf("couldn't sign in: no answer from the browser: %w", ctx.Err())
		}
	}
	if res.err != nil {
		return "", nil, res.err
	}
	tok, err := cfg.Exchange(ctx, res.code, oauth2.VerifierOption(verifier))
	if err != nil {
		return "", nil, fmt.Errorf("couldn't exchange the authorization code at %s: %w", o.Issuer, &issuerText{err})
	}
	raw, idt, err := s.verify(ctx, p, tok)
	if err != nil {
		return "", nil, err
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 {
		return "", nil, fmt.Errorf("couldn't accept the ID token from %s: its nonce is not the one sent", o.Issuer)
	}
	fmt.Fprintf(o.Output, "Signed in at %s.\n", o.Issuer)
	return raw, idt, nil
}

// verify extracts and verifies the ID token of a token response.
func (s *interactive) verify(ctx context.Context, p *oidc.Provider, tok *oauth2.Token) (string, *oidc.IDToken, error) {
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return "", nil, fmt.Errorf("couldn't get an ID token from %s: its token response has no id_token (is the openid scope allowed for client %q?)", s.o.Issuer, s.o.ClientID)
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: s.o.ClientID, Now: s.o.Now}).Verify(ctx, raw)
	if err != nil {
		return "", nil, fmt.Errorf("couldn't verify the ID token from %s: %w", s.o.Issuer, &issuerText{err})
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			return "", nil, fmt.Errorf("couldn't verify the ID token from %s: %w", s.o.Issuer, err)
		}
	}
	return raw, idt, nil
}

// device runs the device authorization grant (RFC 8628), with PKCE S256
// when the issuer offers it (as sigstore/sigstore pkg/oauthflow/device.go
// does with Dex).
func (s *interactive) device(ctx context.Context, p *oidc.Provider, cfg oauth2.Config) (string, *oidc.IDToken, error) {
	o := s.o
	if cfg.Endpoint.DeviceAuthURL == "" && o.Flow == FlowAuto { // chosen for want of a browser, not by --oidc-device-flow
		return "", nil, fmt.Errorf("couldn't sign in at %s: no browser can open here (no display, or an SSH session) and the issuer has no device_authorization_endpoint "+
			"for a sign-in on another device; set BROWSER to a browser command to sign in with a browser on this machine, or give a token with --identity-token", o.Issuer)
	}
	if cfg.Endpoint.DeviceAuthURL == "" {
		return "", nil, fmt.Errorf("couldn't sign in at %s with the device flow: it has no device_authorization_endpoint; sign in with a browser instead (drop --oidc-device-flow)", o.Issuer)
	}
	var authOpts, tokOpts []oauth2.AuthCodeOption
	if slices.Contains(pkceMethods(p), "S256") {
		verifier := oauth2.GenerateVerifier()
		authOpts = append(authOpts, oauth2.S256ChallengeOption(verifier))
		tokOpts = append(tokOpts, oauth2.VerifierOption(verifier))
	}
	da, err := cfg.DeviceAuth(ctx, authOpts...)
	if err != nil {
		return "", nil, fmt.Errorf("couldn't start the device sign-in at %s: %w", o.Issuer, &issuerText{err})
	}
	// The issuer's text goes to a terminal: no control characters.
	fmt.Fprintf(o.Output, "To sign in, open %s on any device and enter the code %s", printable.Text(da.VerificationURI), printable.Text(da.UserCode))
	if da.VerificationURIComplete != "" {
		fmt.Fprintf(o.Output, ",\nor open %s", printable.Text(da.VerificationURIComplete))
	}
	// The wait ends when the code expires or, if sooner, at the sign-in's
	// timeout (o.Timeout): say which comes first.
	deadline, limited := ctx.Deadline()
	switch {
	case !da.Expiry.IsZero() && (!limited || da.Expiry.Before(deadline)):
		fmt.Fprintf(o.Output, " (the code is valid for %s)", time.Until(da.Expiry).Round(time.Second))
	case limited:
		fmt.Fprintf(o.Output, " (sign in within %s)", time.Until(deadline).Round(time.Second))
	}
	fmt.Fprintln(o.Output)
	tok, err := pollDevice(ctx, cfg, da, o.Output, tokOpts)
	if err != nil {
		var re *oauth2.RetrieveError
		switch {
		case errors.As(err, &re) && re.ErrorCode == "access_denied":
			return "", nil, fmt.Errorf("couldn't sign in at %s: the sign-in was denied", o.Issuer)
		case errors.As(err, &re) && re.ErrorCode == "expired_token", errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
			return "", nil, fmt.Errorf("couldn't sign in at %s: the code expired before the sign-in completed; run the command again", o.Issuer)
		}
		return "", nil, fmt.Errorf("couldn't complete the device sign-in at %s: %w", o.Issuer, &issuerText{err})
	}
	raw, idt, err := s.verify(ctx, p, tok)
	if err != nil {
		return "", nil, err
	}
	fmt.Fprintf(o.Output, "Signed in at %s.\n", o.Issuer)
	return raw, idt, nil
}

// Polling the token endpoint goes on through this many network errors in
// a row, the wait between polls doubled after each (up to
// maxDevicePollInterval).
const (
	devicePollRetries     = 5
	maxDevicePollInterval = 30 // seconds
)

// pollDevice waits for the device sign-in to complete (RFC 8628 §3.4),
// going on through network errors of the token endpoint: the user may be
// minutes into signing in on another device, and a dropped connection
// (Wi-Fi roaming, a VPN reconnecting) must not throw that away. After
// each such error the polling interval doubles, as RFC 8628 §3.5 asks of
// clients on connection timeouts; the first one is reported on out.
// Answers of the issuer (denied, expired, errors with an HTTP status) end
// the wait as they did, and so do the code's expiry and ctx.
func pollDevice(ctx context.Context, cfg oauth2.Config, da *oauth2.DeviceAuthResponse, out io.Writer, opts []oauth2.AuthCodeOption) (*oauth2.Token, error) {
	poll := *da
	for failures := 0; ; failures++ {
		tok, err := cfg.DeviceAccessToken(ctx, &poll, opts...)
		var re *oauth2.RetrieveError
		if err == nil || errors.As(err, &re) || ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
			failures == devicePollRetries || (!da.Expiry.IsZero() && !time.Now().Before(da.Expiry)) {
			return tok, err
		}
		if failures == 0 {
			fmt.Fprintf(out, "Lost contact with the issuer while waiting (%s); still waiting for the sign-in.\n", printable.Cut(err.Error(), 200))
		}
		if poll.Interval <= 0 {
			poll.Interval = 5 // RFC 8628 §3.2's default
		}
		poll.Interval = min(2*poll.Interval, maxDevicePollInterval)
	}
}

// listenLoopback listens where the redirect URL says: an http URL on a
// loopback host; port 0 picks a free port. It returns the redirect URL
// with the actual port.
func listenLoopback(redirect string) (net.Listener, *url.URL, error) {
	u, err := url.Parse(redirect)
	if err != nil || u.Scheme != "http" || u.Port() == "" || u.Path == "" {
		return nil, nil, fmt.Errorf("couldn't use the redirect URL %q: want http://localhost:PORT/PATH (PORT 0 picks a free port)", redirect)
	}
	host := u.Hostname()
	if host != "localhost" {
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			return nil, nil, fmt.Errorf("couldn't use the redirect URL %q: its host must be localhost or a loopback address", redirect)
		}
	}
	ln, err := net.Listen("tcp", u.Host)
	if err != nil {
		return nil, nil, fmt.Errorf("couldn't listen for the sign-in redirect: %w", err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	u.Host = net.JoinHostPort(host, port)
	return ln, u, nil
}

type callbackResult struct {
	code string
	err  error
}

// errState marks a callback whose state is not ours: it is answered 400 and
// otherwise ignored (a stale tab or another page must not end the sign-in).
var errState = errors.New("state mismatch")

// parseCallback reads the authorization response on the redirect URI
// (RFC 6749 §4.1.2 and §4.1.2.1): the state must be ours; then either a
// code or an error.
func parseCallback(q url.Values, state string) (string, error) {
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(state)) != 1 {
		return "", errState
	}
	if e := q.Get("error"); e != "" {
		msg := e
		if d := q.Get("error_description"); d != "" {
			msg += ": " + d
		}
		return "", fmt.Errorf("couldn't sign in: the issuer refused: %s", quoted(msg))
	}
	code := q.Get("code")
	if code == "" {
		return "", errors.New("couldn't sign in: the issuer's answer has neither a code nor an error")
	}
	return code, nil
}

// quoted makes text from the network safe for a terminal: invalid UTF-8,
// control characters and bidirectional formatting characters (which
// reorder what the terminal shows) become "?", and it is cut at 300 bytes.
func quoted(s string) string { return printable.Cut(s, 300) }

// issuerText is an error whose text may quote an issuer's answer as
// received: x/oauth2 and go-oidc put a response body that is not an OAuth
// error object (a proxy's HTML error page, say) whole in their errors. It
// reads as printable text, on one line, cut to 600 bytes (room for go-oidc's
// errors that name two URLs), and unwraps.
type issuerText struct{ err error }

func (e *issuerText) Error() string {
	return printable.Cut(strings.ReplaceAll(e.err.Error(), "\n", " "), 600)
}

func (e *issuerText) Unwrap() error { return e.err }

// callbackHandler answers the browser's redirect on path and reports the
// first answer with our state.
func callbackHandler(path, state string, results chan<- callbackResult) http.Handler {
	var once sync.Once
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != path || (r.Method != http.MethodGet && r.Method != http.MethodPost) {
			http.NotFound(w, r)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		code, err := parseCallback(r.Form, state)
		if errors.Is(err, errState) {
			callbackPage(w, http.StatusBadRequest, "This sign-in answer is not for the running command (state mismatch). Start the sign-in from the terminal again if needed.")
			return
		}
		if err != nil {
			callbackPage(w, http.StatusOK, "Sign-in failed: "+err.Error()+". See the terminal.")
		} else {
			callbackPage(w, http.StatusOK, "Signed in. You can close this window and return to the terminal.")
		}
		once.Do(func() { results <- callbackResult{code, err} })
	})
}

func callbackPage(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<!doctype html><html><head><meta charset=\"utf-8\"><title>sigil sign-in</title></head>"+
		"<body style=\"font-family: sans-serif; max-width: 40em; margin: 4em auto\"><p>%s</p></body></html>\n", html.EscapeString(msg))
}

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// hasDisplay says whether a browser opened here can be seen by the user:
// on macOS and Windows unless in an SSH session, elsewhere when an X11 or
// Wayland display (or $BROWSER) is set.
func hasDisplay(getenv func(string) string, goos string) bool {
	if getenv("BROWSER") != "" {
		return true
	}
	switch goos {
	case "darwin", "windows":
		return getenv("SSH_CONNECTION") == "" && getenv("SSH_TTY") == ""
	}
	return getenv("DISPLAY") != "" || getenv("WAYLAND_DISPLAY") != ""
}

// openBrowser starts the user's browser on u without waiting for it.
func openBrowser(u string, getenv func(string) string, goos string) error {
	var cmd *exec.Cmd
	if b := getenv("BROWSER"); b != "" { // a colon-separated list; %s stands for the URL
		b, _, _ = strings.Cut(b, ":")
		args := strings.Fields(b)
		if len(args) == 0 {
			return errors.New("BROWSER is blank")
		}
		found := false
		for i, a := range args {
			if strings.Contains(a, "%s") {
				args[i], found = strings.ReplaceAll(a, "%s", u), true
			}
		}
		if !found {
			args = append(args, u)
		}
		cmd = exec.Command(args[0], args[1:]...)
	} else {
		switch goos {
		case "darwin":
			cmd = exec.Command("open", u)
		case "windows":
			cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", u)
		default:
			cmd = exec.Command("xdg-open", u)
		}
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() { _ = cmd.Wait() }()
	return nil
}

// loopbackIssuer reports whether the issuer URL names this machine.
func loopbackIssuer(issuer string) bool {
	u, err := url.Parse(issuer)
	if err != nil {
		return false
	}
	h := u.Hostname()
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// autoApprove follows the sign-in URL with a plain HTTP client, without
// cookies or credentials. An issuer that approves by itself (sigil's dev
// issuer) redirects straight to the loopback callback, which delivers the
// code; any real identity provider answers with a login page instead, and
// the flow falls back to a browser. It reports whether the callback got an
// answer, stored in res, and fails when the issuer refused the request
// outright (400, RFC 6749 §4.1.2.1: an unknown client or redirect URI),
// which a browser would only show.
func autoApprove(ctx context.Context, authURL string, redirect *url.URL, results <-chan callbackResult, res *callbackResult) (bool, error) {
	actx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodGet, authURL, nil)
	if err != nil {
		return false, nil
	}
	resp, err := (&http.Client{}).Do(req)
	if err != nil {
		return false, nil
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusBadRequest && resp.Request.URL.Host != redirect.Host {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<10))
		return false, fmt.Errorf("it refused the authorization request (%s): %s", resp.Status, pageText(b))
	}
	select {
	case *res = <-results:
		return true, nil
	case <-time.After(2 * time.Second):
		return false, nil
	}
}

var (
	htmlTitle = regexp.MustCompile(`(?is)<(title|style|script)\b.*?</(title|style|script)\s*>`)
	htmlTag   = regexp.MustCompile(`(?s)<[^>]*>`)
)

// pageText is the text of an error page (HTML or plain), on one line,
// printable and cut to 300 bytes.
func pageText(b []byte) string {
	s := htmlTag.ReplaceAllString(htmlTitle.ReplaceAllString(string(b), " "), " ")
	s = strings.Join(strings.Fields(html.UnescapeString(s)), " ")
	if s == "" {
		return "no explanation"
	}
	return quoted(s)
}
