// Package policy reads verification policies: who must have signed
// (identity matchers, or a key), which predicate type an attestation must
// carry, and CEL conditions (github.com/google/cel-go) the in-toto
// statement must satisfy. The same policy serves image attestations
// (sigil verify-attestation) and blob attestations
// (sigil verify-blob-attestation); for a signed file (sigil verify-blob)
// conditions may use only certificate and now.
//
// A policy file is YAML:
//
//	identities:                    # any one may match
//	  - issuer: https://token.actions.githubusercontent.com
//	    subjectRegExp: ^https://github\.com/org/repo/\.github/workflows/release\.yml@refs/tags/v
//	    extensions:                # Fulcio extensions by name, exact
//	      githubWorkflowTrigger: push
//	    extensionsRegExp:          # or by regular expression
//	      sourceRepositoryRef: ^refs/tags/v
//	# key: cosign.pub              # instead of identities: a PEM public key, relative to this file
//	predicateType: slsaprovenance1 # a URI or a short name (optional)
//	conditions:                    # all must hold
//	  - name: built-by-github
//	    expression: predicate.runDetails.builder.id.startsWith("https://github.com/")
//	    message: the build did not run on GitHub Actions
//
// issuer, subject and their RegExp forms follow sigstore policy-controller's
// ClusterImagePolicy keyless identities (exact, or Go RE2 regular
// expressions, unanchored as in cosign: write ^…$). Unknown fields are
// errors.
//
// Every condition is a CEL expression that must evaluate to true. It sees:
//
//	statement      map   the whole in-toto statement as JSON
//	predicateType  string
//	predicate      dyn   the predicate
//	subject        list  the subjects
//	certificate    map   the signer's identity: subject, issuer and every
//	                     Fulcio extension by name (empty for a key)
//	now            timestamp
//
// JSON numbers are doubles; comparisons with integer literals work across
// numeric types. Expressions are type-checked when the policy is read,
// and each evaluation is bounded in cost and all conditions over one
// statement in time (EvalTimeout), so a hostile statement cannot make
// them run long. A missing field is an error, and an error fails the
// condition (fail closed): guard optional fields with has(…).
package policy

import (
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/ext"
	"gopkg.in/yaml.v3"

	"sigil.dev/sigil/cert"
	"sigil.dev/sigil/intoto"
	"sigil.dev/sigil/keyfile"
	"sigil.dev/sigil/verify"
)

// ErrConditionFailed is wrapped by every failed condition.
var ErrConditionFailed = errors.New("policy condition failed")

// Limits.
const (
	// MaxConditions is the most conditions a policy may hold.
	MaxConditions = 256
	// CostLimit bounds the CEL cost of one evaluation (cel-go's cost
	// units, roughly one per operation and per element traversed).
	CostLimit = 1_000_000
	// MaxStatementSize bounds the statement a condition evaluates.
	MaxStatementSize = 32 << 20
	// EvalTimeout bounds the time all conditions over one statement may
	// take. The cost limit alone does not bound it: cel-go's cost tracking
	// slows a comprehension quadratically in its iterations, so one
	// exists() over a list of 100,000 elements, well within CostLimit,
	// ran for minutes.
	EvalTimeout = 10 * time.Second
)

// evalTimeout is EvalTimeout; tests shorten it.
var evalTimeout = EvalTimeout

// Policy is a parsed policy.
type Policy struct {
	// Identities lists accepted signers; any may match.
	Identities []verify.Identity
	// Key is the public key of key-signed attestations (exclusive with
	// Identities).
	Key crypto.PublicKey
	// PredicateType, if set, is the predicate type an attestation must
	// carry (a URI; short names are expanded when read).
	PredicateType string
	// Conditions must all hold.
	Conditions []*Condition
}

// Condition is one named CEL condition.
type Condition struct {
	Name       string
	Expression string
	Message    string
	prg        cel.Program
}

// statementVars are the variables a message signature cannot give.
var statementVars = []string{"statement", "predicateType", "predicate", "subject"}

// noStatement is what statementVars hold for a message signature: a CEL
// error value, so that a condition whose result needs one of them fails
// with this reason, while comprehension variables of the same names,
// being local, are untouched.
const noStatement = "it needs the in-toto statement, but the bundle signs a file, not a statement (only certificate and now apply)"

// ConditionError says which condition failed and why.
type ConditionError struct {
	Condition *Condition
	// Err is the evaluation error; nil when the condition was false.
	Err error
}

func (e *ConditionError) Error() string {
	c := e.Condition
	switch {
	case e.Err != nil:
		return fmt.Sprintf("policy condition %q failed: couldn't evaluate %s: %v", c.Name, c.Expression, e.Err)
	case c.Message != "":
		return fmt.Sprintf("policy condition %q failed: %s", c.Name, c.Message)
	}
	return fmt.Sprintf("policy condition %q failed: %s is false", c.Name, c.Expression)
}

func (e *ConditionError) Unwrap() error { return ErrConditionFailed }

// file is the YAML form.
type file struct {
	Identities    []identity  `yaml:"identities"`
	Key           string      `yaml:"key"`
	PredicateType string      `yaml:"predicateType"`
	Conditions    []condition `yaml:"conditions"`
}

type identity struct {
	Issuer           string            `yaml:"issuer"`
	IssuerRegExp     string            `yaml:"issuerRegExp"`
	Subject          string            `yaml:"subject"`
	SubjectRegExp    string            `yaml:"subjectRegExp"`
	Extensions       map[string]string `yaml:"extensions"`
	ExtensionsRegExp map[string]string `yaml:"extensionsRegExp"`
}

type condition struct {
	Name       string `yaml:"name"`
	Expression string `yaml:"expression"`
	Message    string `yaml:"message"`
}

// Load reads a policy file; a key path in it is relative to the file.
func Load(path string) (*Policy, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("couldn't read policy: %w", err)
	}
	p, err := Parse(b, filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("couldn't load policy %s: %w", path, err)
	}
	return p, nil
}

// Parse parses a policy; dir resolves a relative key path.
func Parse(data []byte, dir string) (*Policy, error) {
	var f file
	d := yaml.NewDecoder(bytes.NewReader(data))
	d.KnownFields(true)
	if err := d.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("the policy is empty")
		}
		return nil, fmt.Errorf("couldn't parse policy: %w", err)
	}
	// Decode reads the first YAML document only: conditions in a second
	// one ("---") would be dropped without a word. Empty ones are harmless.
	for {
		var next yaml.Node
		err := d.Decode(&next)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("couldn't parse policy: %w", err)
		}
		if len(next.Content) > 0 && next.Content[0].Tag != "!!null" {
			return nil, errors.New("couldn't parse policy: it holds more than one YAML document (---); put everything in one")
		}
	}
	p := &Policy{}
	for i, id := range f.Identities {
		v, err := id.matcher()
		if err != nil {
			return nil, fmt.Errorf("identity %d: %w", i+1, err)
		}
		p.Identities = append(p.Identities, v)
	}
	if f.Key != "" {
		if len(p.Identities) > 0 {
			return nil, errors.New("give identities or a key, not both")
		}
		path := f.Key
		if !filepath.IsAbs(path) {
			path = filepath.Join(dir, path)
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("couldn't read key: %w", err)
		}
		if p.Key, err = keyfile.ParsePublic(raw); err != nil {
			return nil, fmt.Errorf("couldn't read key %s: %w", path, err)
		}
	}
	if f.PredicateType != "" {
		pt, err := intoto.PredicateTypeURI(f.PredicateType)
		if err != nil {
			return nil, err
		}
		p.PredicateType = pt
	}
	if len(f.Conditions) > MaxConditions {
		return nil, fmt.Errorf("%d conditions, more than %d", len(f.Conditions), MaxConditions)
	}
	seen := map[string]bool{}
	for i, c := range f.Conditions {
		if c.Name == "" {
			return nil, fmt.Errorf("condition %d has no name", i+1)
		}
		if seen[c.Name] {
			return nil, fmt.Errorf("two conditions are named %q", c.Name)
		}
		seen[c.Name] = true
		cc, err := Compile(c.Name, c.Expression)
		if err != nil {
			return nil, err
		}
		cc.Message = c.Message
		p.Conditions = append(p.Conditions, cc)
	}
	// A document of its own ("{}", "~", "---") or keys whose entries are
	// all commented out decode to a policy that requires nothing, as an
	// empty file does.
	if len(p.Identities) == 0 && p.Key == nil && p.PredicateType == "" && len(p.Conditions) == 0 {
		return nil, errors.New("the policy is empty: it names no identities, key, predicateType or conditions")
	}
	return p, nil
}

func (id identity) matcher() (verify.Identity, error) {
	san, err := verify.NewMatcher(id.Subject, id.SubjectRegExp)
	if err != nil {
		return verify.Identity{}, err
	}
	iss, err := verify.NewMatcher(id.Issuer, id.IssuerRegExp)
	if err != nil {
		return verify.Identity{}, err
	}
	v := verify.Identity{SubjectAlternativeName: san, Issuer: iss}
	for _, m := range []struct {
		kv map[string]string
		re bool
	}{{id.Extensions, false}, {id.ExtensionsRegExp, true}} {
		for _, name := range sortedKeys(m.kv) {
			fld, ok := cert.FieldByName(name)
			if !ok {
				return verify.Identity{}, fmt.Errorf("unknown certificate extension %q", name)
			}
			if m.kv[name] == "" {
				// An empty matcher matches nothing: the identity could
				// never match, and the mismatch would read "want ".
				return verify.Identity{}, fmt.Errorf("certificate extension %q has no value", name)
			}
			var mm verify.Matcher
			if m.re {
				mm, err = verify.NewMatcher("", m.kv[name])
			} else {
				mm, err = verify.NewMatcher(m.kv[name], "")
			}
			if err != nil {
				return verify.Identity{}, err
			}
			v.Extensions = append(v.Extensions, verify.ExtensionMatcher{Field: fld, Matcher: mm})
		}
	}
	if err := v.Validate(); err != nil {
		return verify.Identity{}, fmt.Errorf("%w: give issuer (or issuerRegExp) and subject (or subjectRegExp)", err)
	}
	return v, nil
}

// env is the CEL environment conditions are checked in, made on first use
// (it costs a fraction of a millisecond that other commands need not pay).
var env = sync.OnceValue(func() *cel.Env {
	e, err := cel.NewEnv(
		cel.Variable("statement", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("predicateType", cel.StringType),
		cel.Variable("predicate", cel.DynType),
		cel.Variable("subject", cel.ListType(cel.DynType)),
		cel.Variable("certificate", cel.MapType(cel.StringType, cel.StringType)),
		cel.Variable("now", cel.TimestampType),
		cel.CrossTypeNumericComparisons(true),
		cel.HomogeneousAggregateLiterals(),
		ext.Strings(),
		ext.Sets(),
		ext.Lists(),
	)
	if err != nil {
		panic(err)
	}
	return e
})

// Compile type-checks a condition; it must be a boolean expression.
func Compile(name, expr string) (*Condition, error) {
	if strings.TrimSpace(expr) == "" {
		return nil, fmt.Errorf("condition %q has no expression", name)
	}
	ast, iss := env().Compile(expr)
	if iss != nil && iss.Err() != nil {
		return nil, fmt.Errorf("condition %q: couldn't compile %s: %w", name, expr, iss.Err())
	}
	if ast.OutputType() != cel.BoolType && ast.OutputType() != cel.DynType {
		return nil, fmt.Errorf("condition %q: %s is a %s, not a boolean", name, expr, ast.OutputType())
	}
	prg, err := env().Program(ast, cel.CostLimit(CostLimit), cel.EvalOptions(cel.OptOptimize), cel.InterruptCheckFrequency(100))
	if err != nil {
		return nil, fmt.Errorf("condition %q: %w", name, err)
	}
	return &Condition{Name: name, Expression: expr, prg: prg}, nil
}

// VerifyPolicy returns the part of the policy the verifier applies: the
// identities or key and the predicate type.
func (p *Policy) VerifyPolicy() verify.Policy {
	return verify.Policy{Identities: p.Identities, Key: p.Key, PredicateType: p.PredicateType}
}

// Input is what conditions are evaluated over.
type Input struct {
	// Statement is the in-toto statement JSON (the DSSE payload); nil for
	// a message signature, whose conditions may only use certificate and
	// now.
	Statement []byte
	// Certificate is the verified signer identity; nil for a key.
	Certificate *cert.Summary
	// Now is the evaluation time. Default time.Now.
	Now time.Time
}

// Evaluate checks every condition; the first that does not hold is
// returned as a *ConditionError (which wraps ErrConditionFailed).
func (p *Policy) Evaluate(in Input) error {
	if len(p.Conditions) == 0 {
		return nil
	}
	if in.Statement == nil {
		return p.evaluateWithoutStatement(in)
	}
	vars, err := variables(in)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), evalTimeout)
	defer cancel()
	for _, c := range p.Conditions {
		if err := c.eval(ctx, vars); err != nil {
			return err
		}
	}
	return nil
}

// evaluateWithoutStatement checks the conditions of a message signature,
// whose statement variables are noStatement errors.
func (p *Policy) evaluateWithoutStatement(in Input) error {
	vars := map[string]any{"certificate": certVariables(in.Certificate), "now": now(in)}
	for _, v := range statementVars {
		vars[v] = types.NewErr(noStatement)
	}
	ctx, cancel := context.WithTimeout(context.Background(), evalTimeout)
	defer cancel()
	for _, c := range p.Conditions {
		if err := c.eval(ctx, vars); err != nil {
			var ce *ConditionError
			if errors.As(err, &ce) && ce.Err != nil && strings.Contains(ce.Err.Error(), noStatement) {
				ce.Err = errors.New(noStatement)
			}
			return err
		}
	}
	return nil
}

func (c *Condition) eval(ctx context.Context, vars map[string]any) error {
	// cel-go checks for cancellation only between comprehension steps: a
	// function call runs to its end, and some are quadratic in their
	// arguments (lists' distinct(), the sets functions), so over a large
	// list a single call ran for minutes, and the cost limit, charged after
	// the call, came too late. The deadline is kept here; an evaluation
	// that outlives it is left to finish on its own.
	type result struct {
		out ref.Val
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, _, err := c.prg.ContextEval(ctx, vars)
		done <- result{out, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
	}
	out, err := r.out, r.err
	if ctx.Err() != nil {
		return &ConditionError{Condition: c, Err: fmt.Errorf("the conditions took longer than %s over this statement", evalTimeout)}
	}
	if err != nil {
		return &ConditionError{Condition: c, Err: err}
	}
	if out.Type() != types.BoolType {
		return &ConditionError{Condition: c, Err: fmt.Errorf("the result is a %s, not a boolean", out.Type())}
	}
	if out != types.True {
		return &ConditionError{Condition: c}
	}
	return nil
}

func variables(in Input) (map[string]any, error) {
	if len(in.Statement) > MaxStatementSize {
		return nil, fmt.Errorf("couldn't evaluate the policy: the statement is %d bytes, more than %d", len(in.Statement), MaxStatementSize)
	}
	st, err := intoto.Parse(in.Statement)
	if err != nil {
		return nil, fmt.Errorf("couldn't evaluate the policy: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(in.Statement, &m); err != nil {
		return nil, fmt.Errorf("couldn't evaluate the policy: %w", err)
	}
	subj, _ := m["subject"].([]any)
	pred := m["predicate"]
	if pred == nil {
		pred = map[string]any{}
	}
	return map[string]any{
		"statement":     m,
		"predicateType": st.PredicateType,
		"predicate":     pred,
		"subject":       subj,
		"certificate":   certVariables(in.Certificate),
		"now":           now(in),
	}, nil
}

// certVariables is the certificate variable: the signer's subject, issuer
// and Fulcio extensions by name (empty for a key).
func certVariables(c *cert.Summary) map[string]string {
	vars := map[string]string{}
	if c != nil {
		for _, f := range cert.Fields {
			if v := f.Get(&c.Extensions); v != "" {
				vars[f.Name] = v
			}
		}
		vars["subject"] = c.SubjectAlternativeName
		vars["issuer"] = c.Issuer
	}
	return vars
}

func now(in Input) time.Time {
	if in.Now.IsZero() {
		return time.Now().UTC()
	}
	return in.Now.UTC()
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
