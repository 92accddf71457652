package cli

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"sigil.dev/sigil/internal/oracle"
	"sigil.dev/sigil/internal/testpki"
	"sigil.dev/sigil/oci"
	"sigil.dev/sigil/oci/ocitest"
	"sigil.dev/sigil/server/servertest"
	"sigil.dev/sigil/trust"
)

// Interop with cosign (outside oracles, .ci/install-cosign.sh) through the
// distribution registry (.ci/install-registry.sh), against the signing
// services of a real `sigil server` (server/servertest):
//
//   - sigil's legacy-format signatures and attestations verify with cosign
//     v2.6.5; its referrers-format ones with cosign v3.1.3;
//   - images signed and attested by cosign v2 and v3 verify with sigil;
//   - a wrong identity, a tampered signature layer and a signature moved to
//     another digest are refused by all.

// cosignTool runs one cosign release in an environment of its own: its own
// HOME and TUF cache, so it sees only the files the test gives it.
type cosignTool struct {
	bin string
	env []string
}

func newCosign(t *testing.T, bin string) *cosignTool {
	home := t.TempDir()
	return &cosignTool{bin: oracle.Find(t, bin, ".ci/install-cosign.sh"), env: []string{
		"HOME=" + home, "PATH=" + os.Getenv("PATH"), "TUF_ROOT=" + filepath.Join(home, "tuf"),
		"SIGSTORE_NO_CACHE=true", "COSIGN_YES=true", "DOCKER_CONFIG=" + filepath.Join(home, "docker"),
	}}
}

func (c *cosignTool) run(args ...string) (string, error) {
	cmd := exec.Command(c.bin, args...)
	cmd.Env = c.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func (c *cosignTool) must(t *testing.T, args ...string) string {
	t.Helper()
	out, err := c.run(args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(c.bin), strings.Join(args, " "), err, out)
	}
	return out
}

func (c *cosignTool) mustFail(t *testing.T, why string, args ...string) {
	t.Helper()
	if out, err := c.run(args...); err == nil {
		t.Fatalf("%s accepted %s:\n%s", filepath.Base(c.bin), why, out)
	}
}

// withTrustEnv returns a cosign that reads the trusted root's material
// from the SIGSTORE_* variables cosign v2 honours: the CA certificates, the
// Rekor and CT log keys, and the TSA chain.
func (c *cosignTool) withTrustEnv(t *testing.T, rootPath string) *cosignTool {
	t.Helper()
	raw, err := os.ReadFile(rootPath)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := trust.ParseTrustedRoot(raw)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var cas, tsa []byte
	for _, ca := range tr.CAs {
		for _, x := range append(append([]*x509.Certificate{}, ca.Intermediates...), ca.Root) {
			cas = append(cas, testpki.PEM(x)...)
		}
	}
	for _, ca := range tr.TSAs {
		for _, x := range append(append([]*x509.Certificate{ca.Leaf}, ca.Intermediates...), ca.Root) {
			if x != nil {
				tsa = append(tsa, testpki.PEM(x)...)
			}
		}
	}
	keys := func(logs map[string]*trust.Log) []byte {
		var out []byte
		for _, l := range logs {
			// Rekor v1 logs only: cosign v2 checks SETs, which only ECDSA
			// logs issue.
			if _, ok := l.PublicKey.(*ecdsa.PublicKey); ok {
				out = append(out, testpki.PublicKeyPEM(l.PublicKey)...)
			}
		}
		return out
	}
	files := map[string][]byte{"SIGSTORE_ROOT_FILE": cas, "SIGSTORE_TSA_CERTIFICATE_FILE": tsa,
		"SIGSTORE_REKOR_PUBLIC_KEY": keys(tr.TLogs), "SIGSTORE_CT_LOG_PUBLIC_KEY_FILE": keys(tr.CTLogs)}
	out := &cosignTool{bin: c.bin, env: append([]string{}, c.env...)}
	for v, b := range files {
		p := filepath.Join(dir, v+".pem")
		os.WriteFile(p, b, 0o644)
		out.env = append(out.env, v+"="+p)
	}
	return out
}

// newInteropEnv runs the interop tests end to end: the distribution
// registry, and a complete `sigil server` (CA with CT, Rekor v2 and v1, TSA,
// dev OIDC issuer) whose trusted root and signing config sigil and cosign
// both use.
func newInteropEnv(t *testing.T) *imageEnv {
	t.Helper()
	host := ocitest.StartRegistry(t, ocitest.RegistryOptions{})
	s := servertest.Start(t, "", "")
	tok := s.Token(t)
	e := &imageEnv{host: host, dir: t.TempDir(), root: s.TrustedRootFile, identity: "dev@sigil.test", issuer: s.DevIssuerURL(), registryReferrers: true, token: tok}
	e.signArgs = []string{"--identity-token", tok, "--trusted-root", s.TrustedRootFile, "--signing-config", s.SigningConfigFile}
	e.idArgs = []string{"--certificate-identity", e.identity, "--certificate-oidc-issuer", e.issuer, "--trusted-root", s.TrustedRootFile}
	return e
}

func (e *imageEnv) signingConfig() string { return e.signArgs[5] }

func (e *imageEnv) writePredicate(t *testing.T) string {
	p := filepath.Join(e.dir, "provenance.json")
	os.WriteFile(p, []byte(`{"buildDefinition":{"buildType":"https://example.com/build/v1"},"runDetails":{"builder":{"id":"https://github.com/actions/runner"}}}`), 0o644)
	return p
}

func TestCosignV2VerifiesSigilLegacy(t *testing.T) {
	cosign := newCosign(t, "cosign")
	e := newInteropEnv(t)
	a := ocitest.PushImage(t, e.host, "app", "a").String()
	b := ocitest.PushImage(t, e.host, "app", "b").String()
	pred := e.writePredicate(t)
	e.sigil(t, 0, append([]string{"sign", a, "--format", "legacy", "-a", "env=prod"}, e.signArgs...)...)
	e.sigil(t, 0, append([]string{"attest", a, "--format", "legacy", "--predicate", pred, "--type", "slsaprovenance1"}, e.signArgs...)...)

	id := []string{"--trusted-root", e.root, "--certificate-identity", e.identity, "--certificate-oidc-issuer", e.issuer}
	out := cosign.must(t, append([]string{"verify", "-a", "env=prod", "--use-signed-timestamps"}, append(id, a)...)...)
	if !strings.Contains(out, `"docker-manifest-digest"`) {
		t.Fatalf("cosign verify printed:\n%s", out)
	}
	// cosign v2's verify-attestation reads the trust material from the
	// environment only (no --trusted-root without the bundle format).
	v2 := cosign.withTrustEnv(t, e.root)
	idEnv := id[2:]
	v2.must(t, append([]string{"verify-attestation", "--type", "slsaprovenance1", "--use-signed-timestamps"}, append(idEnv, a)...)...)

	wrong := []string{"--trusted-root", e.root, "--certificate-identity", "mallory@sigil.test", "--certificate-oidc-issuer", e.issuer}
	cosign.mustFail(t, "a wrong identity", append([]string{"verify"}, append(wrong, a)...)...)
	v2.mustFail(t, "a wrong identity", append([]string{"verify-attestation", "--type", "slsaprovenance1"}, append(wrong[2:], a)...)...)

	// sigil's default, a bundle as an OCI 1.1 referrer logged in Rekor v2:
	// cosign v2 finds it, and verifies it with the TSA's time (the README
	// says so).
	c := ocitest.PushImage(t, e.host, "app", "c").String()
	e.sigil(t, 0, append([]string{"sign", c}, e.signArgs...)...)
	cosign.must(t, append([]string{"verify", "--use-signed-timestamps"}, append(id, c)...)...)
	cosign.mustFail(t, "a wrong identity", append([]string{"verify", "--use-signed-timestamps"}, append(wrong, c)...)...)

	moveLegacy(t, mustDigest(t, a), mustDigest(t, b))
	cosign.mustFail(t, "a signature moved to another digest", append([]string{"verify"}, append(id, b)...)...)
	e.sigil(t, 1, append([]string{"verify", b}, e.idArgs...)...)

	tamperLegacy(t, mustDigest(t, a))
	cosign.mustFail(t, "a tampered signature layer", append([]string{"verify"}, append(id, a)...)...)
	e.sigil(t, 1, append([]string{"verify", a}, e.idArgs...)...)
}

func TestCosignV3VerifiesSigilReferrers(t *testing.T) {
	cosign := newCosign(t, "cosign3")
	e := newInteropEnv(t)
	a := ocitest.PushImage(t, e.host, "app", "a").String()
	b := ocitest.PushImage(t, e.host, "app", "b").String()
	c := ocitest.PushImage(t, e.host, "app", "c").String()
	pred := e.writePredicate(t)
	e.sigil(t, 0, append([]string{"sign", a}, e.signArgs...)...)
	e.sigil(t, 0, append([]string{"attest", c, "--predicate", pred, "--type", "slsaprovenance1"}, e.signArgs...)...)

	id := []string{"--trusted-root", e.root, "--certificate-identity", e.identity, "--certificate-oidc-issuer", e.issuer}
	cosign.must(t, append([]string{"verify"}, append(id, a)...)...)
	cosign.must(t, append([]string{"verify-attestation", "--type", "slsaprovenance1"}, append(id, c)...)...)

	wrong := []string{"--trusted-root", e.root, "--certificate-identity", "mallory@sigil.test", "--certificate-oidc-issuer", e.issuer}
	cosign.mustFail(t, "a wrong identity", append([]string{"verify"}, append(wrong, a)...)...)
	cosign.mustFail(t, "a wrong identity", append([]string{"verify-attestation", "--type", "slsaprovenance1"}, append(wrong, c)...)...)

	// (cosign v3's verify accepts any verified bundle, attestations
	// included, so these images carry signatures only; sigil's verify
	// accepts only statements of the sign predicate.)
	moveReferrers(t, mustDigest(t, a), mustDigest(t, b))
	cosign.mustFail(t, "a bundle moved to another digest", append([]string{"verify"}, append(id, b)...)...)
	e.sigil(t, 1, append([]string{"verify", b}, e.idArgs...)...)

	tamperReferrers(t, mustDigest(t, a))
	cosign.mustFail(t, "a tampered bundle", append([]string{"verify"}, append(id, a)...)...)
	e.sigil(t, 1, append([]string{"verify", a}, e.idArgs...)...)
}

func TestSigilVerifiesCosignV2(t *testing.T) {
	cosign := newCosign(t, "cosign")
	e := newInteropEnv(t)
	d := ocitest.PushImage(t, e.host, "app", "v1").String()
	pred := e.writePredicate(t)
	svc := e.serviceURL()
	common := []string{"--fulcio-url", svc, "--rekor-url", svc, "--timestamp-server-url", svc + "/api/v1/timestamp",
		"--identity-token", e.tokenFile(t), "--trusted-root", e.root}
	cosign.must(t, append(append([]string{"sign", "-a", "env=prod"}, common...), d)...)
	cosign.must(t, append(append([]string{"attest", "--predicate", pred, "--type", "slsaprovenance1"}, common...), d)...)

	dumpGolden(t, e, "cosign-v2.6.5", d)
	_, stderr := e.sigil(t, 0, append([]string{"verify", d, "-a", "env=prod"}, e.idArgs...)...)
	if !strings.Contains(stderr, "[tag]") {
		t.Fatalf("verify said:\n%s", stderr)
	}
	e.sigil(t, 0, append([]string{"verify-attestation", d, "--type", "slsaprovenance1"}, e.idArgs...)...)
	bad := append([]string{"verify", d}, e.idArgs...)
	bad[3] = "mallory@sigil.test"
	e.sigil(t, 1, bad...)
}

func TestSigilVerifiesCosignV3(t *testing.T) {
	cosign := newCosign(t, "cosign3")
	e := newInteropEnv(t)
	d := ocitest.PushImage(t, e.host, "app", "v1").String()
	pred := e.writePredicate(t)
	common := []string{"--signing-config", e.signingConfig(), "--trusted-root", e.root, "--identity-token", e.tokenFile(t)}
	cosign.must(t, append(append([]string{"sign"}, common...), d)...)
	cosign.must(t, append(append([]string{"attest", "--predicate", pred, "--type", "slsaprovenance1"}, common...), d)...)

	dumpGolden(t, e, "cosign-v3.1.3", d)
	// The distribution registry has no referrers API, and cosign v3's
	// entries in the referrers tag schema index carry no annotations:
	// tree reads what each referrer is from its manifest, as cosign tree
	// does.
	out, _ := e.sigil(t, 0, "tree", d)
	for _, want := range []string{
		"signature referrer sha256:", oci.SignPredicateType,
		"attestation referrer sha256:", "https://slsa.dev/provenance/v1",
	} {
		if !strings.Contains(out, want) {
			t.Fatalf("tree does not say %q:\n%s", want, out)
		}
	}
	_, stderr := e.sigil(t, 0, append([]string{"verify", d}, e.idArgs...)...)
	if !strings.Contains(stderr, "[referrers]") {
		t.Fatalf("verify said:\n%s", stderr)
	}
	out, _ = e.sigil(t, 0, append([]string{"verify-attestation", d, "--type", "slsaprovenance1", "-o", "json"}, e.idArgs...)...)
	if !strings.Contains(out, "https://github.com/actions/runner") {
		t.Fatalf("statement not printed:\n%s", out)
	}
	bad := append([]string{"verify", d}, e.idArgs...)
	bad[3] = "mallory@sigil.test"
	e.sigil(t, 1, bad...)
}

// tokenFile writes an identity token to a file: cosign takes a token that
// does not parse as a signed JWT for a path.
func (e *imageEnv) tokenFile(t *testing.T) string {
	p := filepath.Join(e.dir, "token")
	tok := e.token
	if tok == "" {
		tok = signedTestToken(t)
	}
	if err := os.WriteFile(p, []byte(tok), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// signedTestToken is testToken's claims in an ES256 JWT from a throwaway
// key: cosign v2 refuses unsigned tokens before it sends them, and the
// fake CA does not check the signature.
func signedTestToken(t *testing.T) string {
	_, claims, _ := strings.Cut(testToken(), ".")
	claims, _, _ = strings.Cut(claims, ".")
	input := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"ES256","typ":"JWT"}`)) + "." + claims
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, k, h[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// serviceURL is the base URL of the signing services (the CA, log and
// TSA of the signing config).
func (e *imageEnv) serviceURL() string {
	raw, _ := os.ReadFile(e.signingConfig())
	var sc struct {
		CAURLs []struct {
			URL string `json:"url"`
		} `json:"caUrls"`
	}
	json.Unmarshal(raw, &sc)
	return sc.CAURLs[0].URL
}

func mustDigest(t *testing.T, s string) name.Digest {
	d, err := name.NewDigest(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// moveLegacy copies a's legacy signature manifest to b's .sig tag.
func moveLegacy(t *testing.T, a, b name.Digest) {
	t.Helper()
	img, err := remote.Image(oci.LegacyTag(a, oci.KindSignature))
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(oci.LegacyTag(b, oci.KindSignature), img); err != nil {
		t.Fatal(err)
	}
}

// tamperLegacy rewrites d's .sig tag with the payload changed and the
// signature material kept.
func tamperLegacy(t *testing.T, d name.Digest) {
	t.Helper()
	found, _, err := oci.New(oci.Options{}).Find(context.Background(), d, oci.KindSignature)
	if err != nil || len(found) == 0 {
		t.Fatal(len(found), err)
	}
	img := mutate.MediaType(mutate.ConfigMediaType(empty.Image, types.OCIConfigJSON), types.OCIManifestSchema1)
	for _, f := range found {
		payload := []byte(strings.Replace(string(f.Raw), `"env":"prod"`, `"env":"dev"`, 1))
		if img, err = mutate.Append(img, mutate.Addendum{Layer: static.NewLayer(payload, types.MediaType(f.MediaType)), Annotations: f.Annotations}); err != nil {
			t.Fatal(err)
		}
	}
	if err := remote.Write(oci.LegacyTag(d, oci.KindSignature), img); err != nil {
		t.Fatal(err)
	}
}

// moveReferrers attaches a's signature bundles to b.
func moveReferrers(t *testing.T, a, b name.Digest) {
	t.Helper()
	c := oci.New(oci.Options{})
	ctx := context.Background()
	found, _, err := c.Find(ctx, a, oci.KindSignature)
	if err != nil || len(found) == 0 {
		t.Fatal(len(found), err)
	}
	desc, err := c.Describe(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range found {
		if _, err := c.WriteReferrer(ctx, b, desc, f.Raw, "dsse-envelope", oci.SignPredicateType, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
}

// tamperReferrers replaces d's signature bundles by copies whose statement
// was changed.
func tamperReferrers(t *testing.T, d name.Digest) {
	t.Helper()
	c := oci.New(oci.Options{})
	ctx := context.Background()
	found, _, err := c.Find(ctx, d, oci.KindSignature)
	if err != nil || len(found) == 0 {
		t.Fatal(len(found), err)
	}
	desc, err := c.Describe(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range found {
		var bj map[string]any
		json.Unmarshal(f.Raw, &bj)
		env := bj["dsseEnvelope"].(map[string]any)
		st, _ := base64.StdEncoding.DecodeString(env["payload"].(string))
		st = []byte(strings.Replace(string(st), `"predicate":{}`, `"predicate":{"tampered":true}`, 1))
		env["payload"] = base64.StdEncoding.EncodeToString(st)
		raw, _ := json.Marshal(bj)
		if err := remote.Delete(mustDigest(t, f.Source)); err != nil {
			t.Fatal(err)
		}
		if _, err := c.WriteReferrer(ctx, d, desc, raw, "dsse-envelope", oci.SignPredicateType, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
}

// --format both serves verifiers of either generation.
func TestCosignVerifiesSigilBoth(t *testing.T) {
	v2, v3 := newCosign(t, "cosign"), newCosign(t, "cosign3")
	e := newInteropEnv(t)
	d := ocitest.PushImage(t, e.host, "app", "v1").String()
	e.sigil(t, 0, append([]string{"sign", d, "--format", "both"}, e.signArgs...)...)
	id := []string{"--trusted-root", e.root, "--certificate-identity", e.identity, "--certificate-oidc-issuer", e.issuer, d}
	v2.must(t, append([]string{"verify"}, id...)...)
	v3.must(t, append([]string{"verify"}, id...)...)
}

// dumpGolden writes what cosign attached to an image, and the trusted
// root, to $SIGIL_OCI_GOLDEN_DIR/<name> for oci's golden tests
// (oci/testdata): SIGIL_OCI_GOLDEN_DIR=$PWD/../../oci/testdata go test
// -run 'TestSigilVerifiesCosign' ./internal/cli
func dumpGolden(t *testing.T, e *imageEnv, dirName, image string) {
	base := os.Getenv("SIGIL_OCI_GOLDEN_DIR")
	if base == "" {
		return
	}
	dir := filepath.Join(base, dirName)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	root, _ := os.ReadFile(e.root)
	os.WriteFile(filepath.Join(dir, "trusted_root.json"), root, 0o644)
	d := mustDigest(t, image)
	type layer struct {
		Kind        oci.Kind          `json:"kind"`
		Scheme      oci.Scheme        `json:"scheme"`
		MediaType   string            `json:"mediaType"`
		Annotations map[string]string `json:"annotations,omitempty"`
		Raw         []byte            `json:"raw"`
	}
	out := struct {
		Digest string  `json:"digest"`
		Found  []layer `json:"found"`
	}{Digest: d.DigestStr()}
	for _, k := range []oci.Kind{oci.KindSignature, oci.KindAttestation} {
		found, _, err := oci.New(oci.Options{}).Find(context.Background(), d, k)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range found {
			out.Found = append(out.Found, layer{Kind: f.Kind, Scheme: f.Scheme, MediaType: f.MediaType, Annotations: f.Annotations, Raw: f.Raw})
		}
	}
	b, _ := json.MarshalIndent(out, "", "  ")
	os.WriteFile(filepath.Join(dir, "attached.json"), append(b, '\n'), 0o644)
}

// The same with a registry that has the OCI 1.1 referrers API (the
// in-process registry; the distribution registry has none).
func TestCosignV3ReferrersAPI(t *testing.T) {
	cosign := newCosign(t, "cosign3")
	e := newImageEnv(t, true)
	mine := ocitest.PushImage(t, e.host, "app", "sigil").String()
	theirs := ocitest.PushImage(t, e.host, "app", "cosign").String()
	e.sigil(t, 0, append([]string{"sign", mine}, e.signArgs...)...)
	cosign.must(t, "verify", "--trusted-root", e.root, "--certificate-identity", e.identity, "--certificate-oidc-issuer", e.issuer, mine)
	cosign.must(t, "sign", "--signing-config", e.signingConfig(), "--trusted-root", e.root, "--identity-token", e.tokenFile(t), theirs)
	e.sigil(t, 0, append([]string{"verify", theirs}, e.idArgs...)...)
}
