// Package fakesvc runs, in a test, HTTP services that speak the CA (v2 and
// v1 signingCert), Rekor v1 (entries, GET by UUID, index search), Rekor v2
// and RFC 3161 TSA wire protocols over the test PKI (internal/testpki), so
// clients can be tested without the real services. Use the real ones
// (package server) for end-to-end tests.
package fakesvc

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"sigil.dev/sigil/cert"
	"sigil.dev/sigil/internal/testpki"
	"sigil.dev/sigil/rekor"
	"sigil.dev/sigil/sign"
	"sigil.dev/sigil/timestamp"
	"sigil.dev/sigil/trust"
)

// Services speaks the CA, Rekor v1, Rekor v2 and TSA wire protocols
// over the test PKI, as the real services do, so the client can be tested
// without them.
type Services struct {
	PKI         *testpki.PKI
	TrustedRoot *trust.TrustedRoot
	// URL is the base URL of every service; the TSA is at URL+"/api/v1/timestamp".
	URL string
	// Clock, if set, is the services' clock for certificate validity (a
	// leaf is valid from a minute before its time) and Rekor v1
	// integrated times: a clock other than the client's. Default
	// time.Now.
	Clock func() time.Time

	srv *httptest.Server
	mu  sync.Mutex
	// failures makes the next N requests to a path fail with 503.
	failures map[string]int
	seen     map[string]int
	// v1 entries by UUID, and the search index: key → UUIDs.
	v1      map[string]v1Stored
	v1Index map[string][]string
}

// v1Stored is what GET /api/v1/log/entries/{uuid} answers from.
type v1Stored struct {
	body           []byte
	index          int64 // tree-local
	integratedTime time.Time
	kind, version  string
}

// FailNext makes the next n requests to path fail with 503.
func (f *Services) FailNext(path string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failures[path] = n
}

// Seen returns how many requests path got.
func (f *Services) Seen(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.seen[path]
}

// New starts the services for the duration of a test.
func New(t testing.TB) *Services {
	f, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	return f
}

// Start starts the services on a loopback port outside a test (benchmark
// drivers); Close stops them.
func Start() (*Services, error) {
	p, err := testpki.New(testpki.Options{})
	if err != nil {
		return nil, err
	}
	tr, err := p.TrustedRoot()
	if err != nil {
		return nil, err
	}
	f := &Services{PKI: p, TrustedRoot: tr, failures: map[string]int{}, seen: map[string]int{},
		v1: map[string]v1Stored{}, v1Index: map[string][]string{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	f.URL = f.srv.URL
	return f, nil
}

// Close stops the services.
func (f *Services) Close() { f.srv.Close() }

// ForgetSearchIndex empties the Rekor v1 search index, as a log whose
// best-effort index lost its entries: searches find nothing, while the
// entries stay in the tree and can still be fetched by UUID.
func (f *Services) ForgetSearchIndex() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.v1Index = map[string][]string{}
}

func (f *Services) serve(w http.ResponseWriter, r *http.Request) {
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
	switch {
	case strings.HasPrefix(r.URL.Path, "/api/v1/log/entries/") && r.Method == http.MethodGet:
		f.rekorV1Get(w, strings.TrimPrefix(r.URL.Path, "/api/v1/log/entries/"))
		return
	}
	switch r.URL.Path {
	case "/api/v2/signingCert":
		f.signingCert(w, r, body)
	case "/api/v1/signingCert":
		f.signingCertV1(w, r, body)
	case "/api/v1/log/entries":
		f.rekorV1(w, body)
	case "/api/v1/index/retrieve":
		f.rekorV1Search(w, body)
	case "/api/v2/log/entries":
		f.rekorV2(w, body)
	case "/api/v1/timestamp":
		req, err := timestamp.ParseRequest(body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		resp, err := f.PKI.TSA.Respond(req)
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

func (f *Services) signingCert(w http.ResponseWriter, r *http.Request, body []byte) {
	var req struct {
		PublicKeyRequest *struct {
			PublicKey struct {
				Content string `json:"content"`
			} `json:"publicKey"`
			ProofOfPossession []byte `json:"proofOfPossession"`
		} `json:"publicKeyRequest"`
	}
	if err := json.Unmarshal(body, &req); err != nil || req.PublicKeyRequest == nil {
		http.Error(w, `{"code":400,"message":"bad request"}`, 400)
		return
	}
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	subject, err := sign.TokenSubject(tok)
	if err != nil {
		http.Error(w, `{"code":401,"message":"bad token"}`, 401)
		return
	}
	chain, ok := f.issue(w, []byte(req.PublicKeyRequest.PublicKey.Content), subject, req.PublicKeyRequest.ProofOfPossession)
	if !ok {
		return
	}
	json.NewEncoder(w).Encode(map[string]any{"signedCertificateEmbeddedSct": map[string]any{"chain": map[string]any{"certificates": chain}}})
}

func (f *Services) now() time.Time {
	if f.Clock != nil {
		return f.Clock()
	}
	return time.Now()
}

// Issuer is the OIDC issuer the fake CA puts in every certificate.
const Issuer = "https://issuer.sigil.test"

// issue checks the proof of possession and returns the PEM chain, leaf
// first; on failure it has answered the request.
func (f *Services) issue(w http.ResponseWriter, key []byte, subject string, pop []byte) ([]string, bool) {
	der := key
	if blk, _ := pem.Decode(key); blk != nil {
		der = blk.Bytes
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		http.Error(w, `{"code":400,"message":"The public key supplied in the request could not be parsed"}`, 400)
		return nil, false
	}
	if !popOK(pub, []byte(subject), pop) {
		http.Error(w, `{"code":400,"message":"There was an error processing the identity token: signature verification failed"}`, 400)
		return nil, false
	}
	leaf, err := f.PKI.Leaf(testpki.Identity{Email: subject, Extensions: cert.Extensions{Issuer: Issuer}}, pub,
		testpki.LeafOptions{NotBefore: f.now().Add(-time.Minute).Truncate(time.Second)})
	if err != nil {
		http.Error(w, err.Error(), 500)
		return nil, false
	}
	var chain []string
	for _, c := range []*x509.Certificate{leaf, f.PKI.Intermediate, f.PKI.Root} {
		chain = append(chain, strings.TrimSpace(string(testpki.PEM(c))))
	}
	return chain, true
}

// signingCertV1 is the legacy CA API (POST /api/v1/signingCert), which
// gitsign and cosign v2 use: the key is base64 PEM or DER, the proof of
// possession signs the token subject, and the answer is the PEM chain with
// status 201 (shared/reference/ca.md §1.7).
func (f *Services) signingCertV1(w http.ResponseWriter, r *http.Request, body []byte) {
	var req struct {
		PublicKey struct {
			Content []byte `json:"content"`
		} `json:"publicKey"`
		SignedEmailAddress []byte `json:"signedEmailAddress"`
	}
	if err := json.Unmarshal(body, &req); err != nil || len(req.PublicKey.Content) == 0 {
		http.Error(w, `{"code":400,"message":"The public key supplied in the request could not be parsed"}`, 400)
		return
	}
	subject, err := sign.TokenSubject(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
	if err != nil {
		http.Error(w, `{"code":401,"message":"bad token"}`, 401)
		return
	}
	chain, ok := f.issue(w, req.PublicKey.Content, subject, req.SignedEmailAddress)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "application/pem-certificate-chain")
	w.WriteHeader(http.StatusCreated)
	io.WriteString(w, strings.Join(chain, "\n"))
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

func (f *Services) rekorV1(w http.ResponseWriter, body []byte) {
	var pe struct{ Kind, APIVersion string }
	json.Unmarshal(body, &pe)
	canonical := body
	if pe.Kind == rekor.KindHashedRekord {
		// Rekor stores the canonical form, whatever the client's JSON
		// looked like (sigstore/rekor pkg/types/hashedrekord Canonicalize),
		// with the key re-encoded as PEM.
		b, err := rekor.ParseV1Body(body)
		if err != nil || len(b.Signatures) != 1 {
			http.Error(w, `{"code":400,"message":"bad hashedrekord"}`, 400)
			return
		}
		h, _ := rekor.HashFromName(b.Hash.Algorithm)
		key := b.Signatures[0].PEM
		if blk, _ := pem.Decode(key); blk != nil {
			key = pem.EncodeToMemory(&pem.Block{Type: blk.Type, Bytes: blk.Bytes})
		}
		canonical = rekor.HashedRekordV001(h, b.Hash.Value, b.Signatures[0].Signature, key)
	}
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
	l := f.PKI.RekorV1
	leaf := rekor.LeafHash(canonical)
	id := hex.EncodeToString(leaf[:])
	if _, ok := f.v1[id]; ok {
		// Rekor answers a duplicate with 409 and the entry's location.
		w.Header().Set("Location", "/api/v1/log/entries/"+id)
		http.Error(w, `{"code":409,"message":"an equivalent entry already exists in the transparency log"}`, http.StatusConflict)
		return
	}
	i := l.Append(canonical)
	st := v1Stored{body: canonical, index: i, integratedTime: f.now(), kind: pe.Kind, version: pe.APIVersion}
	f.v1[id] = st
	for _, k := range searchKeys(canonical) {
		f.v1Index[k] = append(f.v1Index[k], id)
	}
	f.writeV1Entry(w, http.StatusCreated, id, st)
}

// writeV1Entry answers {"<uuid>": LogEntry} with a proof against the
// current tree.
func (f *Services) writeV1Entry(w http.ResponseWriter, status int, id string, st v1Stored) {
	l := f.PKI.RekorV1
	canonical := st.body
	tle, err := l.Entry(st.index, canonical, testpki.EntryOptions{Kind: st.kind, Version: st.version, IntegratedTime: st.integratedTime})
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	var hashes []string
	for _, h := range tle.InclusionProof.Hashes {
		hashes = append(hashes, hex.EncodeToString(h))
	}
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
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(out)
}

// rekorV1Get answers GET /api/v1/log/entries/{uuid}.
func (f *Services) rekorV1Get(w http.ResponseWriter, id string) {
	if len(id) == 80 {
		id = id[16:] // tree ID prefix
	}
	st, ok := f.v1[strings.ToLower(id)]
	if !ok {
		http.Error(w, `{"code":404,"message":"entry not found"}`, http.StatusNotFound)
		return
	}
	f.writeV1Entry(w, http.StatusOK, strings.ToLower(id), st)
}

// searchKeys are the index keys of a hashedrekord body: its
// "sha256:<hex>" digest and "cert:<hex SHA-256 of the DER>" of its
// certificate or key.
func searchKeys(body []byte) []string {
	b, err := rekor.ParseV1Body(body)
	if err != nil {
		return nil
	}
	var keys []string
	if b.Hash.Value != nil {
		keys = append(keys, b.Hash.Algorithm+":"+hex.EncodeToString(b.Hash.Value))
	}
	for _, s := range b.Signatures {
		if k := keyOfPEM(s.PEM); k != "" {
			keys = append(keys, k)
		}
	}
	return keys
}

func keyOfPEM(p []byte) string {
	blk, _ := pem.Decode(p)
	if blk == nil {
		return ""
	}
	d := sha256.Sum256(blk.Bytes)
	return "cert:" + hex.EncodeToString(d[:])
}

// rekorV1Search answers POST /api/v1/index/retrieve for the publicKey
// (x509) and hash queries, with the "or" and "and" operators.
func (f *Services) rekorV1Search(w http.ResponseWriter, body []byte) {
	var q struct {
		Hash      string `json:"hash"`
		Operator  string `json:"operator"`
		PublicKey *struct {
			Format  string `json:"format"`
			Content []byte `json:"content"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(body, &q); err != nil {
		http.Error(w, `{"code":400,"message":"bad query"}`, 400)
		return
	}
	var sets [][]string
	if q.Hash != "" {
		h := strings.ToLower(q.Hash)
		if !strings.Contains(h, ":") {
			h = "sha256:" + h
		}
		sets = append(sets, f.v1Index[h])
	}
	if q.PublicKey != nil {
		sets = append(sets, f.v1Index[keyOfPEM(q.PublicKey.Content)])
	}
	count := map[string]int{}
	var out []string
	for _, set := range sets {
		for _, id := range set {
			count[id]++
		}
	}
	for _, set := range sets {
		for _, id := range set {
			need := 1
			if q.Operator == "and" {
				need = len(sets)
			}
			if count[id] >= need {
				out = append(out, id)
				count[id] = -len(sets) // once
			}
		}
	}
	if out == nil {
		out = []string{}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}

func (f *Services) rekorV2(w http.ResponseWriter, body []byte) {
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
	i := f.PKI.RekorV2.Append(entry)
	tle, err := f.PKI.RekorV2.Entry(i, entry, testpki.EntryOptions{Kind: "hashedrekord", Version: "0.0.2"})
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	out, _ := protojson.Marshal(tle)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	w.Write(out)
}

// Token returns an unsigned JWT with the given claims: the fake CA reads
// its subject without verifying it.
func Token(claims map[string]any) string {
	p, _ := json.Marshal(claims)
	return "eyJhbGciOiJub25lIn0." + base64.RawURLEncoding.EncodeToString(p) + ".c2ln"
}
