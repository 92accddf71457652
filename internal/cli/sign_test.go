package cli

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigil.dev/sigil/ca/keys"
	"sigil.dev/sigil/ca/keys/pkcs11test"
	"sigil.dev/sigil/internal/fakesvc"
	"sigil.dev/sigil/keyfile"
	"sigil.dev/sigil/trust"
)

// signFixture writes the trusted root and a signing config for fake
// services to a temporary directory.
func signFixture(t *testing.T, rekorVersion uint32) (f *fakesvc.Services, dir, root, sc string) {
	t.Helper()
	f = fakesvc.New(t)
	dir = t.TempDir()
	root, sc = filepath.Join(dir, "trusted_root.json"), filepath.Join(dir, "signing_config.json")
	r, err := f.TrustedRoot.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(root, r, 0o644)
	start := trust.Window{Start: time.Now().Add(-time.Hour)}
	cfg := &trust.SigningConfig{
		CAs:         []trust.Service{{URL: f.URL, MajorAPIVersion: 1, Valid: start}},
		Rekors:      []trust.Service{{URL: f.URL, MajorAPIVersion: rekorVersion, Valid: start}},
		RekorConfig: trust.ServiceConfig{Selector: trust.SelectAny},
		TSAs:        []trust.Service{{URL: f.URL + "/api/v1/timestamp", MajorAPIVersion: 1, Valid: start}},
		TSAConfig:   trust.ServiceConfig{Selector: trust.SelectAny},
	}
	b, err := cfg.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(sc, b, 0o644)
	return f, dir, root, sc
}

func testToken() string {
	return fakesvc.Token(map[string]any{"iss": "https://issuer.sigil.test", "sub": "alice", "aud": "sigstore",
		"email": "alice@sigil.test", "email_verified": true, "exp": time.Now().Add(5 * time.Minute).Unix(), "iat": time.Now().Unix()})
}

func TestSignBlobThenVerify(t *testing.T) {
	for _, v := range []uint32{1, 2} {
		_, dir, root, sc := signFixture(t, v)
		art := filepath.Join(dir, "a.txt")
		os.WriteFile(art, []byte("artifact"), 0o644)
		b := filepath.Join(dir, "a.sigstore.json")
		code, _, stderr := run("sign-blob", art, "--bundle", b, "--identity-token", testToken(), "--trusted-root", root, "--signing-config", sc)
		if code != 0 {
			t.Fatalf("rekor v%d: sign-blob: %s", v, stderr)
		}
		if !strings.Contains(stderr, "Signed by alice@sigil.test") || !strings.Contains(stderr, fmt.Sprintf("; Rekor v%d log ", v)) {
			t.Fatalf("sign-blob said %q", stderr)
		}
		code, _, stderr = run("verify-blob", art, "--bundle", b, "--certificate-identity", "alice@sigil.test", "--certificate-oidc-issuer", "https://issuer.sigil.test", "--trusted-root", root)
		if code != 0 {
			t.Fatalf("rekor v%d: verify-blob: %s", v, stderr)
		}
	}
}

// TestNoTSAPicksRekorV1: a signing config with v1 and v2 logs but no
// timestamp authority signs into the v1 log, whose SET gives the time,
// instead of failing on the v2 log; with only a v2 log the error says what
// to do.
func TestNoTSAPicksRekorV1(t *testing.T) {
	f, dir, root, _ := signFixture(t, 1)
	start := trust.Window{Start: time.Now().Add(-time.Hour)}
	write := func(name string, versions ...uint32) string {
		cfg := &trust.SigningConfig{
			CAs:         []trust.Service{{URL: f.URL, MajorAPIVersion: 1, Valid: start}},
			RekorConfig: trust.ServiceConfig{Selector: trust.SelectAny},
		}
		for _, v := range versions {
			cfg.Rekors = append(cfg.Rekors, trust.Service{URL: f.URL, MajorAPIVersion: v, Valid: start})
		}
		b, err := cfg.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o644)
		return p
	}
	art := filepath.Join(dir, "a.txt")
	os.WriteFile(art, []byte("artifact"), 0o644)
	b := filepath.Join(dir, "a.sigstore.json")
	if code, _, stderr := run("sign-blob", art, "--bundle", b, "--identity-token", testToken(), "--trusted-root", root, "--signing-config", write("both.json", 1, 2)); code != 0 {
		t.Fatalf("v1 and v2 logs, no TSA: %s", stderr)
	}
	raw, _ := os.ReadFile(b)
	if !strings.Contains(string(raw), `"inclusionPromise"`) {
		t.Errorf("the bundle has no SET: not a v1 entry")
	}
	code, _, stderr := run("sign-blob", art, "--bundle", b, "--identity-token", testToken(), "--trusted-root", root, "--signing-config", write("v2.json", 2))
	if code == 0 || !strings.Contains(stderr, "timestamp authority is required") || !strings.Contains(stderr, "--timestamp-server-url") {
		t.Errorf("v2 log only, no TSA: exit %d %s", code, stderr)
	}
}

// TestVerifyBlobPolicy: verify-blob --policy names the signers and checks
// CEL conditions over the certificate; a condition that needs a statement
// is refused with the reason.
func TestVerifyBlobPolicy(t *testing.T) {
	_, dir, root, sc := signFixture(t, 1)
	art := filepath.Join(dir, "a.txt")
	os.WriteFile(art, []byte("artifact"), 0o644)
	b := filepath.Join(dir, "a.sigstore.json")
	if code, _, stderr := run("sign-blob", art, "--bundle", b, "--identity-token", testToken(), "--trusted-root", root, "--signing-config", sc); code != 0 {
		t.Fatal(stderr)
	}
	write := func(name, conditions string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(`identities: [{issuer: "https://issuer.sigil.test", subject: "alice@sigil.test"}]
conditions:
`+conditions), 0o644)
		return p
	}
	for _, tc := range []struct {
		name, conditions, stderr string
		ok                       bool
	}{
		{name: "holds", ok: true, conditions: `  - name: our issuer
    expression: certificate.issuer == "https://issuer.sigil.test" && certificate.subject.endsWith("@sigil.test")
`},
		{name: "fails", stderr: `"their issuer" failed`, conditions: `  - name: their issuer
    expression: certificate.issuer == "https://evil.example"
`},
		{name: "needs a statement", stderr: "needs the in-toto statement, but the bundle signs a file", conditions: `  - name: built by us
    expression: predicate.builder == "x"
`},
		// A comprehension variable named like a statement variable is local.
		{name: "local subject", ok: true, conditions: `  - name: one of ours
    expression: '["alice@sigil.test", "bob@sigil.test"].exists(subject, certificate.subject == subject)'
`},
	} {
		pol := write(tc.name+".yaml", tc.conditions)
		code, _, stderr := run("verify-blob", art, "--bundle", b, "--trusted-root", root, "--policy", pol)
		if tc.ok != (code == 0) || !strings.Contains(stderr, tc.stderr) {
			t.Errorf("%s: exit %d: %s", tc.name, code, stderr)
		}
	}
	// A policy that asks for an attestation is not met by a plain signature.
	att := filepath.Join(dir, "att.yaml")
	os.WriteFile(att, []byte(`identities: [{issuer: "https://issuer.sigil.test", subject: "alice@sigil.test"}]
predicateType: slsaprovenance1
`), 0o644)
	if code, _, stderr := run("verify-blob", art, "--bundle", b, "--trusted-root", root, "--policy", att); code == 0 || !strings.Contains(stderr, "signs the artifact directly") {
		t.Errorf("a predicate type required of a message signature: exit %d %s", code, stderr)
	}
	// The identities in the policy are enforced.
	other := filepath.Join(dir, "other.yaml")
	os.WriteFile(other, []byte(`identities: [{issuer: "https://issuer.sigil.test", subject: "bob@sigil.test"}]`), 0o644)
	if code, _, stderr := run("verify-blob", art, "--bundle", b, "--trusted-root", root, "--policy", other); code == 0 {
		t.Errorf("another identity accepted: %s", stderr)
	}
}

func TestAttestBlobThenVerify(t *testing.T) {
	_, dir, root, sc := signFixture(t, 1)
	art := filepath.Join(dir, "app.bin")
	os.WriteFile(art, []byte("binary"), 0o644)
	pred := filepath.Join(dir, "prov.json")
	os.WriteFile(pred, []byte(`{"buildDefinition":{"buildType":"https://example.com/build"}}`), 0o644)
	b := filepath.Join(dir, "att.sigstore.json")
	if code, _, stderr := run("attest-blob", art, "--predicate", pred, "--type", "slsaprovenance1", "--bundle", b, "--identity-token", testToken(), "--trusted-root", root, "--signing-config", sc); code != 0 {
		t.Fatal(stderr)
	}
	args := []string{"verify-blob-attestation", "--bundle", b, "--certificate-identity", "alice@sigil.test", "--certificate-oidc-issuer", "https://issuer.sigil.test", "--trusted-root", root}
	if code, _, stderr := run(append(args, "--type", "slsaprovenance1", art)...); code != 0 {
		t.Fatal(stderr)
	}
	if code, _, stderr := run(append(args, "--type", "spdxjson", art)...); code == 0 || !strings.Contains(stderr, "predicate type") {
		t.Fatalf("wrong type accepted: %s", stderr)
	}
	// A policy with CEL conditions over the statement.
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte(`identities: [{issuer: "https://issuer.sigil.test", subject: "alice@sigil.test"}]
predicateType: slsaprovenance1
conditions:
  - name: our build type
    expression: predicate.buildDefinition.buildType == "https://example.com/build"
`), 0o644)
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte(`identities: [{issuer: "https://issuer.sigil.test", subject: "alice@sigil.test"}]
conditions:
  - name: their build type
    expression: predicate.buildDefinition.buildType == "https://evil.example/build"
`), 0o644)
	pargs := []string{"verify-blob-attestation", "--bundle", b, "--trusted-root", root, art}
	if code, _, stderr := run(append(pargs, "--policy", good)...); code != 0 {
		t.Fatalf("policy that holds: %s", stderr)
	}
	if code, _, stderr := run(append(pargs, "--policy", bad)...); code == 0 || !strings.Contains(stderr, "their build type") {
		t.Fatalf("policy that fails: exit %d %s", code, stderr)
	}
	other := filepath.Join(dir, "other.bin")
	os.WriteFile(other, []byte("other"), 0o644)
	if code, _, stderr := run(append(args, other)...); code == 0 || !strings.Contains(stderr, "not a subject") {
		t.Fatalf("wrong artifact accepted: %s", stderr)
	}

	// in-toto predicates are objects: an array is refused before signing.
	arr := filepath.Join(dir, "arr.json")
	os.WriteFile(arr, []byte("[1,2]\n"), 0o644)
	if code, _, stderr := run("attest-blob", art, "--predicate", arr, "--type", "cyclonedx", "--bundle", b, "--identity-token", testToken(), "--trusted-root", root, "--signing-config", sc); code == 0 || !strings.Contains(stderr, "not a JSON object") {
		t.Fatalf("array predicate: exit %d %s", code, stderr)
	}

	// The predicate from standard input.
	in, err := os.Open(pred)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	stdin := os.Stdin
	os.Stdin = in
	defer func() { os.Stdin = stdin }()
	b2 := filepath.Join(dir, "att2.sigstore.json")
	if code, _, stderr := run("attest-blob", art, "--predicate", "-", "--type", "slsaprovenance1", "--bundle", b2, "--identity-token", testToken(), "--trusted-root", root, "--signing-config", sc); code != 0 {
		t.Fatalf("predicate from standard input: %s", stderr)
	}
	if code, _, stderr := run("verify-blob-attestation", "--bundle", b2, "--trusted-root", root, "--policy", good, art); code != 0 {
		t.Fatalf("verify the stdin predicate's attestation: %s", stderr)
	}
	if code, _, stderr := run("attest-blob", "-", "--predicate", "-", "--bundle", b2, "--identity-token", testToken(), "--trusted-root", root, "--signing-config", sc); code == 0 || !strings.Contains(stderr, "not both") {
		t.Fatalf("stdin twice: exit %d %s", code, stderr)
	}

	// A complete statement from standard input (--statement -), as - is
	// standard input for FILE and --predicate; it was opened as a file
	// named '-'.
	sum := sha256.Sum256([]byte("binary"))
	stFile := filepath.Join(dir, "statement.json")
	os.WriteFile(stFile, []byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"app.bin","digest":{"sha256":"`+hex.EncodeToString(sum[:])+`"}}],"predicateType":"https://slsa.dev/provenance/v1","predicate":{"buildDefinition":{"buildType":"https://example.com/build"}}}`), 0o644)
	stIn, err := os.Open(stFile)
	if err != nil {
		t.Fatal(err)
	}
	defer stIn.Close()
	os.Stdin = stIn
	b3 := filepath.Join(dir, "att3.sigstore.json")
	if code, _, stderr := run("attest-blob", "--statement", "-", "--bundle", b3, "--identity-token", testToken(), "--trusted-root", root, "--signing-config", sc); code != 0 {
		t.Fatalf("statement from standard input: %s", stderr)
	}
	if code, _, stderr := run("verify-blob-attestation", "--bundle", b3, "--trusted-root", root, "--policy", good, art); code != 0 {
		t.Fatalf("verify the stdin statement's attestation: %s", stderr)
	}
}

func TestKeyPairSignVerify(t *testing.T) {
	_, dir, root, sc := signFixture(t, 1)
	t.Setenv("SIGIL_PASSWORD", "s3cret")
	prefix := filepath.Join(dir, "k")
	if code, _, stderr := run("generate-key-pair", "--output-key-prefix", prefix); code != 0 {
		t.Fatal(stderr)
	}
	if fi, err := os.Stat(prefix + ".key"); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("private key mode: %v %v", fi, err)
	}
	art := filepath.Join(dir, "a.txt")
	os.WriteFile(art, []byte("artifact"), 0o644)
	b := filepath.Join(dir, "k.sigstore.json")
	if code, _, stderr := run("sign-blob", art, "--key", prefix+".key", "--bundle", b, "--trusted-root", root, "--signing-config", sc); code != 0 {
		t.Fatal(stderr)
	}
	if code, _, stderr := run("verify-blob", art, "--bundle", b, "--key", prefix+".pub", "--trusted-root", root); code != 0 {
		t.Fatal(stderr)
	}
	// Without a log entry or a timestamp the key is the only anchor: no
	// trust root is needed to sign or (with --insecure-ignore-tlog) to
	// verify, as with cosign. SIGIL_TUF_CACHE points at an empty cache.
	t.Setenv("SIGIL_TUF_CACHE", t.TempDir())
	nb := filepath.Join(dir, "nolog.sigstore.json")
	if code, _, stderr := run("sign-blob", art, "--key", prefix+".key", "--no-tlog-upload", "--bundle", nb); code != 0 {
		t.Fatalf("key signing without a log or trust root: %s", stderr)
	}
	// --rekor-url names a log, --no-tlog-upload says not to log: the log
	// was silently left out.
	if code, _, stderr := run("sign-blob", art, "--key", prefix+".key", "--no-tlog-upload", "--rekor-url", "http://127.0.0.1:1", "--bundle", nb); code == 0 || !strings.Contains(stderr, "contradict") {
		t.Fatalf("--no-tlog-upload with --rekor-url: exit %d %s", code, stderr)
	}
	if code, _, stderr := run("verify-blob", art, "--bundle", nb, "--key", prefix+".pub", "--insecure-ignore-tlog"); code != 0 || !strings.Contains(stderr, "checked at the current time") {
		t.Fatalf("verify without a log or trust root: %s", stderr)
	}
	if code, _, stderr := run("verify-blob", art, "--bundle", nb, "--key", prefix+".pub", "--trusted-root", root); code == 0 || !strings.Contains(stderr, "--insecure-ignore-tlog") {
		t.Fatalf("a bundle without log entries, no hint: %s", stderr)
	}
	os.WriteFile(art, []byte("tampered"), 0o644)
	if code, _, _ := run("verify-blob", art, "--bundle", nb, "--key", prefix+".pub", "--insecure-ignore-tlog"); code == 0 {
		t.Fatal("tampered artifact accepted")
	}

	t.Setenv("SIGIL_PASSWORD", "wrong")
	if code, _, stderr := run("sign-blob", art, "--key", prefix+".key", "--bundle", b, "--trusted-root", root, "--signing-config", sc); code == 0 || !strings.Contains(stderr, "wrong password") {
		t.Fatalf("wrong password: %s", stderr)
	}
}

func TestSignErrors(t *testing.T) {
	f, dir, root, sc := signFixture(t, 1)
	art := filepath.Join(dir, "a.txt")
	os.WriteFile(art, []byte("artifact"), 0o644)
	b := filepath.Join(dir, "a.sigstore.json")
	t.Setenv("SIGSTORE_ID_TOKEN", "")
	expired := fakesvc.Token(map[string]any{"iss": "https://issuer.sigil.test", "sub": "a", "aud": "sigstore", "exp": time.Now().Add(-time.Hour).Unix()})
	wrongAud := fakesvc.Token(map[string]any{"iss": "https://issuer.sigil.test", "sub": "a", "aud": "other", "exp": time.Now().Add(time.Hour).Unix()})
	for _, tc := range []struct {
		name string
		args []string
		msg  string
	}{
		{"no bundle path", []string{"sign-blob", art, "--identity-token", testToken(), "--trusted-root", root, "--signing-config", sc}, "pass --bundle"},
		{"expired token", []string{"sign-blob", art, "--bundle", b, "--identity-token", expired, "--trusted-root", root, "--signing-config", sc}, "expired"},
		{"wrong audience", []string{"sign-blob", art, "--bundle", b, "--identity-token", wrongAud, "--trusted-root", root, "--signing-config", sc}, "audience"},
		{"CA down", []string{"sign-blob", art, "--bundle", b, "--identity-token", testToken(), "--trusted-root", root, "--signing-config", sc, "--fulcio-url", "http://127.0.0.1:1", "--timeout", "2s"}, "couldn't reach the CA"},
		{"missing artifact", []string{"sign-blob", filepath.Join(dir, "nope"), "--bundle", b, "--identity-token", testToken(), "--trusted-root", root, "--signing-config", sc}, "couldn't open artifact"},
		{"trusted root file is not one", []string{"sign-blob", art, "--bundle", b, "--identity-token", testToken(), "--trusted-root", sc, "--signing-config", sc}, "couldn't load trusted root"},
		// A wrong path to an endless or huge file fails at once; it was
		// read whole (/dev/zero: until memory ran out).
		{"endless key file", []string{"sign-blob", art, "--bundle", b, "--key", "/dev/zero", "--trusted-root", root, "--signing-config", sc}, "larger than 1048576 bytes"},
		{"endless public key", []string{"verify-blob", art, "--bundle", b, "--key", "/dev/zero", "--trusted-root", root}, "larger than 1048576 bytes"},
		{"endless bundle", []string{"verify-blob", art, "--bundle", "/dev/zero", "--key", "/dev/zero", "--trusted-root", root}, "larger than"},
	} {
		code, _, stderr := run(tc.args...)
		if code == 0 || !strings.Contains(stderr, tc.msg) {
			t.Errorf("%s: exit %d, %q", tc.name, code, stderr)
		}
	}
	// None of these got as far as the log.
	if n := f.Seen("/api/v1/log/entries"); n != 0 {
		t.Errorf("the log got %d entries", n)
	}
}

// TestPKCS11Key signs with a key on a SoftHSM2 token, addressed by a
// PKCS#11 URI, and verifies with the public key sigil prints for it.
func TestPKCS11Key(t *testing.T) {
	module := pkcs11test.SoftHSM(t)
	uri := "pkcs11:token=sigil;object=release?module-path=" + module + "&pin-value=1234"
	if _, _, err := keys.GeneratePKCS11(uri, keys.ECDSAP256); err != nil {
		t.Fatal(err)
	}
	_, dir, root, sc := signFixture(t, 1)
	art := filepath.Join(dir, "a.txt")
	os.WriteFile(art, []byte("artifact"), 0o644)
	code, pub, stderr := run("public-key", "--key", uri)
	if code != 0 || !strings.Contains(pub, "BEGIN PUBLIC KEY") {
		t.Fatalf("public-key: %s", stderr)
	}
	pubPath := filepath.Join(dir, "release.pub")
	os.WriteFile(pubPath, []byte(pub), 0o644)
	b := filepath.Join(dir, "hsm.sigstore.json")
	if code, _, stderr := run("sign-blob", art, "--key", uri, "--bundle", b, "--trusted-root", root, "--signing-config", sc); code != 0 {
		t.Fatal(stderr)
	}
	if code, _, stderr := run("verify-blob", art, "--bundle", b, "--key", pubPath, "--trusted-root", root); code != 0 {
		t.Fatal(stderr)
	}
}

// TestBundleNotOverInput: a --bundle that names the artifact (by any path),
// the predicate or the statement is refused before anything is signed,
// instead of replacing the input with its own bundle.
func TestBundleNotOverInput(t *testing.T) {
	f, dir, root, sc := signFixture(t, 1)
	art := filepath.Join(dir, "a.txt")
	os.WriteFile(art, []byte("artifact"), 0o644)
	pred := filepath.Join(dir, "pred.json")
	os.WriteFile(pred, []byte(`{"a":1}`), 0o644)
	link := filepath.Join(dir, "link.txt")
	if err := os.Link(art, link); err != nil {
		t.Fatal(err)
	}
	common := []string{"--identity-token", testToken(), "--trusted-root", root, "--signing-config", sc}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"same path", []string{"sign-blob", art, "--bundle", art}},
		{"another path", []string{"sign-blob", art, "--bundle", filepath.Join(dir, ".", "a.txt")}},
		{"hard link", []string{"sign-blob", art, "--bundle", link}},
		{"attest over artifact", []string{"attest-blob", art, "--predicate", pred, "--bundle", art}},
		{"attest over predicate", []string{"attest-blob", art, "--predicate", pred, "--bundle", pred}},
	} {
		code, _, stderr := run(append(tc.args, common...)...)
		if code == 0 || !strings.Contains(stderr, "which the bundle would replace") {
			t.Errorf("%s: exit %d, %q", tc.name, code, stderr)
		}
	}
	if b, _ := os.ReadFile(art); string(b) != "artifact" {
		t.Fatalf("the artifact was replaced: %.60q", b)
	}
	if b, _ := os.ReadFile(pred); string(b) != `{"a":1}` {
		t.Fatalf("the predicate was replaced: %.60q", b)
	}
	if n := f.Seen("/api/v1/log/entries"); n != 0 {
		t.Errorf("the log got %d entries", n)
	}
	// A bundle in a directory that does not exist: refused before
	// anything is logged.
	if code, _, stderr := run(append([]string{"sign-blob", art, "--bundle", filepath.Join(dir, "nosuch", "a.json")}, common...)...); code == 0 || !strings.Contains(stderr, "is not a directory; create it first") {
		t.Errorf("bundle in a missing directory: exit %d, %q", code, stderr)
	}
	// A bundle path that is a directory: the write would fail after the
	// log had recorded the signature. Refused before.
	for _, out := range []string{dir, dir + "/"} {
		if code, _, stderr := run(append([]string{"sign-blob", art, "--bundle", out}, common...)...); code == 0 || !strings.Contains(stderr, "is a directory") {
			t.Errorf("bundle %s: exit %d, %q", out, code, stderr)
		}
		if code, _, stderr := run(append([]string{"attest-blob", art, "--predicate", pred, "--bundle", out}, common...)...); code == 0 || !strings.Contains(stderr, "is a directory") {
			t.Errorf("attestation bundle %s: exit %d, %q", out, code, stderr)
		}
	}
	// --rekor-v2 without --rekor-url would be ignored: refused.
	if code, _, stderr := run(append([]string{"sign-blob", art, "--bundle", filepath.Join(dir, "v2.json"), "--rekor-v2"}, common...)...); code == 0 || !strings.Contains(stderr, "without --rekor-url the signing config chooses") {
		t.Errorf("--rekor-v2 alone: exit %d, %q", code, stderr)
	}
	if n := f.Seen("/api/v1/log/entries"); n != 0 {
		t.Errorf("the log got %d entries", n)
	}
	// --bundle - is standard output, as "-" is elsewhere in sigil: it
	// created a file named "-" in the working directory.
	t.Chdir(dir)
	for _, cmd := range [][]string{{"sign-blob", art}, {"attest-blob", art, "--predicate", pred}} {
		code, stdout, stderr := run(append(append(cmd, "--bundle", "-"), common...)...)
		if code != 0 || !strings.HasPrefix(stdout, "{") || !strings.Contains(stdout, "application/vnd.dev.sigstore.bundle") || !strings.Contains(stderr, "bundle written to standard output") {
			t.Errorf("%s --bundle -: exit %d, stdout %.80q, stderr %q", cmd[0], code, stdout, stderr)
		}
		if _, err := os.Lstat(filepath.Join(dir, "-")); err == nil {
			t.Fatalf("%s --bundle - wrote a file named -", cmd[0])
		}
	}
	// An existing bundle of another name is still overwritten.
	b := filepath.Join(dir, "a.sigstore.json")
	os.WriteFile(b, []byte("old"), 0o644)
	if code, _, stderr := run(append([]string{"sign-blob", art, "--bundle", b}, common...)...); code != 0 {
		t.Fatal(stderr)
	}
}

// TestGenerateKeyPairExclusive: generate-key-pair checked that PREFIX.key
// did not exist and then wrote it with os.WriteFile, which follows a
// symbolic link: one planted at the name (dangling, so the check passed)
// received the private key wherever it pointed.
func TestGenerateKeyPairExclusive(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("SIGIL_PASSWORD", "s3cret")
	prefix := filepath.Join(dir, "k")
	target := filepath.Join(t.TempDir(), "stolen.key")
	if err := os.Symlink(target, prefix+".key"); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := run("generate-key-pair", "--output-key-prefix", prefix); code == 0 {
		t.Error("generate-key-pair wrote through a symbolic link")
	}
	if _, err := os.Lstat(target); err == nil {
		t.Errorf("the private key was written to %s, where %s.key pointed", target, prefix)
	}
	if _, err := os.Lstat(prefix + ".pub"); err == nil {
		t.Error("a public key was left without its private key")
	}
}

// TestPKCS11KeyTypoHidesPIN: a --key PKCS#11 URI with a mistyped scheme was
// taken for a file name and echoed, pin-value and all, in the error.
func TestPKCS11KeyTypoHidesPIN(t *testing.T) {
	const pin = "98761234"
	for _, key := range []string{
		"PKCS11:token=sigil;object=k?module-path=/lib/p11.so&pin-value=" + pin,
		" pkcs11:token=sigil;object=k?module-path=/lib/p11.so&pin-value=" + pin,
	} {
		code, stdout, stderr := run("public-key", "--key", key)
		if code == 0 {
			t.Errorf("%q: accepted", key)
		}
		if strings.Contains(stdout+stderr, pin) {
			t.Errorf("the PIN is in the output: %s", stderr)
		}
	}
}

// TestVerifyKeyPKCS11URIHidesPIN: a verify command given a PKCS#11 URI as
// --key (as sign-blob takes one) read it as a file name and printed it,
// pin-value and all, in "couldn't read public key: open …".
func TestVerifyKeyPKCS11URIHidesPIN(t *testing.T) {
	const pin = "98761234"
	dir := t.TempDir()
	art := filepath.Join(dir, "a.txt")
	os.WriteFile(art, []byte("artifact"), 0o644)
	b := filepath.Join(dir, "a.sigstore.json")
	os.WriteFile(b, []byte("{}"), 0o644)
	uri := "pkcs11:token=sigil;object=k?module-path=/lib/p11.so&pin-value=" + pin
	for _, args := range [][]string{
		{"verify-blob", art, "--bundle", b, "--key", uri},
		{"verify-blob-attestation", art, "--bundle", b, "--key", uri},
		{"verify", "127.0.0.1:1/app@sha256:" + strings.Repeat("0", 64), "--key", uri},
		{"verify-attestation", "127.0.0.1:1/app@sha256:" + strings.Repeat("0", 64), "--key", uri},
	} {
		code, stdout, stderr := run(args...)
		if code == 0 {
			t.Errorf("%s: accepted", args[0])
		}
		if strings.Contains(stdout+stderr, pin) {
			t.Errorf("%s: the PIN is in the output: %s", args[0], stderr)
		}
		if !strings.Contains(stderr, "sigil public-key --key URI") {
			t.Errorf("%s: %s", args[0], stderr)
		}
	}
}

// TestWrongPasswordNamesItsSource: SIGIL_PASSWORD is used before
// COSIGN_PASSWORD, so a stale SIGIL_PASSWORD beside the right
// COSIGN_PASSWORD failed with a bare 'wrong password'. The error names the
// variable the password came from, and the one it hid.
func TestWrongPasswordNamesItsSource(t *testing.T) {
	dir := t.TempDir()
	prefix := filepath.Join(dir, "k")
	t.Setenv("SIGIL_PASSWORD", "right")
	if code, _, stderr := run("generate-key-pair", "--output-key-prefix", prefix); code != 0 {
		t.Fatal(stderr)
	}
	t.Setenv("SIGIL_PASSWORD", "stale")
	t.Setenv("COSIGN_PASSWORD", "right")
	code, _, stderr := run("public-key", "--key", prefix+".key")
	if code == 0 || !strings.Contains(stderr, "wrong password (the password from SIGIL_PASSWORD; COSIGN_PASSWORD, also set, comes after it)") {
		t.Errorf("exit %d, %q", code, stderr)
	}
	os.Unsetenv("SIGIL_PASSWORD")
	if code, stdout, stderr := run("public-key", "--key", prefix+".key"); code != 0 || !strings.Contains(stdout, "PUBLIC KEY") {
		t.Errorf("COSIGN_PASSWORD: exit %d, %q", code, stderr)
	}
	t.Setenv("COSIGN_PASSWORD", "wrong")
	if code, _, stderr := run("public-key", "--key", prefix+".key"); code == 0 || !strings.Contains(stderr, "wrong password (the password from COSIGN_PASSWORD)") {
		t.Errorf("exit %d, %q", code, stderr)
	}
}

// TestVerifyKeyPKCS1: an RSA public key in PKCS#1 PEM ("RSA PUBLIC KEY",
// as openssl rsa -RSAPublicKey_out writes it), which cosign's --key reads,
// verifies an RSA key-signed bundle; it was refused with 'PEM block "RSA
// PUBLIC KEY", want PUBLIC KEY'.
func TestVerifyKeyPKCS1(t *testing.T) {
	dir := t.TempDir()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := keyfile.Encrypt(k, nil)
	if err != nil {
		t.Fatal(err)
	}
	key, pub := filepath.Join(dir, "rsa.key"), filepath.Join(dir, "rsa.pub")
	os.WriteFile(key, enc, 0o600)
	os.WriteFile(pub, pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&k.PublicKey)}), 0o644)
	art, b := filepath.Join(dir, "a.txt"), filepath.Join(dir, "a.sigstore.json")
	os.WriteFile(art, []byte("artifact"), 0o644)
	t.Setenv("SIGIL_PASSWORD", "")
	if code, _, stderr := run("sign-blob", art, "--key", key, "--no-tlog-upload", "--bundle", b); code != 0 {
		t.Fatal(stderr)
	}
	if code, _, stderr := run("verify-blob", art, "--bundle", b, "--key", pub, "--insecure-ignore-tlog"); code != 0 {
		t.Errorf("PKCS#1 public key: %s", stderr)
	}
	// A policy file's key too.
	pol := filepath.Join(dir, "policy.yaml")
	os.WriteFile(pol, []byte("key: rsa.pub\n"), 0o644)
	if code, _, stderr := run("verify-blob", art, "--bundle", b, "--policy", pol, "--insecure-ignore-tlog"); code != 0 {
		t.Errorf("PKCS#1 public key in a policy: %s", stderr)
	}
	// Another RSA key is still refused.
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	os.WriteFile(pub, pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&other.PublicKey)}), 0o644)
	if code, _, _ := run("verify-blob", art, "--bundle", b, "--key", pub, "--insecure-ignore-tlog"); code == 0 {
		t.Error("another key verified")
	}
}
