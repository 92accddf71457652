package oidc

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"
	"text/template"

	"gopkg.in/yaml.v3"
)

// IssuerType says how a token's claims become a certificate identity.
type IssuerType string

// Issuer types (sigstore/fulcio pkg/config/config.go). GitHub and GitLab are
// CI providers whose templates are built in (see DefaultCIMetadata).
const (
	TypeEmail          IssuerType = "email"
	TypeGitHubWorkflow IssuerType = "github-workflow"
	TypeGitLabPipeline IssuerType = "gitlab-pipeline"
	TypeKubernetes     IssuerType = "kubernetes"
	TypeSPIFFE         IssuerType = "spiffe"
	TypeURI            IssuerType = "uri"
	TypeUsername       IssuerType = "username"
	TypeCIProvider     IssuerType = "ci-provider"
	// Fulcio's older dedicated CI types. The public-good Fulcio now
	// configures Buildkite, Codefresh and CircleCI as ci-provider issuers
	// with templates (sigstore/fulcio config/identity/config.yaml); sigil
	// builds those templates in under these names, so both spellings of a
	// Fulcio configuration work.
	TypeBuildkiteJob      IssuerType = "buildkite-job"
	TypeCodefreshWorkflow IssuerType = "codefresh-workflow"
	// TypeChainguard: SAN URI {iss}/{sub}; the proof signs the email if the
	// token has one, else the sub (sigstore/fulcio
	// pkg/identity/chainguard/principal.go).
	TypeChainguard IssuerType = "chainguard-identity"
)

// circleCIJob names the built-in CircleCI template (Fulcio has no
// dedicated type for it; its config uses ci-provider "circleci-job").
const circleCIJob = "circleci-job"

// DefaultAudience is the audience (client ID) every public Sigstore issuer
// uses.
const DefaultAudience = "sigstore"

// Config is the issuer configuration file. Its keys are Fulcio's
// (sigstore/fulcio pkg/config/config.go FulcioConfig), in YAML
// (oidc-issuers, meta-issuers, ci-issuer-metadata) or JSON (OIDCIssuers,
// MetaIssuers, CIIssuerMetadata), so a Fulcio configuration file is read
// as is. sigil adds claim-policy and signing-algorithms to an issuer.
type Config struct {
	// OIDCIssuers are matched by exact issuer URL.
	OIDCIssuers map[string]Issuer `yaml:"oidc-issuers" json:"OIDCIssuers"`
	// MetaIssuers are keyed by a pattern in which each "*" stands for one
	// or more of [-_a-zA-Z0-9]; the pattern is anchored at both ends, so
	// a token cannot send discovery to a host the pattern does not name
	// (the fix for GHSA-59jp-pj84-45mr).
	MetaIssuers map[string]Issuer `yaml:"meta-issuers" json:"MetaIssuers"`
	// CIIssuerMetadata holds the templates of ci-provider issuers, keyed
	// by the issuer's ci-provider name. "github-workflow",
	// "gitlab-pipeline", "buildkite-job", "codefresh-workflow" and
	// "circleci-job" are built in and may be overridden.
	CIIssuerMetadata map[string]CIMetadata `yaml:"ci-issuer-metadata" json:"CIIssuerMetadata"`

	// Define is ignored; Fulcio's own file keeps YAML anchors there.
	Define any `yaml:"define" json:"-"`
}

// Issuer configures one OIDC issuer.
type Issuer struct {
	IssuerURL string     `yaml:"issuer-url" json:"IssuerURL"`
	ClientID  string     `yaml:"client-id" json:"ClientID"` // the audience; default "sigstore"
	Type      IssuerType `yaml:"type" json:"Type"`
	// CIProvider names the CIIssuerMetadata of a ci-provider issuer.
	CIProvider string `yaml:"ci-provider" json:"CIProvider"`
	// IssuerClaim (email issuers only) is a JSONPath such as
	// "$.federated_claims.connector_id" whose value replaces iss in the
	// certificate's issuer extension (Dex federating upstream issuers).
	IssuerClaim string `yaml:"issuer-claim" json:"IssuerClaim"`
	// SubjectDomain: for uri issuers a scheme and host the sub must be
	// under; for username issuers the domain appended after "!".
	SubjectDomain     string `yaml:"subject-domain" json:"SubjectDomain"`
	SPIFFETrustDomain string `yaml:"spiffe-trust-domain" json:"SPIFFETrustDomain"`
	// ChallengeClaim is only advertised by /api/v2/configuration; the
	// proof of possession always signs the email (email issuers) or sub.
	ChallengeClaim string `yaml:"challenge-claim" json:"ChallengeClaim"`
	Description    string `yaml:"description" json:"Description"`
	Contact        string `yaml:"contact" json:"Contact"`
	Environment    string `yaml:"environment" json:"Environment"`
	// CACert is a PEM bundle trusted, besides the system roots, for TLS to
	// this issuer's discovery and JWKS endpoints.
	CACert string `yaml:"ca-cert" json:"CACert"`
	// SkipEmailVerification accepts email tokens without email_verified
	// (Entra ID, ADFS; sigstore/fulcio#2219).
	SkipEmailVerification bool `yaml:"skip-email-verification" json:"SkipEmailVerification"`

	// ClaimPolicy (sigil) restricts which tokens of this issuer get a
	// certificate: every listed claim must be present and match one of
	// its patterns. Names are top-level claims, matched exactly (a nested
	// claim such as kubernetes.io's namespace is not addressable; a dotted
	// name is a top-level claim of that name). Patterns are regular
	// expressions anchored at both ends and case-sensitive (write (?i) for
	// an email domain); a claim holding a list (groups) matches when any
	// element does, and such a claim cannot fill a certificate field.
	// Numbers and booleans match as their JSON text (12, true). A token
	// with two claim names that differ only in case is refused.
	//
	//	claim-policy:
	//	  repository: ["my-org/.*"]
	//	  ref: ["refs/heads/main", "refs/tags/v.*"]
	ClaimPolicy map[string][]string `yaml:"claim-policy" json:"ClaimPolicy"`
	// SigningAlgorithms (sigil) is the JWS algorithm allow-list of this
	// issuer; default DefaultSigningAlgorithms. It is intersected with
	// the algorithms the issuer's discovery document lists.
	SigningAlgorithms []string `yaml:"signing-algorithms" json:"SigningAlgorithms"`
}

// CIMetadata renders a ci-provider identity from token claims (sigstore/fulcio
// pkg/identity/ciprovider/principal.go): claims, stringified, are merged
// over DefaultTemplateValues (claims win). A template containing "{{" is a
// Go text/template run with missingkey=error; any other string names a claim
// (or default) whose value is used as is. Empty results are left out.
type CIMetadata struct {
	DefaultTemplateValues          map[string]string  `yaml:"default-template-values" json:"DefaultTemplateValues"`
	ExtensionTemplates             ExtensionTemplates `yaml:"extension-templates" json:"ExtensionTemplates"`
	SubjectAlternativeNameTemplate string             `yaml:"subject-alternative-name-template" json:"SubjectAlternativeNameTemplate"`
}

// ExtensionTemplates maps certificate extensions to templates, with
// Fulcio's names (sigstore/fulcio pkg/certificate/extensions.go). Issuer
// and subject always come from the token.
type ExtensionTemplates struct {
	GithubWorkflowTrigger               string `yaml:"github-workflow-trigger" json:"GithubWorkflowTrigger"`
	GithubWorkflowSHA                   string `yaml:"github-workflow-sha" json:"GithubWorkflowSHA"`
	GithubWorkflowName                  string `yaml:"github-workflow-name" json:"GithubWorkflowName"`
	GithubWorkflowRepository            string `yaml:"github-workflow-repository" json:"GithubWorkflowRepository"`
	GithubWorkflowRef                   string `yaml:"github-workflow-ref" json:"GithubWorkflowRef"`
	BuildSignerURI                      string `yaml:"build-signer-uri" json:"BuildSignerURI"`
	BuildSignerDigest                   string `yaml:"build-signer-digest" json:"BuildSignerDigest"`
	RunnerEnvironment                   string `yaml:"runner-environment" json:"RunnerEnvironment"`
	SourceRepositoryURI                 string `yaml:"source-repository-uri" json:"SourceRepositoryURI"`
	SourceRepositoryDigest              string `yaml:"source-repository-digest" json:"SourceRepositoryDigest"`
	SourceRepositoryRef                 string `yaml:"source-repository-ref" json:"SourceRepositoryRef"`
	SourceRepositoryIdentifier          string `yaml:"source-repository-identifier" json:"SourceRepositoryIdentifier"`
	SourceRepositoryOwnerURI            string `yaml:"source-repository-owner-uri" json:"SourceRepositoryOwnerURI"`
	SourceRepositoryOwnerIdentifier     string `yaml:"source-repository-owner-identifier" json:"SourceRepositoryOwnerIdentifier"`
	BuildConfigURI                      string `yaml:"build-config-uri" json:"BuildConfigURI"`
	BuildConfigDigest                   string `yaml:"build-config-digest" json:"BuildConfigDigest"`
	BuildTrigger                        string `yaml:"build-trigger" json:"BuildTrigger"`
	RunInvocationURI                    string `yaml:"run-invocation-uri" json:"RunInvocationURI"`
	SourceRepositoryVisibilityAtSigning string `yaml:"source-repository-visibility-at-signing" json:"SourceRepositoryVisibilityAtSigning"`
	DeploymentEnvironment               string `yaml:"deployment-environment" json:"DeploymentEnvironment"`
	// Issuer and Subject are accepted for compatibility and ignored.
	Issuer  string `yaml:"issuer" json:"Issuer"`
	Subject string `yaml:"subject" json:"Subject"`
}

// DefaultSigningAlgorithms is the JWS algorithm allow-list: the asymmetric
// algorithms of RFC 7518 and EdDSA. "none" and the HMAC algorithms are
// never accepted.
var DefaultSigningAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

var symmetricOrNone = map[string]bool{"none": true, "HS256": true, "HS384": true, "HS512": true}

// DefaultCIMetadata returns the built-in CI templates, as the public-good
// Fulcio configures GitHub Actions and GitLab CI (sigstore/fulcio
// config/identity/config.yaml).
func DefaultCIMetadata() map[string]CIMetadata {
	return map[string]CIMetadata{
		string(TypeGitHubWorkflow): {
			DefaultTemplateValues: map[string]string{"url": "https://github.com", "environment": ""},
			ExtensionTemplates: ExtensionTemplates{
				GithubWorkflowTrigger:               "event_name",
				GithubWorkflowSHA:                   "sha",
				GithubWorkflowName:                  "workflow",
				GithubWorkflowRepository:            "repository",
				GithubWorkflowRef:                   "ref",
				BuildSignerURI:                      "{{ .url }}/{{ .job_workflow_ref }}",
				BuildSignerDigest:                   "job_workflow_sha",
				RunnerEnvironment:                   "runner_environment",
				SourceRepositoryURI:                 "{{ .url }}/{{ .repository }}",
				SourceRepositoryDigest:              "sha",
				SourceRepositoryRef:                 "ref",
				SourceRepositoryIdentifier:          "repository_id",
				SourceRepositoryOwnerURI:            "{{ .url }}/{{ .repository_owner }}",
				SourceRepositoryOwnerIdentifier:     "repository_owner_id",
				BuildConfigURI:                      "{{ .url }}/{{ .workflow_ref }}",
				BuildConfigDigest:                   "workflow_sha",
				BuildTrigger:                        "event_name",
				RunInvocationURI:                    "{{ .url }}/{{ .repository }}/actions/runs/{{ .run_id }}/attempts/{{ .run_attempt }}",
				SourceRepositoryVisibilityAtSigning: "repository_visibility",
				DeploymentEnvironment:               "environment",
			},
			SubjectAlternativeNameTemplate: "{{ .url }}/{{ .job_workflow_ref }}",
		},
		string(TypeGitLabPipeline): {
			DefaultTemplateValues: map[string]string{"url": "https://gitlab.com", "environment": ""},
			ExtensionTemplates: ExtensionTemplates{
				BuildSignerURI:                      "https://{{ .ci_config_ref_uri }}",
				BuildSignerDigest:                   "ci_config_sha",
				RunnerEnvironment:                   "runner_environment",
				SourceRepositoryURI:                 "{{ .url }}/{{ .project_path }}",
				SourceRepositoryDigest:              "sha",
				SourceRepositoryRef:                 `refs/{{if eq .ref_type "branch"}}heads/{{ else }}tags/{{end}}{{ .ref }}`,
				SourceRepositoryIdentifier:          "project_id",
				SourceRepositoryOwnerURI:            "{{ .url }}/{{ .namespace_path }}",
				SourceRepositoryOwnerIdentifier:     "namespace_id",
				BuildConfigURI:                      "https://{{ .ci_config_ref_uri }}",
				BuildConfigDigest:                   "ci_config_sha",
				BuildTrigger:                        "pipeline_source",
				RunInvocationURI:                    "{{ .url }}/{{ .project_path }}/-/jobs/{{ .job_id }}",
				SourceRepositoryVisibilityAtSigning: "project_visibility",
				DeploymentEnvironment:               "environment",
			},
			SubjectAlternativeNameTemplate: "https://{{ .ci_config_ref_uri }}",
		},
		string(TypeBuildkiteJob): {
			DefaultTemplateValues: map[string]string{"url": "https://buildkite.com"},
			ExtensionTemplates: ExtensionTemplates{
				RunInvocationURI:       "{{.url}}/{{.organization_slug}}/{{.pipeline_slug}}/builds/{{.build_number}}#{{.job_id}}",
				RunnerEnvironment:      "runner_environment",
				SourceRepositoryDigest: "build_commit",
				BuildTrigger:           "build_source",
			},
			SubjectAlternativeNameTemplate: "{{.url}}/{{.organization_slug}}/{{.pipeline_slug}}",
		},
		string(TypeCodefreshWorkflow): {
			DefaultTemplateValues: map[string]string{"platform_url": "https://g.codefresh.io", "scm_repo_url": "", "scm_ref": "", "runner_environment": ""},
			ExtensionTemplates: ExtensionTemplates{
				BuildSignerURI:      "{{.platform_url}}/build/{{ .workflow_id }}",
				RunnerEnvironment:   "runner_environment",
				SourceRepositoryURI: "scm_repo_url",
				SourceRepositoryRef: "scm_ref",
				BuildConfigURI:      "{{.platform_url}}/api/pipelines/{{ .pipeline_id }}",
				RunInvocationURI:    "{{.platform_url}}/build/{{ .workflow_id }}",
			},
			SubjectAlternativeNameTemplate: "{{.platform_url}}/{{.account_name}}/{{.pipeline_name}}:{{.account_id}}/{{.pipeline_id}}",
		},
		circleCIJob: {
			DefaultTemplateValues: map[string]string{"api_url": "https://circleci.com/api/v2", "platform_url": "https://app.circleci.com/"},
			ExtensionTemplates: ExtensionTemplates{
				BuildConfigURI:   `{{.api_url}}/pipeline/{{(index . "oidc.circleci.com/pipeline-id")}}/config`,
				BuildSignerURI:   `{{.api_url}}/projects/{{(index . "oidc.circleci.com/project-id")}}/pipeline-definitions/{{(index . "oidc.circleci.com/pipeline-definition-id")}}`,
				RunInvocationURI: `{{.platform_url}}/workflow/{{(index . "oidc.circleci.com/workflow-id")}}/job/{{(index . "oidc.circleci.com/job-id")}}`,
				// As Fulcio's file has it: without an SSH rerun the value is
				// the two characters "" (template text, not an empty string).
				RunnerEnvironment:   `{{if eq (index . "oidc.circleci.com/ssh-rerun") "true"}}ssh-rerun{{ else }}""{{end}}`,
				SourceRepositoryRef: `{{index . "oidc.circleci.com/vcs-ref"}}`,
				SourceRepositoryURI: `{{index . "oidc.circleci.com/vcs-origin"}}`,
			},
			SubjectAlternativeNameTemplate: `{{.api_url}}/projects/{{(index . "oidc.circleci.com/project-id")}}/pipeline-definitions/{{(index . "oidc.circleci.com/pipeline-definition-id")}}`,
		},
	}
}

// ErrConfig wraps every configuration error.
var ErrConfig = errors.New("invalid OIDC issuer configuration")

// LoadConfig reads and validates a configuration file.
func LoadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("couldn't read OIDC issuer configuration: %w", err)
	}
	cfg, err := ParseConfig(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// ParseConfig parses a configuration in JSON or YAML and validates it.
// Unknown keys are errors, so a misspelt option does not pass silently.
func ParseConfig(b []byte) (*Config, error) {
	cfg := &Config{}
	trimmed := bytes.TrimSpace(b)
	if len(trimmed) > 0 && trimmed[0] == '{' {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(cfg); err != nil {
			return nil, fmt.Errorf("%w: couldn't parse JSON: %v", ErrConfig, err)
		}
	} else {
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: couldn't parse YAML: %v", ErrConfig, err)
		}
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// Validate checks the configuration and fills in defaults (audience,
// built-in CI metadata). It says which issuer is wrong and why.
func (c *Config) Validate() error {
	if len(c.OIDCIssuers) == 0 && len(c.MetaIssuers) == 0 {
		return fmt.Errorf("%w: no issuers configured (oidc-issuers or meta-issuers)", ErrConfig)
	}
	meta := DefaultCIMetadata()
	for k, v := range c.CIIssuerMetadata {
		meta[k] = v
	}
	c.CIIssuerMetadata = meta
	for name, m := range c.CIIssuerMetadata {
		if err := m.validate(); err != nil {
			return fmt.Errorf("%w: ci-issuer-metadata %q: %v", ErrConfig, name, err)
		}
	}
	for key, iss := range c.OIDCIssuers {
		if iss.IssuerURL == "" {
			iss.IssuerURL = key
		}
		if iss.IssuerURL != key {
			return fmt.Errorf("%w: oidc-issuers %q: issuer-url %q differs from its key", ErrConfig, key, iss.IssuerURL)
		}
		if err := c.validateIssuer(&iss, false); err != nil {
			return fmt.Errorf("%w: issuer %q: %v", ErrConfig, key, err)
		}
		c.OIDCIssuers[key] = iss
	}
	for pattern, iss := range c.MetaIssuers {
		if _, err := metaRegexp(pattern); err != nil {
			return fmt.Errorf("%w: meta-issuer %q: %v", ErrConfig, pattern, err)
		}
		if iss.IssuerURL == "" {
			iss.IssuerURL = pattern
		}
		if err := c.validateIssuer(&iss, true); err != nil {
			return fmt.Errorf("%w: meta-issuer %q: %v", ErrConfig, pattern, err)
		}
		c.MetaIssuers[pattern] = iss
	}
	return nil
}

func (c *Config) validateIssuer(iss *Issuer, meta bool) error {
	raw := iss.IssuerURL
	if meta {
		raw = strings.ReplaceAll(raw, "*", "0")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("issuer-url must be an http(s) URL, got %q", iss.IssuerURL)
	}
	if iss.ClientID == "" {
		iss.ClientID = DefaultAudience
	}
	if iss.CACert != "" {
		if !x509.NewCertPool().AppendCertsFromPEM([]byte(iss.CACert)) {
			return errors.New("ca-cert holds no PEM certificate")
		}
	}
	if iss.IssuerClaim != "" {
		if iss.Type != TypeEmail {
			return errors.New("only email issuers can use issuer-claim")
		}
		if _, err := jsonPath(iss.IssuerClaim); err != nil {
			return err
		}
	}
	switch iss.Type {
	case TypeEmail, TypeKubernetes, TypeChainguard:
	case TypeGitHubWorkflow, TypeGitLabPipeline, TypeBuildkiteJob, TypeCodefreshWorkflow:
		if iss.CIProvider == "" {
			iss.CIProvider = string(iss.Type)
		}
	case TypeCIProvider:
		if iss.CIProvider == "" {
			return errors.New("ci-provider issuers must name their ci-provider metadata")
		}
	case TypeSPIFFE:
		if meta {
			return errors.New("spiffe meta-issuers are not supported: one trust domain per issuer")
		}
		if err := validTrustDomain(iss.SPIFFETrustDomain); err != nil {
			return fmt.Errorf("spiffe-trust-domain: %v", err)
		}
	case TypeURI:
		d, err := url.Parse(iss.SubjectDomain)
		if iss.SubjectDomain == "" || err != nil || d.Scheme == "" {
			return errors.New("uri issuers need a subject-domain with a scheme, e.g. https://example.com")
		}
		if d.Scheme != u.Scheme {
			return fmt.Errorf("subject-domain scheme %q differs from the issuer's %q", d.Scheme, u.Scheme)
		}
		if strings.Trim(d.Path, "/") != "" || d.RawQuery != "" || d.User != nil {
			// Only the scheme and host of a subject are checked: a path
			// here would read as a restriction it is not.
			return fmt.Errorf("subject-domain %q must be scheme://host: subjects are checked by scheme and host only", iss.SubjectDomain)
		}
		if err := sameRegisteredDomain(d.Hostname(), u.Hostname()); err != nil {
			return err
		}
	case TypeUsername:
		if iss.SubjectDomain == "" || strings.Contains(iss.SubjectDomain, "://") {
			return errors.New("username issuers need a subject-domain without a scheme, e.g. example.com")
		}
		if err := sameRegisteredDomain(iss.SubjectDomain, u.Hostname()); err != nil {
			return err
		}
	case "":
		return errors.New("type is required (email, github-workflow, gitlab-pipeline, buildkite-job, codefresh-workflow, chainguard-identity, kubernetes, spiffe, uri, username or ci-provider)")
	default:
		return fmt.Errorf("unknown type %q (email, github-workflow, gitlab-pipeline, buildkite-job, codefresh-workflow, chainguard-identity, kubernetes, spiffe, uri, username or ci-provider)", iss.Type)
	}
	if iss.CIProvider != "" {
		if _, ok := c.CIIssuerMetadata[iss.CIProvider]; !ok {
			return fmt.Errorf("ci-provider %q has no ci-issuer-metadata", iss.CIProvider)
		}
	}
	for _, alg := range iss.SigningAlgorithms {
		if symmetricOrNone[alg] {
			return fmt.Errorf("signing algorithm %q is not allowed", alg)
		}
		if !contains(DefaultSigningAlgorithms, alg) {
			return fmt.Errorf("unknown signing algorithm %q (one of %s)", alg, strings.Join(DefaultSigningAlgorithms, ", "))
		}
	}
	if _, err := compilePolicy(iss.ClaimPolicy); err != nil {
		return err
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (m CIMetadata) validate() error {
	if strings.TrimSpace(m.SubjectAlternativeNameTemplate) == "" {
		return errors.New("subject-alternative-name-template is empty")
	}
	for _, t := range append(m.ExtensionTemplates.list(), m.SubjectAlternativeNameTemplate) {
		if _, err := template.New("").Option("missingkey=error").Parse(t); err != nil {
			return fmt.Errorf("template %q: %v", t, err)
		}
	}
	return nil
}

func (t *ExtensionTemplates) list() []string {
	out := []string{}
	for _, p := range t.fields() {
		out = append(out, *p.tmpl)
	}
	return out
}

// sameRegisteredDomain requires the last two DNS labels of both names to be
// equal (sigstore/fulcio pkg/config/config.go validateAllowedDomain).
func sameRegisteredDomain(subject, issuer string) error {
	if subject == issuer {
		return nil
	}
	if net.ParseIP(subject) != nil || net.ParseIP(issuer) != nil {
		// The last two "labels" of an address say nothing about who
		// holds it (10.0.0.1 and 99.1.0.1).
		return fmt.Errorf("subject-domain %q is not the issuer's address %q", subject, issuer)
	}
	s, i := strings.Split(subject, "."), strings.Split(issuer, ".")
	if len(s) < 2 || len(i) < 2 {
		return fmt.Errorf("host names %q and %q are too short to compare", subject, issuer)
	}
	if s[len(s)-1] == i[len(i)-1] && s[len(s)-2] == i[len(i)-2] {
		return nil
	}
	return fmt.Errorf("subject-domain %q is not under the issuer's domain %q", subject, issuer)
}

// trustDomainChars reports whether td has only the characters a trust
// domain may have: lower-case letters, digits, '.', '-' and '_'.
func trustDomainChars(td string) bool {
	for i := 0; i < len(td); i++ {
		c := td[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// validTrustDomain checks a SPIFFE trust domain name (SPIFFE ID spec §2.1).
func validTrustDomain(td string) error {
	if td == "" {
		return errors.New("required")
	}
	if len(td) > 255 || !trustDomainChars(td) {
		return fmt.Errorf("%q is not a SPIFFE trust domain (lower-case letters, digits, '.', '-', '_')", td)
	}
	return nil
}

// metaRegexp turns a meta-issuer pattern into an anchored regular
// expression: the pattern is quoted and each "*" becomes [-_a-zA-Z0-9]+
// (sigstore/fulcio pkg/config/config.go MetaRegex).
func metaRegexp(pattern string) (*regexp.Regexp, error) {
	if !strings.Contains(pattern, "*") {
		return nil, errors.New("a meta-issuer pattern needs a '*'; use oidc-issuers for an exact URL")
	}
	u, err := url.Parse(strings.ReplaceAll(pattern, "*", "0"))
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("pattern must be an http(s) URL")
	}
	quoted := regexp.QuoteMeta(pattern)
	return regexp.Compile("^" + strings.ReplaceAll(quoted, `\*`, `[-_a-zA-Z0-9]+`) + "$")
}

// IssuerInfo is one issuer as /api/v2/configuration describes it
// (sigstore/fulcio pkg/config/config.go ToIssuers).
type IssuerInfo struct {
	IssuerURL             string `json:"issuerUrl,omitempty"`
	WildcardIssuerURL     string `json:"wildcardIssuerUrl,omitempty"`
	Audience              string `json:"audience"`
	ChallengeClaim        string `json:"challengeClaim"`
	SPIFFETrustDomain     string `json:"spiffeTrustDomain"`
	IssuerType            string `json:"issuerType"`
	SubjectDomain         string `json:"subjectDomain"`
	SkipEmailVerification bool   `json:"skipEmailVerification"`
}

// Issuers lists the configured issuers, exact ones first, each sorted.
func (c *Config) Issuers() []IssuerInfo {
	var out []IssuerInfo
	add := func(m map[string]Issuer, wildcard bool) {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			iss := m[k]
			info := IssuerInfo{
				Audience: iss.ClientID, ChallengeClaim: challengeClaim(iss), SPIFFETrustDomain: iss.SPIFFETrustDomain,
				IssuerType: string(iss.Type), SubjectDomain: iss.SubjectDomain, SkipEmailVerification: iss.SkipEmailVerification,
			}
			if wildcard {
				info.WildcardIssuerURL = k
			} else {
				info.IssuerURL = iss.IssuerURL
			}
			out = append(out, info)
		}
	}
	add(c.OIDCIssuers, false)
	add(c.MetaIssuers, true)
	return out
}

func challengeClaim(iss Issuer) string {
	if iss.ChallengeClaim != "" {
		return iss.ChallengeClaim
	}
	if iss.Type == TypeEmail {
		return "email"
	}
	return "sub"
}
