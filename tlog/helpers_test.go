package tlog

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"sigil.dev/sigil/bundle"
	"sigil.dev/sigil/dsse"
	"sigil.dev/sigil/internal/testpki"
	"sigil.dev/sigil/intoto"
	"sigil.dev/sigil/rekor"
	"sigil.dev/sigil/trust"
	"sigil.dev/sigil/verify"
)

// testLog is a service behind a loopback HTTP server.
type testLog struct {
	t   testing.TB
	svc *Service
	srv *httptest.Server
	url string
	dir string
	cfg Config
}

// quietLogger drops logs below warnings.
func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// startLog starts a service on a fresh loopback listener. dir is its data
// directory ("" for a new temporary one); mut adjusts the configuration.
func startLog(t testing.TB, dir string, mut func(*Config)) *testLog {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	srv := httptest.NewUnstartedServer(nil)
	u := "http://" + srv.Listener.Addr().String()
	cfg := Config{DataDir: dir, V2PublicURL: u, V1PublicURL: u, Logger: quietLogger()}
	if mut != nil {
		mut(&cfg)
	}
	svc, err := New(context.Background(), cfg)
	if err != nil {
		srv.Close()
		t.Fatalf("New: %v", err)
	}
	srv.Config.Handler = svc.Handler()
	srv.Start()
	l := &testLog{t: t, svc: svc, srv: srv, url: u, dir: dir, cfg: cfg}
	t.Cleanup(l.stop)
	return l
}

// stop shuts the server and the service down (idempotent).
func (l *testLog) stop() {
	l.srv.Close()
	if err := l.svc.Close(); err != nil {
		l.t.Errorf("Close: %v", err)
	}
}

func (l *testLog) do(method, path string, body []byte) (*http.Response, []byte) {
	l.t.Helper()
	req, err := http.NewRequest(method, l.url+path, bytes.NewReader(body))
	if err != nil {
		l.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := l.srv.Client().Do(req)
	if err != nil {
		l.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		l.t.Fatal(err)
	}
	return resp, b
}

func (l *testLog) post(path string, body []byte) (*http.Response, []byte) {
	return l.do(http.MethodPost, path, body)
}

func (l *testLog) get(path string) (*http.Response, []byte) { return l.do(http.MethodGet, path, nil) }

// trustedRoot is the test PKI's root with this service's two logs.
func (l *testLog) trustedRoot(p *testpki.PKI) *trust.TrustedRoot {
	l.t.Helper()
	tr, err := p.TrustedRoot()
	if err != nil {
		l.t.Fatal(err)
	}
	logs, err := l.svc.TrustedLogs()
	if err != nil {
		l.t.Fatal(err)
	}
	tr.TLogs = map[string]*trust.Log{}
	for _, lg := range logs {
		tr.TLogs[lg.HexID()] = lg
	}
	raw, err := tr.Marshal()
	if err != nil {
		l.t.Fatal(err)
	}
	tr, err = trust.ParseTrustedRoot(raw)
	if err != nil {
		l.t.Fatal(err)
	}
	return tr
}

// signer signs artifacts as a Sigstore client would.
type signer struct {
	p    *testpki.PKI
	key  crypto.Signer
	cert *x509.Certificate // nil: key-signed
}

func newSigner(t testing.TB, p *testpki.PKI, key crypto.Signer, withCert bool) *signer {
	t.Helper()
	if key == nil {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		key = k
	}
	s := &signer{p: p, key: key}
	if withCert {
		c, err := p.Leaf(testpki.DefaultIdentity, key.Public(), testpki.LeafOptions{})
		if err != nil {
			t.Fatal(err)
		}
		s.cert = c
	}
	return s
}

func (s *signer) hash() crypto.Hash {
	_, h, err := rekor.KeyDetails(s.key.Public())
	if err != nil {
		panic(err)
	}
	return h
}

// sign signs a digest with the key's default algorithm (Ed25519ph for
// Ed25519).
func (s *signer) sign(t testing.TB, digest []byte) []byte {
	t.Helper()
	h := s.hash()
	var opts crypto.SignerOpts = h
	if _, ok := s.key.Public().(ed25519.PublicKey); ok {
		opts = &ed25519.Options{Hash: crypto.SHA512}
	}
	sig, err := s.key.Sign(rand.Reader, digest, opts)
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

func (s *signer) digest(artifact []byte) []byte {
	hh := s.hash().New()
	hh.Write(artifact)
	return hh.Sum(nil)
}

func (s *signer) pem() []byte {
	if s.cert != nil {
		return testpki.PEM(s.cert)
	}
	return testpki.PublicKeyPEM(s.key.Public())
}

func (s *signer) verifierJSON() map[string]any {
	details, _, err := rekor.KeyDetails(s.key.Public())
	if err != nil {
		panic(err)
	}
	v := map[string]any{"keyDetails": details}
	if s.cert != nil {
		v["x509Certificate"] = map[string]any{"rawBytes": s.cert.Raw}
	} else {
		der, _ := x509.MarshalPKIXPublicKey(s.key.Public())
		v["publicKey"] = map[string]any{"rawBytes": der}
	}
	return v
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// v2Request returns a hashedRekordRequestV002 for an artifact, with the
// signature it carries.
func (s *signer) v2Request(t testing.TB, artifact []byte) (req, sig []byte) {
	d := s.digest(artifact)
	sig = s.sign(t, d)
	return mustJSON(map[string]any{"hashedRekordRequestV002": map[string]any{
		"digest": d, "signature": map[string]any{"content": sig, "verifier": s.verifierJSON()},
	}}), sig
}

// statement returns an in-toto statement about artifact.
func statement(artifact []byte) []byte {
	d := sha256.Sum256(artifact)
	st, _ := json.Marshal(intoto.Statement{
		Type:          intoto.StatementV1,
		Subject:       []intoto.Subject{{Name: "artifact", Digest: map[string]string{"sha256": hex.EncodeToString(d[:])}}},
		PredicateType: "https://slsa.dev/provenance/v1",
		Predicate:     json.RawMessage(`{"buildDefinition":{"buildType":"https://sigil.test/build"}}`),
	})
	return st
}

// envelope signs an in-toto statement about artifact as DSSE.
func (s *signer) envelope(t testing.TB, artifact []byte) *dsse.Envelope {
	env := &dsse.Envelope{PayloadType: intoto.PayloadType, Payload: statement(artifact)}
	pae := env.PAE()
	var sig []byte
	if k, ok := s.key.(ed25519.PrivateKey); ok {
		sig = ed25519.Sign(k, pae)
	} else {
		sig = s.sign(t, s.digest(pae))
	}
	env.Signatures = []dsse.Signature{{Sig: sig}}
	return env
}

// v2DSSERequest returns a dsseRequestV002 for a DSSE envelope.
func (s *signer) v2DSSERequest(env *dsse.Envelope) []byte {
	return mustJSON(map[string]any{"dsseRequestV002": map[string]any{
		"envelope":  map[string]any{"payload": env.Payload, "payloadType": env.PayloadType, "signatures": []any{map[string]any{"sig": env.Signatures[0].Sig}}},
		"verifiers": []any{s.verifierJSON()},
	}})
}

// v1HashedRekord returns a hashedrekord 0.0.1 proposed entry.
func (s *signer) v1HashedRekord(t testing.TB, artifact []byte) (req, digest, sig []byte) {
	digest = s.digest(artifact)
	sig = s.sign(t, digest)
	return mustJSON(map[string]any{"kind": "hashedrekord", "apiVersion": "0.0.1", "spec": map[string]any{
		"signature": map[string]any{"content": sig, "publicKey": map[string]any{"content": s.pem()}},
		"data":      map[string]any{"hash": map[string]any{"algorithm": rekor.V1Name(s.hash()), "value": hex.EncodeToString(digest)}},
	}}), digest, sig
}

// v1DSSE returns a dsse 0.0.1 proposed entry for an envelope.
func (s *signer) v1DSSE(env *dsse.Envelope) []byte {
	ej, _ := json.Marshal(env)
	return mustJSON(map[string]any{"kind": "dsse", "apiVersion": "0.0.1", "spec": map[string]any{
		"proposedContent": map[string]any{"envelope": string(ej), "verifiers": [][]byte{s.pem()}},
	}})
}

// v1Intoto returns an intoto 0.0.2 proposed entry as cosign sends it
// (payload and signature base64-encoded twice).
func (s *signer) v1Intoto(env *dsse.Envelope) []byte {
	ej, _ := json.Marshal(env)
	eh := sha256.Sum256(ej)
	b64 := func(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
	return mustJSON(map[string]any{"kind": "intoto", "apiVersion": "0.0.2", "spec": map[string]any{
		"content": map[string]any{
			"envelope": map[string]any{
				"payload":     []byte(b64(env.Payload)),
				"payloadType": env.PayloadType,
				"signatures":  []any{map[string]any{"sig": []byte(b64(env.Signatures[0].Sig)), "publicKey": s.pem()}},
			},
			"hash": map[string]any{"algorithm": "sha256", "value": hex.EncodeToString(eh[:])},
		},
	}})
}

// parseTLE parses a Rekor v2 201 answer as sigstore-go does (protojson).
func parseTLE(t testing.TB, body []byte) *protorekor.TransparencyLogEntry {
	t.Helper()
	var e protorekor.TransparencyLogEntry
	if err := protojson.Unmarshal(body, &e); err != nil {
		t.Fatalf("the answer is not a TransparencyLogEntry: %v\n%s", err, body)
	}
	return &e
}

// v1Answer is a Rekor v1 LogEntry (the map's single value).
type v1Answer struct {
	ID             string
	Body           []byte `json:"body"`
	IntegratedTime int64  `json:"integratedTime"`
	LogID          string `json:"logID"`
	LogIndex       int64  `json:"logIndex"`
	Verification   struct {
		InclusionProof struct {
			Checkpoint string   `json:"checkpoint"`
			Hashes     []string `json:"hashes"`
			LogIndex   int64    `json:"logIndex"`
			RootHash   string   `json:"rootHash"`
			TreeSize   int64    `json:"treeSize"`
		} `json:"inclusionProof"`
		SignedEntryTimestamp []byte `json:"signedEntryTimestamp"`
	} `json:"verification"`
}

func parseV1(t testing.TB, body []byte) v1Answer {
	t.Helper()
	var m map[string]v1Answer
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("not a LogEntry: %v\n%s", err, body)
	}
	if len(m) != 1 {
		t.Fatalf("LogEntry has %d keys", len(m))
	}
	for id, a := range m {
		a.ID = id
		return a
	}
	panic("unreachable")
}

// tle converts a v1 LogEntry into the bundle's TransparencyLogEntry
// (sigstore/rekor pkg/tle GenerateTransparencyLogEntry).
func (a v1Answer) tle(t testing.TB, kind, version string) *protorekor.TransparencyLogEntry {
	t.Helper()
	logID, err := hex.DecodeString(a.LogID)
	if err != nil {
		t.Fatal(err)
	}
	root, _ := hex.DecodeString(a.Verification.InclusionProof.RootHash)
	var hashes [][]byte
	for _, h := range a.Verification.InclusionProof.Hashes {
		b, _ := hex.DecodeString(h)
		hashes = append(hashes, b)
	}
	return &protorekor.TransparencyLogEntry{
		LogIndex: a.LogIndex, LogId: &protocommon.LogId{KeyId: logID}, KindVersion: &protorekor.KindVersion{Kind: kind, Version: version},
		IntegratedTime: a.IntegratedTime, InclusionPromise: &protorekor.InclusionPromise{SignedEntryTimestamp: a.Verification.SignedEntryTimestamp},
		InclusionProof: &protorekor.InclusionProof{
			LogIndex: a.Verification.InclusionProof.LogIndex, RootHash: root, TreeSize: a.Verification.InclusionProof.TreeSize, Hashes: hashes,
			Checkpoint: &protorekor.Checkpoint{Envelope: a.Verification.InclusionProof.Checkpoint},
		},
		CanonicalizedBody: a.Body,
	}
}

// verifyBundle assembles a v0.3 bundle from an entry and verifies it with
// the project's verifier against the artifact.
func verifyBundle(t testing.TB, tr *trust.TrustedRoot, s *signer, artifact []byte, msg *bundle.MessageSignature, env *dsse.Envelope, e *protorekor.TransparencyLogEntry, timestamped bool) error {
	t.Helper()
	var tss [][]byte
	if timestamped {
		var sig []byte
		if msg != nil {
			sig = msg.Signature
		} else {
			sig = env.Signatures[0].Sig
		}
		ts, err := s.p.Timestamp(sig, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		tss = append(tss, ts)
	}
	var certDER []byte
	var hint *string
	if s.cert != nil {
		certDER = s.cert.Raw
	} else {
		h := ""
		hint = &h
	}
	b, err := bundle.New(certDER, hint, msg, env, []*protorekor.TransparencyLogEntry{e}, tss)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := b.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if b, err = bundle.Parse(raw); err != nil {
		t.Fatal(err)
	}
	p := verify.Policy{PredicateType: ""}
	if s.cert != nil {
		p.Identities = []verify.Identity{{
			SubjectAlternativeName: verify.Matcher{Exact: testpki.DefaultIdentity.URI},
			Issuer:                 verify.Matcher{Exact: testpki.DefaultIdentity.Issuer},
		}}
	} else {
		p.Key = s.key.Public()
	}
	art := verify.Artifact{Open: func() (verify.ReadCloser, error) { return io.NopCloser(bytes.NewReader(artifact)), nil }}
	_, err = verify.New(tr, verify.Options{}).Verify(b, art, p)
	return err
}

// keys of every algorithm the log accepts.
func allKeys(t testing.TB) map[string]crypto.Signer {
	t.Helper()
	out := map[string]crypto.Signer{}
	for name, c := range map[string]elliptic.Curve{"P256": elliptic.P256(), "P384": elliptic.P384(), "P521": elliptic.P521()} {
		k, err := ecdsa.GenerateKey(c, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = k
	}
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	out["Ed25519"] = ed
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	out["RSA2048"] = rk
	return out
}

func mustStatus(t testing.TB, resp *http.Response, body []byte, want int) {
	t.Helper()
	if resp.StatusCode != want {
		t.Fatalf("status %d, want %d: %s", resp.StatusCode, want, body)
	}
}

func errMessage(body []byte) string {
	var e struct{ Message string }
	json.Unmarshal(body, &e) //nolint:errcheck
	return e.Message
}

func containsAll(s string, parts ...string) error {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return fmt.Errorf("%q does not mention %q", s, p)
		}
	}
	return nil
}
