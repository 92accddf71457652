package oidc_test

import (
	"cmp"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"maps"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"sigil.dev/sigil/cert"
	"sigil.dev/sigil/oidc"
	"sigil.dev/sigil/oidc/oidctest"
)

func newIssuer(t testing.TB, o oidctest.Options) *oidctest.Issuer {
	t.Helper()
	iss, err := oidctest.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(iss.Close)
	return iss
}

func newVerifier(t testing.TB, cfg *oidc.Config) *oidc.Verifier {
	t.Helper()
	v, err := oidc.NewVerifier(cfg, oidc.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func emailConfig(url string) *oidc.Config {
	return &oidc.Config{OIDCIssuers: map[string]oidc.Issuer{url: {IssuerURL: url, Type: oidc.TypeEmail}}}
}

func mustToken(t testing.TB, iss *oidctest.Issuer, claims map[string]any) string {
	t.Helper()
	tok, err := iss.Token(claims)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestVerifyRejects is the table of hostile and broken tokens: each must be
// refused with the sentinel a CA maps to its client message.
func TestVerifyRejects(t *testing.T) {
	iss := newIssuer(t, oidctest.Options{})
	v := newVerifier(t, emailConfig(iss.URL))
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	otherEC, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)

	with := func(mod func(map[string]any)) map[string]any {
		c := iss.Claims("user-1", "alice@example.com")
		mod(c)
		return c
	}
	sign := func(c map[string]any) string { return mustToken(t, iss, c) }
	tamper := func(tok string) string {
		parts := strings.Split(tok, ".")
		p, _ := base64.RawURLEncoding.DecodeString(parts[1])
		p = []byte(strings.Replace(string(p), "alice", "mallory", 1))
		parts[1] = base64.RawURLEncoding.EncodeToString(p)
		return strings.Join(parts, ".")
	}
	mustSign := func(s string, err error) string {
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	for _, tc := range []struct {
		name  string
		token string
		want  error
	}{
		{"empty", "", oidc.ErrInvalidToken},
		{"not a JWT", "hello", oidc.ErrInvalidToken},
		{"too many dots", strings.Repeat(".", 1000), oidc.ErrInvalidToken},
		{"oversized", strings.Repeat("a", oidc.MaxTokenSize) + ".b.c", oidc.ErrInvalidToken},
		{"payload not base64", "a.!!!.c", oidc.ErrInvalidToken},
		{"payload not JSON", "a." + base64.RawURLEncoding.EncodeToString([]byte("[1]")) + ".c", oidc.ErrInvalidToken},
		{"expired", sign(with(func(c map[string]any) { c["exp"] = time.Now().Add(-time.Second).Unix() })), oidc.ErrInvalidToken},
		{"no exp", sign(with(func(c map[string]any) { delete(c, "exp") })), oidc.ErrInvalidToken},
		{"nbf in the future", sign(with(func(c map[string]any) { c["nbf"] = time.Now().Add(3 * time.Minute).Unix() })), oidc.ErrInvalidToken},
		{"wrong audience", sign(with(func(c map[string]any) { c["aud"] = "other" })), oidc.ErrInvalidToken},
		{"unknown issuer", sign(with(func(c map[string]any) { c["iss"] = "https://evil.example.com" })), oidc.ErrUnknownIssuer},
		{"issuer with trailing slash", sign(with(func(c map[string]any) { c["iss"] = iss.URL + "/" })), oidc.ErrUnknownIssuer},
		{"unknown kid", mustSign(iss.SignWith(other, jose.RS256, "rotated-away", iss.Claims("user-1", "alice@example.com"))), oidc.ErrInvalidToken},
		{"known kid, wrong key", mustSign(iss.SignWith(other, jose.RS256, iss.KeyID, iss.Claims("user-1", "alice@example.com"))), oidc.ErrInvalidToken},
		{"ES256 not offered by discovery", mustSign(iss.SignWith(otherEC, jose.ES256, iss.KeyID, iss.Claims("user-1", "alice@example.com"))), oidc.ErrInvalidToken},
		{"alg none", iss.Unsigned(iss.Claims("user-1", "alice@example.com")), oidc.ErrInvalidToken},
		{"HS256 keyed with the RSA public key", iss.HS256WithPublicKey(iss.Claims("user-1", "alice@example.com")), oidc.ErrInvalidToken},
		{"tampered payload", tamper(sign(iss.Claims("user-1", "alice@example.com"))), oidc.ErrInvalidToken},
		{"signature stripped", strings.Join(strings.Split(sign(iss.Claims("user-1", "alice@example.com")), ".")[:2], ".") + ".", oidc.ErrInvalidToken},
		{"email_verified false", sign(with(func(c map[string]any) { c["email_verified"] = false })), oidc.ErrIdentity},
		{"email_verified missing", sign(with(func(c map[string]any) { delete(c, "email_verified") })), oidc.ErrIdentity},
		{"email_verified \"false\"", sign(with(func(c map[string]any) { c["email_verified"] = "false" })), oidc.ErrIdentity},
		{"no email", sign(with(func(c map[string]any) { delete(c, "email") })), oidc.ErrIdentity},
		{"email not an address", sign(with(func(c map[string]any) { c["email"] = "Alice <alice@example.com>" })), oidc.ErrIdentity},
		{"no sub", sign(with(func(c map[string]any) { delete(c, "sub") })), oidc.ErrInvalidToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := v.Verify(context.Background(), tc.token)
			if err == nil {
				t.Fatalf("accepted: %+v", p)
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
		})
	}
	// A tampered token or a wrong key with a known kid must not make the
	// verifier refetch the key set; unknown kids may, at most once per
	// refresh interval.
	if n := iss.JWKSHits.Load(); n > 2 {
		t.Errorf("key set fetched %d times, want at most 2", n)
	}
}

func TestVerifyEmail(t *testing.T) {
	iss := newIssuer(t, oidctest.Options{ES256: true})
	v := newVerifier(t, emailConfig(iss.URL))
	c := iss.Claims("user-1", "alice@example.com")
	c["email_verified"] = "True" // the string form some issuers send
	c["nbf"] = time.Now().Add(30 * time.Second).Unix()
	p, err := v.Verify(context.Background(), mustToken(t, iss, c))
	if err != nil {
		t.Fatal(err)
	}
	want := oidc.Principal{Issuer: iss.URL, Subject: "user-1", Type: oidc.TypeEmail, Challenge: "alice@example.com", SANType: oidc.SANEmail, SAN: "alice@example.com",
		Extensions: cert.Extensions{Issuer: iss.URL, TokenSubject: "user-1"}}
	p.Claims = nil
	if !reflect.DeepEqual(*p, want) {
		t.Fatalf("principal\n got %+v\nwant %+v", *p, want)
	}
	if n := iss.DiscoveryHits.Load(); n != 1 {
		t.Errorf("discovery ran %d times", n)
	}
	for i := 0; i < 3; i++ {
		if _, err := v.Verify(context.Background(), mustToken(t, iss, iss.Claims("user-1", "alice@example.com"))); err != nil {
			t.Fatal(err)
		}
	}
	if d, k := iss.DiscoveryHits.Load(), iss.JWKSHits.Load(); d != 1 || k != 1 {
		t.Errorf("discovery %d, JWKS %d fetches; both must be cached", d, k)
	}
}

func TestSkipEmailVerificationAndIssuerClaim(t *testing.T) {
	iss := newIssuer(t, oidctest.Options{})
	cfg := &oidc.Config{OIDCIssuers: map[string]oidc.Issuer{iss.URL: {Type: oidc.TypeEmail, SkipEmailVerification: true, IssuerClaim: "$.federated_claims.connector_id"}}}
	v := newVerifier(t, cfg)
	c := iss.Claims("user-1", "bob@example.com")
	delete(c, "email_verified")
	c["federated_claims"] = map[string]any{"connector_id": "https://github.com/login/oauth"}
	p, err := v.Verify(context.Background(), mustToken(t, iss, c))
	if err != nil {
		t.Fatal(err)
	}
	if p.Extensions.Issuer != "https://github.com/login/oauth" || p.Issuer != iss.URL {
		t.Fatalf("issuer extension %q, token issuer %q", p.Extensions.Issuer, p.Issuer)
	}
	delete(c, "federated_claims")
	if _, err := v.Verify(context.Background(), mustToken(t, iss, c)); !errors.Is(err, oidc.ErrIdentity) {
		t.Fatalf("missing issuer claim: %v", err)
	}
}

// claimsWith returns the issuer's claims for sub with extra claims added.
func claimsWith(iss *oidctest.Issuer, sub string, extra map[string]any) map[string]any {
	c := iss.Claims(sub, "")
	maps.Copy(c, extra)
	return c
}

// githubClaims are the claims of a GitHub Actions token
// (docs.github.com, "About security hardening with OpenID Connect").
func githubClaims(iss *oidctest.Issuer) map[string]any {
	return claimsWith(iss, "repo:sigil-test/repo:ref:refs/heads/main", map[string]any{
		"job_workflow_ref": "sigil-test/repo/.github/workflows/release.yml@refs/heads/main", "job_workflow_sha": "1111111111111111111111111111111111111111",
		"sha": "2222222222222222222222222222222222222222", "event_name": "push", "repository": "sigil-test/repo", "workflow": "Release",
		"ref": "refs/heads/main", "runner_environment": "github-hosted", "repository_id": "123456", "repository_owner": "sigil-test",
		"repository_owner_id": float64(7890), "repository_visibility": "public", "workflow_ref": "sigil-test/repo/.github/workflows/release.yml@refs/heads/main",
		"workflow_sha": "3333333333333333333333333333333333333333", "run_id": "42", "run_attempt": "1", "actor": "octocat",
	})
}

func TestVerifyCIProviders(t *testing.T) {
	iss := newIssuer(t, oidctest.Options{})
	for _, tc := range []struct {
		name     string
		typ      oidc.IssuerType
		provider string // ci-provider, for TypeCIProvider
		claims   func() map[string]any
		required string // a claim the templates need; "sha" if empty, "-" if none
		wantSAN  string
		want     cert.Extensions
	}{
		{
			name: "github-workflow", typ: oidc.TypeGitHubWorkflow, claims: func() map[string]any { return githubClaims(iss) },
			wantSAN: "https://github.com/sigil-test/repo/.github/workflows/release.yml@refs/heads/main",
			want: cert.Extensions{
				Issuer: iss.URL, GithubWorkflowTrigger: "push", GithubWorkflowSHA: "2222222222222222222222222222222222222222", GithubWorkflowName: "Release",
				GithubWorkflowRepository: "sigil-test/repo", GithubWorkflowRef: "refs/heads/main",
				BuildSignerURI: "https://github.com/sigil-test/repo/.github/workflows/release.yml@refs/heads/main", BuildSignerDigest: "1111111111111111111111111111111111111111",
				RunnerEnvironment: "github-hosted", SourceRepositoryURI: "https://github.com/sigil-test/repo", SourceRepositoryDigest: "2222222222222222222222222222222222222222",
				SourceRepositoryRef: "refs/heads/main", SourceRepositoryIdentifier: "123456", SourceRepositoryOwnerURI: "https://github.com/sigil-test",
				SourceRepositoryOwnerIdentifier: "7890", BuildConfigURI: "https://github.com/sigil-test/repo/.github/workflows/release.yml@refs/heads/main",
				BuildConfigDigest: "3333333333333333333333333333333333333333", BuildTrigger: "push",
				RunInvocationURI: "https://github.com/sigil-test/repo/actions/runs/42/attempts/1", SourceRepositoryVisibilityAtSigning: "public",
				TokenSubject: "repo:sigil-test/repo:ref:refs/heads/main",
			},
		},
		{
			name: "gitlab-pipeline", typ: oidc.TypeGitLabPipeline,
			claims: func() map[string]any {
				return claimsWith(iss, "project_path:group/proj:ref_type:tag:ref:v1.0", map[string]any{
					"ci_config_ref_uri": "gitlab.com/group/proj//.gitlab-ci.yml@refs/tags/v1.0", "ci_config_sha": "aaaa", "runner_environment": "gitlab-hosted",
					"project_path": "group/proj", "sha": "bbbb", "ref_type": "tag", "ref": "v1.0", "project_id": "17", "namespace_path": "group",
					"namespace_id": "5", "pipeline_source": "push", "job_id": "99", "project_visibility": "private", "environment": "production",
				})
			},
			wantSAN: "https://gitlab.com/group/proj//.gitlab-ci.yml@refs/tags/v1.0",
			want: cert.Extensions{
				Issuer: iss.URL, BuildSignerURI: "https://gitlab.com/group/proj//.gitlab-ci.yml@refs/tags/v1.0", BuildSignerDigest: "aaaa", RunnerEnvironment: "gitlab-hosted",
				SourceRepositoryURI: "https://gitlab.com/group/proj", SourceRepositoryDigest: "bbbb", SourceRepositoryRef: "refs/tags/v1.0",
				SourceRepositoryIdentifier: "17", SourceRepositoryOwnerURI: "https://gitlab.com/group", SourceRepositoryOwnerIdentifier: "5",
				BuildConfigURI: "https://gitlab.com/group/proj//.gitlab-ci.yml@refs/tags/v1.0", BuildConfigDigest: "aaaa", BuildTrigger: "push",
				RunInvocationURI: "https://gitlab.com/group/proj/-/jobs/99", SourceRepositoryVisibilityAtSigning: "private", DeploymentEnvironment: "production",
				TokenSubject: "project_path:group/proj:ref_type:tag:ref:v1.0",
			},
		},
		{
			// Claims as Buildkite documents them (buildkite.com/docs/agent/v3/cli-oidc).
			name: "buildkite-job", typ: oidc.TypeBuildkiteJob, required: "pipeline_slug",
			claims: func() map[string]any {
				return claimsWith(iss, "organization:acme:pipeline:app:ref:refs/heads/main:commit:cccc:step:build", map[string]any{
					"organization_slug": "acme", "pipeline_slug": "app", "build_number": 12, "job_id": "0190-job",
					"build_commit": "cccc", "build_source": "webhook", "runner_environment": "buildkite-hosted",
				})
			},
			wantSAN: "https://buildkite.com/acme/app",
			want: cert.Extensions{
				Issuer: iss.URL, RunInvocationURI: "https://buildkite.com/acme/app/builds/12#0190-job", RunnerEnvironment: "buildkite-hosted",
				SourceRepositoryDigest: "cccc", BuildTrigger: "webhook",
				TokenSubject: "organization:acme:pipeline:app:ref:refs/heads/main:commit:cccc:step:build",
			},
		},
		{
			name: "codefresh-workflow", typ: oidc.TypeCodefreshWorkflow, required: "workflow_id",
			claims: func() map[string]any {
				return claimsWith(iss, "account:628a:pipeline:65e5:initiator:alice", map[string]any{
					"account_id": "628a", "account_name": "acme", "pipeline_id": "65e5", "pipeline_name": "proj/build",
					"workflow_id": "64f4", "scm_repo_url": "https://github.com/acme/app", "scm_ref": "main",
				})
			},
			wantSAN: "https://g.codefresh.io/acme/proj/build:628a/65e5",
			want: cert.Extensions{
				Issuer: iss.URL, BuildSignerURI: "https://g.codefresh.io/build/64f4", SourceRepositoryURI: "https://github.com/acme/app",
				SourceRepositoryRef: "main", BuildConfigURI: "https://g.codefresh.io/api/pipelines/65e5", RunInvocationURI: "https://g.codefresh.io/build/64f4",
				TokenSubject: "account:628a:pipeline:65e5:initiator:alice",
			},
		},
		{
			name: "circleci-job", typ: oidc.TypeCIProvider, provider: "circleci-job", required: "-", // index on a missing key gives "", as in Fulcio
			claims: func() map[string]any {
				return claimsWith(iss, "org/o1/project/p1/user/u1", map[string]any{
					"oidc.circleci.com/project-id": "p1", "oidc.circleci.com/pipeline-definition-id": "pd1", "oidc.circleci.com/pipeline-id": "pl1",
					"oidc.circleci.com/workflow-id": "w1", "oidc.circleci.com/job-id": "j1", "oidc.circleci.com/ssh-rerun": true,
					"oidc.circleci.com/vcs-ref": "refs/heads/main", "oidc.circleci.com/vcs-origin": "github.com/acme/app",
				})
			},
			wantSAN: "https://circleci.com/api/v2/projects/p1/pipeline-definitions/pd1",
			want: cert.Extensions{
				Issuer: iss.URL, BuildConfigURI: "https://circleci.com/api/v2/pipeline/pl1/config",
				BuildSignerURI: "https://circleci.com/api/v2/projects/p1/pipeline-definitions/pd1", RunInvocationURI: "https://app.circleci.com//workflow/w1/job/j1",
				RunnerEnvironment: "ssh-rerun", SourceRepositoryRef: "refs/heads/main", SourceRepositoryURI: "github.com/acme/app",
				TokenSubject: "org/o1/project/p1/user/u1",
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newVerifier(t, &oidc.Config{OIDCIssuers: map[string]oidc.Issuer{iss.URL: {Type: tc.typ, CIProvider: tc.provider}}})
			p, err := v.Verify(context.Background(), mustToken(t, iss, tc.claims()))
			if err != nil {
				t.Fatal(err)
			}
			if p.SANType != oidc.SANURI || p.SAN != tc.wantSAN || p.Challenge != p.Subject {
				t.Errorf("SAN %v %q challenge %q", p.SANType, p.SAN, p.Challenge)
			}
			if p.Extensions != tc.want {
				t.Errorf("extensions\n got %+v\nwant %+v", p.Extensions, tc.want)
			}
			// A missing claim the templates need is an identity error.
			if tc.required == "-" {
				return
			}
			c := tc.claims()
			required := cmp.Or(tc.required, "sha")
			delete(c, required)
			if _, err := v.Verify(context.Background(), mustToken(t, iss, c)); !errors.Is(err, oidc.ErrIdentity) {
				t.Errorf("missing %s: %v", required, err)
			}
		})
	}
}

func TestVerifyChainguard(t *testing.T) {
	iss := newIssuer(t, oidctest.Options{})
	v := newVerifier(t, &oidc.Config{OIDCIssuers: map[string]oidc.Issuer{iss.URL: {Type: oidc.TypeChainguard}}})
	const sub = "e2a8f6/7b3c:ci"
	// Without an email the proof signs the sub.
	p, err := v.Verify(context.Background(), mustToken(t, iss, iss.Claims(sub, "")))
	if err != nil {
		t.Fatal(err)
	}
	if p.SANType != oidc.SANURI || p.SAN != iss.URL+"/"+sub || p.Challenge != sub || p.Extensions.TokenSubject != sub {
		t.Errorf("principal %+v", p)
	}
	// With a verified email the proof signs the email; the SAN stays {iss}/{sub}.
	p, err = v.Verify(context.Background(), mustToken(t, iss, iss.Claims(sub, "alice@example.com")))
	if err != nil {
		t.Fatal(err)
	}
	if p.SAN != iss.URL+"/"+sub || p.Challenge != "alice@example.com" {
		t.Errorf("principal %+v", p)
	}
	c := iss.Claims(sub, "alice@example.com")
	c["email_verified"] = false
	if _, err := v.Verify(context.Background(), mustToken(t, iss, c)); !errors.Is(err, oidc.ErrIdentity) {
		t.Errorf("unverified email: %v", err)
	}
}

func TestVerifyOtherTypes(t *testing.T) {
	iss := newIssuer(t, oidctest.Options{})
	host := strings.TrimPrefix(iss.URL, "http://") // 127.0.0.1:port
	hostname := strings.Split(host, ":")[0]
	for _, tc := range []struct {
		name     string
		conf     oidc.Issuer
		sub      string
		extra    map[string]any
		wantType oidc.SANType
		wantSAN  string
		wantErr  error
	}{
		{name: "kubernetes", conf: oidc.Issuer{Type: oidc.TypeKubernetes}, sub: "system:serviceaccount:prod:builder",
			extra:    map[string]any{"kubernetes.io": map[string]any{"namespace": "prod", "serviceaccount": map[string]any{"name": "builder", "uid": "x"}}},
			wantType: oidc.SANURI, wantSAN: "https://kubernetes.io/namespaces/prod/serviceaccounts/builder"},
		{name: "kubernetes without claims", conf: oidc.Issuer{Type: oidc.TypeKubernetes}, sub: "x", wantErr: oidc.ErrIdentity},
		{name: "spiffe", conf: oidc.Issuer{Type: oidc.TypeSPIFFE, SPIFFETrustDomain: "example.org"}, sub: "spiffe://example.org/ns/prod/sa/builder",
			wantType: oidc.SANURI, wantSAN: "spiffe://example.org/ns/prod/sa/builder"},
		{name: "spiffe other trust domain", conf: oidc.Issuer{Type: oidc.TypeSPIFFE, SPIFFETrustDomain: "example.org"}, sub: "spiffe://evil.org/x", wantErr: oidc.ErrIdentity},
		{name: "spiffe dot segment", conf: oidc.Issuer{Type: oidc.TypeSPIFFE, SPIFFETrustDomain: "example.org"}, sub: "spiffe://example.org/a/../b", wantErr: oidc.ErrIdentity},
		{name: "uri", conf: oidc.Issuer{Type: oidc.TypeURI, SubjectDomain: "http://" + host}, sub: "http://" + host + "/users/alice",
			wantType: oidc.SANURI, wantSAN: "http://" + host + "/users/alice"},
		{name: "uri other host", conf: oidc.Issuer{Type: oidc.TypeURI, SubjectDomain: "http://" + host}, sub: "http://evil.example/users/alice", wantErr: oidc.ErrIdentity},
		{name: "uri is an email", conf: oidc.Issuer{Type: oidc.TypeURI, SubjectDomain: "http://" + host}, sub: "alice@example.com", wantErr: oidc.ErrIdentity},
		{name: "username", conf: oidc.Issuer{Type: oidc.TypeUsername, SubjectDomain: hostname}, sub: "alice",
			wantType: oidc.SANUsername, wantSAN: "alice!" + hostname},
		{name: "username with !", conf: oidc.Issuer{Type: oidc.TypeUsername, SubjectDomain: hostname}, sub: "alice!evil", wantErr: oidc.ErrIdentity},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := oidc.NewVerifier(&oidc.Config{OIDCIssuers: map[string]oidc.Issuer{iss.URL: tc.conf}}, oidc.Options{})
			if err != nil {
				t.Fatal(err)
			}
			c := iss.Claims(tc.sub, "")
			for k, x := range tc.extra {
				c[k] = x
			}
			p, err := v.Verify(context.Background(), mustToken(t, iss, c))
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("error %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.SANType != tc.wantType || p.SAN != tc.wantSAN || p.Challenge != tc.sub || p.Extensions.TokenSubject != tc.sub || p.Extensions.Issuer != iss.URL {
				t.Fatalf("principal %+v", p)
			}
		})
	}
}

func TestClaimPolicy(t *testing.T) {
	iss := newIssuer(t, oidctest.Options{})
	cfg := &oidc.Config{OIDCIssuers: map[string]oidc.Issuer{iss.URL: {Type: oidc.TypeGitHubWorkflow, ClaimPolicy: map[string][]string{
		"repository":          {"sigil-test/.*"},
		"ref":                 {"refs/heads/main", "refs/tags/v.*"},
		"repository_owner_id": {"7890"},
		"actor":               {"octocat", "hubot"},
	}}}}
	v := newVerifier(t, cfg)
	for _, tc := range []struct {
		name string
		mod  func(map[string]any)
		ok   bool
	}{
		{"allowed", func(map[string]any) {}, true},
		{"tag allowed", func(c map[string]any) { c["ref"] = "refs/tags/v1.2" }, true},
		{"other repository", func(c map[string]any) { c["repository"] = "evil/repo" }, false},
		{"prefix is not enough (anchored)", func(c map[string]any) { c["repository"] = "x-sigil-test/repo" }, false},
		{"suffix is not enough (anchored)", func(c map[string]any) { c["ref"] = "refs/heads/main-evil" }, false},
		{"number claim mismatch", func(c map[string]any) { c["repository_owner_id"] = float64(1) }, false},
		{"claim absent", func(c map[string]any) { delete(c, "actor") }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := githubClaims(iss)
			tc.mod(c)
			_, err := v.Verify(context.Background(), mustToken(t, iss, c))
			if tc.ok && err != nil {
				t.Fatal(err)
			}
			if !tc.ok && !errors.Is(err, oidc.ErrPolicy) {
				t.Fatalf("error %v, want ErrPolicy", err)
			}
		})
	}
}

func TestMetaIssuers(t *testing.T) {
	iss := newIssuer(t, oidctest.Options{})
	// The test issuer is http://127.0.0.1:PORT; a pattern with a wildcard
	// port segment matches it, and nothing longer.
	cfg := &oidc.Config{MetaIssuers: map[string]oidc.Issuer{"http://127.0.0.1:*": {Type: oidc.TypeEmail}}}
	v := newVerifier(t, cfg)
	if _, err := v.Verify(context.Background(), mustToken(t, iss, iss.Claims("u", "a@example.com"))); err != nil {
		t.Fatal(err)
	}
	for _, evil := range []string{
		"http://127.0.0.1:1@evil.example.com",
		"http://127.0.0.1:80/../evil",
		"http://127.0.0.1:80.evil.example.com",
		"http://127.0.0.1:80?x=y",
		"http://127.0.0.1:80#frag",
		"http://127.0.0.1:",
	} {
		c := iss.Claims("u", "a@example.com")
		c["iss"] = evil
		if _, err := v.Verify(context.Background(), mustToken(t, iss, c)); !errors.Is(err, oidc.ErrUnknownIssuer) {
			t.Errorf("iss %q: %v, want ErrUnknownIssuer", evil, err)
		}
	}
}

func TestDiscovery(t *testing.T) {
	t.Run("redirect to another host is refused", func(t *testing.T) {
		iss := newIssuer(t, oidctest.Options{})
		evil := newIssuer(t, oidctest.Options{})
		iss.Handler = http.RedirectHandler(evil.URL+"/.well-known/openid-configuration", http.StatusFound)
		// Same IP, different port: a different host.
		v := newVerifier(t, emailConfig(iss.URL))
		_, err := v.Verify(context.Background(), mustToken(t, iss, iss.Claims("u", "a@example.com")))
		if !errors.Is(err, oidc.ErrIssuerUnavailable) || evil.DiscoveryHits.Load() != 0 {
			t.Fatalf("error %v; redirect target hit %d times", err, evil.DiscoveryHits.Load())
		}
	})
	t.Run("discovery issuer mismatch", func(t *testing.T) {
		iss := newIssuer(t, oidctest.Options{})
		real := iss.Handler
		iss.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "openid-configuration") {
				w.Write([]byte(`{"issuer":"https://other.example","jwks_uri":"` + iss.URL + `/keys"}`))
				return
			}
			real.ServeHTTP(w, r)
		})
		v := newVerifier(t, emailConfig(iss.URL))
		if _, err := v.Verify(context.Background(), mustToken(t, iss, iss.Claims("u", "a@example.com"))); !errors.Is(err, oidc.ErrIssuerUnavailable) {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("issuer down, failure remembered", func(t *testing.T) {
		iss := newIssuer(t, oidctest.Options{})
		tok := mustToken(t, iss, iss.Claims("u", "a@example.com"))
		iss.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			iss.DiscoveryHits.Add(1)
			http.Error(w, "down", http.StatusServiceUnavailable)
		})
		v := newVerifier(t, emailConfig(iss.URL))
		for i := 0; i < 3; i++ {
			if _, err := v.Verify(context.Background(), tok); !errors.Is(err, oidc.ErrIssuerUnavailable) {
				t.Fatalf("error %v", err)
			}
		}
		if n := iss.DiscoveryHits.Load(); n != 1 {
			t.Fatalf("discovery tried %d times within the retry interval", n)
		}
	})
	t.Run("hanging issuer, failure remembered from when it ended", func(t *testing.T) {
		// Discovery times out after longer than the retry interval (10 s
		// and 5 s by default): requests queued behind it must take its
		// failure, not each run a discovery of their own, one after the
		// other.
		iss := newIssuer(t, oidctest.Options{})
		tok := mustToken(t, iss, iss.Claims("u", "a@example.com"))
		release := make(chan struct{})
		t.Cleanup(func() { close(release) })
		iss.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			iss.DiscoveryHits.Add(1)
			select {
			case <-release:
			case <-r.Context().Done():
			}
		})
		v, err := oidc.NewVerifier(emailConfig(iss.URL), oidc.Options{Timeout: 300 * time.Millisecond, DiscoveryRetry: 150 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		var wg sync.WaitGroup
		for i := 0; i < 4; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := v.Verify(context.Background(), tok); !errors.Is(err, oidc.ErrIssuerUnavailable) {
					t.Errorf("error %v", err)
				}
			}()
		}
		wg.Wait()
		if n, d := iss.DiscoveryHits.Load(), time.Since(start); n != 1 {
			t.Fatalf("%d concurrent requests ran %d discoveries in %s, want 1", 4, n, d)
		}
	})
	t.Run("rotated key is fetched", func(t *testing.T) {
		iss := newIssuer(t, oidctest.Options{})
		v, err := oidc.NewVerifier(emailConfig(iss.URL), oidc.Options{JWKSRefresh: time.Nanosecond})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(context.Background(), mustToken(t, iss, iss.Claims("u", "a@example.com"))); err != nil {
			t.Fatal(err)
		}
		k, _ := rsa.GenerateKey(rand.Reader, 2048)
		iss.Key, iss.KeyID = k, "test-key-2"
		if _, err := v.Verify(context.Background(), mustToken(t, iss, iss.Claims("u", "a@example.com"))); err != nil {
			t.Fatalf("after rotation: %v", err)
		}
	})
}

func TestConfiguration(t *testing.T) {
	v := newVerifier(t, &oidc.Config{
		OIDCIssuers: map[string]oidc.Issuer{
			"https://accounts.example.com": {Type: oidc.TypeEmail},
			"https://ci.example.com":       {Type: oidc.TypeGitHubWorkflow, ClientID: "custom"},
		},
		MetaIssuers: map[string]oidc.Issuer{"https://oidc.*.example.com/id/*": {Type: oidc.TypeKubernetes}},
	})
	got := v.Issuers()
	want := []oidc.IssuerInfo{
		{IssuerURL: "https://accounts.example.com", Audience: "sigstore", ChallengeClaim: "email", IssuerType: "email"},
		{IssuerURL: "https://ci.example.com", Audience: "custom", ChallengeClaim: "sub", IssuerType: "github-workflow"},
		{WildcardIssuerURL: "https://oidc.*.example.com/id/*", Audience: "sigstore", ChallengeClaim: "sub", IssuerType: "kubernetes"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("issuer %d: got %+v want %+v", i, got[i], want[i])
		}
	}
}

func TestIssuerCACert(t *testing.T) {
	iss := newIssuer(t, oidctest.Options{TLS: true})
	tok := mustToken(t, iss, iss.Claims("u", "a@example.com"))
	// Without the issuer's CA, TLS to discovery fails.
	if _, err := newVerifier(t, emailConfig(iss.URL)).Verify(context.Background(), tok); !errors.Is(err, oidc.ErrIssuerUnavailable) {
		t.Fatalf("without ca-cert: %v", err)
	}
	cfg := &oidc.Config{OIDCIssuers: map[string]oidc.Issuer{iss.URL: {Type: oidc.TypeEmail, CACert: string(iss.CACert)}}}
	if _, err := newVerifier(t, cfg).Verify(context.Background(), tok); err != nil {
		t.Fatalf("with ca-cert: %v", err)
	}
}

// TestVerifyConcurrent verifies from many goroutines while the issuer
// rotates its key, so the race detector sees discovery, the key-set cache
// and its refresh under contention.
func TestVerifyConcurrent(t *testing.T) {
	iss := newIssuer(t, oidctest.Options{ES256: true})
	v, err := oidc.NewVerifier(emailConfig(iss.URL), oidc.Options{JWKSRefresh: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	old := mustToken(t, iss, iss.Claims("u", "a@example.com"))
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	fresh, err := iss.SignWith(k, jose.ES256, "test-key-2", iss.Claims("u", "a@example.com"))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				if _, err := v.Verify(context.Background(), old); err != nil && g%2 == 0 && i == 0 {
					errs <- err
				}
				_, _ = v.Verify(context.Background(), fresh)
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
