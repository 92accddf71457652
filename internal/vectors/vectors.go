// Package vectors locates and describes the Sigstore conformance
// verification vectors kept in ../shared/conformance beside the repository
// (read in place, never copied), with the judging rules of
// sigstore-conformance test/client.py BundleMaterials.from_dir.
package vectors

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// Defaults of the suite.
const (
	DefaultIdentity = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
	DefaultIssuer   = "https://token.actions.githubusercontent.com"
)

// Case is one vector directory.
type Case struct {
	Name        string
	Dir         string
	Bundle      string
	Artifact    string
	TrustedRoot string
	// DefaultRoot: the case has no trusted_root.json, so TrustedRoot is
	// the production root, which the suite does not pass to the client
	// (a client is expected to fetch it from the public-good TUF
	// repository).
	DefaultRoot bool
	Identity    string
	Issuer      string
	Key         string // path of key.pub, or ""
	ShouldFail  bool
}

// ArtifactDigest returns "sha256:<hex>" of the artifact.
func (c Case) ArtifactDigest() (string, error) {
	b, err := os.ReadFile(c.Artifact)
	if err != nil {
		return "", err
	}
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:]), nil
}

// Dir returns the conformance directory: $SIGIL_CONFORMANCE_DIR, or
// ../shared/conformance relative to the module root.
func Dir() (string, error) {
	if d := os.Getenv("SIGIL_CONFORMANCE_DIR"); d != "" {
		return d, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			c := filepath.Join(filepath.Dir(d), "shared", "conformance")
			if _, err := os.Stat(filepath.Join(c, "bundle-verify")); err != nil {
				return "", errors.New("conformance vectors not found at " + c)
			}
			return c, nil
		}
		if filepath.Dir(d) == d {
			return "", errors.New("module root not found")
		}
	}
}

// Require returns the conformance directory or, when it is missing, fails
// the test under CI (CI is set) and skips it elsewhere with how to enable it.
func Require(t testing.TB) string {
	t.Helper()
	d, err := Dir()
	if err == nil {
		return d
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("conformance vectors are required in CI: %v", err)
	}
	t.Skipf("%v: check out the shared directory beside the repository (../shared) or set SIGIL_CONFORMANCE_DIR to run these tests", err)
	return ""
}

// Cases lists every vector of bundle-verify.
func Cases(dir string) ([]Case, error) {
	bv := filepath.Join(dir, "bundle-verify")
	ents, err := os.ReadDir(bv)
	if err != nil {
		return nil, err
	}
	var out []Case
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		d := filepath.Join(bv, e.Name())
		c := Case{
			Name:        e.Name(),
			Dir:         d,
			Bundle:      filepath.Join(d, "bundle.sigstore.json"),
			Artifact:    filepath.Join(bv, "a.txt"),
			TrustedRoot: filepath.Join(dir, "production_trusted_root.json"),
			DefaultRoot: true,
			Identity:    DefaultIdentity,
			Issuer:      DefaultIssuer,
			ShouldFail:  strings.HasSuffix(e.Name(), "_fail"),
		}
		if exists(filepath.Join(d, "artifact")) {
			c.Artifact = filepath.Join(d, "artifact")
		}
		if exists(filepath.Join(d, "trusted_root.json")) {
			c.TrustedRoot = filepath.Join(d, "trusted_root.json")
			c.DefaultRoot = false
		}
		if b, err := os.ReadFile(filepath.Join(d, "identity")); err == nil {
			c.Identity = strings.TrimSpace(string(b))
		}
		if b, err := os.ReadFile(filepath.Join(d, "issuer")); err == nil {
			c.Issuer = strings.TrimSpace(string(b))
		}
		if exists(filepath.Join(d, "key.pub")) {
			c.Key = filepath.Join(d, "key.pub")
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
