package verify

import (
	"crypto"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigil.dev/sigil/bundle"
	"sigil.dev/sigil/internal/vectors"
	"sigil.dev/sigil/trust"
)

// TestExtraBundles verifies real bundles from sigstore-go's test data: old
// public-good v0.1 bundles whose chains include the root, npm provenance
// with sha512 subjects, a username (OtherName) identity, and a key-signed
// bundle stamped by a TSA only.
func TestExtraBundles(t *testing.T) {
	dir := filepath.Join(vectors.Require(t), "extra")
	read := func(p string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, tc := range []struct {
		bundle, root string
		art          Artifact
		pol          Policy
	}{
		{"dsse.sigstore.json", "public-good.json", Artifact{None: true},
			Policy{Identities: []Identity{{SubjectAlternativeName: Matcher{Exact: "brian@dehamer.com"}, Issuer: Matcher{Exact: "https://github.com/login/oauth"}}}}},
		{"sigstore.js@2.0.0-provenance.sigstore.json", "public-good.json", Artifact{None: true},
			Policy{PredicateType: "https://slsa.dev/provenance/v1", Identities: []Identity{{SubjectAlternativeName: Matcher{Exact: "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main"}, Issuer: Matcher{Exact: "https://token.actions.githubusercontent.com"}}}}},
		{"othername.sigstore.json", "scaffolding.json", Artifact{DigestAlgorithm: crypto.SHA256, Digest: mustHex("bc103b4a84971ef6459b294a2b98568a2bfb72cded09d4acd1e16366a401f95b")},
			Policy{Identities: []Identity{{SubjectAlternativeName: Matcher{Exact: "foo!oidc.local"}, Issuer: Matcher{Exact: "http://oidc.local:8080"}}}}},
		{"public-key-validity.sigstore.json", "public-key-validity.json", fileArtifact([]byte("test content")), Policy{}},
	} {
		t.Run(tc.bundle, func(t *testing.T) {
			b, err := bundle.Parse(read(filepath.Join("bundles", tc.bundle)))
			if err != nil {
				t.Fatal(err)
			}
			tr, err := trust.ParseTrustedRoot(read(filepath.Join("trusted-roots", tc.root)))
			if err != nil {
				t.Fatal(err)
			}
			if b.PublicKey != nil {
				k, err := readPEMKey(filepath.Join(dir, "public-keys", "public-key-validity.pem"))
				if err != nil {
					t.Fatal(err)
				}
				tc.pol.Key = k
			}
			var opts Options
			if len(b.TlogEntries) == 0 {
				// Key-signed and stamped by a TSA, never logged.
				opts.TlogThreshold = Off
			}
			if _, err := New(tr, opts).Verify(b, tc.art, tc.pol); err != nil {
				t.Fatal(err)
			}
			if opts.TlogThreshold == Off {
				if _, err := New(tr, Options{}).Verify(b, tc.art, tc.pol); err == nil || !strings.Contains(err.Error(), "lists no transparency logs") {
					t.Fatalf("a bundle without a log entry, against a root without logs, by default: %v", err)
				}
			}
		})
	}
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}
