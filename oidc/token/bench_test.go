package token

import (
	"context"
	"io"
	"net/http"
	"syscall"
	"testing"
	"time"

	"sigil.dev/sigil/oidc/dev"
)

// BenchmarkCheck measures the client's unverified token check.
func BenchmarkCheck(b *testing.B) {
	iss, err := dev.New(dev.Config{PublicURL: "http://127.0.0.1/oidc"})
	if err != nil {
		b.Fatal(err)
	}
	tok, _ := iss.Mint(nil)
	now := time.Now()
	defer cpuPerOp(b)()
	for b.Loop() {
		if _, err := Check(tok, "sigstore", now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBrowserSignIn measures a whole headless browser sign-in against
// the dev issuer over loopback: discovery, loopback listener, authorization
// (auto-approved), redirect, code exchange with PKCE, ID token
// verification with the JWKS.
func BenchmarkBrowserSignIn(b *testing.B) {
	t := &testing.T{}
	iss := devIssuer(t, dev.Identity{})
	open := func(u string) error {
		go func() {
			if resp, err := http.Get(u); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
		return nil
	}
	defer cpuPerOp(b)()
	for b.Loop() {
		src := Interactive(Options{Issuer: iss.URL(), Flow: FlowBrowser, Output: io.Discard, OpenBrowser: open})
		if _, err := src.Token(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDefaultFromEnvironment measures the chain when SIGSTORE_ID_TOKEN
// holds the token (the common CI case).
func BenchmarkDefaultFromEnvironment(b *testing.B) {
	iss, err := dev.New(dev.Config{PublicURL: "http://127.0.0.1/oidc"})
	if err != nil {
		b.Fatal(err)
	}
	tok, _ := iss.Mint(nil)
	src := Default(Options{Getenv: env(map[string]string{"SIGSTORE_ID_TOKEN": tok})})
	defer cpuPerOp(b)()
	for b.Loop() {
		if _, err := src.Token(context.Background()); err != nil {
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
