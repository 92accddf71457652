package gitsign

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
	"google.golang.org/protobuf/proto"

	"sigil.dev/sigil/bundle"
	"sigil.dev/sigil/rekor"
	"sigil.dev/sigil/sign"
	"sigil.dev/sigil/trust"
	"sigil.dev/sigil/verify"
)

// Errors callers can branch on with errors.Is. Failures of the checks the
// verify package runs (log entry, inclusion proof, certificate chain at the
// log's time, SCT, identity) are *verify.Error values; see verify.CheckOf.
var (
	// ErrContentMismatch: the signature is over other content — the
	// commit or tag was changed after it was signed.
	ErrContentMismatch = errors.New("the signature does not match the content")
	// ErrNoLogEntry: no transparency log entry proves when the signature
	// was made: the signature embeds none and no configured log has one.
	ErrNoLogEntry = errors.New("no transparency log entry for the signature")
)

// Verifier verifies git x509 signatures made by sigil or by gitsign,
// offline from the log entry the signature embeds, or (for gitsign's online
// mode) from an entry found in a log. Verification uses the time the log
// (or a timestamp authority) vouches for, so it succeeds long after the
// ten-minute certificate has expired.
type Verifier struct {
	TrustedRoot *trust.TrustedRoot
	// Identities lists the accepted signers. Empty accepts any identity
	// the trusted CAs certified; Result.IdentityChecked then says so, and
	// git is told TRUST_UNDEFINED instead of TRUST_FULLY.
	Identities []verify.Identity
	// Options are the thresholds of the bundle verifier.
	Options verify.Options
	// Logs are searched (Rekor v1 index) for signatures that embed no log
	// entry. Without logs such signatures fail with ErrNoLogEntry.
	Logs []*sign.RekorV1
}

// Result describes a verified signature. Verify also returns a partial
// Result with an error once the signer's certificate is known, so that a
// BADSIG line can name it.
type Result struct {
	Certificate *x509.Certificate
	// Identity is the certificate's identity (subject alternative name),
	// Issuer its OIDC issuer.
	Identity, Issuer string
	// IdentityChecked reports whether an identity policy was applied.
	IdentityChecked bool
	// SigningTime is the time the signer claims (unauthenticated).
	SigningTime time.Time
	// Time is the earliest time a log or TSA vouches for.
	Time time.Time
	// Online reports a signature whose log entry was found by search;
	// ObjectID is then the commit or tag ID the entry records.
	Online   bool
	ObjectID string
	// Verified is the verify package's result for the log entry.
	Verified *verify.Result
}

var anyIdentity = verify.Identity{
	SubjectAlternativeName: verify.Matcher{Regexp: regexp.MustCompile(``)},
	Issuer:                 verify.Matcher{Regexp: regexp.MustCompile(``)},
}

// Verify verifies sig (PEM or DER) over payload, the commit or tag without
// its signature, as git hands them to its signing program.
func (v *Verifier) Verify(ctx context.Context, payload, sig []byte) (*Result, error) {
	if v.TrustedRoot == nil {
		return nil, errors.New("couldn't verify the signature: no trusted root")
	}
	s, err := Parse(sig)
	if err != nil {
		return nil, err
	}
	leaf, err := s.Signer()
	if err != nil {
		return nil, err
	}
	res := &Result{Certificate: leaf, Identity: uidOf(leaf), SigningTime: s.SigningTime}
	d := sha256.Sum256(payload)
	if !bytes.Equal(d[:], s.MessageDigest) {
		return res, fmt.Errorf("%w: the signed content's SHA-256 is %x, this content's is %x: it was changed after it was signed", ErrContentMismatch, s.MessageDigest, d[:])
	}
	if err := leaf.CheckSignature(s.SignatureAlgorithm, s.SignedAttributes, s.Signature); err != nil {
		return res, &verify.Error{Check: verify.CheckSignature, Err: fmt.Errorf("the signature does not verify with the certificate's key: %w", err)}
	}
	pol := verify.Policy{Identities: v.Identities}
	res.IdentityChecked = len(v.Identities) > 0
	if !res.IdentityChecked {
		pol.Identities = []verify.Identity{anyIdentity}
	}
	ver := verify.New(v.TrustedRoot, v.Options)

	if len(s.LogEntries) > 0 {
		b, err := s.Bundle(leaf)
		if err != nil {
			return res, err
		}
		a := sha256.Sum256(s.SignedAttributes)
		vr, err := ver.Verify(b, verify.Artifact{DigestAlgorithm: crypto.SHA256, Digest: a[:]}, pol)
		if err != nil {
			return res, err
		}
		return res.done(vr), nil
	}

	if len(v.Logs) == 0 {
		return res, fmt.Errorf("%w: the signature embeds none (gitsign's online mode?) and no log to search is configured", ErrNoLogEntry)
	}
	oid, err := ObjectID(payload, sig)
	if err != nil {
		return res, err
	}
	res.Online, res.ObjectID = true, oid
	vr, err := v.verifyOnline(ctx, ver, pol, leaf, oid)
	if err != nil {
		return res, err
	}
	return res.done(vr), nil
}

func (r *Result) done(vr *verify.Result) *Result {
	r.Verified = vr
	if c := vr.Signature.Certificate; c != nil {
		r.Identity, r.Issuer = c.SubjectAlternativeName, c.Issuer
	}
	for _, t := range vr.VerifiedTimestamps {
		if r.Time.IsZero() || t.Timestamp.Before(r.Time) {
			r.Time = t.Timestamp
		}
	}
	return r
}

// verifyOnline finds the hashedrekord entry gitsign's online mode wrote —
// SHA-256 of the object ID's hex text, signed by the same key, with the
// same certificate — and verifies it as a bundle.
func (v *Verifier) verifyOnline(ctx context.Context, ver *verify.Verifier, pol verify.Policy, leaf *x509.Certificate, oid string) (*verify.Result, error) {
	digest := sha256.Sum256([]byte(oid))
	tle, _, err := sign.FindHashedRekord(ctx, v.Logs, sign.Lookup{Hash: crypto.SHA256, Digest: digest[:], Certificate: leaf.Raw})
	if err != nil {
		if errors.Is(err, sign.ErrNoEntry) {
			// Why none was found: each log has none, or could not be
			// asked (a log that is down has not said it has none).
			why := strings.TrimPrefix(err.Error(), sign.ErrNoEntry.Error()+": ")
			return nil, fmt.Errorf("%w: the signature embeds none, and none was found for object %s signed with this certificate: %s", ErrNoLogEntry, oid, why)
		}
		return nil, fmt.Errorf("%w: the signature embeds none, and %v", ErrNoLogEntry, err)
	}
	sig, err := sign.SignatureOf(tle.GetCanonicalizedBody())
	if err != nil {
		return nil, err
	}
	b, err := bundle.New(leaf.Raw, nil, &bundle.MessageSignature{DigestAlgorithm: crypto.SHA256, Digest: digest[:], Signature: sig}, nil, []*protorekor.TransparencyLogEntry{tle}, nil)
	if err != nil {
		return nil, err
	}
	return ver.Verify(b, verify.Artifact{DigestAlgorithm: crypto.SHA256, Digest: digest[:]}, pol)
}

// Bundle maps the signature to the Sigstore bundle it amounts to, as
// gitsign does (sigstore/gitsign docs/bundle-cms.md): the message signature
// is the SignerInfo signature over SHA-256 of the signed attributes (the
// artifact), the log entries come from the unsigned attribute with their
// canonical bodies rebuilt, and the timestamp tokens become timestamp
// responses. leaf is the signer's certificate (Signer).
func (s *Signature) Bundle(leaf *x509.Certificate) (*bundle.Bundle, error) {
	a := sha256.Sum256(s.SignedAttributes)
	var entries []*protorekor.TransparencyLogEntry
	for i, raw := range s.LogEntries {
		tle := &protorekor.TransparencyLogEntry{}
		if err := proto.Unmarshal(raw, tle); err != nil {
			return nil, fmt.Errorf("%w: couldn't decode log entry %d: %v", ErrMalformed, i, err)
		}
		body, err := canonicalBody(tle.GetKindVersion(), a[:], s.Signature, leaf)
		if err != nil {
			return nil, fmt.Errorf("%w: log entry %d: %v", ErrMalformed, i, err)
		}
		tle.CanonicalizedBody = body
		entries = append(entries, tle)
	}
	var stamps [][]byte
	for _, t := range s.Timestamps {
		stamps = append(stamps, tokenResponse(t))
	}
	b, err := bundle.New(leaf.Raw, nil, &bundle.MessageSignature{DigestAlgorithm: crypto.SHA256, Digest: a[:], Signature: s.Signature}, nil, entries, stamps)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return b, nil
}

// canonicalBody rebuilds the body of a hashedrekord entry over digest,
// which gitsign clears before embedding (sigstore/gitsign
// internal/rekor/oid/oid.go ToAttributes).
func canonicalBody(kv *protorekor.KindVersion, digest, sig []byte, leaf *x509.Certificate) ([]byte, error) {
	if kv.GetKind() != rekor.KindHashedRekord {
		return nil, fmt.Errorf("kind %q, want %s", kv.GetKind(), rekor.KindHashedRekord)
	}
	switch kv.GetVersion() {
	case "0.0.1":
		return rekor.HashedRekordV001(crypto.SHA256, digest, sig, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw})), nil
	case "0.0.2":
		details, _, err := rekor.KeyDetails(leaf.PublicKey)
		if err != nil {
			return nil, err
		}
		return rekor.HashedRekordV002(crypto.SHA256, digest, sig, rekor.V2Verifier{KeyDetails: details, Certificate: leaf.Raw}), nil
	}
	return nil, fmt.Errorf("hashedrekord version %q, want 0.0.1 or 0.0.2", kv.GetVersion())
}

// tokenResponse wraps a TimeStampToken in a granted TimeStampResp (RFC 3161
// §2.4.2), the form bundles carry.
func tokenResponse(tok []byte) []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1Int64(0) })
		b.AddBytes(tok)
	})
	return b.BytesOrPanic()
}
