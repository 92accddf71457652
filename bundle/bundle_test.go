package bundle

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func vector(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "shared", "conformance", "bundle-verify", name, "bundle.sigstore.json"))
	if err != nil {
		t.Skipf("conformance vectors not found (%v); check out ../shared beside the repository", err)
	}
	return b
}

func TestParseVersions(t *testing.T) {
	for name, want := range map[string]int{
		"happy-path-v0.1":               1,
		"happy-path-v0.2":               2,
		"happy-path-v0.3":               3,
		"happy-path-v0.3-new-mediaType": 3,
		"happy-path-intoto-in-dsse-v3":  3,
		"managed-key-happy-path":        3,
	} {
		b, err := Parse(vector(t, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if b.Minor != want {
			t.Errorf("%s: version 0.%d, want 0.%d", name, b.Minor, want)
		}
		if (b.Certificate == nil) == (b.PublicKey == nil) {
			t.Errorf("%s: want exactly one of certificate and key", name)
		}
		if (b.MessageSignature == nil) == (b.Envelope == nil) {
			t.Errorf("%s: want exactly one of message signature and envelope", name)
		}
		// Writing and reading back keeps the bundle.
		out, err := b.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(out); err != nil {
			t.Fatalf("%s: re-parse: %v", name, err)
		}
	}
}

func TestParseRejects(t *testing.T) {
	for name, want := range map[string]string{
		"bundle-empty-certificate-chain_fail": "empty certificate chain",
		"bundle-negative-log-index_fail":      "negative log index",
		"bundle-unknown-version_fail":         "unsupported media type",
		"bundle-malformed-json_fail":          "couldn't decode JSON",
		"intoto-missing-inclusion-proof_fail": "need an inclusion proof",
		"rekor2-no-inclusion-proof_fail":      "need an inclusion proof",
	} {
		_, err := Parse(vector(t, name))
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want ErrInvalid mentioning %q", name, err, want)
		}
	}
}

// TestParseCosignLegacyBundle: cosign v2's default --bundle file is not a
// Sigstore bundle; the error says what it is and what to do instead of
// naming the first unknown protobuf field.
func TestParseCosignLegacyBundle(t *testing.T) {
	legacy := `{"base64Signature":"MEUCIQ==","cert":"LS0tLS1CRUdJTg==","rekorBundle":{"SignedEntryTimestamp":"AA==","Payload":{"body":"e30=","integratedTime":1,"logIndex":0,"logID":"00"}}}`
	_, err := Parse([]byte(legacy))
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "cosign's own bundle format") || !strings.Contains(err.Error(), "--new-bundle-format") {
		t.Fatalf("cosign legacy bundle: %v", err)
	}
	if !strings.Contains(err.Error(), "--signature and --certificate") {
		t.Errorf("keyless legacy bundle: %v", err)
	}
	// cosign sign-blob --key writes no cert: the signature verifies with
	// --key, not with a --certificate it does not have.
	for _, keyed := range []string{
		`{"base64Signature":"MEUCIQ==","rekorBundle":{"SignedEntryTimestamp":"AA==","Payload":{"body":"e30=","integratedTime":1,"logIndex":0,"logID":"00"}}}`,
		`{"base64Signature":"MEUCIQ=="}`,
	} {
		if _, err := Parse([]byte(keyed)); err == nil || !strings.Contains(err.Error(), "verify-blob --signature and --key") {
			t.Errorf("key-signed legacy bundle %s: %v", keyed, err)
		}
	}
	// Other malformed JSON keeps the decoder's reason.
	if _, err := Parse([]byte(`{"mediaType":1}`)); err == nil || !strings.Contains(err.Error(), "couldn't decode JSON") {
		t.Fatalf("malformed: %v", err)
	}
}

func TestMediaTypes(t *testing.T) {
	for mt, want := range map[string]int{
		MediaTypeV01: 1, MediaTypeV02: 2, MediaTypeV03Old: 3, MediaTypeV03: 3,
		"application/vnd.dev.sigstore.bundle.v0.1+json":        1,
		"application/vnd.dev.sigstore.bundle.v0.4+json":        0,
		"application/vnd.dev.sigstore.bundle.v1.0+json":        0,
		"application/vnd.dev.sigstore.bundle+json;version=0.4": 0,
		"application/json": 0,
		// The minor version is a plain decimal number, as in semver
		// (sigstore-go refuses the others): no sign, no leading zero.
		"application/vnd.dev.sigstore.bundle.v0.+3+json": 0,
		"application/vnd.dev.sigstore.bundle.v0.03+json": 0,
		"application/vnd.dev.sigstore.bundle.v0.+1+json": 0,
		"application/vnd.dev.sigstore.bundle.v00.3+json": 0,
	} {
		got, err := version(mt)
		if got != want || (want == 0) != (err != nil) {
			t.Errorf("%s: %d %v", mt, got, err)
		}
	}
}

func TestDSSEOneSignature(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "shared", "conformance", "extra", "bundles", "dsse-2sigs.sigstore.json"))
	if err != nil {
		t.Skipf("extra bundles not found: %v", err)
	}
	if _, err := Parse(raw); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "exactly one") {
		t.Fatalf("two-signature envelope: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	for _, n := range []string{"happy-path-v0.1", "happy-path-v0.3", "rekor2-happy-path", "happy-path-intoto-in-dsse-v3", "managed-key-happy-path"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "shared", "conformance", "bundle-verify", n, "bundle.sigstore.json"))
		if err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := Parse(data)
		if err != nil {
			return
		}
		if b.Signature() == nil {
			t.Fatal("parsed bundle without signature")
		}
		if _, err := b.Marshal(); err != nil {
			t.Fatal(err)
		}
	})
}
