package gitsign_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigil.dev/sigil/gitsign"
	"sigil.dev/sigil/internal/vectors"
	"sigil.dev/sigil/trust"
	"sigil.dev/sigil/verify"
)

// gitsignTestdata returns a file of gitsign's own test data: the module
// that .ci/install-gitsign.sh downloads into the module cache carries
// commits gitsign signed against the public Sigstore instance. sigil's
// repository holds no copy of them.
func gitsignTestdata(t *testing.T, name string) []byte {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err == nil {
		p := filepath.Join(strings.TrimSpace(string(out)), "github.com", "sigstore", "gitsign@v0.17.1", filepath.FromSlash(name))
		if b, err := os.ReadFile(p); err == nil {
			return b
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("gitsign's module is not in the module cache: .ci/install-gitsign.sh should have downloaded it")
	}
	t.Skip("gitsign's module is not in the module cache: run .ci/install-gitsign.sh")
	return nil
}

// A commit gitsign signed in offline mode against the public Sigstore
// instance in 2023 verifies with the public trusted root, years after its
// certificate expired, without network.
func TestVerifyPublicGoodGitsignCommit(t *testing.T) {
	dir := vectors.Require(t)
	raw, err := os.ReadFile(filepath.Join(dir, "production_trusted_root.json"))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := trust.ParseTrustedRoot(raw)
	if err != nil {
		t.Fatal(err)
	}
	payload, sig, err := gitsign.SplitCommit(gitsignTestdata(t, "internal/e2e/testdata/offline.commit"))
	if err != nil {
		t.Fatal(err)
	}
	san, _ := verify.NewMatcher("billy@chainguard.dev", "")
	v := &gitsign.Verifier{TrustedRoot: tr, Identities: []verify.Identity{{SubjectAlternativeName: san, Issuer: verify.Matcher{Exact: "https://accounts.google.com"}}}}
	res, err := v.Verify(context.Background(), payload, sig)
	if err != nil {
		t.Fatal(err)
	}
	if res.Online || len(res.Verified.TlogEntries) != 1 || res.Time.Year() != 2023 {
		t.Fatalf("result %+v", res)
	}
	// Changing one byte of the commit breaks it.
	if _, err := v.Verify(context.Background(), append(payload[:len(payload)-1:len(payload)-1], '!'), sig); err == nil {
		t.Fatal("a changed commit verified")
	}
}
