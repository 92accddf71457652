package checkpoint

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

func keys(t *testing.T) map[string]crypto.Signer {
	t.Helper()
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]crypto.Signer{"ed25519": ed, "p256": p256, "p384": p384, "rsa": rk}
}

func TestSignOpenRoundTrip(t *testing.T) {
	root := sha256.Sum256([]byte("root"))
	cp := &Checkpoint{Origin: "log.example.com", Size: 42, Hash: root[:]}
	for name, k := range keys(t) {
		s, err := NewSigner("log.example.com", k)
		if err != nil {
			t.Fatal(err)
		}
		v, err := NewVerifier("log.example.com", k.Public())
		if err != nil {
			t.Fatal(err)
		}
		if s.KeyHash() != v.KeyHash() {
			t.Fatalf("%s: signer and verifier key hashes differ", name)
		}
		msg, err := Sign(cp, s)
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := Open(msg, "log.example.com", v)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got.Size != 42 || string(got.Hash) != string(root[:]) {
			t.Fatalf("%s: got %+v", name, got)
		}
		if _, _, err := Open(msg, "other.example.com", v); !errors.Is(err, ErrOriginMismatch) {
			t.Fatalf("%s: origin mismatch not caught: %v", name, err)
		}
		// A flipped bit in the body must break the signature.
		bad := []byte(strings.Replace(string(msg), "\n42\n", "\n43\n", 1))
		if _, _, err := Open(bad, "log.example.com", v); !errors.Is(err, ErrNoSignature) {
			t.Fatalf("%s: tampered size accepted or wrong error: %v", name, err)
		}
	}
}

func TestCosignaturesIgnored(t *testing.T) {
	root := sha256.Sum256(nil)
	cp := &Checkpoint{Origin: "log.example.com", Size: 0, Hash: root[:]}
	_, logKey, _ := ed25519.GenerateKey(rand.Reader)
	_, witKey, _ := ed25519.GenerateKey(rand.Reader)
	ls, _ := NewSigner("log.example.com", logKey)
	ws, _ := NewSigner("witness.example.com", witKey)
	msg, err := Sign(cp, ws, ls) // log signature is not first
	if err != nil {
		t.Fatal(err)
	}
	v, _ := NewVerifier("log.example.com", logKey.Public())
	if _, _, err := Open(msg, "log.example.com", v); err != nil {
		t.Fatal(err)
	}
	// Only the witness signed: no signature from the log.
	msg, _ = Sign(cp, ws)
	if _, _, err := Open(msg, "log.example.com", v); !errors.Is(err, ErrNoSignature) {
		t.Fatalf("want ErrNoSignature, got %v", err)
	}
}

func TestOpenV1IgnoresName(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	root := sha256.Sum256(nil)
	cp := &Checkpoint{Origin: "rekor.example.com - 1234", Size: 7, Hash: root[:], Extensions: []string{"Timestamp: 1700000000000000000"}}
	s, _ := NewSigner("rekor.example.com", k)
	msg, _ := Sign(cp, s)
	v, _ := NewVerifier("some-other-name", k.Public())
	got, _, err := OpenV1(msg, v)
	if err != nil {
		t.Fatal(err)
	}
	if !IsV1Origin(got.Origin) || len(got.Extensions) != 1 {
		t.Fatalf("got %+v", got)
	}
	// Open (C2SP rules) must not accept it under another name.
	if _, _, err := Open(msg, "", v); err == nil {
		t.Fatal("Open accepted a signature under another key name")
	}
}

func TestParseRejects(t *testing.T) {
	for name, in := range map[string]string{
		"no newline":     "o\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
		"two lines":      "o\n1\n",
		"leading zero":   "o\n01\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n",
		"negative":       "o\n-1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n",
		"short hash":     "o\n1\nAAAA\n",
		"empty origin":   "\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n",
		"empty ext line": "o\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n",
	} {
		if _, err := Parse([]byte(in)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if c, err := Parse([]byte("o\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n")); err != nil || c.Size != 0 {
		t.Errorf("size 0 rejected: %v", err)
	}
}

// The Rekor v2 production key ID must match the trusted root's logId.
func TestKeyIDMatchesVkey(t *testing.T) {
	// vkey from transparency-dev/witness omniwitness logs.yaml for
	// log2025-1.rekor.sigstore.dev: key hash cf119915.
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	s, _ := NewSigner("x.example", priv)
	vk, err := note.NewEd25519VerifierKey("x.example", priv.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vk)
	if err != nil {
		t.Fatal(err)
	}
	if v.KeyHash() != s.KeyHash() {
		t.Fatalf("Ed25519 key hash %08x differs from x/mod's %08x", s.KeyHash(), v.KeyHash())
	}
}

func FuzzOpen(f *testing.F) {
	_, k, _ := ed25519.GenerateKey(rand.Reader)
	s, _ := NewSigner("log.example.com", k)
	root := sha256.Sum256(nil)
	msg, _ := Sign(&Checkpoint{Origin: "log.example.com", Size: 1, Hash: root[:]}, s)
	f.Add(msg)
	f.Add([]byte("log.example.com\n1\n\n\n— log.example.com AAAAAAA=\n"))
	v, _ := NewVerifier("log.example.com", k.Public())
	f.Fuzz(func(t *testing.T, data []byte) {
		c, _, err := Open(data, "log.example.com", v)
		if err == nil && c.Origin != "log.example.com" {
			t.Fatal("wrong origin accepted")
		}
		_, _ = Parse(data)
		_, _, _ = OpenV1(data, v)
	})
}
