package dev

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// testIssuer serves an issuer at <httptest URL>/oidc.
type testIssuer struct {
	*Issuer
	srv *httptest.Server
	now time.Time
}

func newTestIssuer(t *testing.T, cfg Config) *testIssuer {
	t.Helper()
	ti := &testIssuer{now: time.Now()}
	var h http.Handler = http.NotFoundHandler()
	mux := http.NewServeMux()
	mux.Handle("/oidc/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	ti.srv = httptest.NewServer(mux)
	t.Cleanup(ti.srv.Close)
	cfg.PublicURL = ti.srv.URL + "/oidc"
	iss, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	iss.now = func() time.Time { return ti.now }
	ti.Issuer, h = iss, iss.Handler()
	return ti
}

// noRedirect is a client that stops at redirects, to read Location.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func claimsOf(t *testing.T, ctx context.Context, iss *testIssuer, raw string) map[string]any {
	t.Helper()
	p, err := oidc.NewProvider(ctx, iss.URL())
	if err != nil {
		t.Fatal(err)
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: "sigstore", Now: func() time.Time { return iss.now }}).Verify(ctx, raw)
	if err != nil {
		t.Fatalf("token does not verify with go-oidc: %v", err)
	}
	var c map[string]any
	if err := idt.Claims(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestDiscoveryAndJWKSServeGoOIDC(t *testing.T) {
	iss := newTestIssuer(t, Config{})
	ctx := context.Background()
	p, err := oidc.NewProvider(ctx, iss.URL())
	if err != nil {
		t.Fatal(err)
	}
	ep := p.Endpoint()
	want := oauth2.Endpoint{AuthURL: iss.URL() + "/auth", DeviceAuthURL: iss.URL() + "/device/code", TokenURL: iss.URL() + "/token"}
	if ep != want {
		t.Errorf("endpoints = %+v, want %+v", ep, want)
	}
	var meta discoveryDoc
	if err := p.Claims(&meta); err != nil {
		t.Fatal(err)
	}
	if strings.Join(meta.CodeChallengeMethods, ",") != "S256" || strings.Join(meta.SigningAlgs, ",") != "ES256" {
		t.Errorf("PKCE methods %v, algs %v; want S256 and ES256", meta.CodeChallengeMethods, meta.SigningAlgs)
	}
	tok, err := iss.Mint(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := claimsOf(t, ctx, iss, tok)
	for k, v := range map[string]any{"iss": iss.URL(), "aud": "sigstore", "sub": DefaultEmail, "email": DefaultEmail, "email_verified": true} {
		if c[k] != v {
			t.Errorf("claim %s = %v, want %v", k, c[k], v)
		}
	}
	if life := c["exp"].(float64) - c["iat"].(float64); life <= 0 || life > MaxTokenLifetime.Seconds() {
		t.Errorf("lifetime %v s, want (0, 600]", life)
	}
}

func TestAuthorizationCodeFlowWithPKCE(t *testing.T) {
	iss := newTestIssuer(t, Config{Identity: Identity{Email: "alice@example.com"}})
	ctx := context.Background()
	cfg := oauth2.Config{ClientID: "sigstore", Endpoint: oauth2.Endpoint{AuthURL: iss.URL() + "/auth", TokenURL: iss.URL() + "/token", AuthStyle: oauth2.AuthStyleInParams},
		RedirectURL: "http://localhost:41234/auth/callback", Scopes: []string{"openid", "email"}}
	verifier := oauth2.GenerateVerifier()
	resp, err := noRedirect.Get(cfg.AuthCodeURL("the-state", oauth2.S256ChallengeOption(verifier), oidc.Nonce("the-nonce")))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize: status %d, want 302", resp.StatusCode)
	}
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != cfg.RedirectURL || loc.Query().Get("state") != "the-state" {
		t.Fatalf("redirected to %s, want %s with state", loc, cfg.RedirectURL)
	}
	tok, err := cfg.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	c := claimsOf(t, ctx, iss, tok.Extra("id_token").(string))
	if c["nonce"] != "the-nonce" || c["email"] != "alice@example.com" || c["sub"] != "alice@example.com" {
		t.Errorf("claims %v: want the nonce and alice", c)
	}
	// The code is single-use.
	if _, err := cfg.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier)); !isOAuthError(err, "invalid_grant") {
		t.Errorf("second exchange: %v, want invalid_grant", err)
	}
}

func isOAuthError(err error, code string) bool {
	var re *oauth2.RetrieveError
	return errors.As(err, &re) && re.ErrorCode == code
}

func TestAuthorizeRefusals(t *testing.T) {
	iss := newTestIssuer(t, Config{})
	good := url.Values{
		"client_id": {"sigstore"}, "response_type": {"code"}, "scope": {"openid email"}, "state": {"s"},
		"redirect_uri":   {"http://127.0.0.1:5555/cb"},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())}, "code_challenge_method": {"S256"},
	}
	tests := []struct {
		name   string
		change func(url.Values)
		status int    // for refusals shown on a page
		oerr   string // for refusals sent to the redirect URI
	}{
		{"accepted", func(url.Values) {}, http.StatusFound, ""},
		{"IPv6 loopback redirect", func(v url.Values) { v.Set("redirect_uri", "http://[::1]:9/cb") }, http.StatusFound, ""},
		{"out-of-band shows the code", func(v url.Values) { v.Set("redirect_uri", oobRedirectURI) }, http.StatusOK, ""},
		{"unknown client", func(v url.Values) { v.Set("client_id", "other") }, http.StatusBadRequest, ""},
		{"redirect to another host", func(v url.Values) { v.Set("redirect_uri", "http://evil.example:80/cb") }, http.StatusBadRequest, ""},
		{"https redirect", func(v url.Values) { v.Set("redirect_uri", "https://localhost/cb") }, http.StatusBadRequest, ""},
		{"no redirect", func(v url.Values) { v.Del("redirect_uri") }, http.StatusBadRequest, ""},
		{"parameter twice", func(v url.Values) { v.Add("state", "t") }, http.StatusBadRequest, ""},
		{"no PKCE", func(v url.Values) { v.Del("code_challenge"); v.Del("code_challenge_method") }, http.StatusFound, "invalid_request"},
		{"plain PKCE", func(v url.Values) { v.Set("code_challenge_method", "plain") }, http.StatusFound, "invalid_request"},
		{"short challenge", func(v url.Values) { v.Set("code_challenge", "abc") }, http.StatusFound, "invalid_request"},
		{"implicit flow", func(v url.Values) { v.Set("response_type", "id_token") }, http.StatusFound, "unsupported_response_type"},
		{"no openid scope", func(v url.Values) { v.Set("scope", "email") }, http.StatusFound, "invalid_scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := url.Values{}
			for k, vs := range good {
				v[k] = append([]string(nil), vs...)
			}
			tt.change(v)
			resp, err := noRedirect.Get(iss.URL() + "/auth?" + v.Encode())
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if resp.StatusCode != http.StatusFound {
				return
			}
			loc, _ := url.Parse(resp.Header.Get("Location"))
			q := loc.Query()
			if q.Get("error") != tt.oerr || q.Get("state") != "s" || (tt.oerr == "") == (q.Get("code") == "") {
				t.Errorf("redirect %s: want error %q, the state, and a code only on success", loc, tt.oerr)
			}
		})
	}
}

// authorize runs the authorization step and returns the code.
func authorize(t *testing.T, iss *testIssuer, redirect, verifier string) string {
	t.Helper()
	v := url.Values{"client_id": {"sigstore"}, "response_type": {"code"}, "scope": {"openid"}, "redirect_uri": {redirect},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"}}
	resp, err := noRedirect.Get(iss.URL() + "/auth?" + v.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	return loc.Query().Get("code")
}

// postToken posts a form to the token endpoint and returns the status and
// the error code (or "" and the id_token).
func postToken(t *testing.T, iss *testIssuer, form url.Values) (int, string, string) {
	t.Helper()
	resp, err := http.PostForm(iss.URL()+"/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Error   string `json:"error"`
		IDToken string `json:"id_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("token endpoint answered non-JSON: %v", err)
	}
	return resp.StatusCode, body.Error, body.IDToken
}

func TestTokenEndpointRefusals(t *testing.T) {
	iss := newTestIssuer(t, Config{})
	const redirect = "http://localhost:7/cb"
	tests := []struct {
		name   string
		form   func(code, verifier string) url.Values
		before func()
		status int
		oerr   string
	}{
		{"wrong verifier", func(code, _ string) url.Values {
			return url.Values{"grant_type": {"authorization_code"}, "client_id": {"sigstore"}, "code": {code}, "redirect_uri": {redirect}, "code_verifier": {oauth2.GenerateVerifier()}}
		}, nil, 400, "invalid_grant"},
		{"no verifier", func(code, _ string) url.Values {
			return url.Values{"grant_type": {"authorization_code"}, "client_id": {"sigstore"}, "code": {code}, "redirect_uri": {redirect}}
		}, nil, 400, "invalid_grant"},
		{"other redirect_uri", func(code, v string) url.Values {
			return url.Values{"grant_type": {"authorization_code"}, "client_id": {"sigstore"}, "code": {code}, "redirect_uri": {"http://localhost:8/cb"}, "code_verifier": {v}}
		}, nil, 400, "invalid_grant"},
		{"unknown code", func(_, v string) url.Values {
			return url.Values{"grant_type": {"authorization_code"}, "client_id": {"sigstore"}, "code": {"nope"}, "redirect_uri": {redirect}, "code_verifier": {v}}
		}, nil, 400, "invalid_grant"},
		{"expired code", func(code, v string) url.Values {
			return url.Values{"grant_type": {"authorization_code"}, "client_id": {"sigstore"}, "code": {code}, "redirect_uri": {redirect}, "code_verifier": {v}}
		}, func() { iss.now = iss.now.Add(codeLifetime) }, 400, "invalid_grant"},
		{"unknown client", func(code, v string) url.Values {
			return url.Values{"grant_type": {"authorization_code"}, "client_id": {"other"}, "code": {code}, "redirect_uri": {redirect}, "code_verifier": {v}}
		}, nil, 401, "invalid_client"},
		{"refresh grant", func(string, string) url.Values {
			return url.Values{"grant_type": {"refresh_token"}, "client_id": {"sigstore"}, "refresh_token": {"x"}}
		}, nil, 400, "unsupported_grant_type"},
		{"parameter twice", func(code, v string) url.Values {
			return url.Values{"grant_type": {"authorization_code", "authorization_code"}, "client_id": {"sigstore"}, "code": {code}, "redirect_uri": {redirect}, "code_verifier": {v}}
		}, nil, 400, "invalid_request"},
		{"the right one succeeds", func(code, v string) url.Values {
			return url.Values{"grant_type": {"authorization_code"}, "client_id": {"sigstore"}, "code": {code}, "redirect_uri": {redirect}, "code_verifier": {v}}
		}, nil, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iss.now = time.Now()
			v := oauth2.GenerateVerifier()
			code := authorize(t, iss, redirect, v)
			if tt.before != nil {
				tt.before()
			}
			status, oerr, idt := postToken(t, iss, tt.form(code, v))
			if status != tt.status || oerr != tt.oerr || (oerr == "") == (idt == "") {
				t.Errorf("got %d %q (id_token %t), want %d %q", status, oerr, idt != "", tt.status, tt.oerr)
			}
		})
	}
}

func TestClientCredentialsAndBasicAuth(t *testing.T) {
	iss := newTestIssuer(t, Config{Identity: Identity{Subject: "ci-bot"}})
	req, _ := http.NewRequest(http.MethodPost, iss.URL()+"/token", strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("sigstore", "any-secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		IDToken   string `json:"id_token"`
		TokenType string `json:"token_type"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.TokenType != "Bearer" {
		t.Fatalf("answer %+v, %v", body, err)
	}
	c := claimsOf(t, context.Background(), iss, body.IDToken)
	if c["sub"] != "ci-bot" || c["email"] != nil {
		t.Errorf("claims %v: want sub ci-bot and no email", c)
	}
}

// deviceStart asks for a device code.
func deviceStart(t *testing.T, iss *testIssuer, form url.Values) (deviceCode, userCode, complete string) {
	t.Helper()
	resp, err := http.PostForm(iss.URL()+"/device/code", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var da struct {
		DeviceCode, UserCode, VerificationURI, VerificationURIComplete string
		Interval, ExpiresIn                                            int
	}
	dec := json.NewDecoder(resp.Body)
	if err := dec.Decode(&struct {
		D *string `json:"device_code"`
		U *string `json:"user_code"`
		V *string `json:"verification_uri"`
		C *string `json:"verification_uri_complete"`
		I *int    `json:"interval"`
		E *int    `json:"expires_in"`
	}{&da.DeviceCode, &da.UserCode, &da.VerificationURI, &da.VerificationURIComplete, &da.Interval, &da.ExpiresIn}); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || da.VerificationURI != iss.URL()+"/device" || da.Interval != pollInterval || da.ExpiresIn != 600 || len(da.UserCode) != 9 {
		t.Fatalf("device authorization answer %d %+v", resp.StatusCode, da)
	}
	return da.DeviceCode, da.UserCode, da.VerificationURIComplete
}

func visit(t *testing.T, u string) int {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestDeviceFlow(t *testing.T) {
	iss := newTestIssuer(t, Config{})
	verifier := oauth2.GenerateVerifier()
	dc, uc, complete := deviceStart(t, iss, url.Values{"client_id": {"sigstore"}, "scope": {"openid email"},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"}})
	poll := url.Values{"grant_type": {deviceGrantType}, "client_id": {"sigstore"}, "device_code": {dc}, "code_verifier": {verifier}}

	if _, oerr, _ := postToken(t, iss, poll); oerr != "authorization_pending" {
		t.Fatalf("before approval: %q, want authorization_pending", oerr)
	}
	if _, oerr, _ := postToken(t, iss, poll); oerr != "slow_down" {
		t.Fatalf("polled again at once: %q, want slow_down", oerr)
	}
	iss.now = iss.now.Add(pollInterval * time.Second)
	if got := visit(t, iss.URL()+"/device"); got != 200 {
		t.Fatalf("verification page without a code: %d", got)
	}
	if got := visit(t, iss.URL()+"/device?user_code=ZZZZ-ZZZZ"); got != 404 {
		t.Fatalf("unknown user code: %d, want 404", got)
	}
	// Users type codes loosely.
	if got := visit(t, iss.URL()+"/device?user_code="+url.QueryEscape(strings.ToLower(strings.ReplaceAll(uc, "-", " ")))); got != 200 {
		t.Fatalf("approving %s: %d", uc, got)
	}
	wrong := url.Values{"grant_type": {deviceGrantType}, "client_id": {"sigstore"}, "device_code": {dc}, "code_verifier": {oauth2.GenerateVerifier()}}
	if _, oerr, _ := postToken(t, iss, wrong); oerr != "invalid_grant" {
		t.Fatalf("wrong PKCE verifier: %q, want invalid_grant", oerr)
	}
	_, oerr, idt := postToken(t, iss, poll)
	if oerr != "" || idt == "" {
		t.Fatalf("after approval: %q, want a token", oerr)
	}
	claimsOf(t, context.Background(), iss, idt)
	if _, oerr, _ := postToken(t, iss, poll); oerr != "invalid_grant" {
		t.Fatalf("device code reused: %q, want invalid_grant", oerr)
	}
	_ = complete
}

func TestDeviceFlowDeniedAndExpired(t *testing.T) {
	iss := newTestIssuer(t, Config{})
	start := url.Values{"client_id": {"sigstore"}, "scope": {"openid"}}

	dc, _, complete := deviceStart(t, iss, start)
	if got := visit(t, complete+"&action=deny"); got != 200 {
		t.Fatalf("deny: %d", got)
	}
	poll := url.Values{"grant_type": {deviceGrantType}, "client_id": {"sigstore"}, "device_code": {dc}}
	if _, oerr, _ := postToken(t, iss, poll); oerr != "access_denied" {
		t.Errorf("denied: %q, want access_denied", oerr)
	}

	dc, _, complete = deviceStart(t, iss, start)
	iss.now = iss.now.Add(deviceLifetime)
	poll.Set("device_code", dc)
	if _, oerr, _ := postToken(t, iss, poll); oerr != "expired_token" {
		t.Errorf("expired: %q, want expired_token", oerr)
	}
	if got := visit(t, complete); got != 404 {
		t.Errorf("approving an expired code: %d, want 404", got)
	}
}

func TestTestTokenEndpoint(t *testing.T) {
	iss := newTestIssuer(t, Config{})
	v := url.Values{"aud": {"other"}, "sub": {"s"}, "exp_in": {"-60"}, "claims": {`{"repository":"org/repo"}`}}
	resp, err := http.Get(iss.URL() + "/test/token?" + v.Encode())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	p, _ := oidc.NewProvider(context.Background(), iss.URL())
	idt, err := p.Verifier(&oidc.Config{ClientID: "other", SkipExpiryCheck: true}).Verify(context.Background(), string(b))
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	_ = idt.Claims(&c)
	if c["sub"] != "s" || c["repository"] != "org/repo" || !idt.Expiry.Before(iss.now) {
		t.Errorf("claims %v, expiry %v: want sub s, the extra claim, and an expired token", c, idt.Expiry)
	}

	// Only loopback peers may mint, even on a forced issuer.
	forced, err := New(Config{PublicURL: "http://10.0.0.1:8080/oidc", Force: true})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/oidc/test/token", nil) // RemoteAddr 192.0.2.1
	rec := httptest.NewRecorder()
	forced.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden {
		t.Errorf("remote mint on a forced issuer: %d, want 403", rec.Code)
	}
	for _, bad := range []string{"exp_in=soon", "claims=%5B1%5D"} {
		resp, err := http.Get(iss.URL() + "/test/token?" + bad)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", bad, resp.StatusCode)
		}
	}
}

func TestLoopbackOnlyUnlessForced(t *testing.T) {
	tests := []struct {
		publicURL, listen string
		force             bool
		wantErr           bool
	}{
		{"http://127.0.0.1:8080/oidc", "127.0.0.1:8080", false, false},
		{"http://localhost:8080", "localhost:8080", false, false},
		{"http://[::1]:8080/oidc", "[::1]:8080", false, false},
		{"https://127.0.0.2/oidc", "", false, false},
		{"http://127.0.0.1:8080/oidc", ":8080", false, true},
		{"http://127.0.0.1:8080/oidc", "0.0.0.0:8080", false, true},
		{"http://127.0.0.1:8080/oidc", "192.168.1.5:8080", false, true},
		{"http://sigil.example.com/oidc", "127.0.0.1:8080", false, true},
		{"http://192.168.1.5:8080/oidc", "", false, true},
		{"http://sigil.example.com/oidc", ":8080", true, false},
	}
	for _, tt := range tests {
		_, err := New(Config{PublicURL: tt.publicURL, ListenAddr: tt.listen, Force: tt.force})
		if (err != nil) != tt.wantErr || (err != nil && !errors.Is(err, ErrNotLoopback)) {
			t.Errorf("New(%s, listen %q, force %t) = %v, want error %t wrapping ErrNotLoopback", tt.publicURL, tt.listen, tt.force, err, tt.wantErr)
		}
	}
	for _, bad := range []string{"", "ftp://127.0.0.1/", "http://127.0.0.1/?q=1", "127.0.0.1:8080", "http://127.0.0.1/{x}", "http://127.0.0.1/a%20b"} {
		if _, err := New(Config{PublicURL: bad}); err == nil {
			t.Errorf("New(PublicURL %q) accepted", bad)
		}
	}

	iss, err := New(Config{PublicURL: "http://127.0.0.1:8080/oidc"})
	if err != nil {
		t.Fatal(err)
	}
	forced, err := New(Config{PublicURL: "http://127.0.0.1:8080/oidc", Force: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		iss    *Issuer
		remote string
		want   int
	}{
		{iss, "127.0.0.1:5000", 200},
		{iss, "[::1]:5000", 200},
		{iss, "[::ffff:127.0.0.1]:5000", 200},
		{iss, "192.0.2.1:5000", 403},
		{forced, "192.0.2.1:5000", 200},
	} {
		req := httptest.NewRequest(http.MethodGet, "/oidc/.well-known/openid-configuration", nil)
		req.RemoteAddr, req.Host = tt.remote, "127.0.0.1:8080"
		rec := httptest.NewRecorder()
		tt.iss.Handler().ServeHTTP(rec, req)
		if rec.Code != tt.want {
			t.Errorf("peer %s (forced %t): %d, want %d", tt.remote, tt.iss.force, rec.Code, tt.want)
		}
	}
}

func TestSigningKeyPersistsInDataDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "oidc")
	cfg := Config{DataDir: dir, PublicURL: "http://127.0.0.1:1/oidc"}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, KeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, mode %v; want 0600", err, fi.Mode())
	}
	b, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if string(a.jwks) != string(b.jwks) {
		t.Error("a restart made a new key")
	}
	if err := os.WriteFile(filepath.Join(dir, KeyFile), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), KeyFile) {
		t.Errorf("corrupt key: %v, want an error naming the file", err)
	}
}

func TestIdentityDefaults(t *testing.T) {
	tests := []struct {
		in             Identity
		sub, email     string
		wantErr        bool
		extraClaimName string
	}{
		{Identity{}, DefaultEmail, DefaultEmail, false, ""},
		{Identity{Email: "a@b.example"}, "a@b.example", "a@b.example", false, ""},
		{Identity{Email: "a@b.example", Subject: "1234"}, "1234", "a@b.example", false, ""},
		{Identity{Subject: "spiffe://x/y"}, "spiffe://x/y", "", false, ""},
		{Identity{Claims: GitHubActionsClaims("org/repo", ".github/workflows/rel.yml", "refs/tags/v1")}, "repo:org/repo:ref:refs/tags/v1", "", false, "job_workflow_ref"},
		{Identity{Email: "not an email"}, "", "", true, ""},
		{Identity{Claims: map[string]any{"f": func() {}}}, "", "", true, ""},
	}
	for _, tt := range tests {
		iss, err := New(Config{PublicURL: "http://localhost/", Identity: tt.in})
		if (err != nil) != tt.wantErr {
			t.Errorf("%+v: error %v, want %t", tt.in, err, tt.wantErr)
			continue
		}
		if err != nil {
			continue
		}
		c := iss.claims("")
		if c["sub"] != tt.sub || (tt.email == "") != (c["email"] == nil) || (tt.email != "" && c["email"] != tt.email) {
			t.Errorf("%+v: sub %v email %v, want %q %q", tt.in, c["sub"], c["email"], tt.sub, tt.email)
		}
		if tt.extraClaimName != "" && c[tt.extraClaimName] == nil {
			t.Errorf("%+v: claim %s missing", tt.in, tt.extraClaimName)
		}
		if iss.URL() != "http://localhost" {
			t.Errorf("URL() = %s, want the public URL without trailing slash", iss.URL())
		}
	}
}

func TestGitHubActionsClaims(t *testing.T) {
	a := GitHubActionsClaims("org/repo", ".github/workflows/release.yml", "refs/heads/main")
	b := GitHubActionsClaims("org/repo", ".github/workflows/release.yml", "refs/heads/main")
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if string(ja) != string(jb) {
		t.Error("the same arguments gave different claims")
	}
	// Every claim Fulcio's GitHub template reads.
	for _, k := range []string{"job_workflow_ref", "job_workflow_sha", "runner_environment", "repository", "sha", "ref", "repository_id",
		"repository_owner", "repository_owner_id", "workflow_ref", "workflow_sha", "event_name", "run_id", "run_attempt", "repository_visibility", "workflow"} {
		if v, ok := a[k].(string); !ok || v == "" {
			t.Errorf("claim %s = %v, want a non-empty string", k, a[k])
		}
	}
	if a["job_workflow_ref"] != "org/repo/.github/workflows/release.yml@refs/heads/main" || a["workflow"] != "release" || a["ref_type"] != "branch" {
		t.Errorf("claims %v", a)
	}
	if len(a["sha"].(string)) != 40 {
		t.Errorf("sha %v is not 40 hex digits", a["sha"])
	}
}

func TestRequestTestToken(t *testing.T) {
	iss := newTestIssuer(t, Config{})
	tok, err := RequestTestToken(context.Background(), nil, iss.URL()+"/", GitHubActionsClaims("org/repo", ".github/workflows/r.yml", "refs/heads/main"))
	if err != nil {
		t.Fatal(err)
	}
	c := claimsOf(t, context.Background(), iss, tok)
	if c["repository"] != "org/repo" || c["sub"] != "repo:org/repo:ref:refs/heads/main" {
		t.Errorf("claims %v", c)
	}
	if _, err := RequestTestToken(context.Background(), nil, iss.srv.URL+"/elsewhere", nil); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("not an issuer: %v, want a 404 error", err)
	}
}

// A web page the developer opens can make the browser send requests to a
// loopback issuer under its own name (DNS rebinding): the peer is loopback,
// the Host is the page's. An unforced issuer answers loopback hosts only.
func TestRefusesNonLoopbackHost(t *testing.T) {
	iss := newTestIssuer(t, Config{})
	for _, tt := range []struct {
		host string
		want int
	}{
		{"", 200},
		{"127.0.0.1", 200},
		{"localhost:8080", 200},
		{"LOCALHOST", 200},
		{"[::1]:8080", 200},
		{"rebind.attacker.example:8080", 403},
		{"rebind.attacker.example", 403},
		{"127.0.0.1.nip.io:8080", 403},
		{"localhost.attacker.example", 403},
	} {
		for _, path := range []string{"/oidc/test/token", "/oidc/.well-known/openid-configuration", "/oidc/token"} {
			method := http.MethodGet
			var body io.Reader
			if path == "/oidc/token" {
				method, body = http.MethodPost, strings.NewReader("grant_type=client_credentials&client_id=sigstore")
			}
			req := httptest.NewRequest(method, path, body)
			if body != nil {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			req.RemoteAddr = "127.0.0.1:40000"
			req.Host = tt.host
			rec := httptest.NewRecorder()
			iss.Handler().ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Errorf("%s %s with Host %q: %d, want %d: %s", method, path, tt.host, rec.Code, tt.want, rec.Body)
			}
			if tt.want == 403 && strings.Contains(rec.Body.String(), "eyJ") {
				t.Errorf("%s with Host %q answered a token", path, tt.host)
			}
		}
	}
	// A forced issuer is meant to be reached under other names.
	forced, err := New(Config{PublicURL: "http://sigil.example.com/oidc", Force: true})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/oidc/.well-known/openid-configuration", nil)
	req.RemoteAddr = "192.0.2.1:5000"
	rec := httptest.NewRecorder()
	forced.Handler().ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Errorf("forced issuer, Host %q: %d, want 200", req.Host, rec.Code)
	}
}

// A forced issuer is reached from elsewhere, typically through a TLS proxy
// on the same host, whose requests come from a loopback peer with a
// loopback Host: the test mint, which signs any identity and claims,
// cannot tell them from a local test's, so a forced issuer has none.
func TestForcedIssuerHasNoTestMint(t *testing.T) {
	forced, err := New(Config{PublicURL: "https://sigil-dev.example.com/oidc", ListenAddr: "127.0.0.1:8080", Force: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		req := httptest.NewRequest(method, "/oidc/test/token?email=ceo@corp.example", nil)
		req.RemoteAddr, req.Host = "127.0.0.1:40000", "127.0.0.1:8080" // as nginx's proxy_pass sends it
		rec := httptest.NewRecorder()
		forced.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusForbidden || strings.Contains(rec.Body.String(), "eyJ") {
			t.Errorf("%s test mint of a forced issuer from a loopback peer: %d %s, want 403", method, rec.Code, rec.Body)
		}
	}
	// Its sign-in flows still answer (as the configured identity).
	req := httptest.NewRequest(http.MethodPost, "/oidc/token", strings.NewReader("grant_type=client_credentials&client_id=sigstore"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.RemoteAddr = "192.0.2.1:5000"
	rec := httptest.NewRecorder()
	forced.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Errorf("token endpoint of a forced issuer: %d %s, want 200", rec.Code, rec.Body)
	}
}
