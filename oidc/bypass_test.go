package oidc_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"sigil.dev/sigil/oidc"
	"sigil.dev/sigil/oidc/oidctest"
)

// Tokens a trusted issuer might sign with unusual claims, each of which
// got a certificate whose identity the claim policy had not checked, or a
// certificate it should not carry (found by an audit of the CA).
func TestPolicyBypasses(t *testing.T) {
	iss := newIssuer(t, oidctest.Options{})
	host := strings.Split(strings.TrimPrefix(iss.URL, "http://"), ":")[0]
	username := oidc.Issuer{Type: oidc.TypeUsername, SubjectDomain: host, ClaimPolicy: map[string][]string{"sub": {"svc-.*"}, "org": {"9007199254740992"}}}
	github := oidc.Issuer{Type: oidc.TypeGitHubWorkflow, ClaimPolicy: map[string][]string{"ref": {"refs/heads/main"}}}
	for _, tc := range []struct {
		name string
		conf oidc.Issuer
		mod  func(map[string]any)
		want error // nil: issued
	}{
		{"username as the policy allows", username, func(map[string]any) {}, nil},
		{"SUB beside sub", username, func(c map[string]any) { c["SUB"] = "root" }, oidc.ErrInvalidToken},
		{"ſub (long s) beside sub", username, func(c map[string]any) { c["ſub"] = "root" }, oidc.ErrInvalidToken},
		{"a number beyond float64 precision", username, func(c map[string]any) { c["org"] = json.Number("9007199254740993") }, oidc.ErrPolicy},
		{"nbf that wraps around int64", username, func(c map[string]any) { c["nbf"] = json.Number("1e300") }, oidc.ErrInvalidToken},
		{"NUL in the username", username, func(c map[string]any) { c["sub"] = "svc-a\x00" }, oidc.ErrIdentity},
		{"right-to-left override in the username", username, func(c map[string]any) { c["sub"] = "svc-\u202eoor" }, oidc.ErrIdentity},
		{"github as the policy allows", github, func(map[string]any) {}, nil},
		{"ref as a list with one allowed element", github, func(c map[string]any) { c["ref"] = []any{"refs/heads/evil", "refs/heads/main"} }, oidc.ErrIdentity},
		{"a claim too long for a certificate", github, func(c map[string]any) { c["workflow_ref"] = strings.Repeat("a", oidc.MaxClaimValue+1) }, oidc.ErrIdentity},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newVerifier(t, &oidc.Config{OIDCIssuers: map[string]oidc.Issuer{iss.URL: tc.conf}})
			c := iss.Claims("svc-a", "")
			c["org"] = json.Number("9007199254740992")
			if tc.conf.Type == oidc.TypeGitHubWorkflow {
				c = githubClaims(iss)
			}
			tc.mod(c)
			p, err := v.Verify(context.Background(), mustToken(t, iss, c))
			switch {
			case tc.want == nil && err != nil:
				t.Fatal(err)
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Fatalf("got %+v, %v; want %v", p, err, tc.want)
			}
		})
	}
}

// An issuer that two meta-issuer patterns match is refused: which
// configuration (and claim policy) applied depended on their order.
func TestOverlappingMetaIssuers(t *testing.T) {
	iss := newIssuer(t, oidctest.Options{})
	port := iss.URL[strings.LastIndex(iss.URL, ":")+1:]
	v := newVerifier(t, &oidc.Config{MetaIssuers: map[string]oidc.Issuer{
		"http://127.0.0.1:*":     {Type: oidc.TypeEmail, ClaimPolicy: map[string][]string{"email": {"ok@example.com"}}},
		"http://*.0.0.1:" + port: {Type: oidc.TypeEmail},
	}})
	_, err := v.Verify(context.Background(), mustToken(t, iss, iss.Claims("u", "evil@example.com")))
	if !errors.Is(err, oidc.ErrUnknownIssuer) || !strings.Contains(err.Error(), "disjoint") {
		t.Fatalf("%v, want a refusal naming both patterns", err)
	}
}

// Kubernetes names and chainguard subjects cannot move the SAN's path.
func TestIdentityPaths(t *testing.T) {
	iss := newIssuer(t, oidctest.Options{})
	for _, tc := range []struct {
		name string
		conf oidc.Issuer
		sub  string
		k8s  map[string]any
	}{
		{"service account with a path", oidc.Issuer{Type: oidc.TypeKubernetes}, "x", map[string]any{"namespace": "prod", "serviceaccount": map[string]any{"name": "a/serviceaccounts/b"}}},
		{"namespace ..", oidc.Issuer{Type: oidc.TypeKubernetes}, "x", map[string]any{"namespace": "..", "serviceaccount": map[string]any{"name": "a"}}},
		{"chainguard sub with ..", oidc.Issuer{Type: oidc.TypeChainguard}, "../../evil.example/x", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newVerifier(t, &oidc.Config{OIDCIssuers: map[string]oidc.Issuer{iss.URL: tc.conf}})
			c := iss.Claims(tc.sub, "")
			if tc.k8s != nil {
				c["kubernetes.io"] = tc.k8s
			}
			if p, err := v.Verify(context.Background(), mustToken(t, iss, c)); !errors.Is(err, oidc.ErrIdentity) {
				t.Fatalf("got %+v, %v; want ErrIdentity", p, err)
			}
		})
	}
}

// Issuers not seen before that match a meta-issuer pattern cost a
// discovery request each, before any signature is checked: they are taken
// up at a bounded rate.
func TestNewMetaIssuersBounded(t *testing.T) {
	iss := newIssuer(t, oidctest.Options{})
	now := time.Now()
	v, err := oidc.NewVerifier(&oidc.Config{MetaIssuers: map[string]oidc.Issuer{"http://127.0.0.1:*": {Type: oidc.TypeEmail}}},
		oidc.Options{NewMetaIssuersPerMinute: 2, Now: func() time.Time { return now }, Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	token := func(port int) string {
		c := iss.Claims("u", "a@example.com")
		c["iss"] = fmt.Sprintf("http://127.0.0.1:%d", port)
		return mustToken(t, iss, c)
	}
	for port := 1; port <= 2; port++ {
		if _, err := v.Verify(context.Background(), token(port)); err == nil || strings.Contains(err.Error(), "new issuers a minute") {
			t.Fatalf("new issuer %d within the bound: %v", port, err)
		}
	}
	if _, err := v.Verify(context.Background(), token(3)); !errors.Is(err, oidc.ErrIssuerUnavailable) || !strings.Contains(err.Error(), "new issuers a minute") {
		t.Fatalf("a third new issuer in the same minute: %v", err)
	}
	if _, err := v.Verify(context.Background(), token(1)); err != nil && strings.Contains(err.Error(), "new issuers a minute") {
		t.Fatalf("an issuer already taken up: %v", err)
	}
	now = now.Add(30 * time.Second)
	if _, err := v.Verify(context.Background(), token(4)); err != nil && strings.Contains(err.Error(), "new issuers a minute") {
		t.Fatalf("after the bucket refilled: %v", err)
	}
}

// Made-up issuers that match a meta-issuer pattern and whose discovery
// fails must not push issuers in use out of the cache: otherwise a
// stream of garbage tokens evicts every real cluster, each of which must
// then win a token of the new-issuer bound again, against the stream.
func TestMadeUpMetaIssuersDoNotEvict(t *testing.T) {
	iss := newIssuer(t, oidctest.Options{})
	now := time.Now()
	v, err := oidc.NewVerifier(&oidc.Config{MetaIssuers: map[string]oidc.Issuer{"http://127.0.0.1:*": {Type: oidc.TypeEmail}}},
		oidc.Options{NewMetaIssuersPerMinute: 150, Now: func() time.Time { return now }, Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), mustToken(t, iss, iss.Claims("u", "a@example.com"))); err != nil {
		t.Fatal(err)
	}
	// Ports nothing listens on: discovery fails at once.
	for port := 1; port < 150; port++ {
		c := iss.Claims("u", "a@example.com")
		c["iss"] = fmt.Sprintf("http://127.0.0.1:%d", port)
		if _, err := v.Verify(context.Background(), mustToken(t, iss, c)); err == nil {
			t.Fatalf("made-up issuer %d accepted", port)
		}
	}
	if _, err := v.Verify(context.Background(), mustToken(t, iss, iss.Claims("u", "a@example.com"))); err != nil {
		t.Fatalf("the issuer in use after a stream of made-up issuers: %v", err)
	}
	if n := iss.DiscoveryHits.Load(); n != 1 {
		t.Errorf("discovery of the issuer in use ran %d times, want 1", n)
	}
}

// Made-up issuers already taken up, whose discovery failed, are retried
// once DiscoveryRetry has passed: the retries count against the same
// bound, or a hundred of them cost a discovery request each every few
// seconds, forty times the bound.
func TestFailedMetaIssuerRetriesBounded(t *testing.T) {
	iss := newIssuer(t, oidctest.Options{})
	var hits atomic.Int64
	iss.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.NotFound(w, r)
	})
	now := time.Now()
	v, err := oidc.NewVerifier(&oidc.Config{MetaIssuers: map[string]oidc.Issuer{iss.URL + "/*": {Type: oidc.TypeEmail}}},
		oidc.Options{NewMetaIssuersPerMinute: 2, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	token := func(name string) string {
		c := iss.Claims("u", "a@example.com")
		c["iss"] = iss.URL + "/" + name
		return mustToken(t, iss, c)
	}
	a, b := token("a"), token("b")
	for i := 0; i < 10; i++ {
		for _, tok := range []string{a, b} {
			if _, err := v.Verify(context.Background(), tok); !errors.Is(err, oidc.ErrIssuerUnavailable) {
				t.Fatalf("made-up issuer: %v", err)
			}
		}
		now = now.Add(6 * time.Second) // past DiscoveryRetry (5 s)
	}
	// One minute at 2 a minute: the burst of 2 and 2 more.
	if n := hits.Load(); n > 4 {
		t.Fatalf("%d discovery requests in a minute for 2 made-up issuers, bound 2 a minute", n)
	}
}

// Trusts answers without discovery: configured issuers and URLs a
// meta-issuer pattern matches (anchored), nothing else.
func TestTrusts(t *testing.T) {
	v, err := oidc.NewVerifier(&oidc.Config{
		OIDCIssuers: map[string]oidc.Issuer{"https://issuer.example": {IssuerURL: "https://issuer.example", Type: oidc.TypeEmail}},
		MetaIssuers: map[string]oidc.Issuer{"https://*.ci.example": {Type: oidc.TypeEmail}},
	}, oidc.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for iss, want := range map[string]bool{
		"https://issuer.example": true, "https://a.ci.example": true,
		"https://issuer.example/x": false, "https://a.ci.example.evil": false, "https://other.example": false,
	} {
		if got := v.Trusts(iss); got != want {
			t.Errorf("Trusts(%q) = %t, want %t", iss, got, want)
		}
	}
}
