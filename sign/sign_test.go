package sign

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"sigil.dev/sigil/cert"
	"sigil.dev/sigil/internal/testpki"
	"sigil.dev/sigil/rekor"
	"sigil.dev/sigil/timestamp"
	"sigil.dev/sigil/trust"
	"sigil.dev/sigil/verify"
)

// fakeServices speaks the CA, Rekor v1, Rekor v2 and TSA wire protocols
// over the test PKI, as the real services do, so the client can be tested
// without them.
type fakeServices struct {
	t   *testing.T
	p   *testpki.PKI
	tr  *trust.TrustedRoot
	srv *httptest.Server
	mu  sync.Mutex
	// failures makes the next N requests to a path fail with 503.
	failures map[string]int
	seen     map[string]int
}

func newFake(t *testing.T) *fakeServices {
	p, err := testpki.New(testpki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := p.TrustedRoot()
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeServices{t: t, p: p, tr: tr, failures: map[string]int{}, seen: map[string]int{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeServices) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.seen[r.URL.Path]++
	if f.failures[r.URL.Path] > 0 {
		f.failures[r.URL.Path]--
		f.mu.Unlock()
		http.Error(w, `{"code":503,"message":"try later"}`, http.StatusServiceUnavailable)
		return
	}
	defer f.mu.Unlock()
	body, _ := io.ReadAll(r.Body)
	switch r.URL.Path {
	case "/api/v2/signingCert":
		f.signingCert(w, r, body)
	case "/api/v1/log/entries":
		f.rekorV1(w, body)
	case "/api/v2/log/entries":
		f.rekorV2(w, body)
	case "/api/v1/timestamp":
		req, err := timestamp.ParseRequest(body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		resp, err := f.p.TSA.Respond(req)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		w.Header().Set("Content-Type", "application/timestamp-reply")
		w.Write(resp)
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeServices) signingCert(w http.ResponseWriter, r *http.Request, body []byte) {
	var req caRequest
	if err := json.Unmarshal(body, &req); err != nil || req.PublicKeyRequest == nil {
		http.Error(w, `{"code":400,"message":"bad request"}`, 400)
		return
	}
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	subject, err := TokenSubject(tok)
	if err != nil {
		http.Error(w, `{"code":401,"message":"bad token"}`, 401)
		return
	}
	blk, _ := pem.Decode([]byte(req.PublicKeyRequest.PublicKey.Content))
	pub, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		http.Error(w, `{"code":400,"message":"bad key"}`, 400)
		return
	}
	if !popOK(pub, []byte(subject), req.PublicKeyRequest.ProofOfPossession) {
		http.Error(w, `{"code":400,"message":"There was an error processing the identity token: signature verification failed"}`, 400)
		return
	}
	leaf, err := f.p.Leaf(testpki.Identity{Email: subject, Extensions: cert.Extensions{Issuer: "https://issuer.sigil.test"}}, pub, testpki.LeafOptions{})
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	var resp caResponse
	resp.Embedded = &caChain{}
	for _, c := range []*x509.Certificate{leaf, f.p.Intermediate, f.p.Root} {
		resp.Embedded.Chain.Certificates = append(resp.Embedded.Chain.Certificates, strings.TrimSpace(string(testpki.PEM(c))))
	}
	json.NewEncoder(w).Encode(resp)
}

func popOK(pub crypto.PublicKey, msg, sig []byte) bool {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		return ed25519.Verify(k, msg, sig)
	case *ecdsa.PublicKey:
		_, h, _ := rekor.KeyDetails(pub)
		d := h.New()
		d.Write(msg)
		return ecdsa.VerifyASN1(k, d.Sum(nil), sig)
	}
	return false
}

func (f *fakeServices) rekorV1(w http.ResponseWriter, body []byte) {
	var pe struct{ Kind, APIVersion string }
	json.Unmarshal(body, &pe)
	canonical := body
	if pe.Kind == rekor.KindDSSE {
		var p struct {
			Spec struct {
				ProposedContent struct {
					Envelope  string
					Verifiers [][]byte
				}
			}
		}
		json.Unmarshal(body, &p)
		var env struct {
			Payload    []byte
			Signatures []struct{ Sig string }
		}
		json.Unmarshal([]byte(p.Spec.ProposedContent.Envelope), &env)
		canonical = rekor.DSSEV001([]byte(p.Spec.ProposedContent.Envelope), env.Payload, []rekor.DSSESignature{{Signature: env.Signatures[0].Sig, PEM: p.Spec.ProposedContent.Verifiers[0]}})
	}
	l := f.p.RekorV1
	i := l.Append(canonical)
	tle, err := l.Entry(i, canonical, testpki.EntryOptions{Kind: pe.Kind, Version: pe.APIVersion})
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	var hashes []string
	for _, h := range tle.InclusionProof.Hashes {
		hashes = append(hashes, hex.EncodeToString(h))
	}
	leaf := rekor.LeafHash(canonical)
	id := hex.EncodeToString(leaf[:])
	out := map[string]any{id: map[string]any{
		"body": base64.StdEncoding.EncodeToString(canonical), "integratedTime": tle.IntegratedTime,
		"logID": hex.EncodeToString(tle.LogId.KeyId), "logIndex": tle.LogIndex,
		"verification": map[string]any{
			"signedEntryTimestamp": tle.InclusionPromise.SignedEntryTimestamp,
			"inclusionProof": map[string]any{"checkpoint": tle.InclusionProof.Checkpoint.Envelope, "hashes": hashes,
				"logIndex": tle.InclusionProof.LogIndex, "rootHash": hex.EncodeToString(tle.InclusionProof.RootHash), "treeSize": tle.InclusionProof.TreeSize},
		},
	}}
	w.Header().Set("ETag", id)
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(out)
}

func (f *fakeServices) rekorV2(w http.ResponseWriter, body []byte) {
	var req struct {
		HashedRekordRequestV002 struct {
			Digest    []byte
			Signature struct {
				Content  []byte
				Verifier struct {
					KeyDetails      string
					X509Certificate *struct{ RawBytes []byte }
					PublicKey       *struct{ RawBytes []byte }
				}
			}
		}
	}
	if err := json.Unmarshal(body, &req); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	r := req.HashedRekordRequestV002
	v := rekor.V2Verifier{KeyDetails: r.Signature.Verifier.KeyDetails}
	if c := r.Signature.Verifier.X509Certificate; c != nil {
		v.Certificate = c.RawBytes
	}
	if k := r.Signature.Verifier.PublicKey; k != nil {
		v.PublicKey = k.RawBytes
	}
	h := map[int]crypto.Hash{32: crypto.SHA256, 48: crypto.SHA384, 64: crypto.SHA512}[len(r.Digest)]
	entry := rekor.HashedRekordV002(h, r.Digest, r.Signature.Content, v)
	i := f.p.RekorV2.Append(entry)
	tle, err := f.p.RekorV2.Entry(i, entry, testpki.EntryOptions{Kind: "hashedrekord", Version: "0.0.2"})
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	out, _ := jsonTLE(tle)
	w.WriteHeader(http.StatusCreated)
	w.Write(out)
}

func token(t *testing.T, claims map[string]any) string {
	p, _ := json.Marshal(claims)
	return "eyJhbGciOiJub25lIn0." + base64.RawURLEncoding.EncodeToString(p) + ".c2ln"
}

func (f *fakeServices) signer(o func(*Signer)) *Signer {
	s := &Signer{
		CA: &CAClient{URL: f.srv.URL},
		Token: func(context.Context) (string, error) {
			return token(f.t, map[string]any{"sub": "alice", "email": "alice@sigil.test", "email_verified": true}), nil
		},
		Logs:        []LogClient{&RekorV1{BaseURL: f.srv.URL}},
		TrustedRoot: f.tr,
		Retry:       Retry{Attempts: 3, Timeout: 10 * time.Second},
	}
	if o != nil {
		o(s)
	}
	return s
}

func TestSignBlobShapes(t *testing.T) {
	f := newFake(t)
	artifact := []byte("release contents\n")
	for _, tc := range []struct {
		name string
		o    func(*Signer)
	}{
		{"rekor v1", nil},
		{"rekor v1 + tsa", func(s *Signer) { s.TSAs = []*TSAClient{{URL: f.srv.URL + "/api/v1/timestamp"}} }},
		{"rekor v2 + tsa", func(s *Signer) {
			s.Logs = []LogClient{&RekorV2{BaseURL: f.srv.URL}}
			s.TSAs = []*TSAClient{{URL: f.srv.URL + "/api/v1/timestamp"}}
		}},
		{"p384 rekor v2", func(s *Signer) {
			s.KeyAlgorithm = AlgECDSAP384
			s.Logs = []LogClient{&RekorV2{BaseURL: f.srv.URL}}
			s.TSAs = []*TSAClient{{URL: f.srv.URL + "/api/v1/timestamp"}}
		}},
		{"ed25519 rekor v1", func(s *Signer) { s.KeyAlgorithm = AlgEd25519 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := f.signer(tc.o)
			res, err := s.SignBlob(context.Background(), bytes.NewReader(artifact))
			if err != nil {
				t.Fatal(err)
			}
			if res.Identity.SubjectAlternativeName != "alice@sigil.test" {
				t.Fatalf("identity %+v", res.Identity)
			}
			// The bundle must verify from its JSON, like any reader gets it.
			raw, _ := res.Bundle.Marshal()
			if !bytes.Contains(raw, []byte(`"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"`)) {
				t.Fatalf("not a v0.3 bundle: %s", raw[:80])
			}
		})
	}
}

func TestSignDSSE(t *testing.T) {
	f := newFake(t)
	st := []byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a","digest":{"sha256":"` + strings.Repeat("ab", 32) + `"}}],"predicateType":"https://slsa.dev/provenance/v1","predicate":{}}`)
	for _, v2 := range []bool{false, true} {
		s := f.signer(func(s *Signer) {
			if v2 {
				s.Logs = []LogClient{&RekorV2{BaseURL: f.srv.URL}}
				s.TSAs = []*TSAClient{{URL: f.srv.URL + "/api/v1/timestamp"}}
			}
		})
		res, err := s.SignDSSE(context.Background(), "application/vnd.in-toto+json", st)
		if err != nil {
			t.Fatalf("v2=%v: %v", v2, err)
		}
		if res.Verified.Statement == nil || res.Verified.Statement.PredicateType != "https://slsa.dev/provenance/v1" {
			t.Fatalf("statement %+v", res.Verified.Statement)
		}
	}
}

func TestKeySigned(t *testing.T) {
	f := newFake(t)
	k, _ := NewKey("")
	s := &Signer{Key: k, Logs: []LogClient{&RekorV1{BaseURL: f.srv.URL}}, TrustedRoot: f.tr}
	res, err := s.SignBlob(context.Background(), strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Bundle.PublicKey == nil || res.Certificate != nil {
		t.Fatal("want a key-signed bundle")
	}
	if _, err := verify.New(f.tr, verify.Options{}).Verify(res.Bundle, verify.Artifact{Open: func() (verify.ReadCloser, error) { return io.NopCloser(strings.NewReader("x")), nil }}, verify.Policy{Key: k.Public()}); err != nil {
		t.Fatal(err)
	}
	// Without any log, the key-signed bundle still verifies at the current time.
	s.Logs = nil
	if _, err := s.SignBlob(context.Background(), strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
}

func TestRetriesAndErrors(t *testing.T) {
	f := newFake(t)
	f.failures["/api/v1/log/entries"] = 2
	s := f.signer(nil)
	if _, err := s.SignBlob(context.Background(), strings.NewReader("x")); err != nil {
		t.Fatalf("transient failures should be retried: %v", err)
	}
	f.failures["/api/v1/log/entries"] = 10
	_, err := s.SignBlob(context.Background(), strings.NewReader("x"))
	var se *ServiceError
	if !errors.As(err, &se) || se.Status != 503 || !strings.Contains(err.Error(), "gave up after 3 attempts") {
		t.Fatalf("persistent failure: %v", err)
	}
	f.failures["/api/v1/log/entries"] = 0
	// Token problems are explained before anything is sent.
	s.Token = func(context.Context) (string, error) {
		return token(t, map[string]any{"sub": "bob", "email": "bob@x", "email_verified": false}), nil
	}
	if _, err := s.SignBlob(context.Background(), strings.NewReader("x")); err == nil || !strings.Contains(err.Error(), "not verified") {
		t.Fatalf("unverified email: %v", err)
	}
	s.Token = func(context.Context) (string, error) {
		return token(t, map[string]any{"sub": "bob", "exp": time.Now().Add(-time.Minute).Unix()}), nil
	}
	if _, err := s.SignBlob(context.Background(), strings.NewReader("x")); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired token: %v", err)
	}
	// A v2 log without a TSA is refused before anything is sent.
	s2 := f.signer(func(s *Signer) { s.Logs = []LogClient{&RekorV2{BaseURL: f.srv.URL}} })
	if _, err := s2.SignBlob(context.Background(), strings.NewReader("x")); err == nil || !strings.Contains(err.Error(), "timestamp authority is required") {
		t.Fatalf("v2 without TSA: %v", err)
	}
	// A CA that is down: clear error naming it.
	s3 := f.signer(func(s *Signer) {
		s.CA = &CAClient{URL: "http://127.0.0.1:1"}
		s.Retry = Retry{Attempts: 2, Timeout: 2 * time.Second}
	})
	if _, err := s3.SignBlob(context.Background(), strings.NewReader("x")); err == nil || !strings.Contains(err.Error(), "couldn't reach the CA") {
		t.Fatalf("CA down: %v", err)
	}
}

func FuzzTokenSubject(f *testing.F) {
	f.Add("a.eyJzdWIiOiJ4In0.c")
	f.Fuzz(func(t *testing.T, s string) { _, _ = TokenSubject(s) })
}
