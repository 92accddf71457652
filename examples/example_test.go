// Package examples holds signed example artifacts that the README's
// commands verify. They were made with the test PKI (internal/testpki): a
// private CA, Rekor v1 log and TSA. Regenerate with
//
//	go test ./examples -update
package examples

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigil.dev/sigil/internal/cli"
	"sigil.dev/sigil/internal/testpki"
)

var update = flag.Bool("update", false, "regenerate the example bundle and trusted root")

const (
	identity = "https://github.com/sigil-test/repo/.github/workflows/release.yml@refs/heads/main"
	issuer   = "https://token.actions.githubusercontent.com"
)

func TestHelloExample(t *testing.T) {
	dir := "hello"
	art := filepath.Join(dir, "hello.txt")
	bundlePath := filepath.Join(dir, "hello.txt.sigstore.json")
	rootPath := filepath.Join(dir, "trusted_root.json")
	if *update {
		content, err := os.ReadFile(art)
		if err != nil {
			t.Fatal(err)
		}
		p, err := testpki.New(testpki.Options{})
		if err != nil {
			t.Fatal(err)
		}
		s, err := p.Sign(content, testpki.SignOptions{Timestamp: true})
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
		r, err := tr.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(bundlePath, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(rootPath, append(r, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The README's command, verbatim apart from paths.
	var out, errb bytes.Buffer
	code := cli.Main([]string{"verify-blob", art, "--bundle", bundlePath,
		"--certificate-identity", identity, "--certificate-oidc-issuer", issuer,
		"--trusted-root", rootPath}, &out, &errb)
	if code != 0 || !strings.Contains(errb.String(), "Verified OK") {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	// And a wrong identity is refused with one clear line.
	errb.Reset()
	code = cli.Main([]string{"verify-blob", art, "--bundle", bundlePath,
		"--certificate-identity", "https://github.com/someone/else/.github/workflows/x.yml@refs/heads/main", "--certificate-oidc-issuer", issuer,
		"--trusted-root", rootPath}, &out, &errb)
	if code == 0 || !strings.Contains(errb.String(), "certificate identity mismatch") || strings.Count(errb.String(), "\n") != 1 {
		t.Fatalf("exit %d: %q", code, errb.String())
	}
}
