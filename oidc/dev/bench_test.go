package dev

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"syscall"
	"testing"

	"golang.org/x/oauth2"
)

// BenchmarkMint measures signing one ID token (ES256).
func BenchmarkMint(b *testing.B) {
	iss, err := New(Config{PublicURL: "http://127.0.0.1/oidc"})
	if err != nil {
		b.Fatal(err)
	}
	defer cpuPerOp(b)()
	for b.Loop() {
		if _, err := iss.Mint(nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkClientCredentials measures a token request over loopback HTTP.
func BenchmarkClientCredentials(b *testing.B) {
	iss := newTestIssuer(&testing.T{}, Config{})
	defer iss.srv.Close()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"sigstore"}}
	defer cpuPerOp(b)()
	for b.Loop() {
		resp, err := http.PostForm(iss.URL()+"/token", form)
		if err != nil || resp.StatusCode != 200 {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body) // keep the connection for the next request
		resp.Body.Close()
	}
}

// BenchmarkAuthorizationCodeFlow measures the server side of a browser
// sign-in: the authorization request (auto-approved) and the code exchange
// with PKCE, over loopback HTTP.
func BenchmarkAuthorizationCodeFlow(b *testing.B) {
	iss := newTestIssuer(&testing.T{}, Config{})
	defer iss.srv.Close()
	cfg := oauth2.Config{ClientID: "sigstore", Endpoint: oauth2.Endpoint{AuthURL: iss.URL() + "/auth", TokenURL: iss.URL() + "/token", AuthStyle: oauth2.AuthStyleInParams},
		RedirectURL: "http://localhost:1/cb", Scopes: []string{"openid", "email"}}
	ctx := context.Background()
	defer cpuPerOp(b)()
	for b.Loop() {
		v := oauth2.GenerateVerifier()
		resp, err := noRedirect.Get(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(v)))
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if _, err := cfg.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(v)); err != nil {
			b.Fatal(err)
		}
	}
}

// cpuPerOp reports the process CPU time (user + system, client and
// in-process server together) per operation as "cpu-ns/op", which, unlike
// wall time, does not grow when other processes share the machine. Use:
// defer cpuPerOp(b)().
func cpuPerOp(b *testing.B) func() {
	start := cpuTime()
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
		}
	}
}

func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
