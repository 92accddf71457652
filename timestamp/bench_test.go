package timestamp

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"math/big"
	"testing"
)

// BenchmarkVerify verifies a P-256 token (P-256 root → P-256 leaf) the way
// sigstore-go does for a Sigstore bundle: parsed once, verified per
// iteration. The floor is two ECDSA P-256 verifications: the CMS signature
// and the leaf certificate's signature in the chain check.
func BenchmarkVerify(b *testing.B) {
	p := newPKI(b, pkiConfig{alg: algP256})
	for _, bc := range []struct {
		name    string
		certReq bool
		leaf    bool
	}{
		{"leaf-from-trusted-root", false, true}, // what the Sigstore clients request
		{"embedded-certs", true, false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			resp, err := p.signer(testNow).Respond(sha256Request(testMsg, bc.certReq, nil))
			if err != nil {
				b.Fatal(err)
			}
			tok, err := ParseResponse(resp)
			if err != nil {
				b.Fatal(err)
			}
			opts := p.opts(bc.leaf)
			b.ReportAllocs()
			for b.Loop() {
				if err := tok.Verify(testMsg, opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkP256VerifyFloor is one ECDSA P-256 verification on this
// machine, to read BenchmarkVerify as a ratio (≈ 2 is the floor).
func BenchmarkP256VerifyFloor(b *testing.B) {
	k := testKey(b, algP256, 0).(*ecdsa.PrivateKey)
	d := sha256.Sum256(testMsg)
	sig, err := ecdsa.SignASN1(rand.Reader, k, d[:])
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if !ecdsa.VerifyASN1(&k.PublicKey, d[:], sig) {
			b.Fatal("verify failed")
		}
	}
}

// BenchmarkParseAndVerify is the whole job for one bundle timestamp.
func BenchmarkParseAndVerify(b *testing.B) {
	p := newPKI(b, pkiConfig{alg: algP256})
	resp, err := p.signer(testNow).Respond(sha256Request(testMsg, false, nil))
	if err != nil {
		b.Fatal(err)
	}
	opts := p.opts(true)
	b.ReportAllocs()
	for b.Loop() {
		tok, err := ParseResponse(resp)
		if err != nil {
			b.Fatal(err)
		}
		if err := tok.Verify(testMsg, opts); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseResponse(b *testing.B) {
	p := newPKI(b, pkiConfig{alg: algP256})
	for _, certReq := range []bool{false, true} {
		name := "no-certs"
		if certReq {
			name = "embedded-certs"
		}
		b.Run(name, func(b *testing.B) {
			resp, err := p.signer(testNow).Respond(sha256Request(testMsg, certReq, nil))
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ParseResponse(resp); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkRespond(b *testing.B) {
	p := newPKI(b, pkiConfig{alg: algP256})
	s := p.signer(testNow)
	req := sha256Request(testMsg, false, big.NewInt(1))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Respond(req); err != nil {
			b.Fatal(err)
		}
	}
}
