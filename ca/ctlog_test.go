package ca_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"testing"

	"sigil.dev/sigil/ca"
	"sigil.dev/sigil/ctlog"
	"sigil.dev/sigil/sct"
)

// TestWithCTLog issues through the project's own CT log in process: the
// SCT embedded in the certificate verifies with the key the log states for
// the trusted root.
func TestWithCTLog(t *testing.T) {
	e := newEnv(t, envOptions{noCT: true})
	log, err := ctlog.New(context.Background(), ctlog.Config{DataDir: t.TempDir(), PublicURL: "http://127.0.0.1/ct", Roots: []*x509.Certificate{e.pki.Root}})
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	tl, err := log.TrustedLog()
	if err != nil {
		t.Fatal(err)
	}
	svc, err := ca.New(ca.Config{Signer: e.pki.IntermediateKey, Chain: []*x509.Certificate{e.pki.Intermediate, e.pki.Root}, Identity: e.verify, CT: log, CTKey: tl.PublicKey})
	if err != nil {
		t.Fatal(err)
	}
	e.srv.Config.Handler = svc.Handler()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	chain, embedded, _ := chainOf(t, e.post("/api/v2/signingCert", e.emailToken(), v2Body(key.Public(), prove(t, key, "alice@example.com"), "")))
	if !embedded {
		t.Fatal("not embedded")
	}
	scts, err := sct.Embedded(chain[0])
	if err != nil || len(scts) != 1 {
		t.Fatalf("%v %v", scts, err)
	}
	if err := scts[0].Verify(tl.PublicKey, chain[0], e.pki.Intermediate.RawSubjectPublicKeyInfo); err != nil {
		t.Fatal(err)
	}
	if string(scts[0].LogID[:]) != string(tl.ID) {
		t.Fatal("SCT log ID is not the trusted root's")
	}
}
