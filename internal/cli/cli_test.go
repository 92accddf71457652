package cli

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigil.dev/sigil/bundle"
	"sigil.dev/sigil/dsse"
	"sigil.dev/sigil/internal/testpki"
)

// fixture writes a signed artifact, its bundle and trusted root to a
// temporary directory.
type fixture struct {
	dir, art, bundle, root, keyBundle, pub, badPub string
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	p, err := testpki.New(testpki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d := t.TempDir()
	f := fixture{dir: d, art: filepath.Join(d, "a.txt"), bundle: filepath.Join(d, "a.sigstore.json"), root: filepath.Join(d, "trusted_root.json"),
		keyBundle: filepath.Join(d, "k.sigstore.json"), pub: filepath.Join(d, "key.pub"), badPub: filepath.Join(d, "bad.pub")}
	content := []byte("artifact\n")
	write := func(path string, b []byte) {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(f.art, content)
	s, err := p.Sign(content, testpki.SignOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := s.Bundle.Marshal()
	write(f.bundle, b)
	ks, err := p.Sign(content, testpki.SignOptions{KeySigned: true})
	if err != nil {
		t.Fatal(err)
	}
	b, _ = ks.Bundle.Marshal()
	write(f.keyBundle, b)
	write(f.pub, testpki.PublicKeyPEM(ks.Key.Public()))
	// A P-256 public key whose point, (1, 1), is not on the curve.
	off, _ := hex.DecodeString("3059301306072a8648ce3d020106082a8648ce3d030107034200" + "04" + strings.Repeat("00", 31) + "01" + strings.Repeat("00", 31) + "01")
	write(f.badPub, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: off}))
	tr, _ := p.TrustedRoot()
	r, _ := tr.Marshal()
	write(f.root, r)
	return f
}

func run(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = Main(args, &o, &e)
	return code, o.String(), e.String()
}

func TestVerifyBlobCLI(t *testing.T) {
	t.Setenv("SIGIL_TUF_CACHE", t.TempDir())
	f := newFixture(t)
	id := testpki.DefaultIdentity.URI
	iss := testpki.DefaultIdentity.Issuer
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr string // a fragment of standard error
	}{
		{"ok", []string{"verify-blob", f.art, "--bundle", f.bundle, "--certificate-identity", id, "--certificate-oidc-issuer", iss, "--trusted-root", f.root}, 0, "Verified OK"},
		{"ok regexp and extension", []string{"verify-blob", f.art, "--bundle", f.bundle, "--certificate-identity-regexp", "^https://github.com/sigil-test/", "--certificate-oidc-issuer", iss,
			"--certificate-github-workflow-trigger", "push", "--certificate-extension", "sourceRepositoryURI=https://github.com/sigil-test/repo", "--trusted-root", f.root}, 0, "Verified OK"},
		{"no policy", []string{"verify-blob", f.art, "--bundle", f.bundle, "--trusted-root", f.root}, 1, "needs a certificate identity"},
		// 0 would mean the default (1) and -2 off: neither is what it says.
		{"threshold 0", []string{"verify-blob", f.art, "--bundle", f.bundle, "--certificate-identity", id, "--certificate-oidc-issuer", iss, "--trusted-root", f.root, "--sct-threshold", "0"}, 1,
			"--sct-threshold 0: give a count of at least 1, or -1 to disable the requirement"},
		{"threshold -2", []string{"verify-blob", f.art, "--bundle", f.bundle, "--certificate-identity", id, "--certificate-oidc-issuer", iss, "--trusted-root", f.root, "--tlog-threshold", "-2"}, 1,
			"--tlog-threshold -2: give a count"},
		{"threshold -1", []string{"verify-blob", f.art, "--bundle", f.bundle, "--certificate-identity", id, "--certificate-oidc-issuer", iss, "--trusted-root", f.root, "--timestamp-threshold", "-1"}, 0, "Verified OK"},
		{"no issuer", []string{"verify-blob", f.art, "--bundle", f.bundle, "--certificate-identity", id, "--trusted-root", f.root}, 1, "needs a certificate OIDC issuer"},
		{"no trusted root", []string{"verify-blob", f.art, "--bundle", f.bundle, "--certificate-identity", id, "--certificate-oidc-issuer", iss}, 1, "sigil trust init"},
		{"wrong identity", []string{"verify-blob", f.art, "--bundle", f.bundle, "--certificate-identity", "https://x/y", "--certificate-oidc-issuer", iss, "--trusted-root", f.root}, 1,
			`identity verification failed: certificate identity mismatch: got "` + id + `", want "https://x/y"`},
		{"wrong extension", []string{"verify-blob", f.art, "--bundle", f.bundle, "--certificate-identity", id, "--certificate-oidc-issuer", iss, "--certificate-github-workflow-ref", "refs/heads/dev", "--trusted-root", f.root}, 1,
			"certificate extension githubWorkflowRef mismatch"},
		{"unknown extension", []string{"verify-blob", f.art, "--bundle", f.bundle, "--certificate-identity", id, "--certificate-oidc-issuer", iss, "--certificate-extension", "nope=1", "--trusted-root", f.root}, 1, "unknown certificate extension"},
		{"bad regexp", []string{"verify-blob", f.art, "--bundle", f.bundle, "--certificate-identity-regexp", "(", "--certificate-oidc-issuer", iss, "--trusted-root", f.root}, 1, "couldn't compile regular expression"},
		{"wrong artifact", []string{"verify-blob", f.root, "--bundle", f.bundle, "--certificate-identity", id, "--certificate-oidc-issuer", iss, "--trusted-root", f.root}, 1, "artifact verification failed"},
		{"digest", []string{"verify-blob", "sha256:" + strings.Repeat("0", 64), "--bundle", f.bundle, "--certificate-identity", id, "--certificate-oidc-issuer", iss, "--trusted-root", f.root}, 1, "does not match the digest the bundle signs"},
		{"bad digest", []string{"verify-blob", "sha256:abc", "--bundle", f.bundle, "--certificate-identity", id, "--certificate-oidc-issuer", iss, "--trusted-root", f.root}, 1, "want sha256:<64 hex digits>"},
		{"missing bundle", []string{"verify-blob", f.art, "--bundle", filepath.Join(f.dir, "nope"), "--certificate-identity", id, "--certificate-oidc-issuer", iss, "--trusted-root", f.root}, 1, "couldn't read bundle"},
		{"no bundle", []string{"verify-blob", f.art, "--certificate-identity", id, "--certificate-oidc-issuer", iss, "--trusted-root", f.root}, 1, "pass --bundle FILE, or --signature FILE for a detached signature"},
		// A certificate (or log) given beside a bundle was ignored and the
		// bundle's own certificate verified.
		{"bundle and certificate", []string{"verify-blob", f.art, "--bundle", f.bundle, "--certificate", f.pub, "--certificate-identity", id, "--certificate-oidc-issuer", iss, "--trusted-root", f.root}, 1, "--certificate and --rekor-url go with --signature"},
		{"bundle and rekor url", []string{"verify-blob", f.art, "--bundle", f.bundle, "--rekor-url", "http://127.0.0.1:1", "--certificate-identity", id, "--certificate-oidc-issuer", iss, "--trusted-root", f.root}, 1, "--certificate and --rekor-url go with --signature"},
		// An unknown output format is refused before verifying.
		{"unknown output", []string{"verify-blob", f.art, "--bundle", filepath.Join(f.dir, "nope"), "--certificate-identity", id, "--certificate-oidc-issuer", iss, "--trusted-root", f.root, "-o", "yaml"}, 1, `unknown --output "yaml"`},
		{"key", []string{"verify-blob", f.art, "--bundle", f.keyBundle, "--key", f.pub, "--trusted-root", f.root}, 0, "Verified OK: signed by key"},
		// A key that does not parse (the conformance vector
		// managed-key-wrong-key_fail): the error names the file.
		{"unparsable key", []string{"verify-blob", f.art, "--bundle", f.keyBundle, "--key", f.badPub, "--trusted-root", f.root}, 1, "couldn't parse public key " + f.badPub + ": "},
		{"key and identity", []string{"verify-blob", f.art, "--bundle", f.keyBundle, "--key", f.pub, "--certificate-identity", id, "--trusted-root", f.root}, 1, "either --key or a certificate identity"},
		// A certificate extension flag can't hold for a key; it was ignored.
		{"key and workflow repository", []string{"verify-blob", f.art, "--bundle", f.keyBundle, "--key", f.pub, "--certificate-github-workflow-repository", "org/repo", "--trusted-root", f.root}, 1, "either --key or a certificate identity"},
		{"key and extension", []string{"verify-blob", f.art, "--bundle", f.keyBundle, "--key", f.pub, "--certificate-extension", "sourceRepositoryURI=https://github.com/org/repo", "--trusted-root", f.root}, 1, "either --key or a certificate identity"},
		{"key bundle without key", []string{"verify-blob", f.art, "--bundle", f.keyBundle, "--certificate-identity", id, "--certificate-oidc-issuer", iss, "--trusted-root", f.root}, 1, "verify with --key"},
		{"attestation of a blob bundle", []string{"verify-blob-attestation", "--bundle", f.bundle, "--certificate-identity", id, "--certificate-oidc-issuer", iss, "--trusted-root", f.root}, 1, "not an attestation"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := run(tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.stderr) {
				t.Fatalf("exit %d (want %d), stderr %q, want it to contain %q", code, tc.code, stderr, tc.stderr)
			}
			if code != 0 && strings.Count(stderr, "\n") != 1 {
				t.Fatalf("a failure must print one line, got %q", stderr)
			}
		})
	}
}

func TestVerifyJSONOutput(t *testing.T) {
	f := newFixture(t)
	code, stdout, stderr := run("verify-blob", f.art, "--bundle", f.bundle, "--certificate-identity", testpki.DefaultIdentity.URI,
		"--certificate-oidc-issuer", testpki.DefaultIdentity.Issuer, "--trusted-root", f.root, "--output", "json")
	if code != 0 {
		t.Fatal(stderr)
	}
	var res struct {
		MediaType string
		Signature struct {
			Certificate struct {
				SubjectAlternativeName string
				Issuer                 string
				GithubWorkflowTrigger  string
			}
		}
		VerifiedTimestamps []struct{ Type string }
		TlogEntries        []struct{ LogIndex int64 }
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("%v: %s", err, stdout)
	}
	c := res.Signature.Certificate
	if res.MediaType == "" || c.SubjectAlternativeName != testpki.DefaultIdentity.URI || c.GithubWorkflowTrigger != "push" || len(res.VerifiedTimestamps) == 0 || len(res.TlogEntries) != 1 {
		t.Fatalf("result %s", stdout)
	}
}

// TestPolicySignersRefuseIdentityFlags: a --policy that names the signers
// is refused beside any certificate flag, the GitHub workflow and
// --certificate-extension ones included: those were ignored, so a
// certificate of another repository verified although the flags excluded it.
func TestPolicySignersRefuseIdentityFlags(t *testing.T) {
	p, err := testpki.New(testpki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d := t.TempDir()
	art, bndl, root, pol := filepath.Join(d, "a.txt"), filepath.Join(d, "att.sigstore.json"), filepath.Join(d, "trusted_root.json"), filepath.Join(d, "policy.yaml")
	content := []byte("artifact\n")
	s, err := p.Sign(content, testpki.SignOptions{DSSE: true})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := s.Bundle.Marshal()
	tr, _ := p.TrustedRoot()
	r, _ := tr.Marshal()
	for path, data := range map[string][]byte{art: content, bndl: b, root: r,
		pol: []byte("identities: [{issuer: " + testpki.DefaultIdentity.Issuer + ", subject: " + testpki.DefaultIdentity.URI + "}]\n")} {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	base := []string{"verify-blob-attestation", "--bundle", bndl, "--policy", pol, "--trusted-root", root, art}
	if code, _, stderr := run(base...); code != 0 {
		t.Fatalf("the policy alone: %s", stderr)
	}
	for _, flags := range [][]string{
		{"--certificate-github-workflow-repository", "evil/repo"},
		{"--certificate-github-workflow-trigger", "workflow_dispatch"},
		{"--certificate-github-workflow-ref", "refs/heads/evil"},
		{"--certificate-github-workflow-sha", "ffff"},
		{"--certificate-github-workflow-name", "evil"},
		{"--certificate-extension", "sourceRepositoryURI=https://github.com/evil/repo"},
		{"--certificate-extension-regexp", "sourceRepositoryURI=^https://github\\.com/evil/"},
	} {
		code, _, stderr := run(append(base, flags...)...)
		if code == 0 || !strings.Contains(stderr, "names the signers") {
			t.Errorf("%v beside the policy's signers: exit %d %s", flags, code, stderr)
		}
	}
}

// TestPolicyNeedsInTotoPayloadType: a DSSE bundle whose payload type is
// not in-toto verifies without an artifact, but --policy conditions must
// not judge its payload as an in-toto statement (they did, and passed,
// while the result showed no statement).
func TestPolicyNeedsInTotoPayloadType(t *testing.T) {
	p, err := testpki.New(testpki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := p.Sign([]byte("artifact\n"), testpki.SignOptions{DSSE: true, KeySigned: true, NoTlog: true})
	if err != nil {
		t.Fatal(err)
	}
	// The same statement, signed under another payload type.
	env := &dsse.Envelope{PayloadType: "application/vnd.example.other+json", Payload: s.Bundle.Envelope.Payload}
	d := sha256.Sum256(env.PAE())
	sig, err := s.Key.Sign(rand.Reader, d[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	env.Signatures = []dsse.Signature{{Sig: sig}}
	hint := ""
	b, err := bundle.New(nil, &hint, nil, env, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := b.Marshal()
	dir := t.TempDir()
	bndl, pub, pol := filepath.Join(dir, "other.sigstore.json"), filepath.Join(dir, "key.pub"), filepath.Join(dir, "policy.yaml")
	for path, data := range map[string][]byte{bndl: raw, pub: testpki.PublicKeyPEM(s.Key.Public()),
		pol: []byte("conditions: [{name: provenance, expression: 'predicateType == \"https://slsa.dev/provenance/v1\"'}]\n")} {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	args := []string{"verify-blob-attestation", "--bundle", bndl, "--key", pub, "--insecure-ignore-tlog"}
	if code, _, stderr := run(args...); code != 0 {
		t.Fatalf("without a policy: %s", stderr)
	}
	if code, _, stderr := run(append(args, "--policy", pol)...); code == 0 || !strings.Contains(stderr, "not an in-toto statement") {
		t.Fatalf("conditions over a payload of another type: exit %d %s", code, stderr)
	}
	// The key may come from the policy file, with --insecure-ignore-tlog
	// too (it was taken only from --key).
	keyPol := filepath.Join(dir, "key-policy.yaml")
	os.WriteFile(keyPol, []byte("key: key.pub\n"), 0o644) //nolint:errcheck
	if code, _, stderr := run("verify-blob-attestation", "--bundle", bndl, "--policy", keyPol, "--insecure-ignore-tlog"); code != 0 {
		t.Fatalf("a policy's key with --insecure-ignore-tlog: %s", stderr)
	}
}

// TestUnknownSubcommandFails: a command group given a name that is none
// of its commands fails (with a suggestion when one is close), as the
// root does, instead of printing help and exiting 0; the group alone
// still prints its help.
func TestUnknownSubcommandFails(t *testing.T) {
	for _, args := range [][]string{{"tuf", "pubilsh"}, {"trust", "update"}, {"ca", "bogus"}} {
		code, _, stderr := run(args...)
		if code == 0 || !strings.Contains(stderr, `unknown command "`+args[1]+`"`) {
			t.Errorf("sigil %s: exit %d, stderr %q; want an unknown command error", strings.Join(args, " "), code, stderr)
		}
	}
	if _, _, stderr := run("tuf", "pubilsh"); !strings.Contains(stderr, "did you mean publish?") {
		t.Errorf("no suggestion: %q", stderr)
	}
	for _, group := range []string{"tuf", "trust"} {
		if code, stdout, _ := run(group); code != 0 || !strings.Contains(stdout, "Available Commands") {
			t.Errorf("sigil %s: exit %d, stdout %q; want its help", group, code, stdout)
		}
	}
}

// An error quoting what a bundle says (here its entry's kindVersion) reaches
// the terminal without the bundle's escapes or bidirectional overrides: a
// bundle is text another party chose.
func TestErrorsArePrintable(t *testing.T) {
	t.Setenv("SIGIL_TUF_CACHE", t.TempDir())
	f := newFixture(t)
	raw, err := os.ReadFile(f.bundle)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	e := m["verificationMaterial"].(map[string]any)["tlogEntries"].([]any)[0].(map[string]any)
	e["kindVersion"].(map[string]any)["kind"] = "\x1b[2K\x1b]0;x\x07\u009b1A\u202eVerified OK"
	raw, _ = json.Marshal(m)
	bad := filepath.Join(f.dir, "escape.sigstore.json")
	if err := os.WriteFile(bad, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := run("verify-blob", f.art, "--bundle", bad, "--certificate-identity", testpki.DefaultIdentity.URI,
		"--certificate-oidc-issuer", testpki.DefaultIdentity.Issuer, "--trusted-root", f.root)
	if code != 1 || !strings.Contains(stderr, "kindVersion says ?[2K?]0;x??1A?Verified OK") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	for _, r := range strings.TrimSuffix(stderr, "\n") {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u202e' {
			t.Fatalf("stderr %q holds %U", stderr, r)
		}
	}

	// A line break in the quoted text cannot start a line of its own: it
	// printed a second line reading "Verified OK: …" under the error.
	e["kindVersion"].(map[string]any)["kind"] = "x\nVerified OK: signed by someone"
	raw, _ = json.Marshal(m)
	if err := os.WriteFile(bad, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = run("verify-blob", f.art, "--bundle", bad, "--certificate-identity", testpki.DefaultIdentity.URI,
		"--certificate-oidc-issuer", testpki.DefaultIdentity.Issuer, "--trusted-root", f.root)
	if code != 1 || !strings.Contains(stderr, "\n  Verified OK") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	for _, line := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(line, "Verified OK") {
			t.Fatalf("a line of its own: stderr %q", stderr)
		}
	}
}
