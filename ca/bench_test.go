package ca_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"sigil.dev/sigil/ca"
	"sigil.dev/sigil/ctlog"
)

// BenchmarkSigningCert measures one v2 signingCert request through the
// handler (no network): token verification (RS256), proof of possession
// (P-256), certificate signing (P-256), and the CT log when there is one.
// bench/ca/run.sh measures the server over loopback HTTP against Fulcio.
func BenchmarkSigningCert(b *testing.B) {
	for _, mode := range []string{"no CT", "fake CT", "ctlog"} {
		b.Run(mode, func(b *testing.B) {
			e := newEnv(b, envOptions{noCT: mode != "fake CT"})
			h := e.ca.Handler()
			if mode == "ctlog" {
				log, err := ctlog.New(context.Background(), ctlog.Config{DataDir: b.TempDir(), PublicURL: "http://127.0.0.1/ct", Roots: []*x509.Certificate{e.pki.Root}})
				if err != nil {
					b.Fatal(err)
				}
				defer log.Close()
				svc, err := ca.New(ca.Config{Signer: e.pki.IntermediateKey, Chain: []*x509.Certificate{e.pki.Intermediate, e.pki.Root}, Identity: e.verify, CT: log})
				if err != nil {
					b.Fatal(err)
				}
				h = svc.Handler()
			}
			const n = 256
			bodies := make([][]byte, n)
			tokens := make([]string, n)
			for i := range bodies {
				key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
				bodies[i] = v2Body(key.Public(), prove(b, key, "alice@example.com"), "")
				tokens[i] = e.emailToken()
			}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					i++
					req := httptest.NewRequest(http.MethodPost, "/api/v2/signingCert", bytes.NewReader(bodies[i%n]))
					req.Header.Set("Authorization", "Bearer "+tokens[i%n])
					w := httptest.NewRecorder()
					h.ServeHTTP(w, req)
					if w.Code != 200 {
						b.Fatalf("%d %s", w.Code, w.Body)
					}
				}
			})
		})
	}
}

// BenchmarkSigningCertHTTP is BenchmarkSigningCert over loopback HTTP with
// keep-alive connections (client and server in one process).
func BenchmarkSigningCertHTTP(b *testing.B) {
	e := newEnv(b, envOptions{noCT: true})
	const n = 256
	bodies := make([][]byte, n)
	tokens := make([]string, n)
	for i := range bodies {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		bodies[i] = v2Body(key.Public(), prove(b, key, "alice@example.com"), "")
		tokens[i] = e.emailToken()
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/api/v2/signingCert", bytes.NewReader(bodies[i%n]))
			req.Header.Set("Authorization", "Bearer "+tokens[i%n])
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Fatal(resp.Status)
			}
		}
	})
}
