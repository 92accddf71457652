package oci

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"

	"sigil.dev/sigil/bundle"
	"sigil.dev/sigil/trust"
	"sigil.dev/sigil/verify"
)

// Golden data: what cosign v2.6.5 (legacy tags, with RFC 3161 timestamps)
// and cosign v3.1.3 (bundle referrers) attached to an image they signed
// and attested keyless against the test services, as read from the
// registry, with the trusted root (regenerate with dumpGolden in
// internal/cli/oci_interop_test.go). They verify without cosign or a
// registry at hand, and stop verifying for any other digest or identity.
func TestCosignGolden(t *testing.T) {
	for _, dir := range []string{"cosign-v2.6.5", "cosign-v3.1.3"} {
		t.Run(dir, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", dir, "trusted_root.json"))
			if err != nil {
				t.Fatal(err)
			}
			tr, err := trust.ParseTrustedRoot(raw)
			if err != nil {
				t.Fatal(err)
			}
			var golden struct {
				Digest string `json:"digest"`
				Found  []struct {
					Kind        Kind              `json:"kind"`
					Scheme      Scheme            `json:"scheme"`
					MediaType   string            `json:"mediaType"`
					Annotations map[string]string `json:"annotations"`
					Raw         []byte            `json:"raw"`
				} `json:"found"`
			}
			raw, err = os.ReadFile(filepath.Join("testdata", dir, "attached.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(raw, &golden); err != nil {
				t.Fatal(err)
			}
			d, _ := name.NewDigest("registry.test/app@" + golden.Digest)
			other, _ := name.NewDigest("registry.test/app@sha256:" + strings.Repeat("0", 64))
			v := &Verifier{Verifier: verify.New(tr, verify.Options{})}
			alice := verify.Policy{Identities: []verify.Identity{{SubjectAlternativeName: verify.Matcher{Exact: "alice@sigil.test"}, Issuer: verify.Matcher{Exact: "https://issuer.sigil.test"}}}}
			mallory := verify.Policy{Identities: []verify.Identity{{SubjectAlternativeName: verify.Matcher{Exact: "mallory@sigil.test"}, Issuer: verify.Matcher{Exact: "https://issuer.sigil.test"}}}}
			kinds := map[Kind]int{}
			for i, g := range golden.Found {
				f := &Found{Scheme: g.Scheme, Kind: g.Kind, MediaType: g.MediaType, Annotations: g.Annotations, Raw: g.Raw}
				if isBundleMediaType(g.MediaType) {
					f.Bundle, err = bundle.Parse(g.Raw)
				} else {
					f.Bundle, err = (&LegacyLayer{MediaType: g.MediaType, Payload: g.Raw, Annotations: g.Annotations}).Bundle()
				}
				if err != nil {
					t.Fatalf("%d: %v", i, err)
				}
				check := func(d name.Digest, p verify.Policy) error {
					if g.Kind == KindSignature {
						var ann map[string]string // cosign v2 signed with -a env=prod
						if g.Scheme == SchemeTag {
							ann = map[string]string{"env": "prod"}
						}
						_, err := v.verifySignature(d, f, p, ann)
						return err
					}
					p.PredicateType = "https://slsa.dev/provenance/v1"
					_, err := v.verifyAttestation(d, f, p)
					return err
				}
				if err := check(d, alice); err != nil {
					t.Errorf("%s %s: %v", g.Scheme, g.Kind, err)
				}
				if err := check(other, alice); err == nil {
					t.Errorf("%s %s verified for another digest", g.Scheme, g.Kind)
				}
				var ve *verify.Error
				if err := check(d, mallory); !errors.As(err, &ve) || ve.Check != verify.CheckIdentity {
					t.Errorf("%s %s: wrong identity gave %v", g.Scheme, g.Kind, err)
				}
				if g.Kind == KindAttestation && g.Scheme == SchemeTag && len(f.Bundle.Timestamps) == 0 {
					t.Errorf("cosign v2's attestation has no timestamp to check")
				}
				kinds[g.Kind]++
			}
			if kinds[KindSignature] != 1 || kinds[KindAttestation] != 1 {
				t.Fatalf("golden data holds %v", kinds)
			}
		})
	}
}
