package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/cobra"

	"sigil.dev/sigil/internal/fakesvc"
	"sigil.dev/sigil/intoto"
	"sigil.dev/sigil/oci"
	"sigil.dev/sigil/oci/ocitest"
	"sigil.dev/sigil/rekor"
	"sigil.dev/sigil/sign"
	"sigil.dev/sigil/verify"
)

// imageEnv is a registry and fake signing services, with the flags that
// point sigil at them. Switching to a real sigil server changes only
// signArgs (its trusted root and signing config) and the identity.
type imageEnv struct {
	host, dir         string
	token             string // a real token for cosign; empty: a signed test token
	signArgs, idArgs  []string
	root              string
	identity, issuer  string
	registryReferrers bool
	svc               *fakesvc.Services // nil with a real sigil server
	reg               *ocitest.Registry // nil with the distribution registry
}

func newImageEnv(t *testing.T, referrersAPI bool) *imageEnv {
	t.Helper()
	return newImageEnvRekor(t, referrersAPI, 1)
}

// newImageEnvRekor is newImageEnv with a signing config naming a Rekor log
// of the given major API version.
func newImageEnvRekor(t *testing.T, referrersAPI bool, rekorVersion uint32) *imageEnv {
	t.Helper()
	svc, dir, root, sc := signFixture(t, rekorVersion)
	reg := ocitest.NewRegistry(t, referrersAPI)
	e := &imageEnv{host: reg.Host, dir: dir, root: root, identity: "alice@sigil.test", issuer: "https://issuer.sigil.test", registryReferrers: referrersAPI, svc: svc, reg: reg}
	e.signArgs = []string{"--identity-token", testToken(), "--trusted-root", root, "--signing-config", sc}
	e.idArgs = []string{"--certificate-identity", e.identity, "--certificate-oidc-issuer", e.issuer, "--trusted-root", root}
	return e
}

func (e *imageEnv) sigil(t *testing.T, wantCode int, args ...string) (stdout, stderr string) {
	t.Helper()
	code, out, errOut := run(args...)
	if code != wantCode {
		t.Fatalf("sigil %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, wantCode, out, errOut)
	}
	return out, errOut
}

func TestImageSignVerifyCLI(t *testing.T) {
	for _, format := range []string{"referrers", "legacy", "both"} {
		t.Run(format, func(t *testing.T) {
			e := newImageEnv(t, format != "both")
			d := ocitest.PushImage(t, e.host, "app", "v1")
			tag := e.host + "/app:v1"
			_, stderr := e.sigil(t, 0, append([]string{"sign", tag, "--format", format}, e.signArgs...)...)
			if !strings.Contains(stderr, "Warning: "+tag+" is a tag") || !strings.Contains(stderr, d.String()) {
				t.Fatalf("no tag warning naming the digest:\n%s", stderr)
			}
			if !strings.Contains(stderr, "Signed "+d.String()+" by alice@sigil.test") {
				t.Fatalf("sign said:\n%s", stderr)
			}
			_, stderr = e.sigil(t, 0, append([]string{"verify", d.String()}, e.idArgs...)...)
			if !strings.Contains(stderr, "Verified OK: "+d.String()) {
				t.Fatalf("verify said:\n%s", stderr)
			}
			out, _ := e.sigil(t, 0, append([]string{"verify", d.String(), "-o", "json"}, e.idArgs...)...)
			var res []map[string]any
			if err := json.Unmarshal([]byte(out), &res); err != nil {
				t.Fatalf("json output: %v\n%s", err, out)
			}
			want := map[string]int{"referrers": 1, "legacy": 1, "both": 2}[format]
			if len(res) != want {
				t.Fatalf("%d results, want %d", len(res), want)
			}
			// A wrong identity is refused, naming what was found.
			bad := append([]string{"verify", d.String()}, e.idArgs...)
			bad[3] = "mallory@sigil.test"
			_, stderr = e.sigil(t, 1, bad...)
			if !strings.Contains(stderr, "no matching signatures") || !strings.Contains(stderr, `got "alice@sigil.test"`) {
				t.Fatalf("wrong identity said:\n%s", stderr)
			}
			// tree and download see it.
			out, _ = e.sigil(t, 0, "tree", d.String())
			if !strings.Contains(out, "signature") {
				t.Fatalf("tree:\n%s", out)
			}
			out, _ = e.sigil(t, 0, "download", "signature", d.String())
			if n := strings.Count(strings.TrimSpace(out), "\n") + 1; n != want {
				t.Fatalf("download printed %d lines, want %d:\n%s", n, want, out)
			}
		})
	}
}

func TestImageVerifyManyCLI(t *testing.T) {
	e := newImageEnv(t, true)
	var signed []string
	for _, tag := range []string{"a", "b", "c"} {
		d := ocitest.PushImage(t, e.host, "app", tag)
		e.sigil(t, 0, append([]string{"sign", d.String()}, e.signArgs...)...)
		signed = append(signed, d.String())
	}
	e.sigil(t, 0, append(append([]string{"verify"}, signed...), e.idArgs...)...)
	unsigned := ocitest.PushImage(t, e.host, "app", "unsigned").String()
	_, stderr := e.sigil(t, 1, append(append([]string{"verify", unsigned}, signed...), e.idArgs...)...)
	if !strings.Contains(stderr, "1 of 4 images failed") || !strings.Contains(stderr, "Error: "+unsigned+": no signatures found") {
		t.Fatalf("stderr:\n%s", stderr)
	}
}

func TestImageAttestCLI(t *testing.T) {
	e := newImageEnv(t, false)
	d := ocitest.PushImage(t, e.host, "app", "v1").String()
	pred := filepath.Join(e.dir, "provenance.json")
	os.WriteFile(pred, []byte(`{"buildDefinition":{"buildType":"https://example.com/build/v1"},"runDetails":{"builder":{"id":"https://github.com/actions/runner"}}}`), 0o644)
	for _, format := range []string{"legacy", "referrers"} {
		e.sigil(t, 0, append([]string{"attest", d, "--predicate", pred, "--type", "slsaprovenance1", "--format", format}, e.signArgs...)...)
	}
	out, _ := e.sigil(t, 0, append([]string{"verify-attestation", d, "--type", "slsaprovenance1", "-o", "json"}, e.idArgs...)...)
	var res []struct {
		Scheme    string          `json:"scheme"`
		Statement json.RawMessage `json:"statement"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res) != 2 {
		t.Fatalf("%d results, %v\n%s", len(res), err, out)
	}
	_, stderr := e.sigil(t, 1, append([]string{"verify-attestation", d, "--type", "spdxjson"}, e.idArgs...)...)
	want := "Error: no attestations found: none of type https://spdx.dev/Document is attached to " + d + "; attached predicate types: https://slsa.dev/provenance/v1\n"
	if stderr != want {
		t.Fatalf("missing type should name what is there:\n%s\nwant %s", stderr, want)
	}
	_, stderr = e.sigil(t, 1, "download", "attestation", d, "--predicate-type", "spdxjson")
	if !strings.HasSuffix(stderr, want) {
		t.Fatalf("download of a missing type:\n%s\nwant %s", stderr, want)
	}
	wrong := append([]string{"verify-attestation", d, "--type", "slsaprovenance1"}, e.idArgs...)
	wrong[5] = "mallory@sigil.test"
	_, stderr = e.sigil(t, 1, wrong...)
	if !strings.HasPrefix(stderr, "Error: no matching attestations for "+d+": 2 attestations of type https://slsa.dev/provenance/v1 found, none verified: ") {
		t.Fatalf("wrong identity:\n%s", stderr)
	}

	good := filepath.Join(e.dir, "good.yaml")
	os.WriteFile(good, []byte(`identities:
  - issuer: https://issuer.sigil.test
    subjectRegExp: ^alice@
predicateType: slsaprovenance1
conditions:
  - name: github-runner
    expression: predicate.runDetails.builder.id == "https://github.com/actions/runner"
  - name: signed-by-alice
    expression: certificate.subject == "alice@sigil.test"
`), 0o644)
	e.sigil(t, 0, "verify-attestation", d, "--policy", good, "--trusted-root", e.root)
	bad := filepath.Join(e.dir, "bad.yaml")
	os.WriteFile(bad, []byte(`conditions:
  - name: built-in-house
    expression: predicate.runDetails.builder.id.startsWith("https://builder.example.com/")
    message: the image was not built by the in-house builder
`), 0o644)
	_, stderr = e.sigil(t, 1, append([]string{"verify-attestation", d, "--type", "slsaprovenance1", "--policy", bad}, e.idArgs...)...)
	if !strings.Contains(stderr, `policy condition "built-in-house" failed: the image was not built by the in-house builder`) {
		t.Fatalf("policy failure:\n%s", stderr)
	}
	_, stderr = e.sigil(t, 1, append([]string{"verify-attestation", d, "--policy", good}, e.idArgs...)...)
	if !strings.Contains(stderr, "names the signers") {
		t.Fatalf("identities twice:\n%s", stderr)
	}
	out, _ = e.sigil(t, 0, "download", "attestation", d, "--predicate-type", "slsaprovenance1")
	if strings.Count(out, "\n") != 2 {
		t.Fatalf("download:\n%s", out)
	}
}

func TestImageMultiArchCLI(t *testing.T) {
	e := newImageEnv(t, true)
	idx, kids := ocitest.PushIndex(t, e.host, "app", "v1", "linux/amd64", "linux/arm64")
	_, stderr := e.sigil(t, 0, append([]string{"sign", idx.String(), "--recursive"}, e.signArgs...)...)
	if n := strings.Count(stderr, "Signed "); n != 3 {
		t.Fatalf("signed %d manifests, want 3:\n%s", n, stderr)
	}
	_, stderr = e.sigil(t, 0, append([]string{"verify", idx.String(), "--platform", "linux/arm64"}, e.idArgs...)...)
	if !strings.Contains(stderr, "Verified OK: "+kids[1].String()) {
		t.Fatalf("platform verify:\n%s", stderr)
	}
	e.sigil(t, 0, append([]string{"verify", idx.String()}, e.idArgs...)...)
	out, _ := e.sigil(t, 0, "tree", idx.String(), "--recursive")
	if strings.Count(out, "signature referrer") != 3 {
		t.Fatalf("tree:\n%s", out)
	}
}

func TestImageHelpHasExamples(t *testing.T) {
	for _, cmd := range []string{"sign", "attest", "verify", "verify-attestation", "tree", "download signature"} {
		_, out, _ := run(append(strings.Fields(cmd), "--help")...)
		if !strings.Contains(out, "Examples:") {
			t.Errorf("%s --help has no examples", cmd)
		}
	}
	_, out, _ := run("sign", "--help")
	if !strings.Contains(out, "--format referrers (the default, as in cosign v3)") {
		t.Errorf("sign --help does not state the default format:\n%s", out)
	}
}

func TestImageKeySignedCLI(t *testing.T) {
	e := newImageEnv(t, true)
	t.Setenv("SIGIL_PASSWORD", "")
	prefix := filepath.Join(e.dir, "release")
	e.sigil(t, 0, "generate-key-pair", "--output-key-prefix", prefix)
	for _, tc := range []struct {
		name      string
		signArgs  []string
		verifyArg []string
	}{
		{"logged", []string{"--rekor-url", e.serviceURL()}, nil},
		{"not logged", []string{"--no-tlog-upload"}, []string{"--insecure-ignore-tlog"}},
	} {
		for _, format := range []string{"legacy", "referrers"} {
			t.Run(tc.name+"/"+format, func(t *testing.T) {
				d := ocitest.PushImage(t, e.host, "app", tc.name[:3]+format).String()
				e.sigil(t, 0, append([]string{"sign", d, "--key", prefix + ".key", "--format", format, "--trusted-root", e.root}, tc.signArgs...)...)
				_, stderr := e.sigil(t, 0, append([]string{"verify", d, "--key", prefix + ".pub", "--trusted-root", e.root}, tc.verifyArg...)...)
				if !strings.Contains(stderr, "signed by key ") {
					t.Fatalf("verify said:\n%s", stderr)
				}
				e.sigil(t, 1, append([]string{"verify", d}, e.idArgs...)...)
			})
		}
	}
}

func TestSignAllReportsPartialFailure(t *testing.T) {
	var ds []name.Digest
	for _, h := range []string{"1", "2", "3"} {
		d, _ := name.NewDigest("reg.test/app@sha256:" + strings.Repeat(h, 64))
		ds = append(ds, d)
	}
	cmd := &cobra.Command{}
	var errOut strings.Builder
	cmd.SetErr(&errOut)
	err := signAll(cmd, ds, func(d name.Digest) ([]oci.Written, error) {
		if d == ds[1] {
			return nil, errors.New("couldn't write: MANIFEST_INVALID")
		}
		return []oci.Written{{Image: d, Scheme: oci.SchemeReferrers, Location: "reg.test/app@sha256:" + strings.Repeat("f", 64)}}, nil
	})
	want := "couldn't write: MANIFEST_INVALID (1 of 3 manifests signed; not signed: sha256:" + strings.Repeat("2", 64) + ", sha256:" + strings.Repeat("3", 64) + ")"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
	if !strings.Contains(errOut.String(), "Signed "+ds[0].String()) {
		t.Fatalf("the signed manifest was not reported: %q", errOut.String())
	}
}

// A malformed --platform is refused as such, before any registry is asked
// (it used to read as "index … has no manifest for platform bogus").
func TestImagePlatformMalformedCLI(t *testing.T) {
	e := newImageEnv(t, true)
	idx, _ := ocitest.PushIndex(t, e.host, "app", "v1", "linux/amd64", "linux/arm64")
	for _, args := range [][]string{
		append([]string{"verify", idx.String(), "--platform", "bogus"}, e.idArgs...),
		append([]string{"verify-attestation", idx.String(), "--platform", "linux/"}, e.idArgs...),
		{"download", "signature", idx.String(), "--platform", "bogus"},
		// No registry answers here: the flag is checked first.
		append([]string{"verify", "127.0.0.1:1/app@" + idx.DigestStr(), "--platform", "linux//v8"}, e.idArgs...),
	} {
		_, stderr := e.sigil(t, 1, args...)
		if !strings.Contains(stderr, "malformed, want os/arch[/variant]") || strings.Contains(stderr, "not found") || strings.Contains(stderr, "127.0.0.1:1") {
			t.Errorf("sigil %s:\n%s", strings.Join(args[:4], " "), stderr)
		}
	}
}

// An unknown --output is refused before verifying: it used to be noticed
// after "Verified OK" was printed, and to hide a failure's real error.
func TestImageOutputCheckedFirstCLI(t *testing.T) {
	e := newImageEnv(t, true)
	signed := ocitest.PushImage(t, e.host, "app", "signed").String()
	unsigned := ocitest.PushImage(t, e.host, "app", "unsigned").String()
	e.sigil(t, 0, append([]string{"sign", signed}, e.signArgs...)...)
	for _, cmd := range []string{"verify", "verify-attestation"} {
		for _, img := range []string{signed, unsigned} {
			_, stderr := e.sigil(t, 1, append([]string{cmd, img, "-o", "yaml"}, e.idArgs...)...)
			if strings.TrimSpace(stderr) != `Error: unknown --output "yaml": use text or json` {
				t.Errorf("%s %s -o yaml:\n%s", cmd, img, stderr)
			}
		}
	}
}

// Rekor v1 and v2 logs may share a URL, each with its own indices: sign
// says which API an index belongs to, as sign-blob does.
func TestImageSignNamesRekorAPICLI(t *testing.T) {
	for _, v := range []uint32{1, 2} {
		e := newImageEnvRekor(t, true, v)
		d := ocitest.PushImage(t, e.host, "app", "v1").String()
		_, stderr := e.sigil(t, 0, append([]string{"sign", d}, e.signArgs...)...)
		want := fmt.Sprintf("; Rekor v%d log https://", v)
		if !strings.Contains(stderr, want) {
			t.Errorf("Rekor v%d: sign said:\n%s\nwant %q", v, stderr, want)
		}
	}
	// Both in one signature, from one URL.
	d, _ := name.NewDigest("reg.test/app@sha256:" + strings.Repeat("1", 64))
	res := &sign.Result{Verified: &verify.Result{TlogEntries: []verify.VerifiedLogEntry{
		{LogURL: "http://127.0.0.1:18080", LogIndex: 7, Kind: rekor.KindHashedRekord, Version: rekor.VersionHashedRekordV1},
		{LogURL: "http://127.0.0.1:18080", LogIndex: 3, Kind: rekor.KindHashedRekord, Version: rekor.VersionHashedRekordV2},
	}}}
	cmd := &cobra.Command{}
	var errOut strings.Builder
	cmd.SetErr(&errOut)
	printWritten(cmd, []oci.Written{{Image: d, Scheme: oci.SchemeReferrers, Location: "reg.test/app@sha256:" + strings.Repeat("f", 64), Result: res}})
	if !strings.HasSuffix(errOut.String(), "; Rekor v1 log http://127.0.0.1:18080 index 7; Rekor v2 log http://127.0.0.1:18080 index 3\n") {
		t.Errorf("printed %q", errOut.String())
	}
}

// -o json prints the statement twice, at the top level and in the
// verification result; both are the statement as signed, subject
// annotations included (the verification's copy used to drop them).
func TestImageJSONStatementCLI(t *testing.T) {
	e := newImageEnv(t, true)
	ctx := context.Background()
	d := ocitest.PushImage(t, e.host, "app", "v1")
	e.sigil(t, 0, append([]string{"sign", d.String(), "-a", "env=prod"}, e.signArgs...)...)
	// An attestation whose subject is annotated (sigil attest, like cosign
	// attest, annotates none).
	const pt = "https://example.com/annotated/v1"
	s := &sign.Signer{CA: &sign.CAClient{URL: e.svc.URL}, Logs: []sign.LogClient{&sign.RekorV1{BaseURL: e.svc.URL}}, TrustedRoot: e.svc.TrustedRoot,
		Token: func(context.Context) (string, error) { return testToken(), nil }}
	st, err := oci.Statement(d, pt, json.RawMessage(`{"x":1}`), map[string]string{"env": "prod"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.SignDSSE(ctx, intoto.PayloadType, st)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := res.Bundle.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	c := oci.New(oci.Options{})
	desc, err := c.Describe(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.WriteReferrer(ctx, d, desc, raw, "dsse-envelope", pt, time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"verify", d.String(), "-a", "env=prod"},
		{"verify-attestation", d.String(), "--type", pt},
	} {
		out, _ := e.sigil(t, 0, append(append(args, "-o", "json"), e.idArgs...)...)
		var got []struct {
			Statement    json.RawMessage `json:"statement"`
			Verification struct {
				Statement json.RawMessage `json:"statement"`
			} `json:"verification"`
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil || len(got) != 1 {
			t.Fatalf("%s: %d results, %v\n%s", args[0], len(got), err, out)
		}
		for _, st := range []json.RawMessage{got[0].Statement, got[0].Verification.Statement} {
			var s struct {
				Subject []struct {
					Annotations map[string]string `json:"annotations"`
				} `json:"subject"`
			}
			if err := json.Unmarshal(st, &s); err != nil || len(s.Subject) != 1 || s.Subject[0].Annotations["env"] != "prod" {
				t.Errorf("%s: a statement without the subject's annotations (%v):\n%s", args[0], err, out)
			}
		}
	}
}

// tree shows what a referrer is when its listing entry does not say
// (cosign v3's referrers tag schema entries carry no annotations), from its
// manifest; a referrer whose manifest cannot be read is shown as unknown
// and the rest still are.
func TestImageTreeUntoldCLI(t *testing.T) {
	e := newImageEnv(t, false)
	d := ocitest.PushImage(t, e.host, "app", "v1")
	pred := filepath.Join(e.dir, "provenance.json")
	os.WriteFile(pred, []byte(`{"buildDefinition":{"buildType":"https://example.com/build/v1"}}`), 0o644)
	e.sigil(t, 0, append([]string{"sign", d.String()}, e.signArgs...)...)
	e.sigil(t, 0, append([]string{"attest", d.String(), "--predicate", pred, "--type", "slsaprovenance1"}, e.signArgs...)...)
	refs := map[string]string{}
	for _, m := range ocitest.StripReferrersAnnotations(t, d) {
		refs[m.Annotations[oci.AnnotationBundlePredicateType]] = m.Digest.String()
	}
	sig, att := refs[oci.SignPredicateType], refs["https://slsa.dev/provenance/v1"]
	if sig == "" || att == "" {
		t.Fatalf("referrers %v", refs)
	}
	out, _ := e.sigil(t, 0, "tree", d.String())
	for _, want := range []string{
		"signature referrer " + sig + " (" + oci.MediaTypeBundle + ") " + oci.SignPredicateType + " created ",
		"attestation referrer " + att + " (" + oci.MediaTypeBundle + ") https://slsa.dev/provenance/v1 created ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("tree does not say %q:\n%s", want, out)
		}
	}
	// (A 5xx would be retried for seconds; oci's tests cover it.)
	e.reg.Fail(http.MethodGet, "/manifests/"+att, 1000, http.StatusNotFound, ocitest.ErrorBody("MANIFEST_UNKNOWN", "manifest unknown"))
	out, _ = e.sigil(t, 0, "tree", d.String())
	if !strings.Contains(out, "signature referrer "+sig+" ("+oci.MediaTypeBundle+") "+oci.SignPredicateType) ||
		!strings.Contains(out, "unknown referrer "+att+" ("+oci.MediaTypeBundle+"): couldn't fetch referrer") {
		t.Errorf("tree with an unreadable referrer:\n%s", out)
	}
	out, _ = e.sigil(t, 0, "tree", d.String(), "-o", "json")
	var res []struct {
		Attached []struct {
			Kind          string `json:"kind"`
			PredicateType string `json:"predicateType"`
			Error         string `json:"error"`
			Descriptor    struct {
				Digest string `json:"digest"`
			} `json:"descriptor"`
		} `json:"attached"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res) != 1 || len(res[0].Attached) != 2 {
		t.Fatalf("json: %v\n%s", err, out)
	}
	for _, a := range res[0].Attached {
		if a.Descriptor.Digest == sig && (a.Kind != "signature" || a.PredicateType != oci.SignPredicateType || a.Error != "") ||
			a.Descriptor.Digest == att && (a.Kind != "" || !strings.Contains(a.Error, "it is listed but does not exist")) {
			t.Errorf("json: %+v", a)
		}
	}
}

// --type custom (the default of attest and attest-blob) is cosign's
// generic predicate: cosign v2 and v3 wrap the predicate file as
// {"Data": "<file content>", "Timestamp": …} whatever it holds, JSON
// included (a policy reads predicate.Data). sigil passed a JSON file
// through as the predicate, so its custom statements did not have the
// shape of their type. Other types take a JSON object, refused before
// anything is signed and logged (attest signed and logged 123 or [1]
// before refusing the statement).
func TestPredicateJSONCustomAsCosign(t *testing.T) {
	custom, _ := intoto.PredicateTypeURI("custom")
	for _, raw := range []string{`{"a":1}` + "\n", "plain text", "123"} {
		got, err := predicateJSON(custom, []byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		var p map[string]string
		if err := json.Unmarshal(got, &p); err != nil || p["Data"] != raw || p["Timestamp"] == "" || len(p) != 2 {
			t.Errorf("custom %q: predicate %s, %v", raw, got, err)
		}
	}
	for _, raw := range []string{"123", "[1]", `"x"`, "null", "not json"} {
		if _, err := predicateJSON("https://slsa.dev/provenance/v1", []byte(raw)); err == nil || !strings.Contains(err.Error(), "not a JSON object") {
			t.Errorf("%q: got %v", raw, err)
		}
	}
	got, err := predicateJSON("https://slsa.dev/provenance/v1", []byte(" {\"b\":2}\n"))
	if err != nil || string(got) != `{"b":2}` {
		t.Errorf("object: %s, %v", got, err)
	}
	// attest-blob, whose --type defaults to custom.
	_, dir, root, sc := signFixture(t, 1)
	art := filepath.Join(dir, "app.bin")
	os.WriteFile(art, []byte("binary"), 0o644)
	pred := filepath.Join(dir, "data.json")
	os.WriteFile(pred, []byte(`{"a":1}`), 0o644)
	b := filepath.Join(dir, "att.sigstore.json")
	if code, _, stderr := run("attest-blob", art, "--predicate", pred, "--bundle", b, "--identity-token", testToken(), "--trusted-root", root, "--signing-config", sc); code != 0 {
		t.Fatal(stderr)
	}
	raw, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	var bundle struct {
		DSSEEnvelope struct {
			Payload []byte `json:"payload"`
		} `json:"dsseEnvelope"`
	}
	var st struct {
		Predicate map[string]string `json:"predicate"`
	}
	if err := json.Unmarshal(raw, &bundle); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(bundle.DSSEEnvelope.Payload, &st); err != nil || st.Predicate["Data"] != `{"a":1}` {
		t.Errorf("attest-blob statement %s: %v", bundle.DSSEEnvelope.Payload, err)
	}
}
