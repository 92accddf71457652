package ctlog

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ct "github.com/google/certificate-transparency-go"
	ctclient "github.com/google/certificate-transparency-go/client"
	"github.com/google/certificate-transparency-go/ctutil"
	"github.com/google/certificate-transparency-go/jsonclient"
	ctx509 "github.com/google/certificate-transparency-go/x509"
	fnote "github.com/transparency-dev/formats/note"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	tclient "github.com/transparency-dev/tessera/client"

	"sigil.dev/sigil/checkpoint"
	"sigil.dev/sigil/sct"
)

// server is the log's handler on a loopback listener, mounted at the path
// of its public URL as the sigil server does.
type server struct {
	*httptest.Server
	e *env
}

func newServer(t testing.TB, e *env) *server {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/ct/", e.svc.Handler())
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return &server{Server: s, e: e}
}

func (s *server) postProblem(t testing.TB, endpoint string, req any) (int, problem) {
	t.Helper()
	body, _ := json.Marshal(req)
	resp, err := http.Post(s.URL+"/ct/ct/v1/"+endpoint, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var p problem
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 && ct != "application/problem+json" {
		t.Errorf("error Content-Type %q", ct)
	}
	_ = json.NewDecoder(resp.Body).Decode(&p)
	return resp.StatusCode, p
}

func hexFP(fp [32]byte) string { return hex.EncodeToString(fp[:]) }

func writeKey(t testing.TB, path string, k *ecdsa.PrivateKey) {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func publicKeyPEM(t testing.TB, s *Service) string {
	der, err := x509.MarshalPKIXPublicKey(s.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// ctgoClient is certificate-transparency-go's RFC 6962 client — the one
// Fulcio submits with — configured with the log key, so that it verifies
// every SCT signature itself.
func ctgoClient(t testing.TB, srv *server) *ctclient.LogClient {
	t.Helper()
	lc, err := ctclient.New(srv.URL+"/ct", srv.Client(), jsonclient.Options{PublicKey: publicKeyPEM(t, srv.e.svc)})
	if err != nil {
		t.Fatal(err)
	}
	return lc
}

func ctCerts(t testing.TB, certs ...*x509.Certificate) []*ctx509.Certificate {
	t.Helper()
	var out []*ctx509.Certificate
	for _, c := range certs {
		x, err := ctx509.ParseCertificate(c.Raw)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, x)
	}
	return out
}

func asn1Chain(chain [][]byte) []ct.ASN1Cert {
	out := make([]ct.ASN1Cert, len(chain))
	for i, d := range chain {
		out[i] = ct.ASN1Cert{Data: d}
	}
	return out
}

// TestOracleCertificateTransparencyGo checks the SCTs with the code
// sigstore-go and cosign use: certificate-transparency-go's client verifies
// the SCT signature on receipt, and ctutil.VerifySCT verifies the SCT
// embedded in the final certificate (sigstore-go pkg/verify/sct.go) and the
// detached SCT of add-chain.
func TestOracleCertificateTransparencyGo(t *testing.T) {
	e := newEnv(t, Config{})
	srv := newServer(t, e)
	lc := ctgoClient(t, srv)
	ctx := context.Background()
	pub := e.svc.PublicKey()

	pre, _ := e.leaf(t, leafOpts{precert: true})
	got, err := lc.AddPreChain(ctx, asn1Chain(e.chain(pre)))
	if err != nil {
		t.Fatalf("ct-go AddPreChain (verifies the SCT signature): %v", err)
	}
	if len(got.Extensions) != 8 {
		t.Errorf("SCT extensions %x, want the 8-byte leaf_index extension", got.Extensions)
	}
	s := &sct.SCT{LogID: got.LogID.KeyID, Timestamp: got.Timestamp, Extensions: got.Extensions, HashAlg: uint8(got.Signature.Algorithm.Hash), SigAlg: uint8(got.Signature.Algorithm.Signature), Signature: got.Signature.Signature}
	final := e.finalCert(t, pre, s)
	if err := ctutil.VerifySCT(pub, ctCerts(t, final, e.pki.Intermediate), got, true); err != nil {
		t.Errorf("ctutil.VerifySCT(embedded): %v", err)
	}
	// The SCT list as embedded parses back with ct-go too.
	ctFinal := ctCerts(t, final)[0]
	if len(ctFinal.SCTList.SCTList) != 1 {
		t.Errorf("ct-go sees %d embedded SCTs", len(ctFinal.SCTList.SCTList))
	}
	// Tampered: another log key fails.
	if err := ctutil.VerifySCT(&e.pki.CTKey.PublicKey, ctCerts(t, final, e.pki.Intermediate), got, true); err == nil {
		t.Error("ctutil.VerifySCT accepted the SCT under another key")
	}

	leaf, _ := e.leaf(t, leafOpts{})
	det, err := lc.AddChain(ctx, asn1Chain(e.chain(leaf)))
	if err != nil {
		t.Fatalf("ct-go AddChain: %v", err)
	}
	if err := ctutil.VerifySCT(pub, ctCerts(t, leaf), det, false); err != nil {
		t.Errorf("ctutil.VerifySCT(detached): %v", err)
	}

	roots, err := lc.GetAcceptedRoots(ctx)
	if err != nil || len(roots) != 1 || !bytes.Equal(roots[0].Data, e.pki.Root.Raw) {
		t.Errorf("get-roots = %d roots, %v; want the CA root", len(roots), err)
	}
}

// waitForSize polls the checkpoint until it commits to at least n entries
// and returns it, verified with the log's RFC 6962 note verifier.
func waitForSize(t testing.TB, srv *server, n uint64) *checkpoint.Checkpoint {
	t.Helper()
	vkey, err := fnote.RFC6962VerifierString(srv.e.url, srv.e.svc.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	v, err := fnote.NewRFC6962Verifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(srv.URL + "/ct/checkpoint")
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 {
			if ct := resp.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
				t.Errorf("checkpoint Content-Type %q", ct)
			}
			c, _, err := checkpoint.Open(raw, srv.e.svc.Origin(), v)
			if err != nil {
				t.Fatalf("checkpoint does not verify with the static-ct-api verifier: %v\n%s", err, raw)
			}
			if c.Size >= n {
				return c
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint of size %d: last %q", n, raw)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestReadPath follows a monitor: checkpoint, data tile, issuers, and an
// inclusion proof from the tiles, for every entry.
func TestReadPath(t *testing.T) {
	e := newEnv(t, Config{CheckpointInterval: 100 * time.Millisecond})
	srv := newServer(t, e)
	c := &Client{URL: srv.URL + "/ct"}
	const n = 5
	pres := map[uint64]*x509.Certificate{}
	for range n {
		pre, _ := e.leaf(t, leafOpts{precert: true})
		s, err := c.AddPreChain(context.Background(), e.chain(pre))
		if err != nil {
			t.Fatal(err)
		}
		idx, _ := ParseLeafIndex(s.Extensions)
		pres[idx] = pre
	}
	cp := waitForSize(t, srv, n)

	get := func(path string, gz bool) (*http.Response, []byte) {
		req, _ := http.NewRequest("GET", srv.URL+"/ct/"+path, nil)
		if gz {
			req.Header.Set("Accept-Encoding", "gzip")
		}
		resp, err := http.DefaultTransport.RoundTrip(req) // no transparent decompression
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	resp, b := get(fmt.Sprintf("tile/data/000.p/%d", n), true)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(resp.Header.Get("Cache-Control"), "immutable") {
		t.Fatalf("data tile: %s %v", resp.Status, resp.Header)
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	tile, _ := io.ReadAll(zr)
	// A client refusing gzip gets the tile as is.
	req, _ := http.NewRequest("GET", srv.URL+"/ct/"+fmt.Sprintf("tile/data/000.p/%d", n), nil)
	req.Header.Set("Accept-Encoding", "gzip;q=0")
	if plain, err := http.DefaultTransport.RoundTrip(req); err != nil {
		t.Fatal(err)
	} else {
		raw, _ := io.ReadAll(plain.Body)
		plain.Body.Close()
		if ce := plain.Header.Get("Content-Encoding"); ce != "" || !bytes.Equal(raw, tile) {
			t.Errorf("data tile to a client refusing gzip: Content-Encoding %q, %d bytes", ce, len(raw))
		}
	}
	leaves, err := ParseDataTile(tile)
	if err != nil || len(leaves) != n {
		t.Fatalf("data tile has %d entries (%v), want %d", len(leaves), err, n)
	}
	fetcher, err := tclient.NewHTTPFetcher(mustURL(srv.URL+"/ct/"), nil)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := tclient.NewProofBuilder(context.Background(), cp.Size, fetcher.ReadTile)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range leaves {
		if idx, err := l.LeafIndex(); err != nil || idx != uint64(i) {
			t.Errorf("entry %d names index %d (%v)", i, idx, err)
		}
		if !bytes.Equal(l.PreCertificate, pres[uint64(i)].Raw) {
			t.Errorf("entry %d is not the precertificate submitted", i)
		}
		p, err := pb.InclusionProof(context.Background(), uint64(i))
		if err != nil {
			t.Fatal(err)
		}
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(i), cp.Size, l.LeafHash(), p, cp.Hash); err != nil {
			t.Errorf("entry %d: inclusion proof from the tiles does not verify: %v", i, err)
		}
		for _, fp := range l.Chain {
			resp, b := get("issuer/"+hexFP(fp), false)
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/pkix-cert" || sha256.Sum256(b) != fp {
				t.Errorf("issuer %x: %s, %d bytes", fp, resp.Status, len(b))
			}
		}
	}

	for _, path := range []string{
		"tile/0/000.p/0", "tile/0/1000", "tile/0/x000/000", "tile/0/../../key.pem", "tile/data/999",
		"issuer/" + strings.Repeat("A", 64), "issuer/zz", "issuer/../key.pem", "checkpoint/x", "key.pem", "ctlog.json",
	} {
		if resp, _ := get(path, false); resp.StatusCode/100 == 2 {
			t.Errorf("GET %s = %s, want a refusal", path, resp.Status)
		}
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

// TestTilesBeyondCheckpointRefused: a tile or data tile the published
// checkpoint does not commit to is not served, least of all as immutable:
// Tessera's POSIX driver writes a batch's files before the tree state that
// commits them, so such a file may be what a batch that then failed (a
// crash, a full disk) left behind, and it is rewritten with other entries.
func TestTilesBeyondCheckpointRefused(t *testing.T) {
	e := newEnv(t, Config{CheckpointInterval: 100 * time.Millisecond})
	srv := newServer(t, e)
	c := &Client{URL: srv.URL + "/ct"}
	pre, _ := e.leaf(t, leafOpts{precert: true})
	if _, err := c.AddPreChain(context.Background(), e.chain(pre)); err != nil {
		t.Fatal(err)
	}
	waitForSize(t, srv, 1)
	// What a failed batch of one more entry leaves: its data tile and
	// level-0 tile, never committed.
	for _, p := range []string{"tile/data/000.p/2", "tile/0/000.p/2", "tile/0/001", "tile/1/000.p/1"} {
		f := e.dir + "/log/" + p
		if err := os.MkdirAll(f[:strings.LastIndexByte(f, '/')], 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, make([]byte, 64), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for path, want := range map[string]int{
		"tile/data/000.p/1": 200, "tile/0/000.p/1": 200,
		"tile/data/000.p/2": 404, "tile/0/000.p/2": 404, "tile/0/001": 404, "tile/1/000.p/1": 404,
	} {
		resp, err := http.Get(srv.URL + "/ct/" + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s = %s (Cache-Control %q), want %d", path, resp.Status, resp.Header.Get("Cache-Control"), want)
		}
	}
}

func TestHTTPErrors(t *testing.T) {
	e := newEnv(t, Config{})
	srv := newServer(t, e)
	tests := []struct {
		name, method, path, body string
		status                   int
		errType                  string
	}{
		{"GET on add-chain", "GET", "/ct/ct/v1/add-chain", "", 405, ""},
		{"POST on get-roots", "POST", "/ct/ct/v1/get-roots", "{}", 405, ""},
		{"not JSON", "POST", "/ct/ct/v1/add-pre-chain", "chain", 400, "malformed"},
		{"chain not base64", "POST", "/ct/ct/v1/add-pre-chain", `{"chain":["%%%"]}`, 400, "malformed"},
		{"no chain", "POST", "/ct/ct/v1/add-chain", `{}`, 400, "malformed"},
		{"data after the object", "POST", "/ct/ct/v1/add-chain", `{"chain":["AAAA"]} x`, 400, "malformed"},
		{"oversized", "POST", "/ct/ct/v1/add-chain", `{"chain":["` + strings.Repeat("A", maxRequestBody) + `"]}`, 413, "malformed"},
		{"unknown path", "GET", "/ct/ct/v1/get-entries?start=0&end=1", "", 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, strings.NewReader(tt.body))
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if tt.errType != "" {
				var p problem
				if err := json.NewDecoder(resp.Body).Decode(&p); err != nil || p.Type != errorTypePrefix+tt.errType || p.Status != tt.status {
					t.Errorf("body %+v (%v), want type %s", p, err, tt.errType)
				}
			}
		})
	}
}

// TestNoRFC6962ReadAPI checks that the log answers none of RFC 6962's
// read endpoints, get-sth included, as TesseraCT: a monitor that finds
// get-sth takes the log for an RFC 6962 log and then reads it through
// get-sth-consistency and get-entries, which this log does not serve
// (rekor-monitor's ct_monitor probes get-sth first and uses the
// static-ct-api only when it is missing; with get-sth served, its
// consistency check failed on every run after the first and its identity
// search never ran).
func TestNoRFC6962ReadAPI(t *testing.T) {
	e := newEnv(t, Config{})
	srv := newServer(t, e)
	pre, _ := e.leaf(t, leafOpts{precert: true})
	if _, err := (&Client{URL: srv.URL + "/ct"}).AddPreChain(context.Background(), e.chain(pre)); err != nil {
		t.Fatal(err)
	}
	waitForSize(t, srv, 1)
	for _, path := range []string{
		"/ct/ct/v1/get-sth", "/ct/ct/v1/get-sth-consistency?first=1&second=1", "/ct/ct/v1/get-entries?start=0&end=0",
		"/ct/ct/v1/get-proof-by-hash?hash=AAAA&tree_size=1", "/ct/ct/v1/get-entry-and-proof?leaf_index=0&tree_size=1",
	} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %s, want 404 (the static-ct-api is the read path)", path, resp.Status)
		}
	}
	resp, err := http.Get(srv.URL + "/ct/checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /ct/checkpoint: %s", resp.Status)
	}
}

func TestHTTPShutdown(t *testing.T) {
	e := newEnv(t, Config{})
	srv := newServer(t, e)
	if err := e.svc.Close(); err != nil {
		t.Fatal(err)
	}
	pre, _ := e.leaf(t, leafOpts{precert: true})
	c := &Client{URL: srv.URL + "/ct/"}
	if _, err := c.AddPreChain(context.Background(), e.chain(pre)); !errors.Is(err, ErrShutdown) {
		t.Errorf("after Close: %v, want ErrShutdown", err)
	}
	status, p := srv.postProblem(t, "add-pre-chain", AddChainRequest{Chain: e.chain(pre)})
	if status != 503 || p.Type != errorTypePrefix+"shutdown" {
		t.Errorf("after Close: %d %+v", status, p)
	}
}

func TestClientAgainstOtherAnswers(t *testing.T) {
	tests := []struct {
		name   string
		status int
		ctype  string
		body   string
		want   error
	}{
		{"429 plain", 429, "text/plain", "slow down", ErrPushback},
		{"503 plain", 503, "text/plain", "busy", ErrPushback},
		{"400 plain text", 400, "text/plain", "Bad Request\nfailed to verify add-chain contents", nil},
		{"bad JSON", 200, "application/json", "{", nil},
		{"short log ID", 200, "application/json", `{"sct_version":0,"id":"AAAA","timestamp":1,"extensions":"","signature":"BAMAAA=="}`, nil},
		{"v2 SCT", 200, "application/json", `{"sct_version":1,"id":"` + strings.Repeat("A", 43) + `=","timestamp":1,"extensions":"","signature":"BAMAAA=="}`, nil},
		{"trailing signature bytes", 200, "application/json", `{"sct_version":0,"id":"` + strings.Repeat("A", 43) + `=","timestamp":1,"extensions":"","signature":"BAMAAAA="}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/log/ct/v1/add-pre-chain" {
					http.NotFound(w, r)
					return
				}
				w.Header().Set("Content-Type", tt.ctype)
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			_, err := (&Client{URL: srv.URL + "/log"}).AddPreChain(context.Background(), [][]byte{{1}})
			if err == nil {
				t.Fatal("no error")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
		})
	}
	// A well-formed answer from another RFC 6962 log parses.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"sct_version":0,"id":"`+strings.Repeat("A", 43)+`=","timestamp":1700000000000,"extensions":"","signature":"BAMAAgEC"}`)
	}))
	defer srv.Close()
	s, err := (&Client{URL: srv.URL}).AddChain(context.Background(), [][]byte{{1}})
	if err != nil || s.Timestamp != 1700000000000 || len(s.Extensions) != 0 || !bytes.Equal(s.Signature, []byte{1, 2}) || s.HashAlg != 4 || s.SigAlg != 3 {
		t.Errorf("parsed %+v, %v", s, err)
	}
}

// TestHandlerAtRoot serves a log whose public URL has no path.
func TestHandlerAtRoot(t *testing.T) {
	e := newEnv(t, Config{PublicURL: "http://ct.sigil.test/"})
	srv := httptest.NewServer(e.svc.Handler())
	defer srv.Close()
	pre, _ := e.leaf(t, leafOpts{precert: true})
	if _, err := (&Client{URL: srv.URL}).AddPreChain(context.Background(), e.chain(pre)); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/checkpoint", "/ct/v1/get-roots", "/issuer/" + hexFP(sha256.Sum256(e.pki.Root.Raw))} {
		resp, err := http.Get(srv.URL + path)
		if err != nil || resp.StatusCode != 200 {
			t.Errorf("GET %s: %v %v", path, err, resp.Status)
		}
		resp.Body.Close()
	}
	if e.svc.Origin() != "ct.sigil.test" {
		t.Errorf("origin %q", e.svc.Origin())
	}
}

// TestUncleanPublicURLPath: a public URL whose path is not clean (what
// "sigil ca serve --public-url http://host:port/ --ct-dir" made of it:
// "http://host:port//ct") is refused by New, before the data directory
// is claimed for that origin. It was accepted, ctlog.json recorded the
// origin "host:port//ct", and Handler then panicked registering
// "POST //ct/ct/v1/add-chain" with http.ServeMux.
func TestUncleanPublicURLPath(t *testing.T) {
	p := newPKI(t)
	for _, u := range []string{"http://ct.sigil.test//ct", "http://ct.sigil.test/a/../ct", "http://ct.sigil.test/./ct", "http://ct.sigil.test/a//ct/"} {
		t.Run(u, func(t *testing.T) {
			dir := t.TempDir()
			var svc *Service
			var err error
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("panic: %v", r)
					}
				}()
				svc, err = New(context.Background(), Config{DataDir: dir, PublicURL: u, Roots: []*x509.Certificate{p.Root}, Logger: quietLogger()})
				if err == nil {
					defer svc.Close()
					svc.Handler()
				}
			}()
			if err == nil || !strings.Contains(err.Error(), "not a clean path") {
				t.Fatalf("New(%q) = %v, want a refusal of the path", u, err)
			}
			if _, err := os.Stat(filepath.Join(dir, "ctlog.json")); err == nil {
				t.Error("ctlog.json was written for the refused origin")
			}
		})
	}
}
