// Package verify decides, offline, whether a Sigstore bundle proves that an
// accepted identity (or key) signed an artifact at a time a transparency log
// or timestamp authority vouches for.
//
// The order of checks follows sigstore-go pkg/verify (signed_entity.go):
//
//  1. The policy must fit the bundle: a certificate needs an identity
//     policy, a key-signed bundle needs the key. There is no default: the
//     verifier refuses to run without one.
//  2. Transparency-log entries: each entry's body must match the bundle
//     (Rekor v1: signature, key, digest or payload hash; Rekor v2: the leaf
//     is rebuilt from the bundle), its inclusion proof must lead to a
//     checkpoint signed by a log in the trusted root, and its SET, if any,
//     must verify. Entries of unknown logs, and entries whose SET fails, do
//     not count; a threshold of distinct logs must verify.
//  3. Timestamps: RFC 3161 tokens over the signature from trusted TSAs, and
//     the integrated times of entries with a verified SET. Thresholds
//     decide how many are needed.
//  4. The certificate must chain, at every verified time, to a CA of the
//     trusted root valid at that time, using only the trusted root's
//     certificates; its embedded SCTs must verify against trusted CT logs.
//  5. The signature must verify over the artifact (or digest, or DSSE
//     PAE), and the artifact must match the stated digest or in-toto
//     subjects.
//  6. The certificate identity must match the policy.
//
// Every failure is an *Error naming the check and the reason.
package verify

import (
	"crypto"
	"crypto/x509"
	"time"

	"sigil.dev/sigil/bundle"
	"sigil.dev/sigil/cert"
	"sigil.dev/sigil/intoto"
	"sigil.dev/sigil/trust"
)

// Thresholds of a verifier. A zero field takes its default; Off disables a
// requirement.
type Options struct {
	// TlogThreshold is how many distinct transparency logs must hold a
	// verified entry; logs the trusted root gives one operator count once.
	// Default 1, also when the trusted root lists no logs
	// (then nothing verifies: fail closed, as cosign does; sigstore-go's
	// conformance client instead requires a log only when the root lists
	// one, and sigil-conformance does the same by passing Off).
	TlogThreshold int
	// SCTThreshold is how many distinct CT logs must have a verified SCT
	// embedded in the certificate. Default 1; not applied to keys.
	SCTThreshold int
	// SignedTimestampThreshold is how many RFC 3161 timestamps from
	// distinct TSAs must verify; trusted-root entries with one URI or one
	// operator are one TSA. Default: 1 when the bundle carries
	// timestamps and the trusted root lists TSAs (what sigstore-go's
	// conformance client does), else none.
	SignedTimestampThreshold int
	// IntegratedTimestampThreshold is how many log integrated times
	// (verified SETs) are needed. Default none.
	IntegratedTimestampThreshold int
	// ObserverTimestampThreshold is how many verified times of either kind
	// are needed. Default 1. Off still leaves a certificate needing one:
	// its chain is checked at the verified times.
	ObserverTimestampThreshold int
	// UseCurrentTime verifies at the current time when the bundle proves
	// none (for key-signed bundles that were not logged). It never applies
	// to certificates, which live ten minutes.
	UseCurrentTime bool
	// Now returns the current time. Default time.Now.
	Now func() time.Time
}

// Off disables a threshold.
const Off = -1

// Verifier verifies bundles against one trusted root. It is safe for
// concurrent use.
type Verifier struct {
	root *trust.TrustedRoot
	opts Options
	cas  []*caChain
}

// New returns a verifier for a trusted root.
func New(root *trust.TrustedRoot, opts Options) *Verifier {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	v := &Verifier{root: root, opts: opts}
	for _, ca := range root.CAs {
		v.cas = append(v.cas, newCAChain(ca))
	}
	return v
}

// Policy says who must have signed and what.
type Policy struct {
	// Identities lists accepted certificate identities; any may match.
	Identities []Identity
	// Key is the public key of a key-signed bundle.
	Key crypto.PublicKey
	// PredicateType, if set, is the in-toto predicate type a DSSE bundle
	// must carry.
	PredicateType string
}

// Artifact is what was signed: the content, or its digest.
type Artifact struct {
	// Open returns the artifact's content; it may be called more than
	// once. Nil when only a digest is known.
	Open func() (ReadCloser, error)
	// DigestAlgorithm and Digest name the artifact by digest instead
	// (for DSSE bundles: an in-toto subject digest).
	DigestAlgorithm crypto.Hash
	Digest          []byte
	// None skips the artifact check of a DSSE bundle: the envelope
	// signature and statement are still verified.
	None bool
}

// ReadCloser is an io.ReadCloser.
type ReadCloser interface {
	Read(p []byte) (int, error)
	Close() error
}

// Result describes a successful verification. Its JSON form follows
// sigstore-go's VerificationResult.
type Result struct {
	MediaType          string             `json:"mediaType"`
	Statement          *intoto.Statement  `json:"statement,omitempty"`
	Signature          SignatureSummary   `json:"signature"`
	VerifiedTimestamps []VerifiedTime     `json:"verifiedTimestamps"`
	VerifiedIdentity   *IdentitySummary   `json:"verifiedIdentity,omitempty"`
	TlogEntries        []VerifiedLogEntry `json:"tlogEntries,omitempty"`
}

// ResultMediaType is the media type of a Result.
const ResultMediaType = "application/vnd.dev.sigstore.verificationresult+json;version=0.1"

// SignatureSummary names what signed: a certificate or a key.
type SignatureSummary struct {
	Certificate *cert.Summary `json:"certificate,omitempty"`
	PublicKeyID string        `json:"publicKeyId,omitempty"` // hex SHA-256 of the DER key
}

// VerifiedTime is a time a log or TSA vouched for.
type VerifiedTime struct {
	Type      string    `json:"type"` // "Tlog", "TimestampAuthority" or "CurrentTime"
	URI       string    `json:"uri,omitempty"`
	Timestamp time.Time `json:"timestamp"`
}

// VerifiedLogEntry is a log entry that verified.
type VerifiedLogEntry struct {
	LogURL         string `json:"logUrl"`
	LogIndex       int64  `json:"logIndex"`
	Kind           string `json:"kind"`
	Version        string `json:"version"`
	IntegratedTime int64  `json:"integratedTime,omitempty"`
	Checkpoint     bool   `json:"inclusionProof"`
	SET            bool   `json:"inclusionPromise"`

	// log is the trusted root's instance that verified the entry.
	log *trust.Log
}

// IdentitySummary is the identity policy that matched (as sigstore-go's
// verifiedIdentity, the policy rather than the certificate's values, which
// Signature.Certificate holds).
type IdentitySummary struct {
	SubjectAlternativeName MatcherSummary `json:"subjectAlternativeName"`
	Issuer                 MatcherSummary `json:"issuer"`
}

// MatcherSummary is a Matcher as plain strings.
type MatcherSummary struct {
	Exact  string `json:"exact,omitempty"`
	Regexp string `json:"regexp,omitempty"`
}

func summarizeMatcher(m Matcher) MatcherSummary {
	s := MatcherSummary{Exact: m.Exact}
	if m.Regexp != nil {
		s.Regexp = m.Regexp.String()
	}
	return s
}

// Verify verifies a bundle against an artifact and a policy.
func (v *Verifier) Verify(b *bundle.Bundle, art Artifact, p Policy) (*Result, error) {
	r := &Result{MediaType: ResultMediaType}

	// 1. The policy must fit the bundle.
	var key crypto.PublicKey
	switch {
	case b.Certificate != nil:
		if p.Key != nil {
			return nil, fail(CheckPolicy, "the bundle is signed with a certificate, but a key was given; verify with an identity policy instead")
		}
		if len(p.Identities) == 0 {
			return nil, fail(CheckPolicy, "no identity policy: give --certificate-identity and --certificate-oidc-issuer (or their -regexp forms)")
		}
		for _, id := range p.Identities {
			if err := id.Validate(); err != nil {
				return nil, &Error{Check: CheckPolicy, Err: err}
			}
		}
		key = b.Certificate.PublicKey
		if err := v.checkBundleChain(b.Chain); err != nil {
			return nil, err
		}
	case b.PublicKey != nil:
		if p.Key == nil {
			return nil, fail(CheckPolicy, "the bundle is signed with a key, but no key was given; verify with --key")
		}
		key = p.Key
		r.Signature.PublicKeyID = keyID(p.Key)
	default:
		return nil, fail(CheckPolicy, "the bundle has no verification material")
	}

	// The signature over the artifact is checked first: it is cheap to
	// fail and a wrong artifact is the commonest user error.
	stmt, err := v.verifySignature(b, key, art, p)
	if err != nil {
		return nil, err
	}
	r.Statement = stmt

	// 2. Transparency-log entries.
	integrated, entries, err := v.verifyTlog(b, key)
	if err != nil {
		return nil, err
	}
	r.TlogEntries = entries

	// 3. Timestamps.
	times, err := v.verifyTimes(b, integrated)
	if err != nil {
		return nil, err
	}
	r.VerifiedTimestamps = times
	if err := checkLogKeysAt(entries, times); err != nil {
		return nil, err
	}

	// 4. Certificate chain at every verified time, and SCTs.
	if b.Certificate != nil {
		summary, err := v.verifyCertificate(b.Certificate, times)
		if err != nil {
			return nil, err
		}
		r.Signature.Certificate = summary
		// 6. Identity.
		id, err := matchIdentities(p.Identities, summary)
		if err != nil {
			return nil, err
		}
		r.VerifiedIdentity = &IdentitySummary{SubjectAlternativeName: summarizeMatcher(id.SubjectAlternativeName), Issuer: summarizeMatcher(id.Issuer)}
	}
	return r, nil
}

func (v *Verifier) threshold(value, def int) int {
	switch {
	case value < 0:
		return 0
	case value == 0:
		return def
	}
	return value
}

// checkLogKeysAt requires the key of each log whose entry is proven only by
// an inclusion proof (every Rekor v2 entry) to be valid at every verified
// time: a log key the trusted root ended, or has not started yet, must not
// vouch for a signature made outside its window. An entry with a SET was
// already held to the window at its integrated time (verifySET).
func checkLogKeysAt(entries []VerifiedLogEntry, times []VerifiedTime) error {
	for _, e := range entries {
		if e.SET || e.log == nil {
			continue
		}
		for _, t := range times {
			if !e.log.Valid.Contains(t.Timestamp) {
				return fail(CheckTlog, "entry %d of %s: the log's key is valid %s in the trusted root, not at the verified time %s (%s)",
					e.LogIndex, e.LogURL, e.log.Valid, t.Timestamp.UTC().Format(time.RFC3339), t.Type)
			}
		}
	}
	return nil
}

// certValidAt reports whether the leaf is within its validity at t.
func certValidAt(c *x509.Certificate, t time.Time) bool {
	return !t.Before(c.NotBefore) && !t.After(c.NotAfter)
}
