package server_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/klog/v2"

	"sigil.dev/sigil/bundle"
	"sigil.dev/sigil/internal/cli"
	"sigil.dev/sigil/internal/fsutil"
	"sigil.dev/sigil/server"
	"sigil.dev/sigil/server/servertest"
	"sigil.dev/sigil/sign"
	"sigil.dev/sigil/trust"
	"sigil.dev/sigil/tuf"
	"sigil.dev/sigil/verify"
)

func start(t *testing.T, dir, addr string) (*server.Server, func()) {
	s := servertest.Start(t, dir, addr)
	return s.Server, s.Stop
}

func signer(t *testing.T, s *server.Server, versions []uint32) *sign.Signer {
	t.Helper()
	sc := s.SigningConfig()
	now := time.Now()
	ca, err := trust.SelectService(sc.CAs, []uint32{1}, now)
	if err != nil {
		t.Fatal(err)
	}
	out := &sign.Signer{CA: &sign.CAClient{URL: ca.URL}, TrustedRoot: s.TrustedRoot(),
		Token: func(context.Context) (string, error) { return s.DevIssuer().Mint(nil) }}
	logs, err := trust.SelectServices(sc.Rekors, trust.ServiceConfig{Selector: trust.SelectAll}, versions, now)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range logs {
		if l.MajorAPIVersion == 2 {
			out.Logs = append(out.Logs, &sign.RekorV2{BaseURL: l.URL})
		} else {
			out.Logs = append(out.Logs, &sign.RekorV1{BaseURL: l.URL})
		}
	}
	for _, ts := range sc.TSAs {
		out.TSAs = append(out.TSAs, &sign.TSAClient{URL: ts.URL})
	}
	return out
}

func policyFor(s *server.Server) verify.Policy {
	return verify.Policy{Identities: []verify.Identity{{
		SubjectAlternativeName: verify.Matcher{Exact: "dev@sigil.test"},
		Issuer:                 verify.Matcher{Exact: s.DevIssuerURL()},
	}}}
}

// TestEndToEnd signs through every service of a fresh server — CA with an
// embedded SCT from the CT log, Rekor v1 and v2, the TSA — and verifies the
// bundles against the trusted root the server publishes; then restarts it
// and checks the same trust still holds.
func TestEndToEnd(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s, stop := start(t, dir, "127.0.0.1:0")
	if !s.FirstStart() {
		t.Error("first start not reported")
	}
	for _, h := range []string{"/healthz", "/readyz", "/metrics", "/tuf/1.root.json", "/api/v1/rootCert", "/api/v2/configuration", "/api/v2/checkpoint", "/checkpoint", "/api/v1/log", "/api/v1/timestamp/certchain", "/oidc/.well-known/openid-configuration", "/ct/checkpoint"} {
		resp, err := http.Get(s.PublicURL() + h)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("GET %s: %s", h, resp.Status)
		}
	}
	// /readyz follows every service that can stop taking writes.
	if got := strings.Join(server.ReadinessNames(s), ","); got != "tlog,ct,tuf" {
		t.Errorf("readiness checks %q, want tlog,ct,tuf", got)
	}
	for _, name := range []string{"tlog", "ct", "tuf"} {
		w := httptest.NewRecorder()
		server.ServeReadyFailing(s, name, errors.New("disk full"), w)
		if w.Code != http.StatusServiceUnavailable || w.Body.String() != name+": disk full\n" {
			t.Errorf("/readyz with %s failing: %d %q", name, w.Code, w.Body)
		}
	}
	artifact := []byte("end to end\n")
	d := sha256.Sum256(artifact)
	art := verify.Artifact{DigestAlgorithm: crypto.SHA256, Digest: d[:]}
	var bundles [][]byte
	for _, tc := range []struct {
		name     string
		versions []uint32
		dsse     bool
	}{{"rekor v2", []uint32{1, 2}, false}, {"rekor v1", []uint32{1}, false}, {"dsse rekor v2", []uint32{2}, true}, {"dsse rekor v1", []uint32{1}, true}} {
		t.Run(tc.name, func(t *testing.T) {
			sg := signer(t, s, tc.versions)
			var res *sign.Result
			var err error
			if tc.dsse {
				st := `{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a","digest":{"sha256":"` + hexs(d[:]) + `"}}],"predicateType":"https://slsa.dev/provenance/v1","predicate":{}}`
				res, err = sg.SignDSSE(context.Background(), "application/vnd.in-toto+json", []byte(st))
			} else {
				res, err = sg.SignBlob(context.Background(), bytes.NewReader(artifact))
			}
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := res.Bundle.Marshal()
			bundles = append(bundles, raw)
			if _, err := verify.New(s.TrustedRoot(), verify.Options{}).Verify(res.Bundle, art, policyFor(s)); err != nil {
				t.Fatal(err)
			}
		})
	}

	// Restart on the same data and address: the same trust, and the
	// bundles made before still verify.
	before, _ := s.TrustedRoot().Marshal()
	addr := strings.TrimPrefix(s.PublicURL(), "http://")
	stop()
	s2, _ := start(t, dir, addr)
	if s2.FirstStart() {
		t.Error("restart reported as first start")
	}
	after, _ := s2.TrustedRoot().Marshal()
	if !bytes.Equal(before, after) {
		t.Errorf("the trusted root changed across a restart:\n%s\n%s", before, after)
	}
	for i, raw := range bundles {
		b, err := bundle.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := verify.New(s2.TrustedRoot(), verify.Options{}).Verify(b, art, policyFor(s2)); err != nil {
			t.Errorf("bundle %d after restart: %v", i, err)
		}
	}
	// And signing goes on, with indices continuing.
	if _, err := signer(t, s2, []uint32{1, 2}).SignBlob(context.Background(), bytes.NewReader(artifact)); err != nil {
		t.Fatal(err)
	}
}

// TestDeterministicKeyTwice: an Ed25519 key signs deterministically, so
// signing the same artifact again makes the same Rekor v2 entry; the log
// answers 409 with the entry's index and the signer rebuilds that entry
// from the tiles, so re-running a release job works on v2 as on v1.
func TestDeterministicKeyTwice(t *testing.T) {
	s, _ := start(t, filepath.Join(t.TempDir(), "data"), "127.0.0.1:0")
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	artifact := []byte("release 1.0\n")
	var idx []int64
	for i := 0; i < 2; i++ {
		sg := signer(t, s, []uint32{2})
		sg.CA, sg.Token, sg.Key = nil, nil, key
		res, err := sg.SignBlob(context.Background(), bytes.NewReader(artifact))
		if err != nil {
			t.Fatalf("signing %d: %v", i+1, err)
		}
		e := res.Bundle.TlogEntries[0]
		idx = append(idx, e.LogIndex)
	}
	if idx[0] != idx[1] {
		t.Errorf("log indices %v: the second signing should reuse the first entry", idx)
	}
}

func hexs(b []byte) string {
	const h = "0123456789abcdef"
	var sb strings.Builder
	for _, c := range b {
		sb.WriteByte(h[c>>4])
		sb.WriteByte(h[c&15])
	}
	return sb.String()
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg server.Config
		msg string
	}{
		{server.Config{}, "dataDir: required"},
		{server.Config{DataDir: t.TempDir(), Listen: "nope"}, "not host:port"},
		{server.Config{DataDir: t.TempDir(), Listen: "0.0.0.0:8080", Dev: true}, "publicURL: required"},
		{server.Config{DataDir: t.TempDir(), Services: []string{"ca", "nope"}, Dev: true}, `unknown service "nope"`},
		{server.Config{DataDir: t.TempDir()}, "ca.issuers: required outside dev mode"},
		{server.Config{DataDir: t.TempDir(), Services: []string{"oidc"}}, "runs only with dev: true"},
		{server.Config{DataDir: t.TempDir(), TLSCert: "x"}, "give both or neither"},
		// Dev mode trusts its issuer only where it runs: the error said
		// "no issuers configured (oidc-issuers or meta-issuers)".
		{server.Config{DataDir: t.TempDir(), Listen: "127.0.0.1:1", Services: []string{"ca", "ct"}, Dev: true}, "add oidc to --services"},
	} {
		_, err := server.New(context.Background(), tc.cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%+v: %v, want %q", tc.cfg, err, tc.msg)
		}
	}
	// The dev issuer refuses a non-loopback address.
	_, err := server.New(context.Background(), server.Config{DataDir: t.TempDir(), Listen: "192.0.2.1:8080", Dev: true}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil || !strings.Contains(err.Error(), "loopback") || !strings.Contains(err.Error(), "forceDevIssuer: true") ||
		strings.Count(err.Error(), "couldn't start the dev OIDC issuer") != 1 {
		t.Errorf("dev issuer on a public address: %v (want one 'couldn't start', and how to force it)", err)
	}
}

// TestOneServerPerDataDir: a second server on the data directory of a
// running one is refused before it touches anything (it would keep its
// own duplicate filters over the same logs and log entries twice); once
// the first stops, the directory opens again.
func TestOneServerPerDataDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s, stop := start(t, dir, "127.0.0.1:0")
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := server.Config{DataDir: dir, Dev: true, Listen: strings.TrimPrefix(s.PublicURL(), "http://")}
	second, err := server.New(context.Background(), cfg, quiet)
	if err == nil {
		second.Close()
		t.Fatal("a second server opened the data directory of a running one")
	}
	if !errors.Is(err, fsutil.ErrLocked) {
		t.Errorf("second server: got %v, want ErrLocked", err)
	}
	stop()
	again, err := server.New(context.Background(), cfg, quiet)
	if err != nil {
		t.Fatalf("restart after stop: %v", err)
	}
	again.Close()
}

// TestStalledBody: a client that stops sending its request body gets an
// answer once the read timeout passes, and its connection is closed, on
// every API (the log's writes have their own, shorter, limit).
func TestStalledBody(t *testing.T) {
	defer server.SetTimeouts(300*time.Millisecond, 2*time.Second)()
	s, _ := start(t, filepath.Join(t.TempDir(), "data"), "127.0.0.1:0")
	for _, path := range []string{"/api/v2/signingCert", "/api/v1/timestamp", "/ct/ct/v1/add-pre-chain"} {
		conn, err := net.Dial("tcp", strings.TrimPrefix(s.PublicURL(), "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		io.WriteString(conn, "POST "+path+" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"a\":")
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Errorf("%s: no answer to a stalled body: %v", path, err)
			continue
		}
		io.ReadAll(resp.Body)
		if resp.StatusCode < 400 || resp.StatusCode >= 500 {
			t.Errorf("%s: status %d", path, resp.StatusCode)
		}
		if _, err := br.ReadByte(); err != io.EOF {
			t.Errorf("%s: the connection stayed open: %v", path, err)
		}
	}
}

// A host that serves TUF while the CA and logs run elsewhere publishes no
// trusted root of its own: it would lack their keys and break every
// verification (the targets come from the ceremony instead).
func TestTUFOnlyHostPublishesNoPartialTrustedRoot(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	s, err := server.New(ctx, server.Config{DataDir: dir, Services: []string{"tuf"}, Dev: true,
		Remote: server.RemoteURLs{CA: "http://127.0.0.1:1", TLog: "http://127.0.0.1:1"}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	defer func() { cancel(); s.Close() }()
	targets, _ := filepath.Glob(filepath.Join(dir, "tuf", "repository", "targets", "*"))
	for _, f := range targets {
		if strings.HasSuffix(f, "trusted_root.json") {
			t.Fatalf("published a trusted root without the CA's and logs' keys: %s", f)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "tuf", "repository", "root.json")); err != nil {
		t.Fatalf("no TUF repository: %v", err)
	}
}

// A host that runs the CA, the logs and TUF while the TSA runs elsewhere
// (remote.tsa) publishes no trusted root of its own either: it lacked the
// TSA's chain, so every Rekor v2 signature failed verification ("the
// trusted root lists no timestamp authorities").
func TestRemoteTSAHostPublishesNoPartialTrustedRoot(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	s, err := server.New(ctx, server.Config{DataDir: dir, Listen: "127.0.0.1:1", Services: []string{"ca", "ct", "tlog", "tuf", "oidc"}, Dev: true,
		Remote: server.RemoteURLs{TSA: "http://127.0.0.1:2"}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	defer func() { cancel(); s.Close() }()
	if _, err := server.TUFRepo(s).Target(tuf.TargetTrustedRoot); !errors.Is(err, tuf.ErrNoTarget) {
		t.Fatalf("published a trusted root without the remote TSA's chain (%v)", err)
	}
}

// The operator is warned when the CA runs without its CT log or returns
// detached SCTs (no embedded SCTs either way), and when a production first
// start creates the CA root key online.
func TestStartWarnings(t *testing.T) {
	start := func(cfg server.Config) string {
		t.Helper()
		var logs strings.Builder
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		s, err := server.New(ctx, cfg, slog.New(slog.NewTextHandler(&logs, nil)))
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		return logs.String()
	}
	if l := start(server.Config{DataDir: t.TempDir(), Services: []string{"ca", "oidc"}, Dev: true}); !strings.Contains(l, "the CA runs without the CT log") {
		t.Errorf("CA without CT: no warning in\n%s", l)
	}
	// Detached SCTs: the certificates embed none either (sigil sign-blob
	// then failed at every signature with a hint about changed keys).
	if l := start(server.Config{DataDir: t.TempDir(), Dev: true, CA: server.CAConfig{DetachedSCT: true}}); !strings.Contains(l, "its certificates embed no SCT") {
		t.Errorf("CA with detached SCTs: no warning in\n%s", l)
	}
	if l := start(server.Config{DataDir: t.TempDir(), Dev: true}); strings.Contains(l, "without the CT log") || strings.Contains(l, "embed no SCT") || strings.Contains(l, "root key was created online") {
		t.Errorf("dev server with every service warns:\n%s", l)
	}
	dir := t.TempDir()
	issuers := filepath.Join(dir, "issuers.json")
	os.WriteFile(issuers, []byte(`{"OIDCIssuers":{"https://issuer.example":{"IssuerURL":"https://issuer.example","ClientID":"sigstore","Type":"email"}}}`), 0o644)
	t.Setenv("SIGIL_TEST_CA_PW", "secret")
	if l := start(server.Config{DataDir: filepath.Join(dir, "data"), CA: server.CAConfig{Issuers: issuers, PasswordEnv: "SIGIL_TEST_CA_PW"}}); !strings.Contains(l, "root key was created online") || strings.Contains(l, "password file") {
		t.Errorf("production first start: no root key warning in\n%s", l)
	}
	// A password file others can read is named.
	pw := filepath.Join(dir, "pw")
	os.WriteFile(pw, []byte("secret\n"), 0o644)
	if l := start(server.Config{DataDir: filepath.Join(dir, "data"), CA: server.CAConfig{Issuers: issuers, PasswordFile: pw}}); !strings.Contains(l, "password file can be read by other users") || !strings.Contains(l, "mode=0644") {
		t.Errorf("a world-readable password file: no warning in\n%s", l)
	}
	os.Chmod(pw, 0o600)
	if l := start(server.Config{DataDir: filepath.Join(dir, "data"), CA: server.CAConfig{Issuers: issuers, PasswordFile: pw}}); strings.Contains(l, "password file") {
		t.Errorf("a private password file warned:\n%s", l)
	}
	// The issuer the signing config sends clients to must be one the CA
	// trusts, or every certificate request is refused.
	if l := start(server.Config{DataDir: filepath.Join(dir, "data"), CA: server.CAConfig{Issuers: issuers, PasswordFile: pw}, Remote: server.RemoteURLs{OIDC: "https://other.example"}}); !strings.Contains(l, "remote.oidc is not an issuer the CA trusts") {
		t.Errorf("remote.oidc outside ca.issuers: no warning in\n%s", l)
	}
	if l := start(server.Config{DataDir: filepath.Join(dir, "data"), CA: server.CAConfig{Issuers: issuers, PasswordFile: pw}, Remote: server.RemoteURLs{OIDC: "https://issuer.example"}}); strings.Contains(l, "remote.oidc") {
		t.Errorf("remote.oidc in ca.issuers warned:\n%s", l)
	}
}

// Libraries that log through slog's default logger (Tessera warns so when
// it cannot remove a temporary file) end up in the server's log, with the
// component named, not in Go's unstructured default output.
func TestLibraryLogsReachTheServerLog(t *testing.T) {
	defer slog.SetDefault(slog.Default())
	var logs strings.Builder
	s, err := server.New(context.Background(), server.Config{DataDir: t.TempDir(), Services: []string{"tsa"}, Dev: true}, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	slog.Warn("Failed to remove temporary file", slog.String("name", "x"))
	if !strings.Contains(logs.String(), `level=WARN msg="Failed to remove temporary file" component=tessera name=x`) {
		t.Fatalf("server log:\n%s", logs.String())
	}
	klog.InfoS("Initializing directory for POSIX log", "dir", "d1")
	if !strings.Contains(logs.String(), `msg="Initializing directory for POSIX log" component=tessera dir=d1`) {
		t.Fatalf("klog output missing from the server log:\n%s", logs.String())
	}
	// A second server in the process (tests) takes klog's output over;
	// klog's global logger is not written again (that raced with the
	// first server's Tessera goroutines).
	var logs2 strings.Builder
	s2, err := server.New(context.Background(), server.Config{DataDir: t.TempDir(), Services: []string{"tsa"}, Dev: true}, slog.New(slog.NewTextHandler(&logs2, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	klog.InfoS("Initializing directory for POSIX log", "dir", "d2")
	if !strings.Contains(logs2.String(), "dir=d2") || strings.Contains(logs.String(), "dir=d2") {
		t.Fatalf("klog output after a second server started:\nfirst:\n%s\nsecond:\n%s", logs.String(), logs2.String())
	}
}

// A production CA whose issuing key is in an HSM still needs a password
// for the root key a first start creates: the error says so and how to
// avoid it, rather than "no password for the key files".
func TestPKCS11FirstStartNeedsRootPassword(t *testing.T) {
	dir := t.TempDir()
	issuers := filepath.Join(dir, "issuers.json")
	os.WriteFile(issuers, []byte(`{"OIDCIssuers":{"https://issuer.example":{"IssuerURL":"https://issuer.example","ClientID":"sigstore","Type":"email"}}}`), 0o644)
	_, err := server.New(context.Background(), server.Config{DataDir: filepath.Join(dir, "data"), Services: []string{"ca"}, CA: server.CAConfig{Issuers: issuers, PKCS11: "pkcs11:token=sigil;object=ca"}},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil || !strings.Contains(err.Error(), "no ca.passwordEnv or ca.passwordFile gives its password") || !strings.Contains(err.Error(), "sigil ca init --dir "+filepath.Join(dir, "data", "ca")) {
		t.Fatalf("got %v", err)
	}
}

// TestRefusedServerKeepsTheDefaultLogger: a server refused because the
// data directory is in use leaves the process's default logger, where
// Tessera warns (a full disk…), to the server that runs.
func TestRefusedServerKeepsTheDefaultLogger(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	var first, second syncBuffer
	cfg := server.Config{DataDir: dir, Dev: true, Listen: "127.0.0.1:0", Services: []string{"tlog"}}
	s, err := server.New(context.Background(), cfg, slog.New(slog.NewTextHandler(&first, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := server.New(context.Background(), cfg, slog.New(slog.NewTextHandler(&second, nil))); !errors.Is(err, fsutil.ErrLocked) {
		t.Fatalf("second server: %v", err)
	}
	slog.Warn("sigil-test: a library warning")
	if !strings.Contains(first.String(), "sigil-test: a library warning") || strings.Contains(second.String(), "sigil-test") {
		t.Errorf("the warning went to the refused server's log:\nrunning: %s\nrefused: %s", first.String(), second.String())
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestCARotationKeepsOldBundlesValid: after "sigil ca intermediate" and a
// restart, the trusted root the server publishes (and serves through TUF)
// keeps the old intermediate, valid until the restart, so bundles signed
// before still verify; the new intermediate signs from then on. A
// second restart changes nothing.
func TestCARotationKeepsOldBundlesValid(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s, stop := start(t, dir, "127.0.0.1:0")
	artifact := []byte("signed before the rotation\n")
	d := sha256.Sum256(artifact)
	art := verify.Artifact{DigestAlgorithm: crypto.SHA256, Digest: d[:]}
	var before [][]byte
	for _, versions := range [][]uint32{{1, 2}, {1}} {
		res, err := signer(t, s, versions).SignBlob(context.Background(), bytes.NewReader(artifact))
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := res.Bundle.Marshal()
		before = append(before, raw)
	}
	addr := strings.TrimPrefix(s.PublicURL(), "http://")
	stop()

	ca := filepath.Join(dir, "ca")
	var out, errOut bytes.Buffer
	if code := cli.Main([]string{"ca", "intermediate", "--root-cert", filepath.Join(ca, "root.pem"), "--root-key", filepath.Join(ca, "root-key.pem"),
		"--password-file", filepath.Join(ca, "password"), "--dir", ca, "--force"}, &out, &errOut); code != 0 {
		t.Fatalf("ca intermediate: exit %d: %s", code, errOut.String())
	}
	rotatedAt := time.Now()
	s2, stop2 := start(t, dir, addr)
	tr := s2.TrustedRoot()
	if len(tr.CAs) != 2 {
		t.Fatalf("%d CAs in the trusted root after the rotation, want the old and the new", len(tr.CAs))
	}
	old, cur := tr.CAs[0], tr.CAs[1]
	if old.Valid.End.IsZero() || old.Valid.End.Before(rotatedAt.Add(-time.Second)) || old.Valid.End.After(time.Now().Add(time.Second)) {
		t.Errorf("old intermediate valid %s, want it to end at the restart (%s)", old.Valid, rotatedAt.Format(time.RFC3339))
	}
	if !cur.Valid.End.IsZero() || cur.Intermediates[0].Equal(old.Intermediates[0]) {
		t.Errorf("new intermediate valid %s, or not new", cur.Valid)
	}
	// What TUF serves is what the server serves.
	served, _ := tr.Marshal()
	published, err := server.TUFRepo(s2).Target("trusted_root.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(served, published) {
		t.Error("the TUF-published trusted root differs from the served one")
	}
	for i, raw := range before {
		b, err := bundle.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := verify.New(tr, verify.Options{}).Verify(b, art, policyFor(s2)); err != nil {
			t.Errorf("bundle %d signed before the rotation: %v", i, err)
		}
	}
	res, err := signer(t, s2, []uint32{1, 2}).SignBlob(context.Background(), bytes.NewReader(artifact))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verify.New(tr, verify.Options{}).Verify(res.Bundle, art, policyFor(s2)); err != nil {
		t.Errorf("bundle signed after the rotation: %v", err)
	}
	if err := res.Bundle.Certificate.CheckSignatureFrom(cur.Intermediates[0]); err != nil {
		t.Errorf("the certificate after the rotation is not from the new intermediate: %v", err)
	}
	stop2()
	s3, _ := start(t, dir, addr)
	again, _ := s3.TrustedRoot().Marshal()
	if !bytes.Equal(again, served) {
		t.Errorf("a second restart changed the trusted root:\n%s\n%s", served, again)
	}
}

// tlog.disableV1 (disableV2) leaves that API out of the signing config and
// out of the routes: it took entries from any client given its URL.
func TestDisabledLogAPIIsNotServed(t *testing.T) {
	for _, tc := range []struct {
		tlog          server.TLogConfig
		off, on       []string // GET paths
		offPost, onOK string
	}{
		{server.TLogConfig{DisableV1: true}, []string{"/api/v1/log", "/api/v1/log/publicKey", "/api/v1/log/entries?logIndex=0"}, []string{"/api/v2/checkpoint", "/checkpoint"}, "/api/v1/log/entries", "/api/v2/checkpoint"},
		{server.TLogConfig{DisableV2: true}, []string{"/api/v2/checkpoint", "/checkpoint", "/api/v2/tile/0/000", "/tile/entries/000"}, []string{"/api/v1/log", "/api/v2/trustBundle"}, "/api/v2/log/entries", "/api/v1/log"},
	} {
		s, err := server.New(context.Background(), server.Config{DataDir: t.TempDir(), Dev: true, TLog: tc.tlog}, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(s.Handler())
		for _, p := range tc.off {
			resp, err := http.Get(srv.URL + p)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(b), "disabled") {
				t.Errorf("%+v: GET %s: %d %s, want 404 saying the API is disabled", tc.tlog, p, resp.StatusCode, b)
			}
		}
		for _, p := range tc.on {
			resp, err := http.Get(srv.URL + p)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("%+v: GET %s: %d, want 200", tc.tlog, p, resp.StatusCode)
			}
		}
		resp, err := http.Post(srv.URL+tc.offPost, "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(b), "disabled") {
			t.Errorf("%+v: POST %s: %d %s, want 404 saying the API is disabled", tc.tlog, tc.offPost, resp.StatusCode, b)
		}
		srv.Close()
		s.Close()
	}
}

// TestDevCAPasswordFileMode: the dev CA's password file is created 0600
// even over a leftover file others could read.
func TestDevCAPasswordFileMode(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	pw := filepath.Join(dir, "ca", "password")
	if err := os.MkdirAll(filepath.Dir(pw), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pw, []byte("left over\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(pw, 0o644) //nolint:errcheck // whatever the umask
	_, stop := start(t, dir, "127.0.0.1:0")
	defer stop()
	fi, err := os.Stat(pw)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("dev CA password file mode %04o, want 0600", fi.Mode().Perm())
	}
}

// TestServedRootOmitsForeignEntries: a host that runs the CA, the logs and
// TUF, with its TSA on another host, keeps the TSA the ceremony published
// in what TUF publishes, but serves at /trusted_root.json only what it
// runs (and replaced). It served the published TSA too, so after the TSA
// host replaced its chain, "sigil tuf merge --previous" of the hosts'
// roots kept the replaced chain valid and open-ended beside the new one.
func TestServedRootOmitsForeignEntries(t *testing.T) {
	listen := func(addr string) net.Listener {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	lTSA := listen("127.0.0.1:0")
	tsaAddr := lTSA.Addr().String()
	tsaHost := servertest.StartConfig(t, server.Config{Dev: true, Services: []string{"tsa"}}, lTSA)
	dir := filepath.Join(t.TempDir(), "data")
	cfg := server.Config{DataDir: dir, Dev: true, Services: []string{"ca", "ct", "tlog", "tuf", "oidc"}, Remote: server.RemoteURLs{TSA: "http://" + tsaAddr}}
	lMain := listen("127.0.0.1:0")
	mainAddr := lMain.Addr().String()
	main := servertest.StartConfig(t, cfg, lMain)
	published, err := trust.MergeTrustedRoots(main.TrustedRoot(), tsaHost.TrustedRoot())
	if err != nil {
		t.Fatal(err)
	}
	main.Stop()
	// The ceremony (here the dev targets key) publishes the merged root.
	repo, err := tuf.New(tuf.Config{Dir: filepath.Join(dir, "tuf"), Dev: true})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := published.Marshal()
	if err := repo.SetTargets(map[string][]byte{tuf.TargetTrustedRoot: raw}); err != nil {
		t.Fatal(err)
	}
	main = servertest.StartConfig(t, cfg, listen(mainAddr))
	fromTUF, err := server.TUFRepo(main.Server).Target(tuf.TargetTrustedRoot)
	if err != nil {
		t.Fatal(err)
	}
	if tr, err := trust.ParseTrustedRoot(fromTUF); err != nil || len(tr.TSAs) != 1 {
		t.Fatalf("TUF publishes %v (%v), want the remote TSA kept", tr, err)
	}
	// remote.tsa was given as a base URL, as remote.ca and remote.tlog
	// are: the signing config names the TSA host's timestamp endpoint.
	if sc := main.SigningConfig(); len(sc.TSAs) != 1 || sc.TSAs[0].URL != "http://"+tsaAddr+"/api/v1/timestamp" {
		t.Errorf("signing config TSAs %+v, want http://%s/api/v1/timestamp", sc.TSAs, tsaAddr)
	}
	if n := len(main.TrustedRoot().TSAs); n != 0 {
		t.Errorf("the host serves %d TSAs at /trusted_root.json, want none (it runs none)", n)
	}

	// The TSA host replaces its chain; the ceremony merges both hosts'
	// roots with --previous: the old TSA ends now.
	tsaHost.Stop()
	tsaHost = servertest.StartConfig(t, server.Config{Dev: true, Services: []string{"tsa"}}, listen(tsaAddr))
	merged, err := trust.MergeTrustedRoots(main.TrustedRoot(), tsaHost.TrustedRoot())
	if err != nil {
		t.Fatal(err)
	}
	got, _ := trust.KeepRetired(merged, published, time.Now())
	if len(got.TSAs) != 2 {
		t.Fatalf("%d TSAs after the TSA's rotation, want the old and the new", len(got.TSAs))
	}
	for _, ts := range got.TSAs {
		if ts.Leaf.Equal(published.TSAs[0].Leaf) && ts.Valid.End.IsZero() {
			t.Errorf("the replaced TSA chain stays valid with no end: %s", ts.Valid)
		}
	}
}

// TestProductionRotationRestagesTheSameRoot: in production the trusted
// root that keeps a rotated CA waits for the ceremony in tuf/incoming. A
// restart before the ceremony stages it again with the old CA retired at
// the first start after the rotation; it retired it at each restart, so
// the end of a replaced (maybe compromised) key moved later every time and
// the file under review changed. After the ceremony, restarts change
// nothing.
func TestProductionRotationRestagesTheSameRoot(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	issuers := filepath.Join(dir, "issuers.json")
	os.WriteFile(issuers, []byte(`{"OIDCIssuers":{"https://issuer.example":{"IssuerURL":"https://issuer.example","ClientID":"sigstore","Type":"email"}}}`), 0o644)
	t.Setenv("SIGIL_TEST_CA_PW", "secret")
	cfg := server.Config{DataDir: data, Listen: "127.0.0.1:0", CA: server.CAConfig{Issuers: issuers, PasswordEnv: "SIGIL_TEST_CA_PW"}}
	start := func() {
		t.Helper()
		s, err := server.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
	run := func(args ...string) {
		t.Helper()
		var out, errOut bytes.Buffer
		if code := cli.Main(args, &out, &errOut); code != 0 {
			t.Fatalf("sigil %s: exit %d: %s", strings.Join(args, " "), code, errOut.String())
		}
	}
	repo := filepath.Join(data, "tuf")
	incoming := filepath.Join(repo, "incoming", "trusted_root.json")
	key := filepath.Join(dir, "offline.pem")
	ceremony := func(first bool) {
		t.Helper()
		if first {
			run("tuf", "keygen", "--out", key, "--plain")
			run("tuf", "init", "--repo", repo, "--root-key", key+".pub", "--targets-key", key+".pub",
				"--snapshot-key", filepath.Join(repo, "keys", "snapshot.pem.pub"), "--timestamp-key", filepath.Join(repo, "keys", "timestamp.pem.pub"))
		}
		run("tuf", "add-target", "--repo", repo, incoming)
		run("tuf", "sign", "--repo", repo, "--key", key)
		run("tuf", "publish", "--repo", repo)
	}
	start()
	ceremony(true)
	ca := filepath.Join(data, "ca")
	run("ca", "intermediate", "--root-cert", filepath.Join(ca, "root.pem"), "--root-key", filepath.Join(ca, "root-key.pem"),
		"--password-env", "SIGIL_TEST_CA_PW", "--dir", ca, "--force")
	start()
	staged, err := os.ReadFile(incoming)
	if err != nil {
		t.Fatal(err)
	}
	if tr, err := trust.ParseTrustedRoot(staged); err != nil || len(tr.CAs) != 2 || tr.CAs[0].Valid.End.IsZero() {
		t.Fatalf("staged after the rotation: %v, %v", tr, err)
	}
	time.Sleep(1100 * time.Millisecond) // a later second
	start()
	if again, _ := os.ReadFile(incoming); !bytes.Equal(again, staged) {
		t.Errorf("a restart before the ceremony staged another trusted root:\n%s\nthen\n%s", staged, again)
	}
	ceremony(false)
	info, _ := os.Stat(incoming)
	start()
	if after, _ := os.Stat(incoming); !after.ModTime().Equal(info.ModTime()) {
		t.Error("a restart after the ceremony staged the trusted root again")
	}
}

// TestUnreadablePublishedTrustedRootFailsStart: a published trusted root
// that does not read back (its bytes no longer match the TUF targets) stops
// the start, rather than being replaced by one without the retired keys it
// keeps (the TUF repository refuses it first; keepRetiredTrust would too).
func TestUnreadablePublishedTrustedRootFailsStart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s, stop := start(t, dir, "127.0.0.1:0")
	addr := strings.TrimPrefix(s.PublicURL(), "http://")
	stop()
	files, _ := filepath.Glob(filepath.Join(dir, "tuf", "repository", "targets", "*.trusted_root.json"))
	if len(files) == 0 {
		t.Fatal("no published trusted root")
	}
	for _, f := range files {
		if err := os.WriteFile(f, []byte(`{"mediaType":"tampered"}`), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, err := server.New(context.Background(), server.Config{DataDir: dir, Dev: true, Listen: addr}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil || !strings.Contains(err.Error(), "trusted_root.json") {
		t.Fatalf("start over a tampered published trusted root: %v", err)
	}
}

// TestLoadConfigEmpty: an empty configuration file (or one of comments
// only) says so; it failed with a bare "EOF".
func TestLoadConfigEmpty(t *testing.T) {
	for _, body := range []string{"", "# nothing yet\n"} {
		p := filepath.Join(t.TempDir(), "server.yaml")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := server.LoadConfig(p); err == nil || !strings.Contains(err.Error(), "it is empty") {
			t.Errorf("%q: %v", body, err)
		}
	}
}

// remote.tsa: a base URL (no path) names a sigil server's endpoint; any
// path, "/" included, is the endpoint itself, so that a TSA served at the
// root of its host can be named (a "/" was rewritten too, leaving no way).
func TestTSAEndpoint(t *testing.T) {
	for in, want := range map[string]string{
		"http://tsa.example":                  "http://tsa.example/api/v1/timestamp",
		"http://tsa.example:8080":             "http://tsa.example:8080/api/v1/timestamp",
		"http://timestamp.example/":           "http://timestamp.example/",
		"http://tsa.example/api/v1/timestamp": "http://tsa.example/api/v1/timestamp",
		"http://tsa.example/tsr":              "http://tsa.example/tsr",
		"http://tsa.example?profile=sigstore": "http://tsa.example?profile=sigstore",
	} {
		if got := server.TSAEndpoint(in); got != want {
			t.Errorf("tsaEndpoint(%q) = %q, want %q", in, got, want)
		}
	}
}
