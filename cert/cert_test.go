package cert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func leafFromBundle(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("conformance data not found (%v); check out ../shared beside the repository", err)
	}
	var b struct {
		VerificationMaterial struct {
			Certificate          *struct{ RawBytes string }
			X509CertificateChain *struct{ Certificates []struct{ RawBytes string } }
		}
	}
	if err := json.Unmarshal(raw, &b); err != nil {
		t.Fatal(err)
	}
	var der string
	if c := b.VerificationMaterial.Certificate; c != nil {
		der = c.RawBytes
	} else {
		der = b.VerificationMaterial.X509CertificateChain.Certificates[0].RawBytes
	}
	d, _ := base64.StdEncoding.DecodeString(der)
	c, err := x509.ParseCertificate(d)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSummarizeGitHub(t *testing.T) {
	c := leafFromBundle(t, filepath.Join("..", "..", "shared", "conformance", "bundle-verify", "rekor2-happy-path", "bundle.sigstore.json"))
	s, err := Summarize(c)
	if err != nil {
		t.Fatal(err)
	}
	want := Summary{
		CertificateIssuer:      "CN=sigstore-intermediate,O=sigstore.dev",
		SubjectAlternativeName: "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main",
		SANType:                "URI",
	}
	if s.SubjectAlternativeName != want.SubjectAlternativeName || s.CertificateIssuer != want.CertificateIssuer || s.SANType != "URI" {
		t.Fatalf("summary %+v", s)
	}
	e := s.Extensions
	for name, got := range map[string]string{
		"issuer":              e.Issuer,
		"trigger":             e.GithubWorkflowTrigger,
		"sourceRepositoryURI": e.SourceRepositoryURI,
		"buildTrigger":        e.BuildTrigger,
		"visibility":          e.SourceRepositoryVisibilityAtSigning,
		"runnerEnvironment":   e.RunnerEnvironment,
	} {
		if got == "" {
			t.Errorf("%s not parsed", name)
		}
	}
	if e.Issuer != "https://token.actions.githubusercontent.com" || e.GithubWorkflowTrigger != "workflow_dispatch" ||
		e.SourceRepositoryURI != "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon" ||
		e.SourceRepositoryVisibilityAtSigning != "public" || e.RunnerEnvironment != "github-hosted" {
		t.Fatalf("extensions %+v", e)
	}
}

func TestSummarizeOtherName(t *testing.T) {
	c := leafFromBundle(t, filepath.Join("..", "..", "shared", "conformance", "extra", "bundles", "othername.sigstore.json"))
	s, err := Summarize(c)
	if err != nil {
		t.Fatal(err)
	}
	if s.SubjectAlternativeName != "foo!oidc.local" || s.SANType != "OTHER_NAME" || s.Issuer != "http://oidc.local:8080" {
		t.Fatalf("summary %+v", s)
	}
}

func TestRenderParseRoundTrip(t *testing.T) {
	in := Extensions{Issuer: "https://issuer.example", GithubWorkflowRef: "refs/heads/main", BuildSignerURI: "https://x/y", TokenSubject: "repo:x/y:ref:main", DeploymentEnvironment: "prod"}
	exts, err := Render(in)
	if err != nil {
		t.Fatal(err)
	}
	var order []int
	for _, e := range exts {
		order = append(order, e.Id[len(e.Id)-1])
	}
	if want := []int{1, 6, 8, 9, 23, 24}; len(order) != len(want) {
		t.Fatalf("order %v want %v", order, want)
	} else {
		for i := range want {
			if order[i] != want[i] {
				t.Fatalf("order %v want %v", order, want)
			}
		}
	}
	if string(exts[0].Value) != "https://issuer.example" {
		t.Errorf(".1 must be raw, got %x", exts[0].Value)
	}
	if exts[2].Value[0] != 0x0c {
		t.Errorf(".8 must be a DER UTF8String, got %x", exts[2].Value)
	}
	out, err := ParseExtensions(exts)
	if err != nil {
		t.Fatal(err)
	}
	if out != in {
		t.Fatalf("round trip: got %+v want %+v", out, in)
	}
}

func TestParseRejectsTrailingBytes(t *testing.T) {
	v, _ := asn1.MarshalWithParams("x", "utf8")
	v = append(v, 0)
	if _, err := ParseExtensions([]pkix.Extension{{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 9}, Value: v}}); err == nil {
		t.Fatal("trailing bytes accepted")
	}
	if _, err := ParseExtensions([]pkix.Extension{{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 8}, Value: []byte("raw")}}); err == nil {
		t.Fatal("raw value accepted for a DER extension")
	}
}

func TestOtherNameRoundTrip(t *testing.T) {
	val, err := MarshalOtherNameSAN("alice!example.com")
	if err != nil {
		t.Fatal(err)
	}
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber:    big.NewInt(1),
		NotBefore:       time.Now(),
		NotAfter:        time.Now().Add(time.Hour),
		ExtraExtensions: []pkix.Extension{{Id: OIDSAN, Critical: true, Value: val}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	got, err := OtherNameSAN(c)
	if err != nil || got != "alice!example.com" {
		t.Fatalf("got %q, %v", got, err)
	}
}

func TestFieldByName(t *testing.T) {
	if f, ok := FieldByName("issuer"); !ok || f.Arc != 8 {
		t.Fatalf("issuer -> %+v", f)
	}
	if f, ok := FieldByName("1.3.6.1.4.1.57264.1.12"); !ok || f.Name != "sourceRepositoryURI" {
		t.Fatalf("by OID -> %+v", f)
	}
	if _, ok := FieldByName("nope"); ok {
		t.Fatal("unknown name found")
	}
}

func FuzzParseExtensions(f *testing.F) {
	v, _ := asn1.MarshalWithParams("x", "utf8")
	f.Add(9, v)
	f.Add(1, []byte("raw"))
	f.Fuzz(func(t *testing.T, arc int, val []byte) {
		_, _ = ParseExtensions([]pkix.Extension{{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, arc & 31}, Value: val}})
		_, _ = parseOtherNameSAN(val)
	})
}

// A certificate naming one issuer in the raw .1 extension and another in
// the DER .8 one is refused: sigil read .8 and sigstore-go the later one,
// so the two verifiers saw different issuers (found by a differential
// audit). The same issuer in both is fine.
func TestConflictingIssuers(t *testing.T) {
	v8, _ := asn1.MarshalWithParams("https://issuer.example", "utf8")
	ext := func(raw string) []pkix.Extension {
		return []pkix.Extension{{Id: OIDIssuerV2, Value: v8}, {Id: OIDIssuer, Value: []byte(raw)}}
	}
	if e, err := ParseExtensions(ext("https://issuer.example")); err != nil || e.Issuer != "https://issuer.example" {
		t.Fatalf("the same issuer twice: %+v %v", e, err)
	}
	if _, err := ParseExtensions(ext("https://evil.example")); err == nil {
		t.Fatal("two different issuers accepted")
	}
}
