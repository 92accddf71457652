package oidc

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// claimPolicy is a compiled Issuer.ClaimPolicy.
type claimPolicy []claimRule

type claimRule struct {
	claim    string
	patterns []*regexp.Regexp
}

func compilePolicy(p map[string][]string) (claimPolicy, error) {
	names := make([]string, 0, len(p))
	for k := range p {
		names = append(names, k)
	}
	sort.Strings(names)
	var out claimPolicy
	for _, name := range names {
		if len(p[name]) == 0 {
			return nil, fmt.Errorf("claim-policy %q lists no patterns", name)
		}
		r := claimRule{claim: name}
		for _, pat := range p[name] {
			// The pattern must be a regexp on its own: wrapped in the
			// anchors, an unbalanced one such as "a)|(.*" would compile
			// to "^(?:a)|(.*)$", which matches anything.
			if _, err := regexp.Compile(pat); err != nil {
				return nil, fmt.Errorf("claim-policy %q: pattern %q: %v", name, pat, err)
			}
			re, err := regexp.Compile("^(?:" + pat + ")$")
			if err != nil {
				return nil, fmt.Errorf("claim-policy %q: pattern %q: %v", name, pat, err)
			}
			r.patterns = append(r.patterns, re)
		}
		out = append(out, r)
	}
	return out, nil
}

// check returns nil when every rule matches the claims, else an error that
// names the first claim that did not.
func (p claimPolicy) check(claims map[string]any) error {
	for _, r := range p {
		v, ok := claims[r.claim]
		if !ok {
			return fmt.Errorf("claim %q is required by the claim policy and absent", r.claim)
		}
		var values []string
		if list, isList := v.([]any); isList {
			for _, x := range list {
				values = append(values, stringify(x))
			}
		} else {
			values = []string{stringify(v)}
		}
		if !r.matchAny(values) {
			return fmt.Errorf("claim %q = %q matches none of %s", r.claim, strings.Join(values, ","), r.describe())
		}
	}
	return nil
}

func (r claimRule) matchAny(values []string) bool {
	for _, v := range values {
		for _, re := range r.patterns {
			if re.MatchString(v) {
				return true
			}
		}
	}
	return false
}

func (r claimRule) describe() string {
	var s []string
	for _, re := range r.patterns {
		s = append(s, re.String())
	}
	return strings.Join(s, " | ")
}
