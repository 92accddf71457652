package client

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"sigil.dev/sigil/rekor"
)

// Match reads back from a body what Rekor indexes, and says "unchecked"
// only where the body cannot tell (a digest that may be a statement
// subject of a dsse entry).
func TestSearchMatch(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pemOf := func(k *ecdsa.PrivateKey) []byte {
		der, _ := x509.MarshalPKIXPublicKey(k.Public())
		return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	}
	d := sha256.Sum256([]byte("artifact"))
	hr := rekor.HashedRekordV001(crypto.SHA256, d[:], []byte("sig"), pemOf(k))
	payload := []byte(`{"_type":"https://in-toto.io/Statement/v1"}`)
	ds := rekor.DSSEV001([]byte(`{"payload":"e30=","payloadType":"application/vnd.in-toto+json","signatures":[{"sig":"c2ln"}]}`), payload, []rekor.DSSESignature{{Signature: "c2ln", PEM: pemOf(k)}})
	ph := sha256.Sum256(payload)
	hx := func(b []byte) string { return hex.EncodeToString(b) }
	for _, tc := range []struct {
		name string
		q    SearchQuery
		body []byte
		want Match
	}{
		{"digest", SearchQuery{Hash: hx(d[:])}, hr, Matches},
		{"digest, other algorithm named", SearchQuery{Hash: "sha512:" + hx(d[:]) + hx(d[:])}, hr, NoMatch},
		{"other digest", SearchQuery{Hash: hx(ph[:])}, hr, NoMatch},
		{"key", SearchQuery{PEM: pemOf(k)}, hr, Matches},
		{"other key", SearchQuery{PEM: pemOf(other)}, hr, NoMatch},
		{"email of a bare key", SearchQuery{Email: "a@b"}, hr, NoMatch},
		{"or: one matches", SearchQuery{Email: "a@b", Hash: hx(d[:])}, hr, Matches},
		{"and: one fails", SearchQuery{Email: "a@b", Hash: hx(d[:]), And: true}, hr, NoMatch},
		{"dsse payload hash", SearchQuery{Hash: hx(ph[:])}, ds, Matches},
		{"dsse, maybe a subject", SearchQuery{Hash: hx(d[:])}, ds, Unchecked},
		{"dsse, maybe a subject, and key", SearchQuery{Hash: hx(d[:]), PEM: pemOf(k), And: true}, ds, Unchecked},
		{"dsse, maybe a subject, and other key", SearchQuery{Hash: hx(d[:]), PEM: pemOf(other), And: true}, ds, NoMatch},
		{"dsse, or key", SearchQuery{Hash: hx(d[:]), PEM: pemOf(other)}, ds, Unchecked},
		{"unparsed kind", SearchQuery{Email: "a@b"}, []byte(`{"kind":"helm"}`), Unchecked},
	} {
		got, err := tc.q.Match(tc.body)
		if err != nil || got != tc.want {
			t.Errorf("%s: %v %v, want %v", tc.name, got, err, tc.want)
		}
	}
}

// TestSearchAnswerTooLarge: an answer over the client's limit is refused
// as too large, not cut and then misparsed ("unexpected end of JSON
// input").
func TestSearchAnswerTooLarge(t *testing.T) {
	defer func(m int64) { maxAnswer = m }(maxAnswer)
	maxAnswer = 1 << 20
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		id := `"` + strings.Repeat("ab", 32) + `"`
		w.Write([]byte("[" + id))
		for i := 0; i < 20000; i++ {
			w.Write([]byte("," + id))
		}
		w.Write([]byte("]"))
	}))
	defer srv.Close()
	_, err := New(srv.URL).V1Search(context.Background(), SearchQuery{Email: "a@example.com"})
	if err == nil || !strings.Contains(err.Error(), "larger than 1 MiB") {
		t.Fatalf("got %v, want the answer named too large", err)
	}
}
