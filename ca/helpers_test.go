package ca_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
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

	"github.com/prometheus/client_golang/prometheus"

	"sigil.dev/sigil/ca"
	"sigil.dev/sigil/cert"
	"sigil.dev/sigil/internal/testpki"
	"sigil.dev/sigil/oidc"
	"sigil.dev/sigil/oidc/oidctest"
	"sigil.dev/sigil/sct"
)

// fakeCT is an in-memory CT log that signs SCTs the way RFC 6962 says, so
// the tests can check what the CA submits and embeds before package ctlog
// exists. It records every submission.
type fakeCT struct {
	key *ecdsa.PrivateKey
	id  [32]byte

	mu        sync.Mutex
	preChains [][][]byte
	chains    [][][]byte
	fail      error
}

func newFakeCT(t testing.TB) *fakeCT {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &fakeCT{key: k, id: testpki.KeyID(k.Public())}
}

func (f *fakeCT) submissions() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.preChains) + len(f.chains)
}

func (f *fakeCT) AddPreChain(_ context.Context, chain [][]byte) (*sct.SCT, error) {
	f.mu.Lock()
	f.preChains = append(f.preChains, chain)
	fail := f.fail
	f.mu.Unlock()
	if fail != nil {
		return nil, fail
	}
	pre, err := x509.ParseCertificate(chain[0])
	if err != nil {
		return nil, err
	}
	issuer, err := x509.ParseCertificate(chain[1])
	if err != nil {
		return nil, err
	}
	tbs, err := sct.RemoveExtension(pre.RawTBSCertificate, cert.OIDPrecertPoison)
	if err != nil {
		return nil, err
	}
	s := &sct.SCT{LogID: f.id, Timestamp: uint64(time.Now().UnixMilli()), HashAlg: 4, SigAlg: 3, Extensions: []byte{0, 0, 0, 0, 0, 7}}
	data, err := sct.PrecertSignedData(s.Timestamp, issuer.RawSubjectPublicKeyInfo, tbs, s.Extensions)
	if err != nil {
		return nil, err
	}
	d := sha256.Sum256(data)
	s.Signature, err = ecdsa.SignASN1(rand.Reader, f.key, d[:])
	return s, err
}

func (f *fakeCT) AddChain(_ context.Context, chain [][]byte) (*sct.SCT, error) {
	f.mu.Lock()
	f.chains = append(f.chains, chain)
	fail := f.fail
	f.mu.Unlock()
	if fail != nil {
		return nil, fail
	}
	s := &sct.SCT{LogID: f.id, Timestamp: uint64(time.Now().UnixMilli()), HashAlg: 4, SigAlg: 3}
	var b bytes.Buffer
	b.Write([]byte{0, 0})
	b.Write(u64(s.Timestamp))
	b.Write([]byte{0, 0})
	n := len(chain[0])
	b.Write([]byte{byte(n >> 16), byte(n >> 8), byte(n)})
	b.Write(chain[0])
	b.Write([]byte{0, 0})
	d := sha256.Sum256(b.Bytes())
	var err error
	s.Signature, err = ecdsa.SignASN1(rand.Reader, f.key, d[:])
	return s, err
}

func u64(v uint64) []byte {
	return []byte{byte(v >> 56), byte(v >> 48), byte(v >> 40), byte(v >> 32), byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
}

// env is a CA under test: a private PKI, a test OIDC issuer, a fake CT log
// and the CA's HTTP API on loopback.
type env struct {
	t      testing.TB
	pki    *testpki.PKI
	iss    *oidctest.Issuer
	ct     *fakeCT
	ca     *ca.Service
	srv    *httptest.Server
	reg    *prometheus.Registry
	verify *oidc.Verifier
}

type envOptions struct {
	noCT     bool
	detached bool
	ctKey    bool
	cfg      *oidc.Config // default: the test issuer as an email issuer
	// cfgFor, if set, builds the configuration from the test issuer's URL.
	cfgFor func(issuerURL string) *oidc.Config
	curve  elliptic.Curve
	policy map[string][]string // claim policy of the default email issuer
}

func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	e := &env{t: t}
	var err error
	if e.pki, err = testpki.New(testpki.Options{CAKeyCurve: o.curve}); err != nil {
		t.Fatal(err)
	}
	if e.iss, err = oidctest.New(oidctest.Options{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.iss.Close)
	cfg := o.cfg
	if o.cfgFor != nil {
		cfg = o.cfgFor(e.iss.URL)
	}
	if cfg == nil {
		cfg = &oidc.Config{OIDCIssuers: map[string]oidc.Issuer{e.iss.URL: {Type: oidc.TypeEmail, ClaimPolicy: o.policy}}}
	}
	if e.verify, err = oidc.NewVerifier(cfg, oidc.Options{}); err != nil {
		t.Fatal(err)
	}
	e.reg = prometheus.NewRegistry()
	conf := ca.Config{
		Signer:      e.pki.IntermediateKey,
		Chain:       []*x509.Certificate{e.pki.Intermediate, e.pki.Root},
		Identity:    e.verify,
		DetachedSCT: o.detached,
		Registerer:  e.reg,
	}
	if !o.noCT {
		e.ct = newFakeCT(t)
		conf.CT = e.ct
		if o.ctKey {
			conf.CTKey = e.ct.key.Public()
		}
	}
	if e.ca, err = ca.New(conf); err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(e.ca.Handler())
	t.Cleanup(e.srv.Close)
	return e
}

func (e *env) token(claims map[string]any) string {
	e.t.Helper()
	tok, err := e.iss.Token(claims)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

func (e *env) emailToken() string {
	return e.token(e.iss.Claims("user-1", "alice@example.com"))
}

// response is an HTTP answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r *response) apiError() (code int, msg string) {
	var v struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Details []any  `json:"details"`
	}
	if err := json.Unmarshal(r.body, &v); err != nil || v.Details == nil {
		return -1, "not an error body: " + string(r.body)
	}
	return v.Code, v.Message
}

func (e *env) post(path, token string, body []byte) *response {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return e.do(req)
}

func (e *env) get(path string) *response {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.do(req)
}

func (e *env) do(req *http.Request) *response {
	e.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: b}
}

// v2Body is a publicKeyRequest with the key as PEM.
func v2Body(pub crypto.PublicKey, proof []byte, token string) []byte {
	m := map[string]any{"publicKeyRequest": map[string]any{
		"publicKey":         map[string]any{"algorithm": "ECDSA", "content": string(testpki.PublicKeyPEM(pub))},
		"proofOfPossession": base64.StdEncoding.EncodeToString(proof),
	}}
	if token != "" {
		m["credentials"] = map[string]any{"oidcIdentityToken": token}
	}
	b, _ := json.Marshal(m)
	return b
}

// v1Body is a legacy request with the key as PEM bytes.
func v1Body(pub crypto.PublicKey, proof []byte) []byte {
	b, _ := json.Marshal(map[string]any{
		"publicKey":                 map[string]any{"content": base64.StdEncoding.EncodeToString(testpki.PublicKeyPEM(pub)), "algorithm": "ecdsa"},
		"signedEmailAddress":        base64.StdEncoding.EncodeToString(proof),
		"certificateSigningRequest": nil,
	})
	return b
}

func csrBody(csrPEM []byte) []byte {
	b, _ := json.Marshal(map[string]any{"certificateSigningRequest": base64.StdEncoding.EncodeToString(csrPEM)})
	return b
}

// prove signs msg as sigstore clients do for a proof of possession: the
// key's default hash, pure Ed25519.
func prove(t testing.TB, key crypto.Signer, msg string) []byte {
	t.Helper()
	h := crypto.SHA256
	switch k := key.Public().(type) {
	case ed25519.PublicKey:
		h = 0
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P384():
			h = crypto.SHA384
		case elliptic.P521():
			h = crypto.SHA512
		}
	}
	digest := []byte(msg)
	if h != 0 {
		d := h.New()
		d.Write(digest)
		digest = d.Sum(nil)
	}
	sig, err := key.Sign(rand.Reader, digest, h)
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// chainOf parses a v2 response into certificates, leaf first, and says
// whether the SCT was embedded; detached is the decoded detached SCT JSON.
func chainOf(t testing.TB, r *response) (chain []*x509.Certificate, embedded bool, detached []byte) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var v struct {
		Embedded *struct {
			Chain struct{ Certificates []string } `json:"chain"`
		} `json:"signedCertificateEmbeddedSct"`
		Detached *struct {
			Chain struct{ Certificates []string } `json:"chain"`
			SCT   []byte                          `json:"signedCertificateTimestamp"`
		} `json:"signedCertificateDetachedSct"`
	}
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatal(err)
	}
	var pems []string
	switch {
	case v.Embedded != nil && v.Detached == nil:
		pems, embedded = v.Embedded.Chain.Certificates, true
	case v.Detached != nil && v.Embedded == nil:
		pems, detached = v.Detached.Chain.Certificates, v.Detached.SCT
	default:
		t.Fatalf("response has neither or both forms: %s", r.body)
	}
	for _, p := range pems {
		if strings.TrimSpace(p) != p {
			t.Errorf("PEM is not trimmed: %q", p)
		}
		chain = append(chain, parsePEM(t, []byte(p))...)
	}
	return chain, embedded, detached
}

func parsePEM(t testing.TB, b []byte) []*x509.Certificate {
	t.Helper()
	var out []*x509.Certificate
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			break
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		t.Fatal("no certificate in PEM")
	}
	return out
}

var errCTDown = errors.New("CT log unavailable")
