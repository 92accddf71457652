package sct

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"
)

// TestX509SignedData pins the RFC 6962 §3.2 layout of an X.509 entry's
// signed data and checks VerifySignedData over it.
func TestX509SignedData(t *testing.T) {
	got, err := X509SignedData(0x0102030405060708, []byte{0x30, 0x00}, []byte{0, 0, 5, 0, 0, 0, 0, 9})
	if err != nil {
		t.Fatal(err)
	}
	want := "00" + "00" + "0102030405060708" + "0000" + "000002" + "3000" + "0008" + "0000050000000009"
	if hex.EncodeToString(got) != want {
		t.Errorf("signed data\n got %x\nwant %s", got, want)
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256(got)
	sig, err := ecdsa.SignASN1(rand.Reader, key, d[:])
	if err != nil {
		t.Fatal(err)
	}
	s := &SCT{Timestamp: 0x0102030405060708, HashAlg: 4, SigAlg: 3, Signature: sig}
	if err := s.VerifySignedData(&key.PublicKey, got); err != nil {
		t.Errorf("VerifySignedData: %v", err)
	}
	tampered := append([]byte{}, got...)
	tampered[len(tampered)-1] ^= 1
	if err := s.VerifySignedData(&key.PublicKey, tampered); !errors.Is(err, ErrSignature) {
		t.Errorf("VerifySignedData over other data = %v, want ErrSignature", err)
	}
	s.SigAlg = 1
	if err := s.VerifySignedData(&key.PublicKey, got); !errors.Is(err, ErrSignature) {
		t.Errorf("VerifySignedData with an RSA algorithm byte = %v, want ErrSignature", err)
	}
}
