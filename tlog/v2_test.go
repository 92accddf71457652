package tlog

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/client"

	"sigil.dev/sigil/checkpoint"
	"sigil.dev/sigil/internal/testpki"
	"sigil.dev/sigil/rekor"
)

// Every malformed or unacceptable write gets a 4xx with a JSON error naming
// the problem, and nothing is logged.
func TestV2RejectsBadRequests(t *testing.T) {
	l := startLog(t, "", func(c *Config) { c.MaxRequestSize = 64 << 10 })
	p, _ := testpki.New(testpki.Options{})
	s := newSigner(t, p, nil, true)
	good, _ := s.v2Request(t, []byte("a"))
	d := s.digest([]byte("a"))
	sig := s.sign(t, d)
	der, _ := x509.MarshalPKIXPublicKey(s.key.Public())
	weak, _ := rsa.GenerateKey(rand.Reader, 1024)
	weakDER, _ := x509.MarshalPKIXPublicKey(weak.Public())
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	edDER, _ := x509.MarshalPKIXPublicKey(edKey.Public())
	b64 := base64.StdEncoding.EncodeToString
	hr := func(digest, sig, verifier string) []byte {
		return []byte(`{"hashedRekordRequestV002":{"digest":` + digest + `,"signature":{"content":` + sig + `,"verifier":` + verifier + `}}}`)
	}
	q := func(b []byte) string { return `"` + b64(b) + `"` }
	keyV := `{"publicKey":{"rawBytes":"` + b64(der) + `"},"keyDetails":"PKIX_ECDSA_P256_SHA_256"}`
	env := s.envelope(t, []byte("a"))
	twoSigs := mustJSON(map[string]any{"dsseRequestV002": map[string]any{
		"envelope":  map[string]any{"payload": env.Payload, "payloadType": env.PayloadType, "signatures": []any{map[string]any{"sig": env.Signatures[0].Sig}, map[string]any{"sig": env.Signatures[0].Sig}}},
		"verifiers": []any{s.verifierJSON()},
	}})
	for _, tc := range []struct {
		name   string
		body   []byte
		status int
		want   string
	}{
		{"not JSON", []byte(`{"hashedRekordRequestV002":`), 400, "couldn't decode request"},
		{"not an object", []byte(`[]`), 400, "couldn't decode request"},
		{"trailing data", append(append([]byte{}, good...), `{}`...), 400, "trailing data"},
		{"unknown field", []byte(`{"hashedRekordRequestV002":{},"extra":1}`), 400, `unknown field "extra"`},
		{"unknown nested field", hr(q(d), q(sig), `{"publicKey":{"rawBytes":"`+b64(der)+`","x":1},"keyDetails":"PKIX_ECDSA_P256_SHA_256"}`), 400, `unknown field "x"`},
		{"empty request", []byte(`{}`), 400, "neither hashedRekordRequestV002 nor dsseRequestV002"},
		{"both kinds", []byte(`{"hashedRekordRequestV002":{},"dsseRequestV002":{}}`), 400, "both"},
		{"field twice", []byte(`{"hashedRekordRequestV002":{},"hashed_rekord_request_v002":{}}`), 400, "set twice"},
		{"bad base64", hr(`"not*base64"`, q(sig), keyV), 400, "hashedRekordRequestV002.digest is not base64"},
		{"line break in base64", hr(`"AAAA\nAAAA"`, q(sig), keyV), 400, "line break"},
		{"digest not a string", hr(`42`, q(sig), keyV), 400, "base64 string"},
		{"missing digest", hr(`null`, q(sig), keyV), 400, "missing digest"},
		{"short digest", hr(q(d[:20]), q(sig), keyV), 400, "digest is 20 bytes"},
		{"missing signature", []byte(`{"hashedRekordRequestV002":{"digest":` + q(d) + `}}`), 400, "missing signature.content"},
		{"missing verifier", []byte(`{"hashedRekordRequestV002":{"digest":` + q(d) + `,"signature":{"content":` + q(sig) + `}}}`), 400, "missing verifier"},
		{"missing key", hr(q(d), q(sig), `{"keyDetails":"PKIX_ECDSA_P256_SHA_256"}`), 400, "missing publicKey or x509Certificate"},
		{"key and certificate", hr(q(d), q(sig), `{"publicKey":{"rawBytes":"`+b64(der)+`"},"x509Certificate":{"rawBytes":"`+b64(s.cert.Raw)+`"},"keyDetails":"PKIX_ECDSA_P256_SHA_256"}`), 400, "only one of"},
		{"missing keyDetails", hr(q(d), q(sig), `{"publicKey":{"rawBytes":"`+b64(der)+`"}}`), 400, "missing keyDetails"},
		{"unknown keyDetails", hr(q(d), q(sig), `{"publicKey":{"rawBytes":"`+b64(der)+`"},"keyDetails":"PKIX_MAGIC"}`), 400, "unknown keyDetails"},
		{"wrong keyDetails", hr(q(d), q(sig), `{"publicKey":{"rawBytes":"`+b64(der)+`"},"keyDetails":"PKIX_ECDSA_P384_SHA_384"}`), 400, "does not match the ECDSA P-256 key"},
		{"pure Ed25519", hr(q(make([]byte, 64)), q(make([]byte, 64)), `{"publicKey":{"rawBytes":"`+b64(edDER)+`"},"keyDetails":"PKIX_ED25519"}`), 400, "PKIX_ED25519_PH"},
		{"key does not parse", hr(q(d), q(sig), `{"publicKey":{"rawBytes":"AAAA"},"keyDetails":"PKIX_ECDSA_P256_SHA_256"}`), 400, "public key does not parse"},
		{"certificate does not parse", hr(q(d), q(sig), `{"x509Certificate":{"rawBytes":"AAAA"},"keyDetails":"PKIX_ECDSA_P256_SHA_256"}`), 400, "certificate does not parse"},
		{"weak RSA key", hr(q(d), q(sig), `{"publicKey":{"rawBytes":"`+b64(weakDER)+`"},"keyDetails":"PKIX_RSA_PKCS1V15_2048_SHA256"}`), 400, "unsupported RSA key size 1024"},
		{"bad signature", hr(q(d), q(append(sig[:len(sig)-1:len(sig)-1], sig[len(sig)-1]^1)), keyV), 400, "signature does not verify"},
		{"signature over another digest", hr(q(s.digest([]byte("b"))), q(sig), keyV), 400, "signature does not verify"},
		{"DSSE with two signatures", twoSigs, 400, "exactly one signature"},
		{"DSSE without verifiers", []byte(`{"dsseRequestV002":{"envelope":{"payload":"","payloadType":"x","signatures":[{"sig":"AAAA"}]}}}`), 400, "exactly one verifier"},
		{"DSSE without payloadType", []byte(`{"dsseRequestV002":{"envelope":{"payload":"","signatures":[{"sig":"AAAA"}]},"verifiers":[` + keyV + `]}}`), 400, "missing envelope.payloadType"},
		{"oversized body", append([]byte(`{"hashedRekordRequestV002":{"digest":"`), bytes.Repeat([]byte("A"), 70<<10)...), 413, "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := l.post("/api/v2/log/entries", tc.body)
			mustStatus(t, resp, body, tc.status)
			var e struct {
				Code    int
				Message string
				Details []any
			}
			if err := json.Unmarshal(body, &e); err != nil || e.Details == nil || e.Code == 0 {
				t.Fatalf("error body is not a grpc-gateway status: %s", body)
			}
			if !strings.Contains(e.Message, tc.want) {
				t.Errorf("message %q does not mention %q", e.Message, tc.want)
			}
		})
	}
	if sz := l.svc.v2.latest().size; sz != 0 {
		t.Errorf("rejected requests grew the log to %d", sz)
	}
	// The server still serves.
	resp, body := l.post("/api/v2/log/entries", good)
	mustStatus(t, resp, body, http.StatusCreated)
}

// The decoder accepts what protojson accepts: proto field names, URL-safe
// and unpadded base64, enum numbers.
func TestV2AcceptsProtojsonVariants(t *testing.T) {
	l := startLog(t, "", nil)
	p, _ := testpki.New(testpki.Options{})
	s := newSigner(t, p, nil, false)
	for i, form := range []func(d, sig, der []byte) string{
		func(d, sig, der []byte) string {
			return `{"hashed_rekord_request_v002":{"digest":"` + base64.RawURLEncoding.EncodeToString(d) + `","signature":{"content":"` + base64.URLEncoding.EncodeToString(sig) +
				`","verifier":{"public_key":{"raw_bytes":"` + base64.RawStdEncoding.EncodeToString(der) + `"},"key_details":5}}}}`
		},
		func(d, sig, der []byte) string {
			return `{"hashedRekordRequestV002":{"digest":"` + base64.StdEncoding.EncodeToString(d) + `","signature":{"content":"` + base64.StdEncoding.EncodeToString(sig) +
				`","verifier":{"publicKey":{"rawBytes":"` + base64.StdEncoding.EncodeToString(der) + `"},"keyDetails":"PKIX_ECDSA_P256_SHA_256","x509Certificate":null}}},"dsseRequestV002":null}`
		},
	} {
		d := s.digest([]byte("variant " + strconv.Itoa(i)))
		sig := s.sign(t, d)
		der, _ := x509.MarshalPKIXPublicKey(s.key.Public())
		resp, body := l.post("/api/v2/log/entries", []byte(form(d, sig, der)))
		mustStatus(t, resp, body, http.StatusCreated)
	}
}

// A duplicate gets 409 with the existing index in x-log-index.
func TestV2Duplicate(t *testing.T) {
	l := startLog(t, "", nil)
	p, _ := testpki.New(testpki.Options{})
	s := newSigner(t, p, nil, true)
	for i := 0; i < 3; i++ {
		req, _ := s.v2Request(t, []byte("filler "+strconv.Itoa(i)))
		resp, body := l.post("/api/v2/log/entries", req)
		mustStatus(t, resp, body, http.StatusCreated)
	}
	req, _ := s.v2Request(t, []byte("twice"))
	resp, body := l.post("/api/v2/log/entries", req)
	mustStatus(t, resp, body, http.StatusCreated)
	e := parseTLE(t, body)
	resp, body = l.post("/api/v2/log/entries", req)
	mustStatus(t, resp, body, http.StatusConflict)
	if got := resp.Header.Get("x-log-index"); got != strconv.FormatInt(e.GetLogIndex(), 10) {
		t.Errorf("x-log-index %q, want %d", got, e.GetLogIndex())
	}
	if l.svc.v2.latest().size != 4 {
		t.Errorf("the duplicate was logged: size %d", l.svc.v2.latest().size)
	}
}

// The tlog-tiles read API serves a signed checkpoint and tiles from which a
// client (Tessera's own client library) proves every entry included and
// reads every entry back.
func TestV2TilesRead(t *testing.T) {
	l := startLog(t, "", nil)
	p, _ := testpki.New(testpki.Options{})
	s := newSigner(t, p, nil, false)
	var bodies [][]byte
	// More than one entry bundle, so full and partial tiles both exist.
	for i := 0; i < 300; i += 30 {
		reqs := make(chan []byte, 30)
		errs := make(chan error, 30)
		for j := 0; j < 30; j++ {
			req, _ := s.v2Request(t, []byte("tiles "+strconv.Itoa(i+j)))
			go func() {
				resp, err := http.Post(l.url+"/api/v2/log/entries", "application/json", bytes.NewReader(req))
				if err != nil {
					errs <- err
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					errs <- &requestError{resp.StatusCode, string(b)}
					return
				}
				reqs <- b
				errs <- nil
			}()
		}
		for j := 0; j < 30; j++ {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
			bodies = append(bodies, <-reqs)
		}
	}
	logs, _ := l.svc.TrustedLogs()
	v2 := logs[0]
	resp, raw := l.get("/api/v2/checkpoint")
	mustStatus(t, resp, raw, http.StatusOK)
	if ct, cc := resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"); ct != "text/plain; charset=utf-8" || cc != "no-cache" {
		t.Errorf("checkpoint served as %q, %q", ct, cc)
	}
	cp, _, err := checkpoint.Open(raw, v2.Origin, v2.CheckpointVerifier)
	if err != nil {
		t.Fatalf("checkpoint does not verify with the trusted root's key: %v", err)
	}
	if resp, rootRaw := l.get("/checkpoint"); resp.StatusCode != http.StatusOK || !bytes.Equal(rootRaw, raw) {
		t.Errorf("the checkpoint at the root: %d %s", resp.StatusCode, rootRaw)
	}
	if cp.Size != 300 {
		t.Fatalf("checkpoint size %d, want 300", cp.Size)
	}
	u, _ := url.Parse(l.url + "/api/v2/")
	f, err := client.NewHTTPFetcher(u, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	pb, err := client.NewProofBuilder(ctx, cp.Size, f.ReadTile)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bodies {
		e := parseTLE(t, b)
		idx := uint64(e.GetLogIndex())
		leaf := rekor.LeafHash(e.GetCanonicalizedBody())
		hashes, err := pb.InclusionProof(ctx, idx)
		if err != nil {
			t.Fatal(err)
		}
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, idx, cp.Size, leaf[:], hashes, cp.Hash); err != nil {
			t.Fatalf("entry %d: proof from tiles does not verify: %v", idx, err)
		}
		bundle, err := client.GetEntryBundle(ctx, f.ReadEntryBundle, idx/256, cp.Size)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(bundle.Entries[idx%256], e.GetCanonicalizedBody()) {
			t.Fatalf("entry %d in its bundle differs from the answer's body", idx)
		}
	}
	// Tiles are immutable; what the checkpoint does not cover is not served.
	for _, tc := range []struct {
		path   string
		status int
	}{
		{"/api/v2/tile/0/000", 200},
		{"/api/v2/tile/0/001.p/44", 200},
		{"/api/v2/tile/1/000.p/1", 200},
		{"/api/v2/tile/entries/000", 200},
		{"/api/v2/tile/entries/001.p/44", 200},
		{"/api/v2/tile/entries/001.p/10", 200}, // an older size, cut from the newer bundle
		{"/tile/0/000", 200},                   // the same reads at the root
		{"/tile/entries/001.p/44", 200},
		{"/tile/0/001", 404},
		{"/api/v2/tile/0/001", 404},      // not full yet
		{"/api/v2/tile/0/001.p/45", 404}, // beyond the checkpoint
		{"/api/v2/tile/entries/002", 404},
		{"/api/v2/tile/1/000", 404},
		{"/api/v2/tile/0/x001", 404}, // malformed
		{"/api/v2/tile/64/000", 404}, // no such level
		{"/api/v2/tile/0/000.p/0", 404},
		{"/api/v2/nothing", 404},
	} {
		resp, body := l.get(tc.path)
		if resp.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d: %s", tc.path, resp.StatusCode, tc.status, body)
			continue
		}
		if tc.status == 200 && resp.Header.Get("Cache-Control") != immutable {
			t.Errorf("%s: Cache-Control %q", tc.path, resp.Header.Get("Cache-Control"))
		}
	}
	_, b10 := l.get("/api/v2/tile/entries/001.p/10")
	var eb api.EntryBundle
	if err := eb.UnmarshalText(b10); err != nil || len(eb.Entries) != 10 {
		t.Errorf("partial bundle of width 10 has %d entries (%v)", len(eb.Entries), err)
	}
	_, t44 := l.get("/api/v2/tile/0/001.p/44")
	if len(t44) != 44*32 {
		t.Errorf("partial tile of width 44 is %d bytes", len(t44))
	}
	// Entry bundles are gzip-compressed for clients that accept it.
	req, _ := http.NewRequest(http.MethodGet, l.url+"/api/v2/tile/entries/000", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	gr, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer gr.Body.Close()
	if gr.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("entry bundle not compressed")
	}
	zr, err := gzip.NewReader(gr.Body)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := io.ReadAll(zr); len(got) < 256*100 {
		t.Errorf("decompressed bundle is %d bytes", len(got))
	}
	// And not for a client that refuses gzip (q=0).
	req.Header.Set("Accept-Encoding", "gzip;q=0, identity")
	nr, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer nr.Body.Close()
	if ce := nr.Header.Get("Content-Encoding"); ce != "" {
		t.Errorf("entry bundle sent with Content-Encoding %q to a client refusing gzip", ce)
	}
}

// Known paths answer other methods with 405 and an error body; unknown
// paths with 404.
func TestMethodsAndPaths(t *testing.T) {
	l := startLog(t, "", nil)
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/api/v2/log/entries", 405},
		{"DELETE", "/api/v1/log/entries", 405},
		{"POST", "/api/v1/log", 405},
		{"PUT", "/api/v1/log/publicKey", 405},
		{"GET", "/api/v1/index/retrieve", 405},
		{"POST", "/api/v2/checkpoint", 405},
		{"GET", "/api/v1/nothing", 404},
	} {
		resp, body := l.do(tc.method, tc.path, nil)
		if resp.StatusCode != tc.status || errMessage(body) == "" {
			t.Errorf("%s %s: %d %s", tc.method, tc.path, resp.StatusCode, body)
		}
	}
}

// The fast path takes the requests clients send; anything unusual goes to
// the complete decoder.
func TestFastParseV2(t *testing.T) {
	p, _ := testpki.New(testpki.Options{})
	for _, cert := range []bool{true, false} {
		req, _ := newSigner(t, p, nil, cert).v2Request(t, []byte("x"))
		if _, ok := fastParseV2(req); !ok {
			t.Errorf("cert=%v: the usual request is not on the fast path: %s", cert, req)
		}
	}
	for _, req := range []string{
		`{"hashed_rekord_request_v002":{"digest":"AAAA","signature":{"content":"AAAA","verifier":{"publicKey":{"rawBytes":"AAAA"},"keyDetails":"PKIX_ED25519_PH"}}}}`,
		`{"hashedRekordRequestV002":{"digest":"AA\/A","signature":{"content":"AAAA","verifier":{"publicKey":{"rawBytes":"AAAA"},"keyDetails":"PKIX_ED25519_PH"}}}}`,
		`{"hashedRekordRequestV002":{"digest":"AAAA","signature":{"content":"AAAA","verifier":{"publicKey":{"rawBytes":"AAAA"},"keyDetails":7}}}}`,
		`{"hashedRekordRequestV002":{"digest":"AAAA","digest":"AAAA","signature":{"content":"AAAA","verifier":{"publicKey":{"rawBytes":"AAAA"},"keyDetails":"PKIX_ED25519_PH"}}}}`,
		`{"hashedRekordRequestV002":{"digest":"AAAA","signature":{"content":"AAAA","verifier":{"publicKey":{},"x509Certificate":{"rawBytes":"AAAA"},"keyDetails":"PKIX_ED25519_PH"}}}}`,
		`{"hashedRekordRequestV002":{"digest":"AAAA","signature":{"content":"AAAA","verifier":{"publicKey":{"rawBytes":"AAAA"},"keyDetails":"PKIX_ED25519_PH"}}}} x`,
		`{"dsseRequestV002":{}}`,
	} {
		if r, ok := fastParseV2([]byte(req)); ok {
			t.Errorf("fast path took %s: %+v", req, r)
		}
	}
}

// A tile or entry bundle is served at its canonical path only (C2SP
// tlog-tiles: L and W without leading zeros, N in 3-digit groups with no
// leading all-zero x group); an alias of an immutable resource is 404.
func TestV2TilePathsCanonical(t *testing.T) {
	l := startLog(t, "", nil)
	p, _ := testpki.New(testpki.Options{})
	req, _ := newSigner(t, p, nil, false).v2Request(t, []byte("canonical"))
	resp, body := l.post("/api/v2/log/entries", req)
	mustStatus(t, resp, body, http.StatusCreated)
	for _, tc := range []struct {
		path   string
		status int
	}{
		{"/api/v2/tile/0/000.p/1", 200},
		{"/api/v2/tile/entries/000.p/1", 200},
		{"/tile/0/000.p/1", 200},
		{"/api/v2/tile/00/000.p/1", 404},
		{"/api/v2/tile/0/x000/000.p/1", 404},
		{"/api/v2/tile/0/000.p/01", 404},
		{"/api/v2/tile/entries/x000/000.p/1", 404},
		{"/api/v2/tile/entries/000.p/001", 404},
		{"/tile/entries/x000/x000/000.p/1", 404},
	} {
		resp, body := l.get(tc.path)
		if resp.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d: %s", tc.path, resp.StatusCode, tc.status, body)
		}
	}
}
