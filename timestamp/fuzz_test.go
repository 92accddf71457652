package timestamp

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"testing"
)

// vectorResponses returns the TimeStampResps of the conformance vectors,
// if they are checked out.
func vectorResponses() [][]byte {
	var out [][]byte
	dirs, _ := os.ReadDir(conformanceDir)
	for _, d := range dirs {
		data, err := os.ReadFile(filepath.Join(conformanceDir, d.Name(), "bundle.sigstore.json"))
		if err != nil {
			continue
		}
		var b vectorBundle
		if json.Unmarshal(data, &b) != nil {
			continue
		}
		for _, st := range b.VerificationMaterial.TimestampVerificationData.RFC3161Timestamps {
			out = append(out, st.SignedTimestamp)
		}
	}
	return out
}

func FuzzParseResponse(f *testing.F) {
	for _, r := range vectorResponses() {
		f.Add(r)
	}
	var opts []VerifyOptions
	for _, cfg := range []pkiConfig{{}, {alg: algEd25519, intermediate: true}} {
		p := newPKI(f, cfg)
		opts = append(opts, p.opts(true))
		for _, certReq := range []bool{false, true} {
			resp, err := p.signer(testNow).Respond(sha256Request(testMsg, certReq, big.NewInt(99)))
			if err != nil {
				f.Fatal(err)
			}
			f.Add(resp)
		}
	}
	f.Add(ErrorResponse(StatusRejection, FailBadAlg))
	f.Fuzz(func(t *testing.T, der []byte) {
		tok, err := ParseResponse(der)
		if err != nil {
			if tok != nil {
				t.Fatal("token and error")
			}
			return
		}
		if tok.SerialNumber == nil || tok.Time.IsZero() || tok.Policy == nil {
			t.Fatalf("parsed token lacks mandatory fields: %+v", tok)
		}
		tok2, err := ParseToken(tok.Raw)
		if err != nil || !tok2.Time.Equal(tok.Time) {
			t.Fatalf("ParseToken(Raw) disagrees: %v", err)
		}
		// Verification must not panic, whatever it decides.
		for _, o := range opts {
			tok.Verify(testMsg, o)
		}
		tok.Verify(testMsg, VerifyOptions{Roots: tok.Certificates})
	})
}

func FuzzParseRequest(f *testing.F) {
	d := sha256.Sum256(testMsg)
	for _, r := range []*Request{
		{HashAlgorithm: crypto.SHA256, HashedMessage: d[:]},
		{HashAlgorithm: crypto.SHA256, HashedMessage: d[:], CertReq: true, Nonce: big.NewInt(-1 << 40), Policy: PolicySigstore},
		{HashAlgorithm: crypto.SHA256, HashedMessage: d[:], Extensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 2, 3}, Critical: true, Value: []byte("v")}}},
	} {
		der, err := r.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(der)
	}
	f.Fuzz(func(t *testing.T, der []byte) {
		r, err := ParseRequest(der)
		if err != nil {
			return
		}
		if r.HashAlgorithm == 0 || r.HashedMessage == nil {
			t.Fatalf("parsed request lacks an imprint: %+v", r)
		}
		again, err := r.Marshal()
		if err != nil {
			// Marshal refuses digests of the wrong size, which parse.
			if len(r.HashedMessage) == r.HashAlgorithm.Size() {
				t.Fatalf("Marshal of a parsed request: %v", err)
			}
			return
		}
		r2, err := ParseRequest(again)
		if err != nil {
			t.Fatalf("ParseRequest(Marshal(r)): %v", err)
		}
		again2, _ := r2.Marshal()
		if !bytes.Equal(again, again2) {
			t.Fatalf("Marshal is not stable: %x vs %x", again, again2)
		}
	})
}
