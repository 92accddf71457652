package ca

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"testing"
)

// TestCanonicalSPKI: the cached-prefix encoding of ECDSA keys is byte for
// byte what x509.MarshalPKIXPublicKey produces, for the first key of a
// curve (which fills the cache) and for later ones; other key types go
// through the encoder.
func TestCanonicalSPKI(t *testing.T) {
	var keys []crypto.PublicKey
	for _, c := range []elliptic.Curve{elliptic.P256(), elliptic.P384(), elliptic.P521()} {
		for range 3 {
			k, err := ecdsa.GenerateKey(c, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			keys = append(keys, k.Public())
		}
	}
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keys = append(keys, edPub, rsaKey.Public())
	for i, pub := range keys {
		want, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		got, err := canonicalSPKI(pub)
		if err != nil {
			t.Fatalf("key %d (%T): %v", i, pub, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("key %d (%T): canonicalSPKI = %x, want %x", i, pub, got, want)
		}
	}
}
