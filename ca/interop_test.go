package ca_test

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"

	"sigil.dev/sigil/bundle"
	"sigil.dev/sigil/internal/testpki"
	"sigil.dev/sigil/rekor"
	"sigil.dev/sigil/trust"
	"sigil.dev/sigil/verify"
)

// Interop with cosign (outside oracles installed by .ci/install-cosign.sh):
// cosign obtains a certificate from sigil's CA and signs a blob; the test
// logs the signature in a test Rekor v1 log (the project's log service is
// built elsewhere) and has cosign verify the whole bundle against a
// trusted root naming sigil's CA and CT key: chain, SCT, log entry and
// identity as cosign checks them.

// tool finds an outside program on PATH or in $(go env GOPATH)/bin.
func tool(t *testing.T, name, script string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(out)), "bin", name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s not found; CI must run %s", name, script)
	}
	t.Skipf("%s not found; run %s to install it", name, script)
	return ""
}

// cosignEnv is an environment in which cosign looks at nothing but what the
// test gives it: its own HOME (no TUF cache), no ambient credentials.
func cosignEnv(t *testing.T, extra ...string) []string {
	home := t.TempDir()
	env := []string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "TUF_ROOT=" + filepath.Join(home, "tuf"), "SIGSTORE_NO_CACHE=true"}
	return append(env, extra...)
}

func run(t *testing.T, env []string, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = env
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// files writes the trusted root and the CT public key for e.
func files(t *testing.T, e *env) (dir, rootPath, ctPub string) {
	t.Helper()
	dir = t.TempDir()
	tr := trustedRoot(t, e)
	raw, err := tr.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	rootPath = filepath.Join(dir, "trusted_root.json")
	ctPub = filepath.Join(dir, "ct.pub")
	os.WriteFile(rootPath, raw, 0o644)
	os.WriteFile(ctPub, testpki.PublicKeyPEM(e.ct.key.Public()), 0o644)
	return dir, rootPath, ctPub
}

// logBundle logs (cert, sig over artifact) in the test Rekor v1 log and
// returns a v0.3 bundle file.
func logBundle(t *testing.T, e *env, dir string, leaf *x509.Certificate, sig, artifact []byte) string {
	t.Helper()
	d := sha256.Sum256(artifact)
	body := rekor.HashedRekordV001(crypto.SHA256, d[:], sig, testpki.PEM(leaf))
	i := e.pki.RekorV1.Append(body)
	entry, err := e.pki.RekorV1.Entry(i, body, testpki.EntryOptions{Kind: rekor.KindHashedRekord, Version: rekor.VersionHashedRekordV1})
	if err != nil {
		t.Fatal(err)
	}
	b, err := bundle.New(leaf.Raw, nil, &bundle.MessageSignature{DigestAlgorithm: crypto.SHA256, Digest: d[:], Signature: sig}, nil, []*protorekor.TransparencyLogEntry{entry}, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := b.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "artifact.sigstore.json")
	os.WriteFile(p, raw, 0o644)
	return p
}

func TestCosignV2(t *testing.T) {
	cosign := tool(t, "cosign", ".ci/install-cosign.sh")
	for _, detached := range []bool{false, true} {
		name := "embedded SCT"
		if detached {
			name = "detached SCT"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, envOptions{detached: detached})
			dir, tr, ctPub := files(t, e)
			artifact := filepath.Join(dir, "artifact.txt")
			content := []byte("signed by cosign v2 with a certificate from sigil\n")
			os.WriteFile(artifact, content, 0o644)
			certOut, sigOut := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "artifact.sig")
			env := cosignEnv(t, "SIGSTORE_CT_LOG_PUBLIC_KEY_FILE="+ctPub)
			args := []string{"sign-blob", "--yes", "--fulcio-url", e.srv.URL, "--identity-token", e.emailToken(),
				"--tlog-upload=false", "--output-certificate", certOut, "--output-signature", sigOut}
			if !detached {
				// With a trusted root cosign checks the embedded SCT with
				// sigstore-go's verifier; the detached SCT is checked with
				// SIGSTORE_CT_LOG_PUBLIC_KEY_FILE.
				args = append(args, "--trusted-root", tr)
			}
			out, err := run(t, env, cosign, append(args, artifact)...)
			if err != nil {
				t.Fatalf("cosign sign-blob: %v\n%s", err, out)
			}
			if !strings.Contains(out, "Successfully verified SCT") {
				t.Fatalf("cosign did not verify the SCT:\n%s", out)
			}
			if n := e.ct.submissions(); n != 1 {
				t.Fatalf("%d CT submissions", n)
			}
			if n := issued(t, e, "v1"); n != 1 {
				t.Fatalf("cosign v2 got %d certificates through the v1 API", n)
			}
			leaf := readCert(t, certOut)
			sig := readSig(t, sigOut)
			b := logBundle(t, e, dir, leaf, sig, content)

			verifyArgs := []string{"verify-blob", "--bundle", b, "--new-bundle-format", "--trusted-root", tr,
				"--certificate-identity", "alice@example.com", "--certificate-oidc-issuer", e.iss.URL}
			if detached {
				// Verifiers check embedded SCTs only.
				verifyArgs = append(verifyArgs, "--insecure-ignore-sct")
			}
			out, err = run(t, env, cosign, append(verifyArgs, artifact)...)
			if err != nil || !strings.Contains(out, "Verified OK") {
				t.Fatalf("cosign verify-blob: %v\n%s", err, out)
			}
			t.Logf("cosign verify-blob: %s", strings.TrimSpace(out))
			bad := withIdentity(verifyArgs, "mallory@example.com")
			if out, err := run(t, env, cosign, append(bad, artifact)...); err == nil || !strings.Contains(out, "mallory@example.com") {
				t.Fatalf("cosign accepted a wrong identity, or failed for another reason (%v):\n%s", err, out)
			}
		})
	}
}

func TestCosignV3(t *testing.T) {
	cosign := tool(t, "cosign3", ".ci/install-cosign.sh")
	e := newEnv(t, envOptions{})
	dir, tr, _ := files(t, e)
	// A signing config with the CA only: cosign v3 refuses --tlog-upload=false
	// and asks for a signing config without a log instead.
	sc := &trust.SigningConfig{CAs: []trust.Service{{URL: e.srv.URL, MajorAPIVersion: 1, Valid: trust.Window{Start: time.Now().Add(-time.Hour)}}}}
	raw, err := sc.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	scPath := filepath.Join(dir, "signing_config.json")
	os.WriteFile(scPath, raw, 0o644)
	artifact := filepath.Join(dir, "artifact.txt")
	content := []byte("signed by cosign v3 through the v2 API\n")
	os.WriteFile(artifact, content, 0o644)
	out := filepath.Join(dir, "cosign.sigstore.json")
	env := cosignEnv(t)
	if o, err := run(t, env, cosign, "sign-blob", "--yes", "--bundle", out, "--signing-config", scPath, "--trusted-root", tr,
		"--identity-token", e.emailToken(), artifact); err != nil {
		t.Fatalf("cosign v3 sign-blob: %v\n%s", err, o)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := bundle.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if signed.Certificate == nil || len(e.ct.preChains) != 1 {
		t.Fatalf("bundle has no certificate, or the CA was not used (%d CT submissions)", len(e.ct.preChains))
	}
	if n := issued(t, e, "v2"); n != 1 {
		t.Fatalf("cosign v3 got %d certificates through the v2 API", n)
	}
	bundlePath := logBundle(t, e, dir, signed.Certificate, signed.Signature(), content)
	verifyArgs := []string{"verify-blob", "--bundle", bundlePath, "--trusted-root", tr,
		"--certificate-identity", "alice@example.com", "--certificate-oidc-issuer", e.iss.URL, artifact}
	if o, err := run(t, env, cosign, verifyArgs...); err != nil || !strings.Contains(o, "Verified OK") {
		t.Fatalf("cosign v3 verify-blob: %v\n%s", err, o)
	}
	bad := withIdentity(verifyArgs, "mallory@example.com")
	if o, err := run(t, env, cosign, bad...); err == nil || !strings.Contains(o, "mallory@example.com") {
		t.Fatalf("cosign v3 accepted a wrong identity, or failed for another reason (%v):\n%s", err, o)
	}
	// The project's verifier agrees.
	lb, _ := os.ReadFile(bundlePath)
	pb, err := bundle.Parse(lb)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verify.New(trustedRoot(t, e), verify.Options{}).Verify(pb, verify.Artifact{Open: openBytes(content)}, verify.Policy{Identities: []verify.Identity{{
		SubjectAlternativeName: verify.Matcher{Exact: "alice@example.com"}, Issuer: verify.Matcher{Exact: e.iss.URL},
	}}}); err != nil {
		t.Fatal(err)
	}
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// cosign v2 writes the PEM base64-encoded.
	if d, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b))); err == nil {
		b = d
	}
	block, _ := pem.Decode(b)
	if block == nil {
		t.Fatalf("no PEM in %s: %q", path, b)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func readSig(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// issued returns how many certificates the CA issued through an API version.
func issued(t *testing.T, e *env, api string) int {
	t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, mf := range mfs {
		if mf.GetName() != "sigil_ca_certificates_issued_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "api" && l.GetValue() == api {
					n += int(m.GetCounter().GetValue())
				}
			}
		}
	}
	return n
}

// withIdentity returns args with the value of --certificate-identity
// replaced.
func withIdentity(args []string, id string) []string {
	out := append([]string{}, args...)
	for i := range out[:len(out)-1] {
		if out[i] == "--certificate-identity" {
			out[i+1] = id
		}
	}
	return out
}
