package tsa

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"errors"
	"math/big"
	"testing"

	"sigil.dev/sigil/timestamp"
)

// FuzzJSONRequest: the JSON request parser never panics, and what it
// accepts is a request with a known strong hash (the digest length is the
// signer's to check).
func FuzzJSONRequest(f *testing.F) {
	f.Add([]byte(`{"artifactHash":"n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=","hashAlgorithm":"sha256","certificates":true,"nonce":42,"tsaPolicyOID":"1.3.6.1.4.1.57264.2"}`))
	f.Add([]byte(`{"artifactHash":"","hashAlgorithm":"SHA512","nonce":-1}`))
	f.Add([]byte(`{"hashAlgorithm":"sha1"}`))
	f.Add([]byte(`{"artifactHash":"AA==","hashAlgorithm":"sha384","tsaPolicyOID":"2.999.0"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		req, err := parseJSONRequest(raw)
		if err != nil {
			var r *rejection
			if !errors.As(err, &r) || r.status != 400 {
				t.Fatalf("error %v is not a 400 rejection", err)
			}
			return
		}
		switch req.HashAlgorithm {
		case crypto.SHA256, crypto.SHA384, crypto.SHA512:
		default:
			t.Fatalf("accepted hash %v", req.HashAlgorithm)
		}
		if req.Nonce != nil && req.Nonce.Sign() < 0 {
			t.Fatal("accepted a negative nonce")
		}
	})
}

// FuzzDERRequest: whatever the body, the service answers 200 with a
// granted TimeStampResp or 400 with a rejection; it never fails.
func FuzzDERRequest(f *testing.F) {
	s, err := New(Config{DataDir: f.TempDir()})
	if err != nil {
		f.Fatal(err)
	}
	d := sha256.Sum256([]byte("x"))
	for _, r := range []*timestamp.Request{
		{HashAlgorithm: crypto.SHA256, HashedMessage: d[:]},
		{HashAlgorithm: crypto.SHA256, HashedMessage: d[:], Nonce: big.NewInt(7), CertReq: true, Policy: timestamp.PolicySigstore},
	} {
		der, _ := r.Marshal()
		f.Add(der)
	}
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x01})
	f.Fuzz(func(t *testing.T, body []byte) {
		resp, rej := s.respondDER(bytes.NewReader(body))
		if rej != nil {
			if rej.status != 400 {
				t.Fatalf("status %d for %x: %v", rej.status, body, rej)
			}
			return
		}
		tok, err := timestamp.ParseResponse(resp)
		if err != nil {
			t.Fatalf("granted response does not parse: %v", err)
		}
		req, err := timestamp.ParseRequest(body)
		if err != nil {
			t.Fatalf("granted a request that does not parse: %v", err)
		}
		if !bytes.Equal(tok.HashedMessage, req.HashedMessage) {
			t.Fatal("token stamps another digest")
		}
	})
}
