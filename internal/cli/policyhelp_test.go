package cli

import (
	"strings"
	"testing"

	"sigil.dev/sigil/policy"
)

// The example in "sigil help policy" is a valid policy.
func TestPolicyHelpExample(t *testing.T) {
	long := newPolicyHelp().Long
	start := strings.Index(long, "\n  identities:")
	if start < 0 {
		t.Fatal("no example in the policy help")
	}
	block := long[start+1:]
	block = block[:strings.Index(block, "\n\n")]
	var yaml strings.Builder
	for _, line := range strings.Split(block, "\n") {
		yaml.WriteString(strings.TrimPrefix(line, "  ") + "\n")
	}
	p, err := policy.Parse([]byte(yaml.String()), t.TempDir())
	if err != nil {
		t.Fatalf("%v\n%s", err, yaml.String())
	}
	if len(p.Identities) != 1 || len(p.Conditions) != 1 || p.PredicateType == "" {
		t.Fatalf("parsed %+v", p)
	}
}

// The policy in verify-attestation's help holds for a provenance statement
// as GitHub's attest-build-provenance writes it: runDetails.builder.id is
// https://github.com/actions/runner/ followed by the runner environment
// (github-hosted, self-hosted). The example compared it with
// https://github.com/actions/runner, which no GitHub build states, so the
// condition copied from the help refused every one.
func TestVerifyAttestationHelpPolicy(t *testing.T) {
	long := newVerifyImageAttestation().Long
	start := strings.Index(long, "\n  identities:")
	if start < 0 {
		t.Fatal("no policy in the verify-attestation help")
	}
	block := long[start+1:]
	block = block[:strings.Index(block, "\n\n")]
	var yaml strings.Builder
	for _, line := range strings.Split(block, "\n") {
		yaml.WriteString(strings.TrimPrefix(line, "  ") + "\n")
	}
	p, err := policy.Parse([]byte(yaml.String()), t.TempDir())
	if err != nil {
		t.Fatalf("%v\n%s", err, yaml.String())
	}
	st := `{"_type":"https://in-toto.io/Statement/v1",
 "subject":[{"name":"ghcr.io/org/app","digest":{"sha256":"4f5e0000000000000000000000000000000000000000000000000000000000aa"}}],
 "predicateType":"https://slsa.dev/provenance/v1",
 "predicate":{"buildDefinition":{"buildType":"https://actions.github.io/buildtypes/workflow/v1"},
  "runDetails":{"builder":{"id":"https://github.com/actions/runner/github-hosted"},
   "metadata":{"invocationId":"https://github.com/org/app/actions/runs/1/attempts/1"}}}}`
	if err := p.Evaluate(policy.Input{Statement: []byte(st)}); err != nil {
		t.Fatalf("a GitHub-hosted build: %v", err)
	}
}
