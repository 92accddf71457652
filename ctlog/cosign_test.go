package ctlog

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigil.dev/sigil/internal/testpki"
	"sigil.dev/sigil/sct"
	"sigil.dev/sigil/trust"
)

// TestCosignAcceptsLoggedSCT hands cosign v2.6.5 (an outside oracle,
// installed by .ci/install-cosign.sh) a bundle whose certificate embeds an
// SCT from this log, and a trusted root listing the log as TrustedLog
// describes it: cosign's verifier (sigstore-go, which checks SCTs with
// certificate-transparency-go) must accept it, and refuse it when the
// trusted root lists another CT key.
func TestCosignAcceptsLoggedSCT(t *testing.T) {
	cosign := outsideTool(t, "cosign", ".ci/install-cosign.sh")
	e := newEnv(t, Config{})
	srv := newServer(t, e)
	client := &Client{URL: srv.URL + "/ct"}
	content := []byte("a release whose certificate was logged in sigil's CT log\n")
	signed, err := e.pki.Sign(content, testpki.SignOptions{Leaf: testpki.LeafOptions{
		SubmitPrecert: func(chain [][]byte) (*sct.SCT, error) { return client.AddPreChain(context.Background(), chain) },
	}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	artifact := write("artifact.txt", content)
	raw, err := signed.Bundle.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	bundlePath := write("artifact.sigstore.json", raw)
	tl, err := e.svc.TrustedLog()
	if err != nil {
		t.Fatal(err)
	}
	tr, err := e.pki.TrustedRoot()
	if err != nil {
		t.Fatal(err)
	}
	otherCT := tr.CTLogs
	tr.CTLogs = map[string]*trust.Log{tl.HexID(): tl}
	raw, err = tr.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	withLog := write("trusted_root.json", raw)
	tr.CTLogs = otherCT
	raw, _ = tr.Marshal()
	withoutLog := write("other_trusted_root.json", raw)

	verifyArgs := func(root string) []string {
		return []string{"verify-blob", "--bundle", bundlePath, "--new-bundle-format", "--trusted-root", root,
			"--certificate-identity", testpki.DefaultIdentity.URI,
			"--certificate-oidc-issuer", testpki.DefaultIdentity.Issuer, artifact}
	}
	out, err := runTool(t, cosign, verifyArgs(withLog)...)
	if err != nil || !strings.Contains(out, "Verified OK") {
		t.Fatalf("cosign verify-blob with the log in the trusted root: %v\n%s", err, out)
	}
	out, err = runTool(t, cosign, verifyArgs(withoutLog)...)
	if err == nil {
		t.Fatalf("cosign accepted the SCT without the log in the trusted root:\n%s", out)
	}
	if !strings.Contains(strings.ToLower(out), "sct") {
		t.Errorf("cosign refused for a reason that does not name the SCT:\n%s", out)
	}
	t.Logf("cosign without the log: %s", strings.TrimSpace(out))
}

// outsideTool finds an outside program on PATH or in $(go env GOPATH)/bin;
// when it is missing the test fails under CI and skips otherwise.
func outsideTool(t *testing.T, name, script string) string {
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

// runTool runs a program in an environment that holds nothing but its own
// HOME (no TUF cache, no credentials).
func runTool(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	home := t.TempDir()
	cmd := exec.Command(name, args...)
	cmd.Env = []string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "TUF_ROOT=" + filepath.Join(home, "tuf"), "SIGSTORE_NO_CACHE=true"}
	cmd.Dir = home
	out, err := cmd.CombinedOutput()
	return string(out), err
}
