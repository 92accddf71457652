package policy_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"sigil.dev/sigil/cert"
	"sigil.dev/sigil/keyfile"
	"sigil.dev/sigil/policy"
)

const provenance = `{"_type":"https://in-toto.io/Statement/v1",
 "subject":[{"name":"reg/app","digest":{"sha256":"` + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" + `"}}],
 "predicateType":"https://slsa.dev/provenance/v1",
 "predicate":{"buildDefinition":{"buildType":"https://actions.github.io/buildtypes/workflow/v1","externalParameters":{"workflow":{"ref":"refs/tags/v1.2.3"}}},
  "runDetails":{"builder":{"id":"https://github.com/actions/runner"},"metadata":{"finishedOn":"2026-11-20T10:00:00Z"}},
  "score":7}}`

var signer = &cert.Summary{
	SubjectAlternativeName: "https://github.com/org/repo/.github/workflows/release.yml@refs/tags/v1.2.3",
	Extensions:             cert.Extensions{Issuer: "https://token.actions.githubusercontent.com", GithubWorkflowRepository: "org/repo", SourceRepositoryRef: "refs/tags/v1.2.3"},
}

func TestParse(t *testing.T) {
	p, err := policy.Parse([]byte(`
identities:
  - issuer: https://token.actions.githubusercontent.com
    subjectRegExp: ^https://github\.com/org/repo/
    extensions: {githubWorkflowRepository: org/repo}
    extensionsRegExp: {sourceRepositoryRef: ^refs/tags/v}
  - issuerRegExp: ^https://accounts\.google\.com$
    subject: release@example.com
predicateType: slsaprovenance1
conditions:
  - name: github-runner
    expression: predicate.runDetails.builder.id == "https://github.com/actions/runner"
`), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Identities) != 2 || len(p.Identities[0].Extensions) != 2 {
		t.Fatalf("identities %+v", p.Identities)
	}
	if p.PredicateType != "https://slsa.dev/provenance/v1" {
		t.Fatalf("predicate type %q", p.PredicateType)
	}
	vp := p.VerifyPolicy()
	if len(vp.Identities) != 2 || vp.PredicateType != p.PredicateType {
		t.Fatalf("verify policy %+v", vp)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"empty", "", "empty"},
		// A policy that requires nothing, whatever its spelling, is refused
		// as an empty file is: verification ran on the flags alone.
		{"empty mapping", "{}", "the policy is empty"},
		{"null document", "~\n", "the policy is empty"},
		{"only a document marker", "---\n", "the policy is empty"},
		{"entries commented out", "identities:\n#  - {issuer: x, subject: y}\nconditions:\n#  - {name: a, expression: 'false'}\n", "the policy is empty"},
		{"empty lists", "identities: []\nconditions: []\n", "the policy is empty"},
		{"unknown field", "identities: []\nfoo: 1\n", "field foo not found"},
		{"identity without issuer", "identities: [{subject: a@b.c}]", "identity 1"},
		{"bad regexp", "identities: [{issuer: x, subjectRegExp: '('}]", "missing closing )"},
		{"unknown extension", "identities: [{issuer: x, subject: y, extensions: {nope: z}}]", `unknown certificate extension "nope"`},
		// An empty value matched nothing, so the identity never matched and
		// verification failed with "…mismatch: got "refs/heads/main", want ".
		{"empty extension", "identities: [{issuer: x, subject: y, extensions: {sourceRepositoryRef: ''}}]", `certificate extension "sourceRepositoryRef" has no value`},
		{"null extension", "identities: [{issuer: x, subject: y, extensions: {sourceRepositoryRef: }}]", `certificate extension "sourceRepositoryRef" has no value`},
		{"empty extension regexp", "identities: [{issuer: x, subject: y, extensionsRegExp: {sourceRepositoryRef: ''}}]", `certificate extension "sourceRepositoryRef" has no value`},
		{"unknown predicate type", "predicateType: nope", "unknown predicate type"},
		{"unnamed condition", "conditions: [{expression: 'true'}]", "has no name"},
		{"duplicate condition", "conditions: [{name: a, expression: 'true'}, {name: a, expression: 'true'}]", `two conditions are named "a"`},
		{"syntax error", "conditions: [{name: a, expression: 'predicate.'}]", `condition "a": couldn't compile`},
		{"not boolean", "conditions: [{name: a, expression: '1 + 2'}]", "not a boolean"},
		{"unknown variable", "conditions: [{name: a, expression: 'foo == 1'}]", "undeclared reference to 'foo'"},
		{"key and identities", "identities: [{issuer: x, subject: y}]\nkey: k.pub", "not both"},
		// yaml.v3 decodes the first document only: the conditions of a
		// second were dropped, and every statement passed.
		{"two documents", "identities: [{issuer: x, subject: y}]\n---\nconditions: [{name: a, expression: 'false'}]\n", "more than one YAML document"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := policy.Parse([]byte(tc.yaml), t.TempDir())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

// TestParseDocuments: an empty document before or after the policy is
// harmless; a second one with content is refused (TestParseErrors).
func TestParseDocuments(t *testing.T) {
	for _, y := range []string{
		"---\nidentities: [{issuer: x, subject: y}]\n",
		"identities: [{issuer: x, subject: y}]\n---\n",
		"identities: [{issuer: x, subject: y}]\n---\n# a comment\n",
	} {
		if p, err := policy.Parse([]byte(y), t.TempDir()); err != nil || len(p.Identities) != 1 {
			t.Errorf("%q: %v", y, err)
		}
	}
}

func TestEvaluate(t *testing.T) {
	now := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, expr, message string
		cert                *cert.Summary
		want                string // "" when the condition holds
	}{
		{"field equals", `predicate.runDetails.builder.id == "https://github.com/actions/runner"`, "", signer, ""},
		{"field differs", `predicate.runDetails.builder.id == "https://evil.example"`, "", signer, `policy condition "c" failed: predicate.runDetails.builder.id == "https://evil.example" is false`},
		{"message shown", `predicate.score > 9`, "the score is too low", signer, `policy condition "c" failed: the score is too low`},
		{"number against int literal", `predicate.score == 7 && predicate.score >= 7`, "", signer, ""},
		{"string functions", `predicate.buildDefinition.externalParameters.workflow.ref.startsWith("refs/tags/v")`, "", signer, ""},
		{"predicate type", `predicateType == "https://slsa.dev/provenance/v1"`, "", signer, ""},
		{"statement", `statement._type == "https://in-toto.io/Statement/v1"`, "", signer, ""},
		{"subjects", `subject.exists(s, s.name == "reg/app")`, "", signer, ""},
		{"certificate", `certificate.githubWorkflowRepository == "org/repo" && certificate.issuer == "https://token.actions.githubusercontent.com"`, "", signer, ""},
		{"key-signed has no certificate", `!("subject" in certificate)`, "", nil, ""},
		{"time", `now - timestamp(predicate.runDetails.metadata.finishedOn) < duration("720h")`, "", signer, ""},
		{"missing field fails closed", `predicate.nope == "x"`, "", signer, "no such key: nope"},
		{"has guards", `!has(predicate.nope) || predicate.nope == "x"`, "", signer, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := policy.Compile("c", tc.expr)
			if err != nil {
				t.Fatal(err)
			}
			c.Message = tc.message
			p := &policy.Policy{Conditions: []*policy.Condition{c}}
			err = p.Evaluate(policy.Input{Statement: []byte(provenance), Certificate: tc.cert, Now: now})
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected failure: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want %q", err, tc.want)
			case tc.want != "" && !errors.Is(err, policy.ErrConditionFailed):
				t.Fatalf("%v does not wrap ErrConditionFailed", err)
			}
		})
	}
}

func TestCostLimit(t *testing.T) {
	if raceDetector {
		// About 1 s of evaluation reaches the cost limit; tenfold slower,
		// the conditions' 10 s deadline ends it first (also a refusal).
		t.Skip("under the race detector the evaluation deadline, not the cost limit, ends this condition")
	}
	c, err := policy.Compile("slow", `statement.subject.all(a, statement.subject.all(b, statement.subject.all(c, a.name != "x")))`)
	if err != nil {
		t.Fatal(err)
	}
	var subj []string
	for i := 0; i < 1000; i++ {
		subj = append(subj, `{"name":"n","digest":{"sha256":"00"}}`)
	}
	st := `{"_type":"https://in-toto.io/Statement/v1","subject":[` + strings.Join(subj, ",") + `],"predicateType":"x","predicate":{}}`
	err = (&policy.Policy{Conditions: []*policy.Condition{c}}).Evaluate(policy.Input{Statement: []byte(st)})
	if err == nil || !strings.Contains(err.Error(), "cost limit") {
		t.Fatalf("got %v", err)
	}
}

func TestLoadKey(t *testing.T) {
	dir := t.TempDir()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pub, err := keyfile.PublicPEM(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "k.pub"), pub, 0o644)
	os.WriteFile(filepath.Join(dir, "p.yaml"), []byte("key: k.pub\n"), 0o644)
	p, err := policy.Load(filepath.Join(dir, "p.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Key == nil || p.VerifyPolicy().Key == nil {
		t.Fatal("no key")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("identities: [{issuer: x, subject: y}]\nconditions: [{name: a, expression: 'predicate.x == 1'}]"))
	f.Add([]byte("predicateType: slsaprovenance1"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := policy.Parse(b, "/nonexistent")
		if err != nil {
			return
		}
		_ = p.Evaluate(policy.Input{Statement: []byte(provenance)})
	})
}

func FuzzEvaluate(f *testing.F) {
	c, err := policy.Compile("c", `predicate.runDetails.builder.id.startsWith("https://") && subject.size() > 0 && statement.predicateType != ""`)
	if err != nil {
		f.Fatal(err)
	}
	p := &policy.Policy{Conditions: []*policy.Condition{c}}
	f.Add([]byte(provenance))
	f.Add([]byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"00"}}],"predicateType":"x","predicate":[1,2]}`))
	f.Fuzz(func(t *testing.T, st []byte) {
		err := p.Evaluate(policy.Input{Statement: st, Certificate: signer})
		var ce *policy.ConditionError
		if err != nil && errors.As(err, &ce) && ce.Condition != c {
			t.Fatalf("wrong condition in %v", err)
		}
	})
}

// TestEvaluateTimeout: a comprehension over a long list is stopped at the
// time limit, with the condition named. cel-go's cost tracking makes it
// quadratic: this exists() over 100,000 strings, within CostLimit, ran for
// most of a minute.
func TestEvaluateTimeout(t *testing.T) {
	defer policy.SetEvalTimeout(200 * time.Millisecond)()
	items := strings.TrimSuffix(strings.Repeat(`"aaaaaaaaaaaaaaaaaaaa",`, 100_000), ",")
	st := `{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"x","digest":{"sha256":"ab"}}],"predicateType":"t","predicate":{"l":[` + items + `]}}`
	c, err := policy.Compile("long list", `predicate.l.exists(x, x == "b")`)
	if err != nil {
		t.Fatal(err)
	}
	p := &policy.Policy{Conditions: []*policy.Condition{c}}
	start := time.Now()
	err = p.Evaluate(policy.Input{Statement: []byte(st)})
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("took %s", took)
	}
	if !errors.Is(err, policy.ErrConditionFailed) || !strings.Contains(err.Error(), `"long list"`) || !strings.Contains(err.Error(), "took longer than") {
		t.Fatalf("got %v", err)
	}
}

// TestEvaluateTimeoutFunction: a function call that does not check for
// cancellation is stopped at the time limit too. distinct() compares every
// element with every other, and cel-go charges its cost after the call:
// over 40,000 numbers it ran about 6 s (an hour over a few megabytes),
// far past the deadline, before failing on the cost limit (the message
// tells the two apart; no timing is asserted).
func TestEvaluateTimeoutFunction(t *testing.T) {
	defer policy.SetEvalTimeout(200 * time.Millisecond)()
	var items []string
	for i := range 40_000 {
		items = append(items, strconv.Itoa(i))
	}
	st := `{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"x","digest":{"sha256":"ab"}}],"predicateType":"t","predicate":{"l":[` + strings.Join(items, ",") + `]}}`
	c, err := policy.Compile("no duplicates", `predicate.l.distinct().size() == predicate.l.size()`)
	if err != nil {
		t.Fatal(err)
	}
	p := &policy.Policy{Conditions: []*policy.Condition{c}}
	err = p.Evaluate(policy.Input{Statement: []byte(st)})
	if !errors.Is(err, policy.ErrConditionFailed) || !strings.Contains(err.Error(), `"no duplicates"`) || !strings.Contains(err.Error(), "took longer than") {
		t.Fatalf("got %v", err)
	}
}
