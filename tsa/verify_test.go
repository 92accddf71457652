package tsa

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"io"
	"net/http"
	"testing"

	"sigil.dev/sigil/bundle"
	"sigil.dev/sigil/internal/testpki"
	"sigil.dev/sigil/timestamp"
	"sigil.dev/sigil/trust"
	"sigil.dev/sigil/verify"
)

// TestTokensVerifyWithTheVerifier: a Rekor v2 bundle (which has no
// integrated time, so its RFC 3161 timestamp is the only verified time)
// stamped by this TSA over HTTP, the way sigstore-go's signer asks (SHA-256
// of the signature, no nonce, no certificates), verifies with the verify
// package when the trusted root lists the TSA from TrustedTSA, and fails
// when it does not.
func TestTokensVerifyWithTheVerifier(t *testing.T) {
	s, srv := newTestTSA(t, nil)
	p, err := testpki.New(testpki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	artifact := []byte("release contents\n")
	signed, err := p.Sign(artifact, testpki.SignOptions{V2: true})
	if err != nil {
		t.Fatal(err)
	}
	sig := signed.Bundle.MessageSignature.Signature
	d := sha256.Sum256(sig)
	body := derRequest(t, &timestamp.Request{HashAlgorithm: crypto.SHA256, HashedMessage: d[:]})
	resp, err := http.Post(srv.URL+"/api/v1/timestamp", MediaTypeQuery, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	token, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	b, err := bundle.New(signed.Cert.Raw, nil, signed.Bundle.MessageSignature, nil, signed.Bundle.TlogEntries, [][]byte{token})
	if err != nil {
		t.Fatal(err)
	}
	// Through JSON, as a file would carry it.
	raw, err := b.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if b, err = bundle.Parse(raw); err != nil {
		t.Fatal(err)
	}

	root, err := p.TrustedRoot()
	if err != nil {
		t.Fatal(err)
	}
	policy := verify.Policy{Identities: []verify.Identity{{
		SubjectAlternativeName: verify.Matcher{Exact: testpki.DefaultIdentity.URI},
		Issuer:                 verify.Matcher{Exact: testpki.DefaultIdentity.Issuer},
	}}}
	art := verify.Artifact{Open: func() (verify.ReadCloser, error) { return io.NopCloser(bytes.NewReader(artifact)), nil }}

	// The test PKI's own TSA did not sign this token.
	if _, err := verify.New(root, verify.Options{}).Verify(b, art, policy); err == nil {
		t.Fatal("verified with a trusted root that does not list this TSA")
	}

	ca, err := s.TrustedTSA()
	if err != nil {
		t.Fatal(err)
	}
	root.TSAs = []*trust.CA{ca}
	// And through the trusted root's JSON form.
	rootJSON, err := root.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if root, err = trust.ParseTrustedRoot(rootJSON); err != nil {
		t.Fatal(err)
	}
	res, err := verify.New(root, verify.Options{}).Verify(b, art, policy)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, vt := range res.VerifiedTimestamps {
		if vt.Type == "TimestampAuthority" && vt.URI == "https://tsa.example/api/v1/timestamp" {
			found = true
		}
	}
	if !found {
		t.Errorf("verified timestamps %+v lack this TSA", res.VerifiedTimestamps)
	}
}
