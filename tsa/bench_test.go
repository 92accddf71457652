package tsa

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"net/http"
	"net/http/httptest"
	"testing"

	"sigil.dev/sigil/timestamp"
)

// BenchmarkHandler is one timestamp request through the HTTP handler
// (no network): parse the request, issue and sign the token, write the
// reply. The floor is one ECDSA P-256 signature (BenchmarkP256SignFloor).
// bench/tsa/run.sh measures the service over loopback HTTP next to the
// Sigstore timestamp-authority.
func BenchmarkHandler(b *testing.B) {
	s, err := New(Config{DataDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	h := s.Handler()
	d := sha256.Sum256([]byte("signature"))
	der, _ := (&timestamp.Request{HashAlgorithm: crypto.SHA256, HashedMessage: d[:]}).Marshal()
	jsonBody := []byte(`{"artifactHash":"` + "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=" + `","hashAlgorithm":"sha256"}`)
	for _, bc := range []struct {
		name, ct string
		body     []byte
	}{{"der", MediaTypeQuery, der}, {"json", "application/json", jsonBody}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, "/api/v1/timestamp", bytes.NewReader(bc.body))
				req.Header.Set("Content-Type", bc.ct)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != 200 {
					b.Fatalf("status %d", w.Code)
				}
			}
		})
	}
}

// BenchmarkP256SignFloor is one ECDSA P-256 signature, the cryptographic
// cost of a token.
func BenchmarkP256SignFloor(b *testing.B) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	d := sha256.Sum256([]byte("x"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ecdsa.SignASN1(rand.Reader, k, d[:]); err != nil {
			b.Fatal(err)
		}
	}
}
