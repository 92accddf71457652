package oidc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"text/template"
	"unicode"

	"sigil.dev/sigil/cert"
)

// SANType is the kind of subject alternative name a principal gets.
type SANType int

// SAN kinds.
const (
	SANURI      SANType = iota + 1 // uniformResourceIdentifier
	SANEmail                       // rfc822Name
	SANUsername                    // Fulcio OtherName (1.3.6.1.4.1.57264.1.7), "sub!domain"
)

func (t SANType) String() string {
	switch t {
	case SANURI:
		return "URI"
	case SANEmail:
		return "EMAIL"
	case SANUsername:
		return "OTHER_NAME"
	}
	return "UNKNOWN"
}

// Principal is a verified identity: what the certificate will state and
// what the proof of possession must sign.
type Principal struct {
	// Issuer is the token's iss (the issuer the token was verified
	// against); Extensions.Issuer may differ for email issuers with an
	// issuer-claim.
	Issuer  string
	Subject string
	Type    IssuerType
	// Challenge is the message the proof of possession signs: the email of
	// an email issuer, else the sub (sigstore/fulcio pkg/server/grpc_server.go
	// principal.Name).
	Challenge string
	// SANType and SAN are the certificate's one subject alternative name.
	SANType SANType
	SAN     string
	// Extensions are the Fulcio extensions (.1/.8 issuer, CI fields, .24
	// token subject).
	Extensions cert.Extensions
	// Claims are the verified token claims.
	Claims map[string]any
}

// principalFor builds the principal of a verified token. Errors name the
// claim at fault; they reach the operator's log, not the client.
func principalFor(iss *Issuer, meta map[string]CIMetadata, issuer, subject string, claims map[string]any) (*Principal, error) {
	p := &Principal{Issuer: issuer, Subject: subject, Type: iss.Type, Challenge: subject, Claims: claims}
	p.Extensions = cert.Extensions{Issuer: issuer, TokenSubject: subject}
	switch iss.Type {
	case TypeEmail:
		email, ok := claims["email"].(string)
		if !ok || email == "" {
			return nil, errors.New("token has no email claim")
		}
		if !iss.SkipEmailVerification && !emailVerified(claims["email_verified"]) {
			return nil, errors.New("email_verified claim is not true")
		}
		if !validEmail(email) {
			return nil, fmt.Errorf("email claim %q is not an email address", email)
		}
		if iss.IssuerClaim != "" {
			v, err := lookupJSONPath(claims, iss.IssuerClaim)
			if err != nil {
				return nil, err
			}
			p.Extensions.Issuer = v
		}
		p.Challenge, p.SANType, p.SAN = email, SANEmail, email
	case TypeKubernetes:
		k, _ := claims["kubernetes.io"].(map[string]any)
		ns, _ := k["namespace"].(string)
		sa, _ := k["serviceaccount"].(map[string]any)
		name, _ := sa["name"].(string)
		if ns == "" || name == "" {
			return nil, errors.New("token lacks kubernetes.io namespace or serviceaccount name")
		}
		// Kubernetes names: a namespace is a DNS label, a service
		// account a DNS subdomain; anything else would change the
		// path the SAN names.
		if !dnsLabel().MatchString(ns) || len(ns) > 63 || !dnsSubdomain().MatchString(name) || len(name) > 253 {
			return nil, fmt.Errorf("kubernetes.io namespace %q or serviceaccount name %q is not a Kubernetes name", ns, name)
		}
		p.SANType, p.SAN = SANURI, "https://kubernetes.io/namespaces/"+ns+"/serviceaccounts/"+name
	case TypeSPIFFE:
		if err := checkSPIFFEID(subject, iss.SPIFFETrustDomain); err != nil {
			return nil, err
		}
		p.SANType, p.SAN = SANURI, subject
	case TypeURI:
		if validEmail(subject) {
			return nil, errors.New("uri subject must not be an email address")
		}
		u, err := url.Parse(subject)
		if err != nil {
			return nil, fmt.Errorf("sub %q is not a URI: %v", subject, err)
		}
		d, _ := url.Parse(iss.SubjectDomain)
		if u.Scheme != d.Scheme || u.Hostname() != d.Hostname() {
			return nil, fmt.Errorf("sub %q is not under subject-domain %q", subject, iss.SubjectDomain)
		}
		p.SANType, p.SAN = SANURI, subject
	case TypeUsername:
		if strings.Contains(subject, "!") {
			return nil, errors.New("username must not contain '!'")
		}
		if validEmail(subject) {
			return nil, errors.New("username must not be an email address")
		}
		p.SANType, p.SAN = SANUsername, subject+"!"+iss.SubjectDomain
	case TypeChainguard:
		// The proof signs what clients compute as the token's subject:
		// the email if the token has one (it must then be verified),
		// else the sub (sigstore/sigstore pkg/oauthflow SubjectFromToken).
		if email, ok := claims["email"].(string); ok && email != "" {
			if !emailVerified(claims["email_verified"]) {
				return nil, errors.New("email_verified claim is not true")
			}
			p.Challenge = email
		}
		u, err := url.Parse(issuer)
		if err != nil {
			return nil, fmt.Errorf("issuer %q is not a URL: %v", issuer, err)
		}
		// JoinPath cleans "..": a sub must not name a path outside the
		// issuer's.
		for _, seg := range strings.Split(subject, "/") {
			if seg == "." || seg == ".." {
				return nil, fmt.Errorf("sub %q has a %q path segment", subject, seg)
			}
		}
		p.SANType, p.SAN = SANURI, u.JoinPath(subject).String()
	case TypeGitHubWorkflow, TypeGitLabPipeline, TypeBuildkiteJob, TypeCodefreshWorkflow, TypeCIProvider:
		m, ok := meta[iss.CIProvider]
		if !ok {
			return nil, fmt.Errorf("no ci-issuer-metadata %q", iss.CIProvider)
		}
		if err := m.render(p, claims); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("unsupported issuer type %q", iss.Type)
	}
	if p.SAN == "" {
		return nil, errors.New("identity has an empty subject alternative name")
	}
	for _, f := range []struct{ what, v string }{{"subject alternative name", p.SAN}, {"sub", subject}, {"issuer", p.Extensions.Issuer}} {
		if err := checkIdentityText(f.what, f.v); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// Compiled on first use, not at every sigil process start.
var (
	dnsLabel     = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`) })
	dnsSubdomain = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	})
)

// MaxClaimValue is the longest claim value a certificate carries (a SAN,
// the subject, the issuer, a CI extension): the token may be up to
// MaxTokenSize, and every byte of a value would be in the certificate, the
// CT log and every bundle.
const MaxClaimValue = 2048

// checkIdentityText refuses an identity value that is too long for a
// certificate or that could display as another one: control characters
// (NUL, newlines) and bidirectional-text controls.
func checkIdentityText(what, v string) error {
	if len(v) > MaxClaimValue {
		return fmt.Errorf("%s is %d bytes, more than the %d a certificate carries", what, len(v), MaxClaimValue)
	}
	for _, r := range v {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			return fmt.Errorf("%s %q contains the control character %U", what, v, r)
		}
	}
	return nil
}

// emailVerified accepts a JSON true or the strings "true"/"True" (sigstore/sigstore
// pkg/oauthflow EmailFromIDToken).
func emailVerified(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case string:
		return x == "true" || x == "True"
	}
	return false
}

// validEmail accepts a bare addr-spec with a dotted domain.
func validEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	return at > 0 && strings.Contains(s[at+1:], ".")
}

// checkSPIFFEID checks that id is spiffe://<trust domain>/<path> in td.
func checkSPIFFEID(id, td string) error {
	rest, ok := strings.CutPrefix(id, "spiffe://")
	if !ok {
		return fmt.Errorf("sub %q is not a SPIFFE ID", id)
	}
	host, path, _ := strings.Cut(rest, "/")
	if host != td {
		return fmt.Errorf("SPIFFE ID %q is not in trust domain %q", id, td)
	}
	if path == "" || strings.Contains("/"+path+"/", "/./") || strings.Contains("/"+path+"/", "/../") || strings.Contains(path, "//") || strings.HasSuffix(path, "/") {
		return fmt.Errorf("SPIFFE ID %q has an invalid path", id)
	}
	for _, r := range path {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-._/", r)) {
			return fmt.Errorf("SPIFFE ID %q has an invalid path character %q", id, r)
		}
	}
	return nil
}

// jsonPath parses the subset of JSONPath that issuer-claim uses: $.a.b.c.
func jsonPath(p string) ([]string, error) {
	rest, ok := strings.CutPrefix(p, "$.")
	if !ok || rest == "" {
		return nil, fmt.Errorf("issuer-claim %q must be a JSONPath of the form $.claim.field", p)
	}
	parts := strings.Split(rest, ".")
	for _, s := range parts {
		if s == "" {
			return nil, fmt.Errorf("issuer-claim %q has an empty element", p)
		}
	}
	return parts, nil
}

func lookupJSONPath(claims map[string]any, p string) (string, error) {
	parts, err := jsonPath(p)
	if err != nil {
		return "", err
	}
	var v any = claims
	for _, k := range parts {
		m, ok := v.(map[string]any)
		if !ok {
			return "", fmt.Errorf("issuer-claim %s not in token", p)
		}
		v = m[k]
	}
	s, ok := v.(string)
	if !ok || s == "" {
		return "", fmt.Errorf("issuer-claim %s not in token or not a string", p)
	}
	return s, nil
}

// stringify renders a claim value as text: a JSON number as written, a
// float64 without exponent, other values with %v. Claim policies match this
// text; templates use templateString.
func stringify(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case json.Number:
		return x.String()
	case nil:
		return "<nil>"
	}
	return fmt.Sprintf("%v", v)
}

// templateString renders a claim for a template as Fulcio's ci-provider
// does, which reads claims into float64s and writes numbers with
// strconv.FormatFloat(v, 'f', -1, 64): 12.0 and 1.2e1 are "12". An integer
// written as digits is kept as written: that is Fulcio's text for every
// integer a float64 holds exactly, and beyond 2^53, where Fulcio would
// round, the certificate states the token's number (the one a claim policy
// matched), not a neighbour.
func templateString(v any) string {
	n, ok := v.(json.Number)
	if !ok || integerLiteral(string(n)) {
		return stringify(v)
	}
	f, err := n.Float64()
	if err != nil {
		return stringify(v)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// integerLiteral reports whether s is an optional '-' and digits.
func integerLiteral(s string) bool {
	s = strings.TrimPrefix(s, "-")
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

type templateField struct {
	tmpl *string
	set  func(*cert.Extensions, string)
}

func (t *ExtensionTemplates) fields() []templateField {
	return []templateField{
		{&t.GithubWorkflowTrigger, func(e *cert.Extensions, v string) { e.GithubWorkflowTrigger = v }},
		{&t.GithubWorkflowSHA, func(e *cert.Extensions, v string) { e.GithubWorkflowSHA = v }},
		{&t.GithubWorkflowName, func(e *cert.Extensions, v string) { e.GithubWorkflowName = v }},
		{&t.GithubWorkflowRepository, func(e *cert.Extensions, v string) { e.GithubWorkflowRepository = v }},
		{&t.GithubWorkflowRef, func(e *cert.Extensions, v string) { e.GithubWorkflowRef = v }},
		{&t.BuildSignerURI, func(e *cert.Extensions, v string) { e.BuildSignerURI = v }},
		{&t.BuildSignerDigest, func(e *cert.Extensions, v string) { e.BuildSignerDigest = v }},
		{&t.RunnerEnvironment, func(e *cert.Extensions, v string) { e.RunnerEnvironment = v }},
		{&t.SourceRepositoryURI, func(e *cert.Extensions, v string) { e.SourceRepositoryURI = v }},
		{&t.SourceRepositoryDigest, func(e *cert.Extensions, v string) { e.SourceRepositoryDigest = v }},
		{&t.SourceRepositoryRef, func(e *cert.Extensions, v string) { e.SourceRepositoryRef = v }},
		{&t.SourceRepositoryIdentifier, func(e *cert.Extensions, v string) { e.SourceRepositoryIdentifier = v }},
		{&t.SourceRepositoryOwnerURI, func(e *cert.Extensions, v string) { e.SourceRepositoryOwnerURI = v }},
		{&t.SourceRepositoryOwnerIdentifier, func(e *cert.Extensions, v string) { e.SourceRepositoryOwnerIdentifier = v }},
		{&t.BuildConfigURI, func(e *cert.Extensions, v string) { e.BuildConfigURI = v }},
		{&t.BuildConfigDigest, func(e *cert.Extensions, v string) { e.BuildConfigDigest = v }},
		{&t.BuildTrigger, func(e *cert.Extensions, v string) { e.BuildTrigger = v }},
		{&t.RunInvocationURI, func(e *cert.Extensions, v string) { e.RunInvocationURI = v }},
		{&t.SourceRepositoryVisibilityAtSigning, func(e *cert.Extensions, v string) { e.SourceRepositoryVisibilityAtSigning = v }},
		{&t.DeploymentEnvironment, func(e *cert.Extensions, v string) { e.DeploymentEnvironment = v }},
	}
}

// templateCache holds parsed templates; configurations are small and
// fixed, so the cache never shrinks.
var templateCache sync.Map // string -> *template.Template

func applyTemplate(t string, data map[string]string) (string, error) {
	if !strings.Contains(t, "{{") {
		v, ok := data[t]
		if !ok {
			return "", fmt.Errorf("claim %q is not in the token or the defaults, or is not a single value (a string, number or boolean)", t)
		}
		return v, nil
	}
	var tp *template.Template
	if c, ok := templateCache.Load(t); ok {
		tp = c.(*template.Template)
	} else {
		var err error
		if tp, err = template.New("").Option("missingkey=error").Parse(t); err != nil {
			return "", err
		}
		templateCache.Store(t, tp)
	}
	var b bytes.Buffer
	if err := tp.Execute(&b, data); err != nil {
		return "", fmt.Errorf("template %q: %v", t, err)
	}
	return b.String(), nil
}

// render fills the principal of a ci-provider issuer: the SAN is a URI from
// the SAN template, the extensions from the extension templates; issuer and
// subject always come from the token.
func (m CIMetadata) render(p *Principal, claims map[string]any) error {
	data := make(map[string]string, len(claims)+len(m.DefaultTemplateValues))
	for k, v := range m.DefaultTemplateValues {
		data[k] = v
	}
	for k, v := range claims {
		switch v.(type) {
		case string, json.Number, bool:
			data[k] = templateString(v)
		default:
			// A list or an object is no value for a certificate field:
			// a claim policy accepts a list when one element matches,
			// and the certificate must not then record the others.
			delete(data, k)
		}
	}
	san, err := applyTemplate(m.SubjectAlternativeNameTemplate, data)
	if err != nil {
		return fmt.Errorf("subject alternative name: %w", err)
	}
	u, err := url.Parse(san)
	if err != nil {
		return fmt.Errorf("subject alternative name %q is not a URI: %v", san, err)
	}
	p.SANType, p.SAN = SANURI, u.String()
	t := m.ExtensionTemplates
	for _, f := range t.fields() {
		if strings.TrimSpace(*f.tmpl) == "" {
			continue
		}
		v, err := applyTemplate(*f.tmpl, data)
		if err != nil {
			return err
		}
		if len(v) > MaxClaimValue {
			return fmt.Errorf("extension from %q is %d bytes, more than the %d a certificate carries", *f.tmpl, len(v), MaxClaimValue)
		}
		f.set(&p.Extensions, v)
	}
	return nil
}
