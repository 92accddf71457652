package oidc

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// TestCompactJWS checks the key set's signature verification against
// tokens go-jose signs, for every allowed algorithm, and refuses keys of
// the wrong type, curve or declared algorithm.
func TestCompactJWS(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	keyFor := map[string]crypto.Signer{
		"RS256": rsaKey, "RS384": rsaKey, "RS512": rsaKey, "PS256": rsaKey, "PS384": rsaKey, "PS512": rsaKey,
		"ES256": p256, "ES384": p384, "ES512": p521, "EdDSA": ed,
	}
	wrong := map[string]crypto.Signer{"RS256": p256, "PS256": ed, "ES256": p384, "ES384": p256, "ES512": rsaKey, "EdDSA": rsaKey}
	for _, alg := range DefaultSigningAlgorithms {
		key := keyFor[alg]
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: key}, (&jose.SignerOptions{}).WithHeader("kid", "k1"))
		if err != nil {
			t.Fatal(err)
		}
		obj, _ := s.Sign([]byte(`{"iss":"x"}`))
		raw, _ := obj.CompactSerialize()
		j, err := parseCompact(raw, DefaultSigningAlgorithms)
		if err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		good := []jose.JSONWebKey{{Key: key.Public(), KeyID: "k1"}}
		if known, err := j.verify(good); !known || err != nil {
			t.Errorf("%s: %v", alg, err)
		}
		if p, _ := j.payload(); string(p) != `{"iss":"x"}` {
			t.Errorf("%s: payload %q", alg, p)
		}
		if w, ok := wrong[alg]; ok {
			if _, err := j.verify([]jose.JSONWebKey{{Key: w.Public(), KeyID: "k1"}}); err == nil {
				t.Errorf("%s verified with a %T key", alg, w.Public())
			}
		}
		if _, err := j.verify([]jose.JSONWebKey{{Key: key.Public(), KeyID: "k1", Algorithm: "XX999"}}); err == nil {
			t.Errorf("%s verified with a key declared for another algorithm", alg)
		}
		if known, _ := j.verify([]jose.JSONWebKey{{Key: key.Public(), KeyID: "k2"}}); known {
			t.Errorf("%s: key k2 matched kid k1", alg)
		}
		// Flip one signature bit.
		parts := strings.Split(raw, ".")
		j2, _ := parseCompact(parts[0]+"."+parts[1]+"."+flip(parts[2]), DefaultSigningAlgorithms)
		if j2 != nil {
			if _, err := j2.verify(good); err == nil {
				t.Errorf("%s: altered signature verified", alg)
			}
		}
		if _, err := parseCompact(raw, []string{"none"}); err == nil {
			t.Errorf("%s accepted outside the allow-list", alg)
		}
	}
	for _, bad := range []string{"a.b", "a.b.c.d", "!.e30.", "e30.e30.!", "eyJhbGciOiJSUzI1NiIsImNyaXQiOlsiZXhwIl19.e30."} {
		if _, err := parseCompact(bad, DefaultSigningAlgorithms); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func flip(s string) string {
	b := []byte(s)
	if b[0] == 'A' {
		b[0] = 'B'
	} else {
		b[0] = 'A'
	}
	return string(b)
}
