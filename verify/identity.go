package verify

import (
	"fmt"
	"regexp"
	"strings"

	"sigil.dev/sigil/cert"
)

// Matcher matches a string exactly, by regular expression, or both (then
// both must hold). Regular expressions are Go RE2 syntax and unanchored, as
// in cosign and sigstore-go: write ^…$ to match a whole value.
type Matcher struct {
	Exact  string
	Regexp *regexp.Regexp
}

// IsZero reports whether the matcher matches nothing in particular.
func (m Matcher) IsZero() bool { return m.Exact == "" && m.Regexp == nil }

// Match reports whether s satisfies the matcher.
func (m Matcher) Match(s string) bool {
	if m.Exact != "" && s != m.Exact {
		return false
	}
	if m.Regexp != nil && !m.Regexp.MatchString(s) {
		return false
	}
	return !m.IsZero()
}

func (m Matcher) String() string {
	var parts []string
	if m.Exact != "" {
		parts = append(parts, fmt.Sprintf("%q", m.Exact))
	}
	if m.Regexp != nil {
		parts = append(parts, fmt.Sprintf("matching /%s/", m.Regexp))
	}
	return strings.Join(parts, " and ")
}

// NewMatcher builds a matcher from an exact value and a regular expression,
// either of which may be empty.
func NewMatcher(exact, re string) (Matcher, error) {
	m := Matcher{Exact: exact}
	if re != "" {
		r, err := regexp.Compile(re)
		if err != nil {
			return Matcher{}, fmt.Errorf("couldn't compile regular expression %q: %w", re, err)
		}
		m.Regexp = r
	}
	return m, nil
}

// ExtensionMatcher constrains one certificate extension.
type ExtensionMatcher struct {
	Field cert.Field
	Matcher
}

// Identity is an accepted signer: a subject alternative name and an OIDC
// issuer, both required, and optionally more extensions (for GitHub
// workflows: trigger, SHA, name, repository, ref, or any Fulcio extension).
type Identity struct {
	SubjectAlternativeName Matcher
	Issuer                 Matcher
	Extensions             []ExtensionMatcher
}

func (id Identity) String() string {
	s := fmt.Sprintf("identity %s from issuer %s", id.SubjectAlternativeName, id.Issuer)
	for _, e := range id.Extensions {
		s += fmt.Sprintf(", %s %s", e.Field.Name, e.Matcher)
	}
	return s
}

// Validate checks that the identity constrains both SAN and issuer.
func (id Identity) Validate() error {
	if id.SubjectAlternativeName.IsZero() {
		return fmt.Errorf("identity policy needs a certificate identity (exact or regexp)")
	}
	if id.Issuer.IsZero() {
		return fmt.Errorf("identity policy needs a certificate OIDC issuer (exact or regexp)")
	}
	return nil
}

// mismatch explains why s does not satisfy id, or returns "".
func (id Identity) mismatch(s *cert.Summary) string {
	if !id.SubjectAlternativeName.Match(s.SubjectAlternativeName) {
		return fmt.Sprintf("certificate identity mismatch: got %q, want %s", s.SubjectAlternativeName, id.SubjectAlternativeName)
	}
	if !id.Issuer.Match(s.Issuer) {
		return fmt.Sprintf("certificate OIDC issuer mismatch: got %q, want %s", s.Issuer, id.Issuer)
	}
	for _, e := range id.Extensions {
		if got := e.Field.Get(&s.Extensions); !e.Match(got) {
			return fmt.Sprintf("certificate extension %s mismatch: got %q, want %s", e.Field.Name, got, e.Matcher)
		}
	}
	return ""
}

// matchIdentities returns the first identity s satisfies, or an error
// naming why each one failed.
func matchIdentities(ids []Identity, s *cert.Summary) (*Identity, error) {
	var why []string
	for i := range ids {
		m := ids[i].mismatch(s)
		if m == "" {
			return &ids[i], nil
		}
		why = append(why, m)
	}
	if len(why) == 1 {
		return nil, fail(CheckIdentity, "%s", why[0])
	}
	return nil, fail(CheckIdentity, "no accepted identity matches: %s", strings.Join(why, "; "))
}
