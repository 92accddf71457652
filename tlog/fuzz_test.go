package tlog

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"sigil.dev/sigil/internal/testpki"
	"sigil.dev/sigil/rekor"
)

// FuzzParseV2Request: the Rekor v2 request decoder never panics, and what
// it accepts is complete.
func FuzzParseV2Request(f *testing.F) {
	p, _ := testpki.New(testpki.Options{})
	s := newSigner(f, p, nil, true)
	req, _ := s.v2Request(f, []byte("seed"))
	f.Add(req)
	f.Add(s.v2DSSERequest(s.envelope(f, []byte("seed"))))
	f.Add([]byte(`{"hashed_rekord_request_v002":{"digest":"AAAA","signature":{"content":"AA","verifier":{"public_key":{"raw_bytes":"AA"},"key_details":5}}}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := parseV2Request(data)
		if err != nil {
			return
		}
		if len(r.sig) == 0 || r.keyDetails == "" || (r.cert == nil) == (r.publicKey == nil) {
			t.Fatalf("accepted an incomplete request: %+v", r)
		}
		if !r.dsse && len(r.digest) == 0 {
			t.Fatal("accepted a hashedrekord without a digest")
		}
		if r.dsse && r.payloadType == "" {
			t.Fatal("accepted a DSSE request without a payload type")
		}
	})
}

// FuzzCanonicalizeV1: validating a Rekor v1 proposed entry never panics,
// and an accepted entry's canonical body is one the verifier parses, of
// the proposed kind.
func FuzzCanonicalizeV1(f *testing.F) {
	p, _ := testpki.New(testpki.Options{})
	s := newSigner(f, p, nil, true)
	req, _, _ := s.v1HashedRekord(f, []byte("seed"))
	f.Add(req)
	env := s.envelope(f, []byte("seed"))
	f.Add(s.v1DSSE(env))
	f.Add(s.v1Intoto(env))
	f.Add([]byte(`{"kind":"hashedrekord","apiVersion":"0.0.1","spec":{"signature":{"content":"AA==","publicKey":{"content":"AA=="}},"data":{"hash":{"algorithm":"sha256","value":"00"}}}}`))
	svc := &Service{val: newValidator(DefaultAllowedAlgorithms)}
	f.Fuzz(func(t *testing.T, data []byte) {
		var pe proposedEntry
		if json.Unmarshal(data, &pe) != nil {
			return
		}
		e, err := svc.canonicalizeV1(&pe)
		if err != nil {
			return
		}
		b, err := rekor.ParseV1Body(e.body)
		if err != nil {
			t.Fatalf("accepted entry has a body the verifier rejects: %v\n%s", err, e.body)
		}
		if b.Kind != pe.Kind || b.APIVersion != pe.APIVersion {
			t.Fatalf("proposed %s %s, logged %s %s", pe.Kind, pe.APIVersion, b.Kind, b.APIVersion)
		}
	})
}

// FuzzDecodeB64: protojson-style base64 decoding never panics and agrees
// with itself on re-encoding.
func FuzzDecodeB64(f *testing.F) {
	for _, s := range []string{"", "AAAA", "AA", "-_-_", "AA==", "A\nA"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := decodeB64([]byte(s))
		if err != nil {
			return
		}
		if len(d) > len(s) {
			t.Fatalf("%d bytes from %d characters", len(d), len(s))
		}
	})
}

// FuzzFastParseV2: whenever the fast path accepts a request, the complete
// decoder accepts it too, with the same result.
func FuzzFastParseV2(f *testing.F) {
	p, _ := testpki.New(testpki.Options{})
	for _, cert := range []bool{true, false} {
		s := newSigner(f, p, nil, cert)
		req, _ := s.v2Request(f, []byte("seed"))
		f.Add(req)
	}
	f.Add([]byte(`{"hashedRekordRequestV002":{"digest":"AAAA","signature":{"content":"AA","verifier":{"publicKey":{"rawBytes":"AA"},"keyDetails":"PKIX_ED25519_PH"}}}}`))
	f.Add([]byte(` { "hashedRekordRequestV002" : { "signature" : { "verifier" : { "keyDetails" : "PKIX_ECDSA_P256_SHA_256" , "x509Certificate" : { "rawBytes" : "AA-_" } , "publicKey" : { } } , "content" : "AAAA" } , "digest" : "AA==" } } `))
	f.Fuzz(func(t *testing.T, data []byte) {
		fast, ok := fastParseV2(data)
		if !ok {
			return
		}
		slow, err := parseV2Request(data)
		if err != nil {
			t.Fatalf("fast path accepted what the decoder rejects (%v): %s", err, data)
		}
		if !bytes.Equal(fast.digest, slow.digest) || !bytes.Equal(fast.sig, slow.sig) || fast.keyDetails != slow.keyDetails ||
			!bytes.Equal(fast.publicKey, slow.publicKey) || !bytes.Equal(fast.cert, slow.cert) || fast.dsse != slow.dsse ||
			(fast.publicKey == nil) != (slow.publicKey == nil) || (fast.cert == nil) != (slow.cert == nil) {
			t.Fatalf("fast %+v, decoder %+v: %s", fast, slow, data)
		}
	})
}

// FuzzFastParseProposed: whenever the v1 fast path accepts a proposal,
// encoding/json decodes it to the same thing.
func FuzzFastParseProposed(f *testing.F) {
	p, _ := testpki.New(testpki.Options{})
	for _, cert := range []bool{true, false} {
		req, _, _ := newSigner(f, p, nil, cert).v1HashedRekord(f, []byte("seed"))
		f.Add(req)
	}
	f.Add([]byte(`{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{"data":{"hash":{"algorithm":"sha256","value":"00"}},"signature":{"content":"AA==","publicKey":{"content":"AA=="}}}}`))
	f.Add([]byte(`{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{"data":{},"signature":{"publicKey":{}}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fast, ok := fastParseProposed(data)
		if !ok {
			return
		}
		var slow proposedEntry
		if err := json.Unmarshal(data, &slow); err != nil {
			t.Fatalf("fast path accepted what encoding/json rejects (%v): %s", err, data)
		}
		if !reflect.DeepEqual(fast, &slow) {
			t.Fatalf("fast %+v, encoding/json %+v: %s", fast.Spec, slow.Spec, data)
		}
	})
}
