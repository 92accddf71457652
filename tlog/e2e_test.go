package tlog

import (
	"net/http"
	"testing"

	"sigil.dev/sigil/bundle"
	"sigil.dev/sigil/internal/testpki"
	"sigil.dev/sigil/rekor"
)

// Entries written through the v2 API verify with the project's verifier
// from bundles assembled from the 201 answer: for every allowed key type,
// with a certificate or a bare key, for message signatures and DSSE.
func TestV2EntriesVerify(t *testing.T) {
	l := startLog(t, "", nil)
	p, err := testpki.New(testpki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tr := l.trustedRoot(p)
	for name, key := range allKeys(t) {
		for _, withCert := range []bool{true, false} {
			s := newSigner(t, p, key, withCert)
			art := []byte("artifact " + name)
			req, sig := s.v2Request(t, art)
			resp, body := l.post("/api/v2/log/entries", req)
			mustStatus(t, resp, body, http.StatusCreated)
			e := parseTLE(t, body)
			msg := &bundle.MessageSignature{DigestAlgorithm: s.hash(), Digest: s.digest(art), Signature: sig}
			if err := verifyBundle(t, tr, s, art, msg, nil, e, true); err != nil {
				t.Errorf("%s cert=%v: bundle does not verify: %v", name, withCert, err)
			}
			if name == "Ed25519" {
				continue // DSSE on Rekor v2 needs a prehash signature
			}
			env := s.envelope(t, art)
			resp, body = l.post("/api/v2/log/entries", s.v2DSSERequest(env))
			mustStatus(t, resp, body, http.StatusCreated)
			e = parseTLE(t, body)
			if e.GetKindVersion().GetKind() != rekor.KindHashedRekord || e.GetKindVersion().GetVersion() != "0.0.2" {
				t.Errorf("DSSE request logged as %v", e.GetKindVersion())
			}
			if err := verifyBundle(t, tr, s, art, nil, env, e, true); err != nil {
				t.Errorf("%s cert=%v DSSE: bundle does not verify: %v", name, withCert, err)
			}
		}
	}
}

// Entries written through the v1 API verify from bundles built from the
// LogEntry answer (SET, inclusion proof, v1 checkpoint), for hashedrekord,
// dsse and intoto.
func TestV1EntriesVerify(t *testing.T) {
	l := startLog(t, "", nil)
	p, err := testpki.New(testpki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tr := l.trustedRoot(p)
	for name, key := range allKeys(t) {
		for _, withCert := range []bool{true, false} {
			s := newSigner(t, p, key, withCert)
			art := []byte("artifact v1 " + name)
			req, digest, sig := s.v1HashedRekord(t, art)
			resp, body := l.post("/api/v1/log/entries", req)
			mustStatus(t, resp, body, http.StatusCreated)
			a := parseV1(t, body)
			if got := resp.Header.Get("ETag"); got != a.ID {
				t.Errorf("ETag %q, entry ID %q", got, a.ID)
			}
			if got, want := resp.Header.Get("Location"), "/api/v1/log/entries/"+a.ID; got != want {
				t.Errorf("Location %q, want %q", got, want)
			}
			msg := &bundle.MessageSignature{DigestAlgorithm: s.hash(), Digest: digest, Signature: sig}
			if err := verifyBundle(t, tr, s, art, msg, nil, a.tle(t, "hashedrekord", "0.0.1"), false); err != nil {
				t.Errorf("%s cert=%v: bundle does not verify: %v", name, withCert, err)
			}
			env := s.envelope(t, art)
			for _, kv := range []struct {
				kind, version string
				req           []byte
			}{{"dsse", "0.0.1", s.v1DSSE(env)}, {"intoto", "0.0.2", s.v1Intoto(env)}} {
				resp, body = l.post("/api/v1/log/entries", kv.req)
				mustStatus(t, resp, body, http.StatusCreated)
				a = parseV1(t, body)
				if err := verifyBundle(t, tr, s, art, nil, env, a.tle(t, kv.kind, kv.version), false); err != nil {
					t.Errorf("%s cert=%v %s: bundle does not verify: %v", name, withCert, kv.kind, err)
				}
			}
		}
	}
}
