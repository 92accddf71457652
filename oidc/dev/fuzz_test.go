package dev

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzHandler sends arbitrary parameters to every endpoint: the issuer must
// answer each with a status below 500 (or its designed 503 when too many
// device sign-ins are pending), and never redirect off loopback.
func FuzzHandler(f *testing.F) {
	iss, err := New(Config{PublicURL: "http://127.0.0.1:8080/oidc"})
	if err != nil {
		f.Fatal(err)
	}
	h := iss.Handler()
	paths := []string{"/auth", "/token", "/device/code", "/device", "/test/token", "/keys", "/.well-known/openid-configuration"}
	f.Add(uint8(0), "client_id=sigstore&response_type=code&scope=openid&redirect_uri=http%3A%2F%2Flocalhost%3A1%2Fcb&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&state=x", false)
	f.Add(uint8(1), "grant_type=authorization_code&client_id=sigstore&code=x&code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", true)
	f.Add(uint8(1), "grant_type=client_credentials&client_id=sigstore", true)
	f.Add(uint8(1), "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&client_id=sigstore&device_code=x", true)
	f.Add(uint8(2), "client_id=sigstore&scope=openid&code_challenge_method=S256&code_challenge=abc", true)
	f.Add(uint8(3), "user_code=BCDF-GHJK&action=deny", false)
	f.Add(uint8(4), "exp_in=-5&claims=%7B%22a%22%3A1%7D&aud=x", false)
	f.Add(uint8(0), "redirect_uri=urn%3Aietf%3Awg%3Aoauth%3A2.0%3Aoob&client_id=sigstore&%zz", false)
	f.Fuzz(func(t *testing.T, p uint8, params string, post bool) {
		path := "/oidc" + paths[int(p)%len(paths)]
		var req *http.Request
		if post {
			req = httptest.NewRequest(http.MethodPost, path, strings.NewReader(params))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		} else {
			req = httptest.NewRequest(http.MethodGet, path, nil)
			req.URL.RawQuery = params
		}
		req.RemoteAddr, req.Host = "127.0.0.1:40000", "127.0.0.1:8080"
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		// 503 temporarily_unavailable is the designed answer once too many
		// device sign-ins are pending, which fuzzing one issuer reaches.
		if rec.Code >= 500 && !(rec.Code == http.StatusServiceUnavailable && strings.Contains(rec.Body.String(), `"temporarily_unavailable"`)) {
			t.Fatalf("%s %s %q: status %d: %s", req.Method, path, params, rec.Code, rec.Body)
		}
		if loc := rec.Header().Get("Location"); loc != "" {
			if _, err := checkRedirect(strings.SplitN(loc, "?", 2)[0]); err != nil {
				t.Fatalf("%s %q redirected off loopback to %s", path, params, loc)
			}
		}
	})
}
