package client

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"sigil.dev/sigil/cert"
	"sigil.dev/sigil/rekor"
)

// SearchQuery is a Rekor v1 index search (POST /api/v1/index/retrieve,
// sigstore/rekor openapi.yaml SearchIndex). Rekor deprecates the endpoint
// and calls its answer best effort: an index may be incomplete, and
// nothing in the answer is signed. So a search proves what it returns
// (each entry is fetched and verified by the caller, and Match checks that
// it answers the query) but never that nothing else exists.
type SearchQuery struct {
	// Hash is an artifact digest, "[sha256:|sha512:|sha1:]<hex>"; a bare
	// digest's algorithm follows from its length, as Rekor infers it.
	Hash string `json:"hash,omitempty"`
	// Email and Subject are a signing certificate's identity: an email
	// SAN, or any SAN (email, URI, DNS name, IP address, OtherName).
	Email   string `json:"email,omitempty"`
	Subject string `json:"subject,omitempty"`
	// PEM is the signer's PEM public key or certificate.
	PEM []byte `json:"-"`
	// And requires every field to match; else any.
	And bool `json:"-"`
}

// searchDigest is compiled on first use: its counted repetitions make a
// large program, and compiling it at package initialisation cost every
// sigil process start (sign-blob, verify-blob) a fraction of a millisecond.
var searchDigest = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128}|sha1:[0-9a-f]{40})$`)
})

// normalize lower-cases the digest and gives it its algorithm prefix.
func (q *SearchQuery) normalize() error {
	if q.Hash == "" {
		return nil
	}
	h := strings.ToLower(q.Hash)
	if !strings.Contains(h, ":") {
		switch len(h) {
		case 40:
			h = "sha1:" + h
		case 128:
			h = "sha512:" + h
		default:
			h = "sha256:" + h
		}
	}
	if !searchDigest().MatchString(h) {
		return fmt.Errorf("couldn't use the digest %q: want [sha256:|sha512:|sha1:]<hex digest>", q.Hash)
	}
	q.Hash = h
	return nil
}

// Validate normalizes the digest and checks that the query asks for
// something well formed.
func (q *SearchQuery) Validate() error {
	if q.Empty() {
		return fmt.Errorf("couldn't search the log: the query is empty")
	}
	if err := q.normalize(); err != nil {
		return err
	}
	if len(q.PEM) > 0 {
		if _, _, err := parseSigner(q.PEM); err != nil {
			return fmt.Errorf("couldn't parse the signer to search for: %w", err)
		}
	}
	return nil
}

// Empty reports whether the query asks for nothing.
func (q *SearchQuery) Empty() bool {
	return q.Hash == "" && q.Email == "" && q.Subject == "" && len(q.PEM) == 0
}

// V1Search returns the IDs of the entries a Rekor v1 log's index lists for
// q, deduplicated, in the log's order.
func (c *Client) V1Search(ctx context.Context, q SearchQuery) ([]string, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	body := struct {
		SearchQuery
		PublicKey *struct {
			Format  string `json:"format"`
			Content []byte `json:"content"`
		} `json:"publicKey,omitempty"`
		Operator string `json:"operator,omitempty"`
	}{SearchQuery: q}
	if len(q.PEM) > 0 {
		body.PublicKey = &struct {
			Format  string `json:"format"`
			Content []byte `json:"content"`
		}{"x509", q.PEM}
	}
	if q.And {
		body.Operator = "and"
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	ans, err := c.do(ctx, "POST", "/api/v1/index/retrieve", raw)
	if err != nil {
		return nil, err
	}
	var ids []string
	if err := json.Unmarshal(ans, &ids); err != nil {
		return nil, fmt.Errorf("couldn't parse the log's search answer: %w", err)
	}
	seen := map[string]bool{}
	out := ids[:0]
	for _, id := range ids {
		id = strings.ToLower(id)
		if len(id) != 64 && len(id) != 80 || strings.Trim(id, "0123456789abcdef") != "" {
			return nil, fmt.Errorf("%w: the log's search answer holds %q, not an entry ID", ErrVerification, id)
		}
		// An 80-hex entry ID and its 64-hex UUID name one entry.
		if !seen[id[len(id)-64:]] {
			seen[id[len(id)-64:]] = true
			out = append(out, id)
		}
	}
	return out, nil
}

// Match is whether a log entry answers a search query.
type Match int

// The answers of SearchQuery.Match.
const (
	// NoMatch: the entry does not answer the query; the log's index
	// is wrong (or lying).
	NoMatch Match = iota
	// Matches: the entry's body shows that it answers the query.
	Matches
	// Unchecked: the body cannot show it either way. A digest may be a
	// subject of the in-toto statement a dsse or intoto entry was made
	// over, and the body records only the statement's hash; an entry of
	// a kind sigil does not parse is not checked at all.
	Unchecked
)

func (m Match) String() string {
	switch m {
	case Matches:
		return "matches"
	case Unchecked:
		return "unchecked"
	}
	return "no match"
}

// Match reports whether a Rekor v1 canonical body answers q: the same
// fields Rekor indexes (sigstore/rekor pkg/types/*/entry.go IndexKeys),
// read back from the body. Identities compare without regard to case, as
// Rekor's index lower-cases them.
func (q SearchQuery) Match(body []byte) (Match, error) {
	if err := q.normalize(); err != nil {
		return NoMatch, err
	}
	var want crypto.PublicKey
	if len(q.PEM) > 0 {
		k, _, err := parseSigner(q.PEM)
		if err != nil {
			return NoMatch, fmt.Errorf("couldn't parse the signer to search for: %w", err)
		}
		want = k
	}
	b, err := rekor.ParseV1Body(body)
	if err != nil {
		return Unchecked, nil
	}
	var keys []crypto.PublicKey
	var names []string
	emails := map[string]bool{}
	for _, s := range b.Signatures {
		k, c, err := parseSigner(s.PEM)
		if err != nil {
			continue
		}
		keys = append(keys, k)
		if c == nil {
			continue
		}
		for _, e := range c.EmailAddresses {
			emails[strings.ToLower(e)] = true
		}
		names = append(names, cert.SANs(c)...)
	}
	var results []Match
	if q.Hash != "" {
		alg, hexDigest, _ := strings.Cut(q.Hash, ":")
		d, _ := hex.DecodeString(hexDigest)
		m := NoMatch
		switch b.Kind {
		case rekor.KindHashedRekord:
			if b.Hash.Algorithm == alg && bytes.Equal(b.Hash.Value, d) {
				m = Matches
			}
		default: // dsse, intoto
			if alg == "sha256" && (bytes.Equal(b.PayloadHash.Value, d) || bytes.Equal(b.EnvelopeHash.Value, d)) {
				m = Matches
			} else {
				m = Unchecked
			}
		}
		results = append(results, m)
	}
	if want != nil {
		m := NoMatch
		for _, k := range keys {
			if eq, ok := k.(interface{ Equal(crypto.PublicKey) bool }); ok && eq.Equal(want) {
				m = Matches
			}
		}
		results = append(results, m)
	}
	if q.Email != "" {
		m := NoMatch
		if emails[strings.ToLower(q.Email)] {
			m = Matches
		}
		results = append(results, m)
	}
	if q.Subject != "" {
		m := NoMatch
		for _, n := range names {
			if strings.EqualFold(n, q.Subject) {
				m = Matches
			}
		}
		results = append(results, m)
	}
	// "and": any NoMatch refutes, any Unchecked leaves it open; "or":
	// any Matches proves, else any Unchecked leaves it open.
	has := func(m Match) bool {
		for _, r := range results {
			if r == m {
				return true
			}
		}
		return false
	}
	switch {
	case q.And && has(NoMatch):
		return NoMatch, nil
	case q.And && has(Unchecked):
		return Unchecked, nil
	case q.And:
		return Matches, nil
	case has(Matches):
		return Matches, nil
	case has(Unchecked):
		return Unchecked, nil
	}
	return NoMatch, nil
}

// parseSigner parses the first PEM block of a Rekor v1 verifier: a public
// key, or a certificate (a chain's leaf comes first).
func parseSigner(p []byte) (crypto.PublicKey, *x509.Certificate, error) {
	blk, _ := pem.Decode(bytes.TrimSpace(p))
	if blk == nil {
		return nil, nil, fmt.Errorf("not PEM")
	}
	switch blk.Type {
	case "CERTIFICATE":
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, nil, err
		}
		return c.PublicKey, c, nil
	case "PUBLIC KEY":
		k, err := x509.ParsePKIXPublicKey(blk.Bytes)
		return k, nil, err
	}
	return nil, nil, fmt.Errorf("PEM type %q, want PUBLIC KEY or CERTIFICATE", blk.Type)
}

// Signers returns the identities that signed a Rekor v1 body, for display:
// each certificate's identity and OIDC issuer, or "public key" for a bare
// key.
func Signers(body []byte) []string {
	b, err := rekor.ParseV1Body(body)
	if err != nil {
		return nil
	}
	var out []string
	for _, s := range b.Signatures {
		_, c, err := parseSigner(s.PEM)
		switch {
		case err != nil:
		case c == nil:
			out = append(out, "public key")
		default:
			if sum, err := cert.Summarize(c); err == nil {
				id := sum.SubjectAlternativeName
				if sum.Issuer != "" {
					id += " (" + sum.Issuer + ")"
				}
				out = append(out, id)
			}
		}
	}
	return out
}
