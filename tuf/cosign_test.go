package tuf

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigil.dev/sigil/internal/oracle"
	"sigil.dev/sigil/internal/testpki"
	"sigil.dev/sigil/trust"
)

// signedBlob is an artifact with a bundle from a test trust domain and
// that domain's trusted root.
type signedBlob struct {
	artifact, bundle string
	root             []byte
}

func newSignedBlob(t *testing.T, dir, name string) signedBlob {
	t.Helper()
	p, err := testpki.New(testpki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	content := []byte("artifact " + name + "\n")
	s, err := p.Sign(content, testpki.SignOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Bundle.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	tr, err := p.TrustedRoot()
	if err != nil {
		t.Fatal(err)
	}
	root, err := tr.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	sb := signedBlob{artifact: filepath.Join(dir, name+".txt"), bundle: filepath.Join(dir, name+".sigstore.json"), root: root}
	if err := os.WriteFile(sb.artifact, content, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sb.bundle, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return sb
}

// TestCosignInitializeFollowsRotation: cosign v3 (go-tuf through
// sigstore-go) initializes from the repository this package serves, then —
// after the root keys are rotated with the ceremony API and a new trusted
// root is published — verifies a bundle that only the new trusted root
// accepts, so it followed the rotation and took the new target.
func TestCosignInitializeFollowsRotation(t *testing.T) {
	cosign := oracle.Find(t, "cosign3", ".ci/install-cosign.sh")
	dir := t.TempDir()
	tufRoot := filepath.Join(dir, "cosign-tuf")
	env := append(os.Environ(), "TUF_ROOT="+tufRoot, "HOME="+dir, "TUF_MIRROR=", "TUF_ROOT_JSON=")
	run := func(args ...string) (string, error) {
		cmd := exec.Command(cosign, args...)
		cmd.Env = env
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err
	}

	s, err := New(Config{Dir: filepath.Join(dir, "tuf"), Dev: true})
	if err != nil {
		t.Fatal(err)
	}
	a, b := newSignedBlob(t, dir, "a"), newSignedBlob(t, dir, "b")
	sc := &trust.SigningConfig{
		TSAs:      []trust.Service{{URL: "https://tsa.sigil.test/api/v1/timestamp", MajorAPIVersion: 1, Valid: trust.Window{Start: time.Now().Add(-time.Hour)}}},
		TSAConfig: trust.ServiceConfig{Selector: trust.SelectAny},
	}
	scJSON, err := sc.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetTargets(map[string][]byte{TargetTrustedRoot: a.root, TargetSigningConfig: scJSON}); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/tuf/", http.StripPrefix("/tuf", s.Handler()))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	rootV1 := filepath.Join(dir, "root-v1.json")
	if err := os.WriteFile(rootV1, mustRead(t, s.RootPath()), 0o644); err != nil {
		t.Fatal(err)
	}

	out, err := run("initialize", "--mirror", srv.URL+"/tuf", "--root", rootV1)
	if err != nil || strings.Contains(out, "Could not fetch") {
		t.Fatalf("cosign initialize: %v\n%s", err, out)
	}
	verifyArgs := func(sb signedBlob) []string {
		return []string{"verify-blob", sb.artifact, "--bundle", sb.bundle,
			"--certificate-identity", testpki.DefaultIdentity.URI, "--certificate-oidc-issuer", testpki.DefaultIdentity.Issuer}
	}
	if out, err := run(verifyArgs(a)...); err != nil {
		t.Fatalf("cosign verify-blob with the TUF trusted root: %v\n%s", err, out)
	}
	if out, err := run(verifyArgs(b)...); err == nil {
		t.Fatal("cosign accepted a bundle the published trusted root does not vouch for")
	} else {
		t.Logf("before the rotation, cosign refuses domain b's bundle: %s", strings.TrimSpace(out))
	}

	// Rotate the root key (signed by the old and the new key) and publish
	// domain b's trusted root.
	repo := s.Repo()
	oldKey, err := LoadKey(filepath.Join(repo.Dir(), keysDir, rootKeyFile), nil)
	if err != nil {
		t.Fatal(err)
	}
	newKey, err := GenerateKey(KeyECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.RotateRoot(RootChange{Remove: map[string][]string{RoleRoot: {oldKey.ID()}}, Add: map[string][]*Key{RoleRoot: {newKey}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.Sign([]*Key{oldKey, newKey}); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := s.SetTargets(map[string][]byte{TargetTrustedRoot: b.root}); err != nil {
		t.Fatal(err)
	}

	if out, err := run(verifyArgs(b)...); err != nil {
		t.Fatalf("cosign did not follow the rotation to the new trusted root: %v\n%s", err, out)
	}
	cached := mustRead(t, filepath.Join(tufRoot, urlToPath(srv.URL+"/tuf"), "root.json"))
	if !strings.Contains(string(cached), newKey.ID()) {
		t.Error("cosign's cached root.json is not the rotated root")
	}
	// A fresh initialize from root v1 walks to v2 as well.
	if out, err := run("initialize", "--mirror", srv.URL+"/tuf", "--root", rootV1); err != nil || strings.Contains(out, "Could not fetch") {
		t.Fatalf("cosign initialize from root v1 after rotation: %v\n%s", err, out)
	}
}

// urlToPath names a mirror's cache directory as sigstore-go does
// (pkg/tuf/client.go URLToPath).
func urlToPath(u string) string {
	u = strings.TrimPrefix(strings.TrimPrefix(u, "https://"), "http://")
	return strings.ToLower(strings.NewReplacer("/", "-", ":", "-").Replace(u))
}
