package cli

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	stdlog "log"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigil.dev/sigil/cert"
	"sigil.dev/sigil/ctlog"
	"sigil.dev/sigil/internal/testpki"
)

// TestCTLogServe runs "sigil ctlog serve" on a loopback port, submits a
// precertificate, reads the checkpoint, and stops it as SIGTERM would.
func TestCTLogServe(t *testing.T) {
	p, err := testpki.New(testpki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	roots := filepath.Join(dir, "root.pem")
	if err := os.WriteFile(roots, testpki.PEM(p.Root), 0o644); err != nil {
		t.Fatal(err)
	}
	pubOut := filepath.Join(dir, "pubkey.pem")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	var stderr bytes.Buffer
	root := newRoot(pw, &stderr)
	root.SetArgs([]string{"ctlog", "serve", "--data-dir", filepath.Join(dir, "ct"), "--roots", roots,
		"--listen", "127.0.0.1:0", "--public-url", "http://ct.sigil.test/2026", "--public-key-out", pubOut})
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx); pw.Close() }()

	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("no start line: %v (%s)", err, stderr.String())
	}
	go io.Copy(io.Discard, pr)
	// "CT log ct.sigil.test/2026 listening on 127.0.0.1:PORT (log ID …)"
	f := strings.Fields(line)
	if len(f) < 6 || f[2] != "ct.sigil.test/2026" {
		t.Fatalf("start line %q", line)
	}
	base := "http://" + f[5] + "/2026"

	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(10 * time.Minute),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		EmailAddresses:  []string{"alice@sigil.test"},
		ExtraExtensions: []pkix.Extension{{Id: cert.OIDPrecertPoison, Critical: true, Value: []byte{5, 0}}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.Intermediate, p.CTKey.Public(), p.IntermediateKey)
	if err != nil {
		t.Fatal(err)
	}
	s, err := (&ctlog.Client{URL: base}).AddPreChain(ctx, [][]byte{der, p.Intermediate.Raw, p.Root.Raw})
	if err != nil {
		t.Fatalf("add-pre-chain: %v", err)
	}
	if idx, err := ctlog.ParseLeafIndex(s.Extensions); err != nil || idx != 0 {
		t.Errorf("leaf index %d, %v", idx, err)
	}
	if pem, err := os.ReadFile(pubOut); err != nil || !strings.Contains(string(pem), "PUBLIC KEY") {
		t.Errorf("public key file: %v", err)
	}
	for _, path := range []string{"/healthz", "/readyz", "/metrics", "/2026/ct/v1/get-roots"} {
		resp, err := http.Get("http://" + f[5] + path)
		if err != nil || resp.StatusCode != 200 {
			t.Errorf("GET %s: %v %v", path, err, resp)
		}
		if resp != nil {
			resp.Body.Close()
		}
	}

	// net/http reports a handler's panic or an accept error through the
	// log package (no ErrorLog): it reaches the WARN-level log.
	stdlog.Print("sigil-test: a message through the log package")

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve returned %v", err)
		}
		if !strings.Contains(stderr.String(), "sigil-test: a message through the log package") {
			t.Errorf("a message through the log package was lost: %s", stderr.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatal("serve did not stop")
	}
	// Stopping published a checkpoint covering the entry.
	cp, err := os.ReadFile(filepath.Join(dir, "ct", "log", "checkpoint"))
	if err != nil || !strings.HasPrefix(string(cp), "ct.sigil.test/2026\n1\n") {
		t.Errorf("checkpoint after stop: %q, %v", cp, err)
	}
}

// TestCTLogServeNeedsRoots: without --roots, serve says so; it failed
// with "couldn't read certificates: open : no such file or directory".
func TestCTLogServeNeedsRoots(t *testing.T) {
	code, _, errOut := run("ctlog", "serve", "--data-dir", filepath.Join(t.TempDir(), "ct"), "--listen", "127.0.0.1:0")
	if code == 0 || !strings.Contains(errOut, "no --roots") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
}

// TestServeRefusesEveryInterfaceWithoutPublicURL: ctlog serve and ca serve
// default the public URL to http://LISTEN, so --listen 0.0.0.0:… made
// http://0.0.0.0:…/ct the CT log's identity for good (and the CA's URL in
// the trusted root); sigil server refuses the same. The port does not
// parse as one, so nothing is bound even where the refusal is missing.
func TestServeRefusesEveryInterfaceWithoutPublicURL(t *testing.T) {
	dir := t.TempDir()
	if code, _, errOut := run("ca", "init", "--dir", filepath.Join(dir, "ca")); code != 0 {
		t.Fatal(errOut)
	}
	issuers := filepath.Join(dir, "issuers.yaml")
	os.WriteFile(issuers, []byte("oidc-issuers:\n  https://issuer.example:\n    type: email\n"), 0o644) //nolint:errcheck
	for _, listen := range []string{"0.0.0.0:99999", "[::]:99999", ":99999"} {
		code, _, errOut := run("ctlog", "serve", "--data-dir", filepath.Join(dir, "ct"), "--roots", filepath.Join(dir, "ca", "root.pem"), "--listen", listen)
		if code == 0 || !strings.Contains(errOut, "give --public-url") {
			t.Errorf("ctlog serve --listen %s: exit %d: %s", listen, code, errOut)
		}
		code, _, errOut = run("ca", "serve", "--listen", listen, "--chain", filepath.Join(dir, "ca", "chain.pem"), "--key", filepath.Join(dir, "ca", "intermediate-key.pem"),
			"--password-file", filepath.Join(dir, "ca", "password"), "--oidc-config", issuers)
		if code == 0 || !strings.Contains(errOut, "give --public-url") {
			t.Errorf("ca serve --listen %s: exit %d: %s", listen, code, errOut)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "ct")); !os.IsNotExist(err) {
		t.Errorf("a refused ctlog serve created its data directory (%v)", err)
	}
}
