package tsa

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigil.dev/sigil/bundle"
	"sigil.dev/sigil/internal/oracle"
	"sigil.dev/sigil/internal/testpki"
	"sigil.dev/sigil/trust"
	"sigil.dev/sigil/verify"
)

type cosignRunner struct {
	t   *testing.T
	bin string
	dir string
	env []string
}

func newCosign(t *testing.T, name string) *cosignRunner {
	bin := oracle.Find(t, name, ".ci/install-cosign.sh")
	dir := t.TempDir()
	return &cosignRunner{t: t, bin: bin, dir: dir, env: append(os.Environ(), "HOME="+dir, "TUF_ROOT="+filepath.Join(dir, "tuf"), "COSIGN_PASSWORD=", "COSIGN_YES=true")}
}

func (c *cosignRunner) run(args ...string) (string, error) {
	cmd := exec.Command(c.bin, args...)
	cmd.Env, cmd.Dir = c.env, c.dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func (c *cosignRunner) must(args ...string) string {
	c.t.Helper()
	out, err := c.run(args...)
	if err != nil {
		c.t.Fatalf("%s %s: %v\n%s", filepath.Base(c.bin), strings.Join(args, " "), err, out)
	}
	return out
}

func (c *cosignRunner) path(name string) string { return filepath.Join(c.dir, name) }

// keyPair makes a cosign key pair and returns the public key.
func (c *cosignRunner) keyPair() any {
	c.t.Helper()
	c.must("generate-key-pair", "--output-key-prefix", c.path("k"))
	raw, err := os.ReadFile(c.path("k.pub"))
	if err != nil {
		c.t.Fatal(err)
	}
	blk, _ := pem.Decode(raw)
	pub, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		c.t.Fatal(err)
	}
	return pub
}

// writeTSARoot writes a trusted root listing only tsa.
func writeTSARoot(t *testing.T, path string, tsa *trust.CA) *trust.TrustedRoot {
	t.Helper()
	tr := &trust.TrustedRoot{MediaType: trust.TrustedRootMediaTypeLegacy, TSAs: []*trust.CA{tsa}}
	b, err := tr.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return tr
}

// TestCosignV2Timestamps: cosign v2.6.5 gets RFC 3161 timestamps from this
// TSA (--timestamp-server-url) for a key-signed blob without a log, and
// verifies them (--use-signed-timestamps): in the detached form against
// the chain from /api/v1/timestamp/certchain, and in a bundle against a
// trusted root built from TrustedTSA — which sigil's verifier accepts too.
// A trusted root listing another TSA is refused.
func TestCosignV2Timestamps(t *testing.T) {
	c := newCosign(t, "cosign")
	s, srv := newTestTSA(t, nil)
	pub := c.keyPair()
	content := []byte("a blob to timestamp\n")
	blob := c.path("blob.txt")
	os.WriteFile(blob, content, 0o644)
	os.WriteFile(c.path("chain.pem"), s.ChainPEM(), 0o644)
	tsaURL := srv.URL + "/api/v1/timestamp"

	c.must("sign-blob", "--key", c.path("k.key"), "--tlog-upload=false", "--timestamp-server-url", tsaURL,
		"--rfc3161-timestamp", c.path("ts.der"), "--output-signature", c.path("blob.sig"), blob)
	c.must("verify-blob", "--key", c.path("k.pub"), "--signature", c.path("blob.sig"), "--rfc3161-timestamp", c.path("ts.der"),
		"--timestamp-certificate-chain", c.path("chain.pem"), "--use-signed-timestamps", "--insecure-ignore-tlog", blob)

	c.must("sign-blob", "--key", c.path("k.key"), "--tlog-upload=false", "--timestamp-server-url", tsaURL,
		"--new-bundle-format", "--bundle", c.path("blob.sigstore.json"), blob)
	ca, err := s.TrustedTSA()
	if err != nil {
		t.Fatal(err)
	}
	tr := writeTSARoot(t, c.path("trusted_root.json"), ca)
	c.must("verify-blob", "--key", c.path("k.pub"), "--bundle", c.path("blob.sigstore.json"), "--new-bundle-format",
		"--trusted-root", c.path("trusted_root.json"), "--use-signed-timestamps", "--insecure-ignore-tlog", blob)

	// sigil's verifier on cosign's bundle.
	raw, err := os.ReadFile(c.path("blob.sigstore.json"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := bundle.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Timestamps) != 1 {
		t.Fatalf("cosign's bundle carries %d timestamps", len(b.Timestamps))
	}
	art := verify.Artifact{Open: func() (verify.ReadCloser, error) { return io.NopCloser(bytes.NewReader(content)), nil }}
	res, err := verify.New(tr, verify.Options{TlogThreshold: verify.Off}).Verify(b, art, verify.Policy{Key: pub})
	if err != nil {
		t.Fatalf("sigil verify of cosign's bundle: %v", err)
	}
	if len(res.VerifiedTimestamps) != 1 || res.VerifiedTimestamps[0].Type != "TimestampAuthority" || time.Since(res.VerifiedTimestamps[0].Timestamp) > time.Minute {
		t.Errorf("verified times %+v", res.VerifiedTimestamps)
	}

	// Another TSA in the trusted root: refused.
	p, err := testpki.New(testpki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	other, err := trust.NewCA([]*x509.Certificate{p.TSACrt, p.TSARoot}, trust.Window{Start: p.Start}, true)
	if err != nil {
		t.Fatal(err)
	}
	writeTSARoot(t, c.path("other_root.json"), other)
	if out, err := c.run("verify-blob", "--key", c.path("k.pub"), "--bundle", c.path("blob.sigstore.json"), "--new-bundle-format",
		"--trusted-root", c.path("other_root.json"), "--use-signed-timestamps", "--insecure-ignore-tlog", blob); err == nil {
		t.Fatalf("cosign verified against another TSA:\n%s", out)
	}
}

// TestCosignV3Timestamps: cosign v3.1.3 takes the TSA from a signing config
// (the way sigil server will publish it) and verifies the timestamped
// bundle against a trusted root built from TrustedTSA.
func TestCosignV3Timestamps(t *testing.T) {
	c := newCosign(t, "cosign3")
	s, srv := newTestTSA(t, nil)
	c.keyPair()
	blob := c.path("blob.txt")
	os.WriteFile(blob, []byte("a blob to timestamp with cosign v3\n"), 0o644)
	sc := &trust.SigningConfig{
		TSAs:      []trust.Service{{URL: srv.URL + "/api/v1/timestamp", MajorAPIVersion: 1, Valid: trust.Window{Start: time.Now().Add(-time.Hour)}}},
		TSAConfig: trust.ServiceConfig{Selector: trust.SelectAny},
	}
	scJSON, err := sc.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(c.path("signing_config.json"), scJSON, 0o644)
	ca, err := s.TrustedTSA()
	if err != nil {
		t.Fatal(err)
	}
	writeTSARoot(t, c.path("trusted_root.json"), ca)
	// A signing config without logs means no log upload (cosign v3 refuses
	// --tlog-upload=false with a signing config); the trusted root is
	// given so that cosign does not look for the public one.
	c.must("sign-blob", "--key", c.path("k.key"), "--signing-config", c.path("signing_config.json"),
		"--trusted-root", c.path("trusted_root.json"), "--bundle", c.path("blob.sigstore.json"), blob)
	raw, _ := os.ReadFile(c.path("blob.sigstore.json"))
	if b, err := bundle.Parse(raw); err != nil || len(b.Timestamps) != 1 {
		t.Fatalf("cosign v3 bundle: %v, %d timestamps", err, len(b.Timestamps))
	}
	c.must("verify-blob", "--key", c.path("k.pub"), "--bundle", c.path("blob.sigstore.json"),
		"--trusted-root", c.path("trusted_root.json"), "--use-signed-timestamps", "--insecure-ignore-tlog", blob)
}
