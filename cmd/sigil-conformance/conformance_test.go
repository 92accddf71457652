package main

import (
	"testing"

	"sigil.dev/sigil/internal/vectors"
)

// TestConformance runs the 140 judgements of the Sigstore conformance
// verification suite through the same entry point and protocol the suite
// uses: every vector twice, with the artifact path and with its digest;
// a vector whose name ends in _fail must exit non-zero, any other zero.
func TestConformance(t *testing.T) {
	dir := vectors.Require(t)
	cases, err := vectors.Cases(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) != 70 {
		t.Fatalf("found %d vectors, want 70", len(cases))
	}
	judged, passed := 0, 0
	for _, c := range cases {
		digest, err := c.ArtifactDigest()
		if err != nil {
			t.Fatal(err)
		}
		for _, input := range []struct{ kind, arg string }{{"PATH", c.Artifact}, {"DIGEST", digest}} {
			t.Run(input.kind+"-"+c.Name, func(t *testing.T) {
				args := []string{"verify-bundle", "--bundle", c.Bundle}
				if c.Key != "" {
					args = append(args, "--key", c.Key)
				} else {
					args = append(args, "--certificate-identity", c.Identity, "--certificate-oidc-issuer", c.Issuer)
				}
				args = append(args, "--trusted-root", c.TrustedRoot, input.arg)
				judged++
				code := run(args)
				if c.ShouldFail && code == 0 {
					t.Errorf("verification succeeded, want failure")
					return
				}
				if !c.ShouldFail && code != 0 {
					t.Errorf("verification failed (exit %d), want success", code)
					return
				}
				passed++
			})
		}
	}
	t.Logf("conformance: %d of %d judgements passed", passed, judged)
	if judged != 140 {
		t.Errorf("judged %d, want 140", judged)
	}
}
