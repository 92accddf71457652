// Package cert is the Sigstore (Fulcio) code-signing certificate profile:
// the identity extensions under OID arc 1.3.6.1.4.1.57264.1, the OtherName
// SAN of username identities, and the identity summary a verifier matches a
// policy against. The CA uses the same tables to write what the verifier
// reads.
//
// Encodings (sigstore/fulcio pkg/certificate/extensions.go, docs/oid-info.md):
// extensions .1 to .6 carry the raw UTF-8 value as extnValue, with no DER
// wrapping; .8 to .24 carry a DER UTF8String, and a parser rejects trailing
// bytes. All are non-critical. .7 is not an extension: it is the type-id of
// the OtherName SAN, SEQUENCE{ [0] IMPLICIT OtherName{ OID, [0] EXPLICIT
// UTF8String } } (sigstore/sigstore pkg/cryptoutils/sans.go).
package cert

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"strings"
)

// OIDs of the profile.
var (
	OIDArc       = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1}
	OIDIssuer    = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 1}
	OIDOtherName = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 7}
	OIDIssuerV2  = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 8}
	OIDSAN       = asn1.ObjectIdentifier{2, 5, 29, 17}
	// OIDSCTList is the RFC 6962 embedded SCT list extension.
	OIDSCTList = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 2}
	// OIDPrecertPoison marks an RFC 6962 precertificate.
	OIDPrecertPoison = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 3}
)

// Extensions are the identity extensions of a Fulcio certificate. JSON names
// follow sigstore-go's certificate.Extensions so verification results read
// the same.
type Extensions struct {
	Issuer                              string `json:"issuer,omitempty"`                              // .8, or .1 (deprecated, raw)
	GithubWorkflowTrigger               string `json:"githubWorkflowTrigger,omitempty"`               // .2 (deprecated, raw)
	GithubWorkflowSHA                   string `json:"githubWorkflowSHA,omitempty"`                   // .3 (deprecated, raw)
	GithubWorkflowName                  string `json:"githubWorkflowName,omitempty"`                  // .4 (deprecated, raw)
	GithubWorkflowRepository            string `json:"githubWorkflowRepository,omitempty"`            // .5 (deprecated, raw)
	GithubWorkflowRef                   string `json:"githubWorkflowRef,omitempty"`                   // .6 (deprecated, raw)
	BuildSignerURI                      string `json:"buildSignerURI,omitempty"`                      // .9
	BuildSignerDigest                   string `json:"buildSignerDigest,omitempty"`                   // .10
	RunnerEnvironment                   string `json:"runnerEnvironment,omitempty"`                   // .11
	SourceRepositoryURI                 string `json:"sourceRepositoryURI,omitempty"`                 // .12
	SourceRepositoryDigest              string `json:"sourceRepositoryDigest,omitempty"`              // .13
	SourceRepositoryRef                 string `json:"sourceRepositoryRef,omitempty"`                 // .14
	SourceRepositoryIdentifier          string `json:"sourceRepositoryIdentifier,omitempty"`          // .15
	SourceRepositoryOwnerURI            string `json:"sourceRepositoryOwnerURI,omitempty"`            // .16
	SourceRepositoryOwnerIdentifier     string `json:"sourceRepositoryOwnerIdentifier,omitempty"`     // .17
	BuildConfigURI                      string `json:"buildConfigURI,omitempty"`                      // .18
	BuildConfigDigest                   string `json:"buildConfigDigest,omitempty"`                   // .19
	BuildTrigger                        string `json:"buildTrigger,omitempty"`                        // .20
	RunInvocationURI                    string `json:"runInvocationURI,omitempty"`                    // .21
	SourceRepositoryVisibilityAtSigning string `json:"sourceRepositoryVisibilityAtSigning,omitempty"` // .22
	DeploymentEnvironment               string `json:"deploymentEnvironment,omitempty"`               // .23
	TokenSubject                        string `json:"tokenSubject,omitempty"`                        // .24
}

// Field describes one extension of the profile.
type Field struct {
	Arc  int    // last OID component under 1.3.6.1.4.1.57264.1
	Name string // JSON name, also accepted by policy matchers
	Raw  bool   // value is raw UTF-8 rather than a DER UTF8String
	get  func(*Extensions) *string
}

// OID returns the field's object identifier.
func (f Field) OID() asn1.ObjectIdentifier {
	return append(append(asn1.ObjectIdentifier{}, OIDArc...), f.Arc)
}

// Get returns the field's value in e.
func (f Field) Get(e *Extensions) string { return *f.get(e) }

// Fields lists every identity extension in the order Fulcio renders them
// (.1, .2–.6, .8, .9–.23, .24). The issuer appears twice: .1 raw and .8 DER.
var Fields = []Field{
	{1, "issuer", true, func(e *Extensions) *string { return &e.Issuer }},
	{2, "githubWorkflowTrigger", true, func(e *Extensions) *string { return &e.GithubWorkflowTrigger }},
	{3, "githubWorkflowSHA", true, func(e *Extensions) *string { return &e.GithubWorkflowSHA }},
	{4, "githubWorkflowName", true, func(e *Extensions) *string { return &e.GithubWorkflowName }},
	{5, "githubWorkflowRepository", true, func(e *Extensions) *string { return &e.GithubWorkflowRepository }},
	{6, "githubWorkflowRef", true, func(e *Extensions) *string { return &e.GithubWorkflowRef }},
	{8, "issuer", false, func(e *Extensions) *string { return &e.Issuer }},
	{9, "buildSignerURI", false, func(e *Extensions) *string { return &e.BuildSignerURI }},
	{10, "buildSignerDigest", false, func(e *Extensions) *string { return &e.BuildSignerDigest }},
	{11, "runnerEnvironment", false, func(e *Extensions) *string { return &e.RunnerEnvironment }},
	{12, "sourceRepositoryURI", false, func(e *Extensions) *string { return &e.SourceRepositoryURI }},
	{13, "sourceRepositoryDigest", false, func(e *Extensions) *string { return &e.SourceRepositoryDigest }},
	{14, "sourceRepositoryRef", false, func(e *Extensions) *string { return &e.SourceRepositoryRef }},
	{15, "sourceRepositoryIdentifier", false, func(e *Extensions) *string { return &e.SourceRepositoryIdentifier }},
	{16, "sourceRepositoryOwnerURI", false, func(e *Extensions) *string { return &e.SourceRepositoryOwnerURI }},
	{17, "sourceRepositoryOwnerIdentifier", false, func(e *Extensions) *string { return &e.SourceRepositoryOwnerIdentifier }},
	{18, "buildConfigURI", false, func(e *Extensions) *string { return &e.BuildConfigURI }},
	{19, "buildConfigDigest", false, func(e *Extensions) *string { return &e.BuildConfigDigest }},
	{20, "buildTrigger", false, func(e *Extensions) *string { return &e.BuildTrigger }},
	{21, "runInvocationURI", false, func(e *Extensions) *string { return &e.RunInvocationURI }},
	{22, "sourceRepositoryVisibilityAtSigning", false, func(e *Extensions) *string { return &e.SourceRepositoryVisibilityAtSigning }},
	{23, "deploymentEnvironment", false, func(e *Extensions) *string { return &e.DeploymentEnvironment }},
	{24, "tokenSubject", false, func(e *Extensions) *string { return &e.TokenSubject }},
}

// FieldByName returns the field with a JSON name (the DER issuer for
// "issuer"), matching case-insensitively, or by dotted OID or arc number.
func FieldByName(name string) (Field, bool) {
	var found Field
	ok := false
	for _, f := range Fields {
		if strings.EqualFold(f.Name, name) || name == f.OID().String() || name == fmt.Sprint(f.Arc) {
			found, ok = f, true // the last match wins, so "issuer" is .8
		}
	}
	return found, ok
}

// ParseExtensions reads the identity extensions of a certificate. The issuer
// comes from .8 when present, else from the deprecated raw .1. A DER value
// that is not a string or has trailing bytes is an error.
func ParseExtensions(exts []pkix.Extension) (Extensions, error) {
	var out Extensions
	var legacyIssuer string
	for _, e := range exts {
		id := e.Id
		if len(id) != len(OIDArc)+1 || !id[:len(OIDArc)].Equal(OIDArc) {
			continue
		}
		arc := id[len(OIDArc)]
		for _, f := range Fields {
			if f.Arc != arc {
				continue
			}
			if f.Raw {
				if arc == 1 {
					legacyIssuer = string(e.Value)
				} else {
					*f.get(&out) = string(e.Value)
				}
				break
			}
			v, err := parseDERString(e.Value)
			if err != nil {
				return Extensions{}, fmt.Errorf("couldn't parse certificate extension %s (%s): %w", id, f.Name, err)
			}
			*f.get(&out) = v
			break
		}
	}
	if out.Issuer == "" {
		out.Issuer = legacyIssuer
	} else if legacyIssuer != "" && legacyIssuer != out.Issuer {
		// Verifiers disagree on which one wins (sigstore-go takes the
		// later extension): a certificate naming two issuers names none.
		return Extensions{}, fmt.Errorf("couldn't parse certificate extensions: the issuer is %q in %s and %q in %s", legacyIssuer, OIDIssuer, out.Issuer, OIDIssuerV2)
	}
	return out, nil
}

func parseDERString(b []byte) (string, error) {
	var raw asn1.RawValue
	rest, err := asn1.Unmarshal(b, &raw)
	if err != nil {
		return "", err
	}
	if len(rest) != 0 {
		return "", errors.New("trailing bytes after DER string")
	}
	if raw.Class != asn1.ClassUniversal || raw.Tag != asn1.TagUTF8String && raw.Tag != asn1.TagPrintableString && raw.Tag != asn1.TagIA5String {
		return "", fmt.Errorf("not a string (tag %d)", raw.Tag)
	}
	var s string
	if _, err := asn1.Unmarshal(b, &s); err != nil {
		return "", err
	}
	return s, nil
}

// Render returns the extensions for e in Fulcio's order: .1 (raw issuer),
// .2–.6 when set, .8 (DER issuer), .9–.24 when set. The issuer is always
// emitted in both forms.
func Render(e Extensions) ([]pkix.Extension, error) {
	var out []pkix.Extension
	for _, f := range Fields {
		v := f.Get(&e)
		if v == "" && f.Name != "issuer" {
			continue
		}
		val := []byte(v)
		if !f.Raw {
			var err error
			if val, err = asn1.MarshalWithParams(v, "utf8"); err != nil {
				return nil, fmt.Errorf("couldn't encode certificate extension %s: %w", f.Name, err)
			}
		}
		out = append(out, pkix.Extension{Id: f.OID(), Value: val})
	}
	return out, nil
}

// Summary is the identity a certificate states: its subject alternative name
// and issuer, and the other extensions.
type Summary struct {
	CertificateIssuer      string `json:"certificateIssuer"`
	SubjectAlternativeName string `json:"subjectAlternativeName"`
	SANType                string `json:"sanType"` // "URI", "EMAIL" or "OTHER_NAME"
	Extensions
}

// ErrNoSAN is returned for a certificate without a usable SAN.
var ErrNoSAN = errors.New("certificate has no subject alternative name")

// Summarize returns a leaf's identity: the SAN is the first URI, else the
// first email address, else the OtherName username (sigstore-go
// SummarizeCertificate order).
func Summarize(c *x509.Certificate) (Summary, error) {
	ext, err := ParseExtensions(c.Extensions)
	if err != nil {
		return Summary{}, err
	}
	s := Summary{CertificateIssuer: c.Issuer.String(), Extensions: ext}
	switch {
	case len(c.URIs) > 0:
		s.SubjectAlternativeName, s.SANType = c.URIs[0].String(), "URI"
	case len(c.EmailAddresses) > 0:
		s.SubjectAlternativeName, s.SANType = c.EmailAddresses[0], "EMAIL"
	default:
		name, err := OtherNameSAN(c)
		if err != nil {
			return Summary{}, err
		}
		s.SubjectAlternativeName, s.SANType = name, "OTHER_NAME"
	}
	return s, nil
}

// SANs returns every subject alternative name of a certificate as Rekor
// indexes them (sigstore/sigstore cryptoutils.GetSubjectAlternateNames):
// DNS names, email addresses, IP addresses, URIs and the OtherName
// username.
func SANs(c *x509.Certificate) []string {
	if c == nil {
		return nil
	}
	var out []string
	out = append(out, c.DNSNames...)
	out = append(out, c.EmailAddresses...)
	for _, ip := range c.IPAddresses {
		out = append(out, ip.String())
	}
	for _, u := range c.URIs {
		out = append(out, u.String())
	}
	if n, err := OtherNameSAN(c); err == nil && n != "" {
		out = append(out, n)
	}
	return out
}

// OtherNameSAN returns the username of a Fulcio OtherName SAN
// (type-id 1.3.6.1.4.1.57264.1.7), or ErrNoSAN.
func OtherNameSAN(c *x509.Certificate) (string, error) {
	for _, e := range c.Extensions {
		if !e.Id.Equal(OIDSAN) {
			continue
		}
		return parseOtherNameSAN(e.Value)
	}
	return "", ErrNoSAN
}

type otherName struct {
	ID    asn1.ObjectIdentifier
	Value string `asn1:"utf8,explicit,tag:0"`
}

func parseOtherNameSAN(der []byte) (string, error) {
	var seq asn1.RawValue
	rest, err := asn1.Unmarshal(der, &seq)
	if err != nil || len(rest) != 0 || !seq.IsCompound || seq.Tag != asn1.TagSequence {
		return "", fmt.Errorf("couldn't parse SAN extension")
	}
	in := seq.Bytes
	for len(in) > 0 {
		var gn asn1.RawValue
		if in, err = asn1.Unmarshal(in, &gn); err != nil {
			return "", fmt.Errorf("couldn't parse SAN extension: %w", err)
		}
		if gn.Class != asn1.ClassContextSpecific || gn.Tag != 0 {
			continue
		}
		var on otherName
		if r, err := asn1.UnmarshalWithParams(gn.FullBytes, &on, "tag:0"); err != nil || len(r) != 0 {
			return "", fmt.Errorf("couldn't parse OtherName SAN")
		}
		if on.ID.Equal(OIDOtherName) {
			return on.Value, nil
		}
	}
	return "", ErrNoSAN
}

// MarshalOtherNameSAN returns the value of a critical SAN extension holding
// one Fulcio OtherName username.
func MarshalOtherNameSAN(name string) ([]byte, error) {
	on, err := asn1.MarshalWithParams(otherName{ID: OIDOtherName, Value: name}, "tag:0")
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: on})
}
