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
