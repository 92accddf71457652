// Package fakesvc runs, in a test, HTTP services that speak the CA (v2
// signingCert), Rekor v1, Rekor v2 and RFC 3161 TSA wire protocols over the
// test PKI (internal/testpki), so clients can be tested without the real
// services. Use the real ones (package server) for end-to-end tests.
package fakesvc

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
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

	srv *httptest.Server
	mu  sync.Mutex
	// failures makes the next N requests to a path fail with 503.
	failures map[string]int
	seen     map[string]int
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

func New(t testing.TB) *Services {
	p, err := testpki.New(testpki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := p.TrustedRoot()
	if err != nil {
		t.Fatal(err)
	}
	f := &Services{PKI: p, TrustedRoot: tr, failures: map[string]int{}, seen: map[string]int{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	f.URL = f.srv.URL
	t.Cleanup(f.srv.Close)
	return f
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
	leaf, err := f.PKI.Leaf(testpki.Identity{Email: subject, Extensions: cert.Extensions{Issuer: "https://issuer.sigil.test"}}, pub, testpki.LeafOptions{})
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	var chain []string
	for _, c := range []*x509.Certificate{leaf, f.PKI.Intermediate, f.PKI.Root} {
		chain = append(chain, strings.TrimSpace(string(testpki.PEM(c))))
	}
	json.NewEncoder(w).Encode(map[string]any{"signedCertificateEmbeddedSct": map[string]any{"chain": map[string]any{"certificates": chain}}})
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
	w.WriteHeader(http.StatusCreated)
	w.Write(out)
}

// Token returns an unsigned JWT with the given claims: the fake CA reads
// its subject without verifying it.
func Token(claims map[string]any) string {
	p, _ := json.Marshal(claims)
	return "eyJhbGciOiJub25lIn0." + base64.RawURLEncoding.EncodeToString(p) + ".c2ln"
}
