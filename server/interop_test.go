package server_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigil.dev/sigil/internal/cli"
	"sigil.dev/sigil/internal/oracle"
)

// env runs cosign with its TUF cache in dir, so nothing reaches the public
// Sigstore instance.
func run(t *testing.T, dir, bin string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TUF_ROOT="+filepath.Join(dir, "tuf-"+filepath.Base(bin)), "SIGIL_TUF_CACHE="+filepath.Join(dir, "sigil-tuf"))
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// sigil runs the sigil command line in process.
func sigil(t *testing.T, dir string, args ...string) (string, int) {
	t.Helper()
	t.Setenv("SIGIL_TUF_CACHE", filepath.Join(dir, "sigil-tuf"))
	wd, _ := os.Getwd()
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	defer os.Chdir(wd)
	var out bytes.Buffer
	code := cli.Main(args, &out, &out)
	return out.String(), code
}

// TestInteropMatrix proves the server speaks Sigstore to the ecosystem's
// own tools, both ways:
//   - cosign v2.6.5 signs with --fulcio-url/--rekor-url (Fulcio v1 API,
//     Rekor v1) after `cosign initialize` against sigil's TUF mirror;
//   - cosign v3.1.3 signs with the signing config from sigil's TUF (Rekor
//     v2 + TSA);
//   - sigil verifies both; cosign v2, cosign v3 and sigstore-go's
//     conformance client verify what sigil signs (Rekor v1 and v2);
//   - every verifier refuses a wrong identity, issuer or artifact, and the
//     cosigns and sigil a wrong predicate type.
func TestInteropMatrix(t *testing.T) {
	cosign2 := oracle.Find(t, "cosign", ".ci/install-cosign.sh")
	cosign3 := oracle.Find(t, "cosign3", ".ci/install-cosign.sh")
	sgo := oracle.Find(t, "sigstore-go-conformance", ".ci/install-sigstore-go-conformance.sh")

	dir := t.TempDir()
	s, _ := start(t, filepath.Join(dir, "data"), "")
	pub := s.PublicURL()
	iss := s.DevIssuerURL()
	root := s.TUFRootPath()
	tr, _ := s.TrustedRoot().Marshal()
	trPath := filepath.Join(dir, "trusted_root.json")
	os.WriteFile(trPath, tr, 0o644)
	tok, err := s.DevIssuer().Mint(nil)
	if err != nil {
		t.Fatal(err)
	}
	tokPath := filepath.Join(dir, "token")
	os.WriteFile(tokPath, []byte(tok), 0o600)
	for _, n := range []string{"a.txt", "b.txt", "c.txt", "d.txt"} {
		os.WriteFile(filepath.Join(dir, n), []byte("interop "+n+"\n"), 0o644)
	}

	// cosign v2 signs (Fulcio v1 API, Rekor v1).
	if out, err := run(t, dir, cosign2, "initialize", "--mirror", pub+"/tuf", "--root", root); err != nil {
		t.Fatalf("cosign v2 initialize: %v\n%s", err, out)
	}
	if out, err := run(t, dir, cosign2, "sign-blob", "--yes", "--fulcio-url", pub, "--rekor-url", pub, "--identity-token", tokPath,
		"--new-bundle-format", "--bundle", "a.sigstore.json", "a.txt"); err != nil {
		t.Fatalf("cosign v2 sign-blob: %v\n%s", err, out)
	}
	// cosign v3 signs through the signing config (Rekor v2 + TSA).
	if out, err := run(t, dir, cosign3, "initialize", "--mirror", pub+"/tuf", "--root", root); err != nil {
		t.Fatalf("cosign v3 initialize: %v\n%s", err, out)
	}
	if out, err := run(t, dir, cosign3, "sign-blob", "--yes", "--identity-token", tokPath, "--bundle", "b.sigstore.json", "b.txt"); err != nil {
		t.Fatalf("cosign v3 sign-blob: %v\n%s", err, out)
	}
	// sigil signs through TUF: Rekor v2 + TSA (the signing config's
	// preference) and, with --rekor-url, Rekor v1.
	if out, code := sigil(t, dir, "trust", "init", "--mirror", pub+"/tuf", "--root", root); code != 0 {
		t.Fatalf("sigil trust init: %s", out)
	}
	if out, code := sigil(t, dir, "sign-blob", "c.txt", "--bundle", "c.sigstore.json", "--identity-token", tok); code != 0 {
		t.Fatalf("sigil sign-blob: %s", out)
	}
	if out, code := sigil(t, dir, "sign-blob", "d.txt", "--bundle", "d.sigstore.json", "--identity-token", tok, "--rekor-url", pub); code != 0 {
		t.Fatalf("sigil sign-blob (Rekor v1): %s", out)
	}

	// Attestations: sigil attests, cosign v2 and v3 verify; cosign v3
	// attests, sigil verifies.
	os.WriteFile(filepath.Join(dir, "e.txt"), []byte("attested\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "prov.json"), []byte(`{"buildDefinition":{"buildType":"https://example.com/build"}}`), 0o644)
	if out, code := sigil(t, dir, "attest-blob", "e.txt", "--predicate", "prov.json", "--type", "slsaprovenance1", "--bundle", "e.sigstore.json", "--identity-token", tok); code != 0 {
		t.Fatalf("sigil attest-blob: %s", out)
	}
	if out, err := run(t, dir, cosign3, "attest-blob", "--yes", "--identity-token", tokPath, "--predicate", "prov.json", "--type", "slsaprovenance1", "--bundle", "f.sigstore.json", "e.txt"); err != nil {
		t.Fatalf("cosign v3 attest-blob: %v\n%s", err, out)
	}
	att := []string{"--type", "slsaprovenance1", "--trusted-root", trPath, "--certificate-oidc-issuer", iss}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"cosign v3 verifies sigil's", append([]string{cosign3, "verify-blob-attestation", "--bundle", "e.sigstore.json"}, att...)},
		{"cosign v2 verifies sigil's", append([]string{cosign2, "verify-blob-attestation", "--new-bundle-format", "--use-signed-timestamps", "--bundle", "e.sigstore.json"}, att...)},
	} {
		if out, err := run(t, dir, tc.args[0], append(tc.args[1:], "--certificate-identity", "dev@sigil.test", "e.txt")...); err != nil {
			t.Errorf("%s: %v\n%s", tc.name, err, out)
		}
		if out, err := run(t, dir, tc.args[0], append(tc.args[1:], "--certificate-identity", "eve@sigil.test", "e.txt")...); err == nil {
			t.Errorf("%s with a wrong identity:\n%s", tc.name, out)
		}
		wrongIssuer := append(append([]string{}, tc.args[1:]...), "--certificate-oidc-issuer", "https://evil.example")
		for _, w := range []struct {
			what string
			args []string
		}{
			{"issuer", append(wrongIssuer, "--certificate-identity", "dev@sigil.test", "e.txt")},
			{"artifact", append(append([]string{}, tc.args[1:]...), "--certificate-identity", "dev@sigil.test", "a.txt")},
			{"predicate type", append(replaceArg(tc.args[1:], "slsaprovenance1", "spdxjson"), "--certificate-identity", "dev@sigil.test", "e.txt")},
		} {
			if out, err := run(t, dir, tc.args[0], w.args...); err == nil {
				t.Errorf("%s with a wrong %s:\n%s", tc.name, w.what, out)
			}
		}
	}
	// sigstore-go verifies sigil's attestation (its conformance client
	// checks the subject against the artifact; it has no predicate-type
	// option).
	if out, err := run(t, dir, sgo, "verify-bundle", "--bundle", "e.sigstore.json", "--certificate-identity", "dev@sigil.test", "--certificate-oidc-issuer", iss, "--trusted-root", trPath, "e.txt"); err != nil {
		t.Errorf("sigstore-go verify-bundle of sigil's attestation: %v\n%s", err, out)
	}
	if out, err := run(t, dir, sgo, "verify-bundle", "--bundle", "e.sigstore.json", "--certificate-identity", "dev@sigil.test", "--certificate-oidc-issuer", iss, "--trusted-root", trPath, "a.txt"); err == nil {
		t.Errorf("sigstore-go accepted sigil's attestation for another artifact:\n%s", out)
	}
	if out, code := sigil(t, dir, "verify-blob-attestation", "--bundle", "f.sigstore.json", "--type", "slsaprovenance1", "--certificate-identity", "dev@sigil.test", "--certificate-oidc-issuer", iss, "a.txt"); code == 0 {
		t.Errorf("sigil accepted cosign's attestation for another artifact: %s", out)
	}
	if out, code := sigil(t, dir, "verify-blob-attestation", "--bundle", "f.sigstore.json", "--type", "slsaprovenance1", "--certificate-identity", "dev@sigil.test", "--certificate-oidc-issuer", "https://evil.example", "e.txt"); code == 0 {
		t.Errorf("sigil accepted cosign's attestation from a wrong issuer: %s", out)
	}
	if out, code := sigil(t, dir, "verify-blob-attestation", "--bundle", "f.sigstore.json", "--type", "slsaprovenance1", "--certificate-identity", "dev@sigil.test", "--certificate-oidc-issuer", iss, "e.txt"); code != 0 {
		t.Errorf("sigil verify-blob-attestation of cosign's: %s", out)
	}
	if out, code := sigil(t, dir, "verify-blob-attestation", "--bundle", "f.sigstore.json", "--type", "spdxjson", "--certificate-identity", "dev@sigil.test", "--certificate-oidc-issuer", iss, "e.txt"); code == 0 {
		t.Errorf("sigil accepted a wrong predicate type: %s", out)
	}

	for _, b := range []string{"a", "b", "c", "d"} {
		art, bun := b+".txt", b+".sigstore.json"
		t.Run(b, func(t *testing.T) {
			if out, code := sigil(t, dir, "verify-blob", art, "--bundle", bun, "--certificate-identity", "dev@sigil.test", "--certificate-oidc-issuer", iss); code != 0 {
				t.Errorf("sigil verify-blob: %s", out)
			}
			if out, code := sigil(t, dir, "verify-blob", art, "--bundle", bun, "--certificate-identity", "eve@sigil.test", "--certificate-oidc-issuer", iss); code == 0 || !strings.Contains(out, "identity mismatch") {
				t.Errorf("sigil accepted a wrong identity: %s", out)
			}
			if out, code := sigil(t, dir, "verify-blob", art, "--bundle", bun, "--certificate-identity", "dev@sigil.test", "--certificate-oidc-issuer", "https://evil.example"); code == 0 {
				t.Errorf("sigil accepted a wrong issuer: %s", out)
			}
			if out, code := sigil(t, dir, "verify-blob", "e.txt", "--bundle", bun, "--certificate-identity", "dev@sigil.test", "--certificate-oidc-issuer", iss); code == 0 {
				t.Errorf("sigil accepted a wrong artifact: %s", out)
			}
			for _, v := range []struct {
				name string
				args []string
			}{
				{"cosign v2", []string{cosign2, "verify-blob", "--new-bundle-format", "--use-signed-timestamps"}},
				{"cosign v3", []string{cosign3, "verify-blob"}},
			} {
				args := append(append([]string{}, v.args[1:]...), "--trusted-root", trPath, "--bundle", bun, "--certificate-oidc-issuer", iss)
				if b == "a" || b == "d" { // Rekor v1 bundles carry SET times
					args = removeArg(args, "--use-signed-timestamps")
				}
				if out, err := run(t, dir, v.args[0], append(args, "--certificate-identity", "dev@sigil.test", art)...); err != nil {
					t.Errorf("%s verify-blob: %v\n%s", v.name, err, out)
				}
				if out, err := run(t, dir, v.args[0], append(args, "--certificate-identity", "eve@sigil.test", art)...); err == nil {
					t.Errorf("%s accepted a wrong identity:\n%s", v.name, out)
				}
				if out, err := run(t, dir, v.args[0], append(replaceArg(args, iss, "https://evil.example"), "--certificate-identity", "dev@sigil.test", art)...); err == nil {
					t.Errorf("%s accepted a wrong issuer:\n%s", v.name, out)
				}
				if out, err := run(t, dir, v.args[0], append(args, "--certificate-identity", "dev@sigil.test", "e.txt")...); err == nil {
					t.Errorf("%s accepted a wrong artifact:\n%s", v.name, out)
				}
			}
			if out, err := run(t, dir, sgo, "verify-bundle", "--bundle", bun, "--certificate-identity", "dev@sigil.test", "--certificate-oidc-issuer", iss, "--trusted-root", trPath, art); err != nil {
				t.Errorf("sigstore-go verify-bundle: %v\n%s", err, out)
			}
			if out, err := run(t, dir, sgo, "verify-bundle", "--bundle", bun, "--certificate-identity", "eve@sigil.test", "--certificate-oidc-issuer", iss, "--trusted-root", trPath, art); err == nil {
				t.Errorf("sigstore-go accepted a wrong identity:\n%s", out)
			}
			if out, err := run(t, dir, sgo, "verify-bundle", "--bundle", bun, "--certificate-identity", "dev@sigil.test", "--certificate-oidc-issuer", "https://evil.example", "--trusted-root", trPath, art); err == nil {
				t.Errorf("sigstore-go accepted a wrong issuer:\n%s", out)
			}
			if out, err := run(t, dir, sgo, "verify-bundle", "--bundle", bun, "--certificate-identity", "dev@sigil.test", "--certificate-oidc-issuer", iss, "--trusted-root", trPath, "e.txt"); err == nil {
				t.Errorf("sigstore-go accepted a wrong artifact:\n%s", out)
			}
		})
	}
}

func replaceArg(args []string, from, to string) []string {
	out := append([]string{}, args...)
	for i, x := range out {
		if x == from {
			out[i] = to
		}
	}
	return out
}

func removeArg(args []string, a string) []string {
	var out []string
	for _, x := range args {
		if x != a {
			out = append(out, x)
		}
	}
	return out
}

// TestDetachedSignatures: signatures cosign v2 writes without a bundle
// (--output-signature, --output-certificate; keyless and with a key)
// verify with sigil verify-blob --signature, which finds their log entries
// in sigil's Rekor v1 log; another identity, another artifact and a
// signature under the wrong key are refused.
func TestDetachedSignatures(t *testing.T) {
	cosign2 := oracle.Find(t, "cosign", ".ci/install-cosign.sh")
	dir := t.TempDir()
	s, _ := start(t, filepath.Join(dir, "data"), "")
	pub, iss := s.PublicURL(), s.DevIssuerURL()
	tok, err := s.DevIssuer().Mint(nil)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "token"), []byte(tok), 0o600)
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("detached a\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "b.txt"), []byte("detached b\n"), 0o644)
	t.Setenv("COSIGN_PASSWORD", "")
	for _, args := range [][]string{
		{"initialize", "--mirror", pub + "/tuf", "--root", s.TUFRootPath()},
		{"sign-blob", "--yes", "--fulcio-url", pub, "--rekor-url", pub, "--identity-token", "token", "--output-signature", "a.sig", "--output-certificate", "a.pem", "a.txt"},
		{"generate-key-pair"},
		{"sign-blob", "--yes", "--key", "cosign.key", "--rekor-url", pub, "--output-signature", "k.sig", "a.txt"},
	} {
		if out, err := run(t, dir, cosign2, args...); err != nil {
			t.Fatalf("cosign %v: %v\n%s", args, err, out)
		}
	}
	if out, code := sigil(t, dir, "trust", "init", "--mirror", pub+"/tuf", "--root", s.TUFRootPath()); code != 0 {
		t.Fatal(out)
	}
	id := []string{"--certificate-identity", "dev@sigil.test", "--certificate-oidc-issuer", iss}
	for _, tc := range []struct {
		name string
		args []string
		want string // "" for success
	}{
		{"keyless", append([]string{"verify-blob", "a.txt", "--signature", "a.sig", "--certificate", "a.pem"}, id...), ""},
		{"keyless, another identity", []string{"verify-blob", "a.txt", "--signature", "a.sig", "--certificate", "a.pem", "--certificate-identity", "eve@sigil.test", "--certificate-oidc-issuer", iss}, "identity mismatch"},
		{"keyless, another artifact", append([]string{"verify-blob", "b.txt", "--signature", "a.sig", "--certificate", "a.pem"}, id...), "couldn't find a transparency log entry of this signature over this artifact"},
		{"keyless, digest", append([]string{"verify-blob", "sha256:" + sha256Hex(t, filepath.Join(dir, "a.txt")), "--signature", "a.sig", "--certificate", "a.pem"}, id...), ""},
		{"key", []string{"verify-blob", "a.txt", "--signature", "k.sig", "--key", "cosign.pub"}, ""},
		{"key, another artifact", []string{"verify-blob", "b.txt", "--signature", "k.sig", "--key", "cosign.pub"}, "couldn't find a transparency log entry"},
		{"key, no log lookup", []string{"verify-blob", "a.txt", "--signature", "k.sig", "--key", "cosign.pub", "--insecure-ignore-tlog"}, ""},
		{"the keyless signature under the key", []string{"verify-blob", "a.txt", "--signature", "a.sig", "--key", "cosign.pub", "--insecure-ignore-tlog"}, "signature verification failed"},
		{"no signer", append([]string{"verify-blob", "a.txt", "--signature", "a.sig"}, id...), "--signature needs the signer"},
		{"endless signature file", append([]string{"verify-blob", "a.txt", "--signature", "/dev/zero", "--certificate", "a.pem"}, id...), "larger than 65536 bytes"},
		{"endless certificate file", append([]string{"verify-blob", "a.txt", "--signature", "a.sig", "--certificate", "/dev/zero"}, id...), "larger than 1048576 bytes"},
		{"certificate and key", []string{"verify-blob", "a.txt", "--signature", "a.sig", "--certificate", "a.pem", "--key", "cosign.pub"}, "not both"},
		{"bundle and signature", append([]string{"verify-blob", "a.txt", "--signature", "a.sig", "--certificate", "a.pem", "--bundle", "a.sig"}, id...), "not both"},
	} {
		out, code := sigil(t, dir, tc.args...)
		if tc.want == "" && (code != 0 || !strings.Contains(out, "Verified OK")) || tc.want != "" && (code == 0 || !strings.Contains(out, tc.want)) {
			t.Errorf("%s: exit %d, want %q:\n%s", tc.name, code, tc.want, out)
		}
	}
	// A --rekor-url that has no entry: the error does not send the user
	// to the flag they gave.
	if out, code := sigil(t, dir, append([]string{"verify-blob", "a.txt", "--signature", "a.sig", "--certificate", "a.pem", "--rekor-url", pub + "/nowhere"}, id...)...); code == 0 ||
		!strings.Contains(out, "couldn't find a transparency log entry") || strings.Contains(out, "pass --rekor-url") {
		t.Errorf("--rekor-url without the entry: exit %d:\n%s", code, out)
	}
}

func sha256Hex(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", sha256.Sum256(b))
}
