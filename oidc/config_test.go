package oidc_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigil.dev/sigil/oidc"
)

// fulcioStyle is a configuration in Fulcio's YAML format, with anchors in
// "define" as Fulcio's own file has them, and sigil's additions.
const fulcioStyle = `
define:
  - &gh "github-workflow"
  - &bk "buildkite-job"
oidc-issuers:
  https://accounts.example.com:
    issuer-url: https://accounts.example.com
    client-id: sigstore
    type: email
    contact: security@example.com
    description: "Example IdP"
  https://token.actions.githubusercontent.com:
    issuer-url: https://token.actions.githubusercontent.com
    type: ci-provider
    ci-provider: *gh
    claim-policy:
      repository_owner: ["sigil-dev"]
  https://dex.example.com:
    type: email
    issuer-claim: $.federated_claims.connector_id
  https://spiffe.example.com:
    type: spiffe
    spiffe-trust-domain: example.com
  https://accounts.example.org:
    type: username
    subject-domain: example.org
  https://users.example.net:
    type: uri
    subject-domain: https://example.net
  https://agent.buildkite.example:
    type: ci-provider
    ci-provider: *bk
  https://buildkite-old.example:
    type: buildkite-job
  https://codefresh.example:
    type: codefresh-workflow
  https://issuer.enforce.example:
    type: chainguard-identity
meta-issuers:
  https://oidc.circleci.example/org/*:
    type: ci-provider
    ci-provider: circleci-job
  https://oidc.eks.*.amazonaws.com/id/*:
    type: kubernetes
ci-issuer-metadata:
  my-ci:
    default-template-values:
      url: https://ci.example.com
    extension-templates:
      build-signer-uri: "{{ .url }}/{{ .pipeline }}"
      source-repository-digest: sha
    subject-alternative-name-template: "{{ .url }}/{{ .pipeline }}"
`

func TestParseConfig(t *testing.T) {
	cfg, err := oidc.ParseConfig([]byte(fulcioStyle))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.OIDCIssuers["https://accounts.example.org"].ClientID; got != "sigstore" {
		t.Errorf("default audience %q", got)
	}
	for _, name := range []string{"gitlab-pipeline", "buildkite-job", "codefresh-workflow", "circleci-job"} {
		if _, ok := cfg.CIIssuerMetadata[name]; !ok {
			t.Errorf("built-in %s metadata missing", name)
		}
	}
	if got := cfg.OIDCIssuers["https://codefresh.example"].CIProvider; got != "codefresh-workflow" {
		t.Errorf("codefresh-workflow issuer uses ci-provider %q", got)
	}
	if _, ok := cfg.CIIssuerMetadata["my-ci"]; !ok {
		t.Error("custom metadata missing")
	}
	// The JSON form Fulcio's scaffolding writes.
	if _, err := oidc.ParseConfig([]byte(`{"OIDCIssuers":{"http://fakeoidc:8080":{"IssuerURL":"http://fakeoidc:8080","ClientID":"sigstore","Type":"email"}}}`)); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "issuers.yaml")
	os.WriteFile(path, []byte(fulcioStyle), 0o644)
	if _, err := oidc.LoadConfig(path); err != nil {
		t.Fatal(err)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"empty", "", "no issuers configured"},
		{"typo in a key", "oidc-issuers:\n  https://a.example.com:\n    typ: email\n", "field typ not found"},
		{"no type", "oidc-issuers:\n  https://a.example.com: {}\n", "type is required"},
		{"unknown type", "oidc-issuers:\n  https://a.example.com:\n    type: magic\n", `unknown type "magic"`},
		{"key differs from url", "oidc-issuers:\n  https://a.example.com:\n    issuer-url: https://b.example.com\n    type: email\n", "differs from its key"},
		{"not a URL", "oidc-issuers:\n  a.example.com:\n    type: email\n", "must be an http(s) URL"},
		{"issuer-claim on a non-email issuer", "oidc-issuers:\n  https://a.example.com:\n    type: kubernetes\n    issuer-claim: $.x\n", "only email issuers"},
		{"bad issuer-claim", "oidc-issuers:\n  https://a.example.com:\n    type: email\n    issuer-claim: x.y\n", "JSONPath"},
		{"spiffe without trust domain", "oidc-issuers:\n  https://a.example.com:\n    type: spiffe\n", "spiffe-trust-domain"},
		{"spiffe trust domain with upper case", "oidc-issuers:\n  https://a.example.com:\n    type: spiffe\n    spiffe-trust-domain: Example.com\n", "is not a SPIFFE trust domain"},
		{"spiffe trust domain with a path", "oidc-issuers:\n  https://a.example.com:\n    type: spiffe\n    spiffe-trust-domain: example.com/x\n", "is not a SPIFFE trust domain"},
		{"spiffe meta-issuer", "meta-issuers:\n  https://*.example.com:\n    type: spiffe\n    spiffe-trust-domain: example.com\n", "not supported"},
		{"uri without scheme", "oidc-issuers:\n  https://a.example.com:\n    type: uri\n    subject-domain: example.com\n", "with a scheme"},
		{"uri other domain", "oidc-issuers:\n  https://a.example.com:\n    type: uri\n    subject-domain: https://evil.org\n", "not under the issuer's domain"},
		{"uri subject-domain with a path", "oidc-issuers:\n  https://a.example.com:\n    type: uri\n    subject-domain: https://a.example.com/users\n", "scheme://host"},
		{"username of another address", "oidc-issuers:\n  http://10.0.0.1:\n    type: username\n    subject-domain: 99.1.0.1\n", "not the issuer's address"},
		{"username with scheme", "oidc-issuers:\n  https://a.example.com:\n    type: username\n    subject-domain: https://example.com\n", "without a scheme"},
		{"ci-provider without metadata", "oidc-issuers:\n  https://a.example.com:\n    type: ci-provider\n    ci-provider: nope\n", "no ci-issuer-metadata"},
		{"bad template", "oidc-issuers:\n  https://a.example.com:\n    type: email\nci-issuer-metadata:\n  x:\n    subject-alternative-name-template: \"{{ .a \"\n", "template"},
		{"meta without wildcard", "meta-issuers:\n  https://a.example.com:\n    type: email\n", "needs a '*'"},
		{"HS256 allowed", "oidc-issuers:\n  https://a.example.com:\n    type: email\n    signing-algorithms: [HS256]\n", "not allowed"},
		{"bad policy regexp", "oidc-issuers:\n  https://a.example.com:\n    type: email\n    claim-policy:\n      repository: [\"(\"]\n", "claim-policy"},
		{"policy regexp unbalanced on its own", "oidc-issuers:\n  https://a.example.com:\n    type: email\n    claim-policy:\n      repository: [\"a)|(.*\"]\n", "claim-policy"},
		{"empty policy", "oidc-issuers:\n  https://a.example.com:\n    type: email\n    claim-policy:\n      repository: []\n", "no patterns"},
		{"bad ca-cert", "oidc-issuers:\n  https://a.example.com:\n    type: email\n    ca-cert: nope\n", "ca-cert"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := oidc.ParseConfig([]byte(tc.yaml))
			if err == nil || !errors.Is(err, oidc.ErrConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want ErrConfig containing %q", err, tc.want)
			}
		})
	}
}
