// Package intoto parses and builds in-toto attestation Statements (v0.1 and
// v1), the payload Sigstore signs inside a DSSE envelope for attestations.
//
// Statement v1 (in-toto/attestation spec/v1/statement.md):
//
//	{"_type":"https://in-toto.io/Statement/v1",
//	 "subject":[{"name":"…","digest":{"<alg>":"<hex>"}}],
//	 "predicateType":"<TypeURI>","predicate":{…}}
//
// Legacy cosign attest still writes "_type":"https://in-toto.io/Statement/v0.1"
// with the same shape, so both are read.
package intoto

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Media type of an in-toto statement as a DSSE payloadType.
const PayloadType = "application/vnd.in-toto+json"

// Statement type URIs.
const (
	StatementV01 = "https://in-toto.io/Statement/v0.1"
	StatementV1  = "https://in-toto.io/Statement/v1"
)

// Limits applied when parsing, as sigstore-go does (internal/limits): a
// statement naming more subjects or digests is refused.
const (
	MaxSubjects          = 1024
	MaxDigestsPerSubject = 32
)

// Statement is an in-toto statement.
type Statement struct {
	Type          string          `json:"_type"`
	Subject       []Subject       `json:"subject"`
	PredicateType string          `json:"predicateType"`
	Predicate     json.RawMessage `json:"predicate,omitempty"`

	// raw is the statement as Parse read it (as signed).
	raw []byte
}

// MarshalJSON encodes a parsed statement as it was signed, with what the
// struct does not model (a subject's uri, mediaType, annotations, …); a
// statement built in code from its fields.
func (s Statement) MarshalJSON() ([]byte, error) {
	if s.raw != nil {
		return s.raw, nil
	}
	type fields Statement
	return json.Marshal(fields(s))
}

// Subject is one subject (a ResourceDescriptor restricted to name and digest).
type Subject struct {
	Name   string            `json:"name,omitempty"`
	Digest map[string]string `json:"digest"`
}

// ErrNoSubject is returned for a statement with no subject.
var ErrNoSubject = errors.New("in-toto statement has no subject")

// Parse decodes a statement and checks its type, subjects and digests.
func Parse(payload []byte) (*Statement, error) {
	if err := checkStrict(payload); err != nil {
		return nil, err
	}
	var s Statement
	d := json.NewDecoder(bytes.NewReader(payload))
	if err := d.Decode(&s); err != nil {
		return nil, fmt.Errorf("couldn't parse in-toto statement: %w", err)
	}
	s.raw = bytes.Clone(bytes.TrimSpace(payload[:d.InputOffset()]))
	if s.Type != StatementV1 && s.Type != StatementV01 {
		return nil, fmt.Errorf("couldn't parse in-toto statement: unknown _type %q", s.Type)
	}
	if len(s.Subject) == 0 {
		return nil, ErrNoSubject
	}
	if len(s.Subject) > MaxSubjects {
		return nil, fmt.Errorf("in-toto statement has %d subjects, more than %d", len(s.Subject), MaxSubjects)
	}
	for i, sub := range s.Subject {
		if len(sub.Digest) == 0 {
			return nil, fmt.Errorf("in-toto statement subject %d has no digest", i)
		}
		if len(sub.Digest) > MaxDigestsPerSubject {
			return nil, fmt.Errorf("in-toto statement subject %d has %d digests, more than %d", i, len(sub.Digest), MaxDigestsPerSubject)
		}
	}
	if s.PredicateType == "" {
		return nil, errors.New("in-toto statement has no predicateType")
	}
	if p := bytes.TrimSpace(s.Predicate); len(p) > 0 && !bytes.Equal(p, []byte("null")) && p[0] != '{' {
		// The in-toto Statement spec (v1 and v0.1) makes the predicate an
		// object; cosign and sigstore-go refuse to decode any other value.
		return nil, errors.New("in-toto statement's predicate is not a JSON object")
	}
	return &s, nil
}

// MatchDigest reports whether some subject carries digest under the
// algorithm name alg (for example "sha256"). Hex comparison ignores case.
func (s *Statement) MatchDigest(alg string, digest []byte) bool {
	want := hex.EncodeToString(digest)
	for _, sub := range s.Subject {
		if v, ok := sub.Digest[alg]; ok && strings.EqualFold(v, want) {
			return true
		}
	}
	return false
}

// DigestAlgorithms returns the distinct digest algorithm names the subjects use.
func (s *Statement) DigestAlgorithms() []string {
	var out []string
	seen := map[string]bool{}
	for _, sub := range s.Subject {
		for alg := range sub.Digest {
			if !seen[alg] {
				seen[alg] = true
				out = append(out, alg)
			}
		}
	}
	return out
}

// Predicate type short names accepted by --type, as cosign defines them
// (sigstore/cosign cmd/cosign/cli/options/predicate.go).
var shortNames = map[string]string{
	"custom":           "https://cosign.sigstore.dev/attestation/v1",
	"slsaprovenance":   "https://slsa.dev/provenance/v0.2",
	"slsaprovenance02": "https://slsa.dev/provenance/v0.2",
	"slsaprovenance1":  "https://slsa.dev/provenance/v1",
	"spdx":             "https://spdx.dev/Document",
	"spdxjson":         "https://spdx.dev/Document",
	"cyclonedx":        "https://cyclonedx.org/bom",
	"link":             "https://in-toto.io/Link/v1",
	"vuln":             "https://cosign.sigstore.dev/attestation/vuln/v1",
	"openvex":          "https://openvex.dev/ns",
}

// PredicateTypeURI maps a --type value to a predicate type URI: a known short
// name is expanded; anything else must already be a URI.
func PredicateTypeURI(t string) (string, error) {
	if u, ok := shortNames[t]; ok {
		return u, nil
	}
	if strings.Contains(t, ":") {
		return t, nil
	}
	return "", fmt.Errorf("unknown predicate type %q: use a URI or one of custom, slsaprovenance, slsaprovenance02, slsaprovenance1, spdx, spdxjson, cyclonedx, link, vuln, openvex", t)
}
