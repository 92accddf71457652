package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigil.dev/sigil/internal/cli"
	"sigil.dev/sigil/internal/vectors"
	"sigil.dev/sigil/server/servertest"
)

// TestSignBundle drives sign-bundle the way the conformance suite's signing
// tests do (test_simple, test_sign_does_not_produce_root,
// test_sign_verify_rekor2, test_sign_verify_dsse), against a sigil server:
// the bundle is a v0.3 bundle with a certificate and a Rekor v2
// hashedrekord 0.0.2 entry, carries no root certificate, and verifies; with
// --in-toto the DSSE payload is the statement file byte for byte.
func TestSignBundle(t *testing.T) {
	dir := vectors.Require(t)
	srv := servertest.Start(t, "", "")
	t.Setenv("SIGIL_TUF_CACHE", t.TempDir())
	tmp := t.TempDir()
	art := filepath.Join(dir, "a.txt")
	common := []string{"--identity-token", srv.Token(t)}
	trust := []string{"--trusted-root", srv.TrustedRootFile, "--signing-config", srv.SigningConfigFile}
	verifyArgs := func(b string) []string {
		return []string{"verify-bundle", "--bundle", b, "--certificate-identity", "dev@sigil.test", "--certificate-oidc-issuer", srv.DevIssuerURL(), "--trusted-root", srv.TrustedRootFile, art}
	}

	b := filepath.Join(tmp, "a.sigstore.json")
	if code := run(append(append(append([]string{"sign-bundle"}, common...), "--bundle", b), append(trust, art)...)); code != 0 {
		t.Fatalf("sign-bundle: exit %d", code)
	}
	var got struct {
		MediaType            string
		MessageSignature     json.RawMessage
		VerificationMaterial struct {
			Certificate          *struct{ RawBytes string }
			X509CertificateChain json.RawMessage
			TlogEntries          []struct {
				KindVersion struct{ Kind, Version string }
			}
		}
		DsseEnvelope struct{ Payload []byte }
	}
	raw, _ := os.ReadFile(b)
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	vm := got.VerificationMaterial
	if got.MediaType != "application/vnd.dev.sigstore.bundle.v0.3+json" || got.MessageSignature == nil || vm.Certificate == nil || vm.X509CertificateChain != nil {
		t.Fatalf("bundle shape: %s", raw)
	}
	if len(vm.TlogEntries) != 1 || vm.TlogEntries[0].KindVersion.Kind != "hashedrekord" || vm.TlogEntries[0].KindVersion.Version != "0.0.2" {
		t.Fatalf("log entry: %+v", vm.TlogEntries)
	}
	if code := run(verifyArgs(b)); code != 0 {
		t.Fatalf("verify-bundle: exit %d", code)
	}

	st := filepath.Join(dir, "statement.json")
	d := filepath.Join(tmp, "dsse.sigstore.json")
	if code := run(append(append(append([]string{"sign-bundle", "--in-toto"}, common...), "--bundle", d), append(trust, st)...)); code != 0 {
		t.Fatalf("sign-bundle --in-toto: exit %d", code)
	}
	raw, _ = os.ReadFile(d)
	got.DsseEnvelope.Payload = nil
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(st)
	if !bytes.Equal(got.DsseEnvelope.Payload, want) {
		t.Fatal("the DSSE payload is not the statement file")
	}
	if code := run(verifyArgs(d)); code != 0 {
		t.Fatalf("verify-bundle of the DSSE bundle: exit %d", code)
	}
}

// TestSignBundleDefaultTrust: the suite's test_simple, test_sign_verify_dsse
// and test_sign_does_not_produce_root pass neither --trusted-root nor
// --signing-config, meaning the public-good instance; nor does verify-bundle
// afterwards. The adapter then takes both from the public-good TUF
// repository (here a stand-in publishing a sigil server's documents), not
// from the `sigil trust init` setup, which is empty here.
func TestSignBundleDefaultTrust(t *testing.T) {
	dir := vectors.Require(t)
	srv := servertest.Start(t, "", "")
	tr, err := os.ReadFile(srv.TrustedRootFile)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := os.ReadFile(srv.SigningConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	fakePublicGood(t, tr, sc)
	art := filepath.Join(dir, "a.txt")
	b := filepath.Join(t.TempDir(), "a.sigstore.json")
	if code := run([]string{"sign-bundle", "--identity-token", srv.Token(t), "--bundle", b, art}); code != 0 {
		t.Fatalf("sign-bundle: exit %d", code)
	}
	if code := run([]string{"verify-bundle", "--bundle", b, "--certificate-identity", "dev@sigil.test", "--certificate-oidc-issuer", srv.DevIssuerURL(), art}); code != 0 {
		t.Fatalf("verify-bundle: exit %d", code)
	}
}

// TestSignBundleStaging: --staging takes the trusted root and signing
// config from the staging instance's TUF repository (here a stand-in), not
// the public-good one (here a stand-in with another instance's documents,
// which must not be used).
func TestSignBundleStaging(t *testing.T) {
	dir := vectors.Require(t)
	srv := servertest.Start(t, "", "")
	other := servertest.Start(t, "", "")
	read := func(p string) []byte {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	fakePublicGood(t, read(other.TrustedRootFile), read(other.SigningConfigFile))
	fakeRepo(t, &staging, read(srv.TrustedRootFile), read(srv.SigningConfigFile))
	art := filepath.Join(dir, "a.txt")
	b := filepath.Join(t.TempDir(), "a.sigstore.json")
	if code := run([]string{"sign-bundle", "--staging", "--identity-token", srv.Token(t), "--bundle", b, art}); code != 0 {
		t.Fatalf("sign-bundle --staging: exit %d", code)
	}
	verify := func(extra ...string) int {
		return run(append(append([]string{"verify-bundle"}, extra...), "--bundle", b, "--certificate-identity", "dev@sigil.test", "--certificate-oidc-issuer", srv.DevIssuerURL(), art))
	}
	if code := verify("--staging"); code != 0 {
		t.Fatalf("verify-bundle --staging: exit %d", code)
	}
	if code := verify(); code == 0 {
		t.Fatal("a staging bundle verified against the public-good stand-in")
	}
}

// TestEmptyTrustFlags: an empty --trusted-root or --signing-config (an
// unset shell variable) is refused. sign-blob and verify-blob read an empty
// one as absent and fell back to the mirror set up with `sigil trust
// init`, so the adapter signed to and verified against that instance,
// which it must never use (sigstore-go's client fails: open "").
func TestEmptyTrustFlags(t *testing.T) {
	dir := vectors.Require(t)
	srv := servertest.Start(t, "", "")
	t.Setenv("SIGIL_TUF_CACHE", t.TempDir())
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	if code := cli.Main([]string{"trust", "init", "--mirror", srv.PublicURL() + "/tuf", "--root", srv.TUFRootPath()}, io.Discard, io.Discard); code != 0 {
		t.Fatalf("sigil trust init: exit %d", code)
	}
	art := filepath.Join(dir, "a.txt")
	b := filepath.Join(t.TempDir(), "a.sigstore.json")
	tok := srv.Token(t)
	for _, args := range [][]string{
		{"sign-bundle", "--identity-token", tok, "--bundle", b, "--trusted-root", "", "--signing-config", "", art},
		{"sign-bundle", "--identity-token", tok, "--bundle", b, "--trusted-root=", "--signing-config=", art},
		{"sign-bundle", "--identity-token", tok, "--bundle", b, "--trusted-root", srv.TrustedRootFile, "--signing-config", "", art},
	} {
		if code := run(args); code == 0 {
			t.Errorf("%q: signed with the sigil trust init instance", args[5:len(args)-1])
		}
	}
	if _, err := os.Stat(b); err == nil {
		t.Fatal("a bundle was written")
	}
	if code := run([]string{"sign-bundle", "--identity-token", tok, "--bundle", b, "--trusted-root", srv.TrustedRootFile, "--signing-config", srv.SigningConfigFile, art}); code != 0 {
		t.Fatalf("sign-bundle: exit %d", code)
	}
	id := []string{"--certificate-identity", "dev@sigil.test", "--certificate-oidc-issuer", srv.DevIssuerURL()}
	for _, root := range [][]string{{"--trusted-root", ""}, {"--trusted-root="}} {
		args := append(append(append([]string{"verify-bundle", "--bundle", b}, id...), root...), art)
		if code := run(args); code == 0 {
			t.Errorf("%q: verified against the sigil trust init instance", args)
		}
	}
}

// TestDefaultTrustNotSetUpNamesTheMissingFlag: when the public-good TUF
// repository is not set up, the error names the flag that is actually
// missing. sign-bundle with --trusted-root but without --signing-config
// said "no --trusted-root given".
func TestDefaultTrustNotSetUpNamesTheMissingFlag(t *testing.T) {
	dir := vectors.Require(t)
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	t.Setenv(publicGood.envRoot, "")
	old := publicGood
	publicGood.mirror, publicGood.root = "http://127.0.0.1:1/tuf", nil
	t.Cleanup(func() { publicGood = old })
	art := filepath.Join(dir, "a.txt")
	root := filepath.Join(dir, "production_trusted_root.json")
	b := filepath.Join(t.TempDir(), "a.sigstore.json")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"sign-bundle", "--identity-token", "x", "--bundle", b, "--trusted-root", root, art}, "no --signing-config given"},
		{[]string{"sign-bundle", "--identity-token", "x", "--bundle", b, art}, "no --trusted-root or --signing-config given"},
		{[]string{"verify-bundle", "--bundle", b, "--key", root, art}, "no --trusted-root given"},
	} {
		stderr := captureStderr(t, func() {
			if code := run(tc.args); code == 0 {
				t.Errorf("%q: exit 0", tc.args)
			}
		})
		if !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: %q does not say %q", tc.args, stderr, tc.want)
		}
	}
}

// captureStderr returns what f writes to os.Stderr.
func captureStderr(t *testing.T, f func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stderr
	os.Stderr = w
	done := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(r)
		done <- b
	}()
	defer func() { os.Stderr = old }()
	f()
	w.Close()
	os.Stderr = old
	return string(<-done)
}
