package ca_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"fmt"
	"maps"
	"testing"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"sigil.dev/sigil/cert"
	"sigil.dev/sigil/oidc"
)

// ciCase is a CI token and the certificate Fulcio issues for it. The
// expected values were derived by hand from the public-good Fulcio
// configuration (sigstore/fulcio config/identity/config.yaml,
// ci-issuer-metadata) and its renderer (pkg/identity/ciprovider/principal.go):
// claims merged over the defaults, text/template with missingkey=error, a
// bare string naming a claim, empty results left out, the SAN passed through
// url.Parse.
type ciCase struct {
	name   string
	typ    string // the issuer's type in the configuration
	ci     string // its ci-provider, if any
	claims map[string]any
	san    string
	// exts maps the last arc under 1.3.6.1.4.1.57264.1 to the value; .1,
	// .8 (issuer) and .24 (sub) are added by the test.
	exts map[int]string
}

// Realistic claims, as the providers document their tokens.
func ciCases() []ciCase {
	const (
		sha  = "a3c5f1e0b2d4c6e8f0a1b3c5d7e9f1a3b5c7d9e1"
		wsha = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c"
	)
	github := map[string]any{
		"sub":                   "repo:octo-org/octo-repo:environment:prod",
		"jti":                   "example-id",
		"ref":                   "refs/tags/v1.2.3",
		"sha":                   sha,
		"repository":            "octo-org/octo-repo",
		"repository_owner":      "octo-org",
		"repository_owner_id":   "9919",
		"repository_id":         "123456789",
		"repository_visibility": "private",
		"run_id":                "5516434929",
		"run_number":            "12",
		"run_attempt":           "2",
		"runner_environment":    "github-hosted",
		"actor":                 "octocat",
		"actor_id":              "583231",
		"workflow":              "Release",
		"workflow_ref":          "octo-org/octo-repo/.github/workflows/release.yml@refs/tags/v1.2.3",
		"workflow_sha":          sha,
		"head_ref":              "",
		"base_ref":              "",
		"event_name":            "push",
		"ref_type":              "tag",
		"ref_protected":         "false",
		"environment":           "prod",
		"job_workflow_ref":      "octo-org/shared-workflows/.github/workflows/build.yml@refs/heads/main",
		"job_workflow_sha":      wsha,
	}
	githubExts := map[int]string{
		2: "push", 3: sha, 4: "Release", 5: "octo-org/octo-repo", 6: "refs/tags/v1.2.3",
		9:  "https://github.com/octo-org/shared-workflows/.github/workflows/build.yml@refs/heads/main",
		10: wsha, 11: "github-hosted",
		12: "https://github.com/octo-org/octo-repo", 13: sha, 14: "refs/tags/v1.2.3", 15: "123456789",
		16: "https://github.com/octo-org", 17: "9919",
		18: "https://github.com/octo-org/octo-repo/.github/workflows/release.yml@refs/tags/v1.2.3", 19: sha,
		20: "push", 21: "https://github.com/octo-org/octo-repo/actions/runs/5516434929/attempts/2",
		22: "private", 23: "prod",
	}
	githubNoEnv := maps.Clone(github)
	delete(githubNoEnv, "environment")
	githubNoEnv["sub"] = "repo:octo-org/octo-repo:ref:refs/tags/v1.2.3"
	githubNoEnvExts := maps.Clone(githubExts)
	delete(githubNoEnvExts, 23)

	// A branch and an environment outside ASCII: url.Parse and String
	// percent-encode the SAN (an IA5String); the extensions are UTF8Strings
	// and keep the text as the claims have it.
	githubUnicode := maps.Clone(github)
	githubUnicode["sub"] = "repo:octo-org/octo-repo:environment:producción"
	githubUnicode["environment"] = "producción"
	githubUnicode["ref"] = "refs/heads/función"
	githubUnicode["ref_type"] = "branch"
	githubUnicode["job_workflow_ref"] = "octo-org/octo-repo/.github/workflows/release.yml@refs/heads/función"
	githubUnicode["workflow_ref"] = githubUnicode["job_workflow_ref"]
	githubUnicodeExts := maps.Clone(githubExts)
	githubUnicodeExts[6], githubUnicodeExts[14] = "refs/heads/función", "refs/heads/función"
	githubUnicodeExts[9] = "https://github.com/octo-org/octo-repo/.github/workflows/release.yml@refs/heads/función"
	githubUnicodeExts[18] = githubUnicodeExts[9]
	githubUnicodeExts[23] = "producción"

	gitlab := map[string]any{
		"sub":                "project_path:mygroup/myproject:ref_type:branch:ref:main",
		"namespace_id":       "72",
		"namespace_path":     "mygroup",
		"project_id":         "20",
		"project_path":       "mygroup/myproject",
		"project_visibility": "internal",
		"user_id":            "1",
		"user_login":         "sample-user",
		"user_email":         "sample-user@example.com",
		"user_access_level":  "owner",
		"pipeline_id":        "574",
		"pipeline_source":    "push",
		"job_id":             "302",
		"ref":                "main",
		"ref_type":           "branch",
		"ref_path":           "refs/heads/main",
		"ref_protected":      "true",
		"runner_id":          27,
		"runner_environment": "gitlab-hosted",
		"sha":                sha,
		"ci_config_ref_uri":  "gitlab.com/mygroup/myproject//.gitlab-ci.yml@refs/heads/main",
		"ci_config_sha":      wsha,
	}
	gitlabExts := map[int]string{
		9: "https://gitlab.com/mygroup/myproject//.gitlab-ci.yml@refs/heads/main", 10: wsha, 11: "gitlab-hosted",
		12: "https://gitlab.com/mygroup/myproject", 13: sha, 14: "refs/heads/main", 15: "20",
		16: "https://gitlab.com/mygroup", 17: "72",
		18: "https://gitlab.com/mygroup/myproject//.gitlab-ci.yml@refs/heads/main", 19: wsha,
		20: "push", 21: "https://gitlab.com/mygroup/myproject/-/jobs/302", 22: "internal",
	}
	gitlabTag := maps.Clone(gitlab)
	gitlabTag["ref"], gitlabTag["ref_type"], gitlabTag["environment"] = "v2.0.0", "tag", "production"
	gitlabTag["ci_config_ref_uri"] = "gitlab.com/mygroup/myproject//.gitlab-ci.yml@refs/tags/v2.0.0"
	gitlabTagExts := maps.Clone(gitlabExts)
	gitlabTagExts[9] = "https://gitlab.com/mygroup/myproject//.gitlab-ci.yml@refs/tags/v2.0.0"
	gitlabTagExts[18] = gitlabTagExts[9]
	gitlabTagExts[14] = "refs/tags/v2.0.0"
	gitlabTagExts[23] = "production"

	buildkite := map[string]any{
		"sub":                "organization:acme-inc:pipeline:super-duper-app:ref:refs/heads/main:commit:" + sha + ":step:build",
		"organization_slug":  "acme-inc",
		"pipeline_slug":      "super-duper-app",
		"build_number":       1,
		"build_branch":       "main",
		"build_tag":          nil,
		"build_commit":       sha,
		"build_source":       "ui",
		"step_key":           "build",
		"job_id":             "0184990a-477b-4fa8-9968-496074483cee",
		"agent_id":           "0184990a-4782-42b5-afc1-16715b10b8ff",
		"runner_environment": "buildkite-hosted",
	}
	// Fulcio reads claims into float64s and writes every number with
	// strconv.FormatFloat(v, 'f', -1, 64): 12.0 and 1.2e1 are "12".
	buildkiteFloat := maps.Clone(buildkite)
	buildkiteFloat["build_number"] = json.Number("12.0")
	buildkiteExp := maps.Clone(buildkite)
	buildkiteExp["build_number"] = json.Number("1.2e1")
	buildkite12 := map[int]string{
		11: "buildkite-hosted", 13: sha, 20: "ui",
		21: "https://buildkite.com/acme-inc/super-duper-app/builds/12#0184990a-477b-4fa8-9968-496074483cee",
	}

	codefresh := map[string]any{
		"sub":                            "account:628a80b693a15c0f9c13ab75:pipeline:65e5c5d7c4f1d55fa5a5a5a5:initiator:alice",
		"account_id":                     "628a80b693a15c0f9c13ab75",
		"account_name":                   "acme",
		"pipeline_id":                    "65e5c5d7c4f1d55fa5a5a5a5",
		"pipeline_name":                  "oidc-test/get-token",
		"workflow_id":                    "65e6d5551e2ad5b79b1b1b1b",
		"initiator":                      "alice",
		"scm_user_name":                  "alice",
		"scm_repo_url":                   "https://github.com/acme/oidc-test",
		"scm_ref":                        "main",
		"scm_pull_request_target_branch": "main",
		"runner_environment":             "saas",
	}
	codefreshExts := map[int]string{
		9: "https://g.codefresh.io/build/65e6d5551e2ad5b79b1b1b1b", 11: "saas",
		12: "https://github.com/acme/oidc-test", 14: "main",
		18: "https://g.codefresh.io/api/pipelines/65e5c5d7c4f1d55fa5a5a5a5",
		21: "https://g.codefresh.io/build/65e6d5551e2ad5b79b1b1b1b",
	}
	// A cron trigger: no SCM claims, no runner_environment; the defaults
	// ("") leave those extensions out.
	codefreshCron := maps.Clone(codefresh)
	for _, k := range []string{"scm_user_name", "scm_repo_url", "scm_ref", "scm_pull_request_target_branch", "runner_environment"} {
		delete(codefreshCron, k)
	}
	codefreshCronExts := maps.Clone(codefreshExts)
	delete(codefreshCronExts, 11)
	delete(codefreshCronExts, 12)
	delete(codefreshCronExts, 14)

	const (
		ccOrg  = "b1e3a2c4-1111-4a5b-8c9d-0e1f2a3b4c5d"
		ccProj = "d4c3b2a1-2222-4a5b-8c9d-0e1f2a3b4c5d"
	)
	circleci := map[string]any{
		"sub":                          "org/" + ccOrg + "/project/" + ccProj + "/user/e5f6a7b8-3333-4a5b-8c9d-0e1f2a3b4c5d",
		"oidc.circleci.com/project-id": ccProj,
		"oidc.circleci.com/pipeline-definition-id": "f0e1d2c3-4444-4a5b-8c9d-0e1f2a3b4c5d",
		"oidc.circleci.com/pipeline-id":            "a9b8c7d6-5555-4a5b-8c9d-0e1f2a3b4c5d",
		"oidc.circleci.com/workflow-id":            "c1d2e3f4-6666-4a5b-8c9d-0e1f2a3b4c5d",
		"oidc.circleci.com/job-id":                 "e1f2a3b4-7777-4a5b-8c9d-0e1f2a3b4c5d",
		"oidc.circleci.com/context-ids":            []any{"01234567-8888-4a5b-8c9d-0e1f2a3b4c5d"},
		"oidc.circleci.com/vcs-origin":             "github.com/acme/app",
		"oidc.circleci.com/vcs-ref":                "refs/heads/main",
		"oidc.circleci.com/ssh-rerun":              false,
	}
	circleciExts := map[int]string{
		9:  "https://circleci.com/api/v2/projects/" + ccProj + "/pipeline-definitions/f0e1d2c3-4444-4a5b-8c9d-0e1f2a3b4c5d",
		11: `""`, // the template's else branch is the two characters ""
		12: "github.com/acme/app", 14: "refs/heads/main",
		18: "https://circleci.com/api/v2/pipeline/a9b8c7d6-5555-4a5b-8c9d-0e1f2a3b4c5d/config",
		21: "https://app.circleci.com//workflow/c1d2e3f4-6666-4a5b-8c9d-0e1f2a3b4c5d/job/e1f2a3b4-7777-4a5b-8c9d-0e1f2a3b4c5d",
	}
	circleciSSH := maps.Clone(circleci)
	circleciSSH["oidc.circleci.com/ssh-rerun"] = true
	circleciSSHExts := maps.Clone(circleciExts)
	circleciSSHExts[11] = "ssh-rerun"

	return []ciCase{
		{"github ci-provider", "ci-provider", "github-workflow", github,
			"https://github.com/octo-org/shared-workflows/.github/workflows/build.yml@refs/heads/main", githubExts},
		{"github ci-provider without environment", "ci-provider", "github-workflow", githubNoEnv,
			"https://github.com/octo-org/shared-workflows/.github/workflows/build.yml@refs/heads/main", githubNoEnvExts},
		{"github ci-provider non-ASCII branch and environment", "ci-provider", "github-workflow", githubUnicode,
			"https://github.com/octo-org/octo-repo/.github/workflows/release.yml@refs/heads/funci%C3%B3n", githubUnicodeExts},
		{"gitlab ci-provider branch", "ci-provider", "gitlab-pipeline", gitlab,
			"https://gitlab.com/mygroup/myproject//.gitlab-ci.yml@refs/heads/main", gitlabExts},
		{"gitlab ci-provider tag with environment", "ci-provider", "gitlab-pipeline", gitlabTag,
			"https://gitlab.com/mygroup/myproject//.gitlab-ci.yml@refs/tags/v2.0.0", gitlabTagExts},
		{"buildkite ci-provider", "ci-provider", "buildkite-job", buildkite,
			"https://buildkite.com/acme-inc/super-duper-app", map[int]string{
				11: "buildkite-hosted", 13: sha, 20: "ui",
				21: "https://buildkite.com/acme-inc/super-duper-app/builds/1#0184990a-477b-4fa8-9968-496074483cee",
			}},
		{"buildkite build_number 12.0", "ci-provider", "buildkite-job", buildkiteFloat,
			"https://buildkite.com/acme-inc/super-duper-app", buildkite12},
		{"buildkite build_number 1.2e1", "ci-provider", "buildkite-job", buildkiteExp,
			"https://buildkite.com/acme-inc/super-duper-app", buildkite12},
		{"codefresh ci-provider", "ci-provider", "codefresh-workflow", codefresh,
			"https://g.codefresh.io/acme/oidc-test/get-token:628a80b693a15c0f9c13ab75/65e5c5d7c4f1d55fa5a5a5a5", codefreshExts},
		{"codefresh ci-provider cron", "ci-provider", "codefresh-workflow", codefreshCron,
			"https://g.codefresh.io/acme/oidc-test/get-token:628a80b693a15c0f9c13ab75/65e5c5d7c4f1d55fa5a5a5a5", codefreshCronExts},
		{"circleci ci-provider", "ci-provider", "circleci-job", circleci,
			"https://circleci.com/api/v2/projects/" + ccProj + "/pipeline-definitions/f0e1d2c3-4444-4a5b-8c9d-0e1f2a3b4c5d", circleciExts},
		{"circleci ci-provider ssh rerun", "ci-provider", "circleci-job", circleciSSH,
			"https://circleci.com/api/v2/projects/" + ccProj + "/pipeline-definitions/f0e1d2c3-4444-4a5b-8c9d-0e1f2a3b4c5d", circleciSSHExts},
	}
}

// TestCIProviderCertificates issues a certificate for each CI provider's
// token through the v2 API and compares, byte for byte, the SAN and every
// extension under 1.3.6.1.4.1.57264.1 with what the public-good Fulcio
// writes for the same token: raw UTF-8 for .1–.6, a DER UTF8String for .8
// and up, all non-critical, in OID order, nothing more.
func TestCIProviderCertificates(t *testing.T) {
	for _, tc := range ciCases() {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOptions{noCT: true, cfgFor: func(url string) *oidc.Config {
				y := fmt.Sprintf("oidc-issuers:\n  %s:\n    issuer-url: %s\n    client-id: sigstore\n    type: %s\n", url, url, tc.typ)
				if tc.ci != "" {
					y += "    ci-provider: " + tc.ci + "\n"
				}
				cfg, err := oidc.ParseConfig([]byte(y))
				if err != nil {
					t.Fatal(err)
				}
				return cfg
			}})
			claims := e.iss.Claims("", "")
			maps.Copy(claims, tc.claims)
			sub := claims["sub"].(string)
			key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			chain, _, _ := chainOf(t, e.post("/api/v2/signingCert", "", v2Body(key.Public(), prove(t, key, sub), e.token(claims))))
			leaf := chain[0]

			checkURISAN(t, leaf.Extensions, tc.san)
			want := maps.Clone(tc.exts)
			want[1], want[8], want[24] = e.iss.URL, e.iss.URL, sub
			checkFulcioExtensions(t, leaf.Extensions, want)
		})
	}
}

// checkURISAN requires the SAN extension to be critical and to hold exactly
// one uniformResourceIdentifier, san.
func checkURISAN(t *testing.T, exts []pkix.Extension, san string) {
	t.Helper()
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.Tag(6).ContextSpecific(), func(b *cryptobyte.Builder) { b.AddBytes([]byte(san)) })
	})
	want := b.BytesOrPanic()
	n := 0
	for _, x := range exts {
		if !x.Id.Equal(cert.OIDSAN) {
			continue
		}
		n++
		if !x.Critical || !bytes.Equal(x.Value, want) {
			t.Errorf("SAN extension (critical %v) %x, want critical %x (URI %q)", x.Critical, x.Value, want, san)
		}
	}
	if n != 1 {
		t.Errorf("%d SAN extensions", n)
	}
}

// checkFulcioExtensions requires the extensions under the Fulcio arc to be
// exactly want (arc → value), in ascending arc order, non-critical, .1–.6
// raw and the others DER UTF8Strings.
func checkFulcioExtensions(t *testing.T, exts []pkix.Extension, want map[int]string) {
	t.Helper()
	last := 0
	seen := map[int]bool{}
	for _, x := range exts {
		if len(x.Id) != len(cert.OIDArc)+1 || !x.Id[:len(cert.OIDArc)].Equal(cert.OIDArc) {
			continue
		}
		arc := x.Id[len(cert.OIDArc)]
		if arc <= last {
			t.Errorf("extension .%d after .%d", arc, last)
		}
		last = arc
		seen[arc] = true
		v, ok := want[arc]
		if !ok {
			t.Errorf("unexpected extension .%d = %q", arc, x.Value)
			continue
		}
		wantDER := []byte(v)
		if arc > 6 {
			var err error
			if wantDER, err = asn1.MarshalWithParams(v, "utf8"); err != nil {
				t.Fatal(err)
			}
		}
		if x.Critical || !bytes.Equal(x.Value, wantDER) {
			t.Errorf("extension .%d (critical %v) = %q, want %q", arc, x.Critical, x.Value, wantDER)
		}
	}
	for arc, v := range want {
		if !seen[arc] {
			t.Errorf("missing extension .%d = %q", arc, v)
		}
	}
}

// TestIdentityTypeCertificates does the same for the identity types that
// are not CI providers: the SAN kind and value of each Fulcio principal
// (sigstore/fulcio pkg/identity/*/principal.go), the issuer in .1 and .8
// and the token's sub in .24, and nothing else under the Fulcio arc.
func TestIdentityTypeCertificates(t *testing.T) {
	uriSAN := func(s string) []byte {
		var b cryptobyte.Builder
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.Tag(6).ContextSpecific(), func(b *cryptobyte.Builder) { b.AddBytes([]byte(s)) })
		})
		return b.BytesOrPanic()
	}
	emailSAN := func(s string) []byte {
		var b cryptobyte.Builder
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.Tag(1).ContextSpecific(), func(b *cryptobyte.Builder) { b.AddBytes([]byte(s)) })
		})
		return b.BytesOrPanic()
	}
	// SEQUENCE { [0] { OID 1.3.6.1.4.1.57264.1.7, [0] EXPLICIT UTF8String } }
	otherNameSAN := func(s string) []byte {
		var b cryptobyte.Builder
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
				b.AddASN1ObjectIdentifier(asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 7})
				b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.UTF8String, func(b *cryptobyte.Builder) { b.AddBytes([]byte(s)) })
				})
			})
		})
		return b.BytesOrPanic()
	}
	for _, tc := range []struct {
		name   string
		conf   string // the issuer's settings after issuer-url
		claims map[string]any
		proof  string
		san    func(issuer string) []byte
	}{
		{"email", "type: email", map[string]any{"sub": "1045", "email": "alice@example.com", "email_verified": true}, "alice@example.com",
			func(string) []byte { return emailSAN("alice@example.com") }},
		{"kubernetes", "type: kubernetes", map[string]any{
			"sub": "system:serviceaccount:build:builder",
			"kubernetes.io": map[string]any{
				"namespace":      "build",
				"pod":            map[string]any{"name": "builder-7d9f", "uid": "0c6b6d2e-1111-4a5b-8c9d-0e1f2a3b4c5d"},
				"serviceaccount": map[string]any{"name": "builder", "uid": "5f7c2a1b-2222-4a5b-8c9d-0e1f2a3b4c5d"},
			},
		}, "system:serviceaccount:build:builder",
			func(string) []byte { return uriSAN("https://kubernetes.io/namespaces/build/serviceaccounts/builder") }},
		{"spiffe", "type: spiffe\n    spiffe-trust-domain: example.org", map[string]any{"sub": "spiffe://example.org/ns/prod/sa/builder"},
			"spiffe://example.org/ns/prod/sa/builder", func(string) []byte { return uriSAN("spiffe://example.org/ns/prod/sa/builder") }},
		{"uri", "type: uri\n    subject-domain: http://127.0.0.1", map[string]any{"sub": "http://127.0.0.1/users/alice"},
			"http://127.0.0.1/users/alice", func(string) []byte { return uriSAN("http://127.0.0.1/users/alice") }},
		{"username", "type: username\n    subject-domain: 127.0.0.1", map[string]any{"sub": "alice"}, "alice",
			func(string) []byte { return otherNameSAN("alice!127.0.0.1") }},
		{"chainguard-identity", "type: chainguard-identity", map[string]any{"sub": "8d1c/7e2a"}, "8d1c/7e2a",
			func(iss string) []byte { return uriSAN(iss + "/8d1c/7e2a") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOptions{noCT: true, cfgFor: func(url string) *oidc.Config {
				cfg, err := oidc.ParseConfig([]byte(fmt.Sprintf("oidc-issuers:\n  %s:\n    issuer-url: %s\n    client-id: sigstore\n    %s\n", url, url, tc.conf)))
				if err != nil {
					t.Fatal(err)
				}
				return cfg
			}})
			claims := e.iss.Claims("", "")
			maps.Copy(claims, tc.claims)
			key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			chain, _, _ := chainOf(t, e.post("/api/v2/signingCert", "", v2Body(key.Public(), prove(t, key, tc.proof), e.token(claims))))
			want := tc.san(e.iss.URL)
			n := 0
			for _, x := range chain[0].Extensions {
				if x.Id.Equal(cert.OIDSAN) {
					n++
					if !x.Critical || !bytes.Equal(x.Value, want) {
						t.Errorf("SAN extension (critical %v) %x, want critical %x", x.Critical, x.Value, want)
					}
				}
			}
			if n != 1 {
				t.Errorf("%d SAN extensions", n)
			}
			checkFulcioExtensions(t, chain[0].Extensions, map[int]string{1: e.iss.URL, 8: e.iss.URL, 24: claims["sub"].(string)})
		})
	}
}
