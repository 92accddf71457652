package ctlog

import (
	"context"
	"crypto"
	"crypto/sha256"
	"testing"

	"sigil.dev/sigil/internal/testpki"
	"sigil.dev/sigil/sct"
	"sigil.dev/sigil/trust"
	"sigil.dev/sigil/verify"
)

// TestBundleWithLoggedSCTVerifies signs bundles whose certificates embed an
// SCT from this log — obtained over HTTP with Client, as a remote CA
// would — and verifies them with sigil's verifier against a trusted root
// that lists the log from TrustedLog.
func TestBundleWithLoggedSCTVerifies(t *testing.T) {
	e := newEnv(t, Config{})
	srv := newServer(t, e)
	client := &Client{URL: srv.URL + "/ct"}
	submit := func(chain [][]byte) (*sct.SCT, error) { return client.AddPreChain(context.Background(), chain) }

	tl, err := e.svc.TrustedLog()
	if err != nil {
		t.Fatal(err)
	}
	withLog, err := e.pki.TrustedRoot()
	if err != nil {
		t.Fatal(err)
	}
	withLog.CTLogs = map[string]*trust.Log{tl.HexID(): tl}
	raw, err := withLog.Marshal() // through the JSON form clients read
	if err != nil {
		t.Fatal(err)
	}
	if withLog, err = trust.ParseTrustedRoot(raw); err != nil {
		t.Fatal(err)
	}
	withoutLog, err := e.pki.TrustedRoot() // lists only testpki's own CT key
	if err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct {
		name string
		id   testpki.Identity
	}{
		{"GitHub workflow URI", testpki.DefaultIdentity},
		{"email", testpki.Identity{Email: "alice@sigil.test", Extensions: testpki.DefaultIdentity.Extensions}},
		// A critical OtherName SAN, which crypto/x509 leaves unhandled.
		{"username", testpki.Identity{Username: "alice!sigil.test", Extensions: testpki.DefaultIdentity.Extensions}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			artifact := []byte("release " + tt.name)
			signed, err := e.pki.Sign(artifact, testpki.SignOptions{Identity: &tt.id, Leaf: testpki.LeafOptions{SubmitPrecert: submit}})
			if err != nil {
				t.Fatalf("sign with an SCT from the log: %v", err)
			}
			scts, err := sct.Embedded(signed.Cert)
			if err != nil || len(scts) != 1 || scts[0].LogID != e.svc.LogID() {
				t.Fatalf("embedded SCTs %v (%v), want one from the log", scts, err)
			}
			d := sha256.Sum256(artifact)
			san := tt.id.URI + tt.id.Email + tt.id.Username
			policy := verify.Policy{Identities: []verify.Identity{{
				SubjectAlternativeName: verify.Matcher{Exact: san},
				Issuer:                 verify.Matcher{Exact: tt.id.Issuer},
			}}}
			art := verify.Artifact{DigestAlgorithm: crypto.SHA256, Digest: d[:]}
			if _, err := verify.New(withLog, verify.Options{}).Verify(signed.Bundle, art, policy); err != nil {
				t.Errorf("verify with the log in the trusted root: %v", err)
			}
			_, err = verify.New(withoutLog, verify.Options{}).Verify(signed.Bundle, art, policy)
			if verify.CheckOf(err) != verify.CheckSCT {
				t.Errorf("verify without the log in the trusted root: %v, want an SCT failure", err)
			}
		})
	}
}
