package oci

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"sigil.dev/sigil/intoto"
	"sigil.dev/sigil/rekor"
	"sigil.dev/sigil/sign"
	"sigil.dev/sigil/verify"
)

// Format is the storage scheme signatures are written in.
type Format string

const (
	// FormatReferrers writes a bundle v0.3 referrer (cosign v3's default).
	FormatReferrers Format = "referrers"
	// FormatLegacy writes a layer of the sha256-<hex>.sig/.att tag
	// (cosign v2's format, read by v2 and v3).
	FormatLegacy Format = "legacy"
	// FormatBoth writes both, for verifiers of either generation.
	FormatBoth Format = "both"
)

// ParseFormat parses a --format value.
func ParseFormat(s string) (Format, error) {
	switch f := Format(s); f {
	case FormatReferrers, FormatLegacy, FormatBoth:
		return f, nil
	}
	return "", fmt.Errorf("unknown format %q: use referrers, legacy or both", s)
}

// Signer signs images and attests to them, writing to the registry.
type Signer struct {
	Client *Client
	// Signer makes and logs the signatures; it verifies every bundle
	// before returning it.
	Signer *sign.Signer
	Format Format
	// Annotations are extra signed claims: the simple-signing payload's
	// "optional" map (legacy), or the in-toto subject's annotations
	// (referrers). Verifiers may require them (-a).
	Annotations map[string]string
	// Now is the clock for the created annotation. Default time.Now.
	Now func() time.Time
}

// Written is one signature or attestation stored in the registry.
type Written struct {
	Image    name.Digest
	Scheme   Scheme
	Location string // the legacy tag, or the referrer manifest
	Result   *sign.Result
}

func (s *Signer) formats() ([]Scheme, error) {
	switch s.Format {
	case FormatReferrers, "":
		return []Scheme{SchemeReferrers}, nil
	case FormatLegacy:
		return []Scheme{SchemeTag}, nil
	case FormatBoth:
		return []Scheme{SchemeTag, SchemeReferrers}, nil
	}
	return nil, fmt.Errorf("unknown format %q", s.Format)
}

func (s *Signer) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Sign signs the manifest d names (an image or an index) in each format
// and stores the signatures.
func (s *Signer) Sign(ctx context.Context, d name.Digest) ([]Written, error) {
	schemes, err := s.formats()
	if err != nil {
		return nil, err
	}
	// Nothing is signed, logged or written for a manifest the registry
	// does not have (a mistyped digest).
	desc, err := s.Client.Describe(ctx, d)
	if err != nil {
		return nil, err
	}
	var out []Written
	for _, sc := range schemes {
		var w Written
		if sc == SchemeTag {
			w, err = s.signLegacy(ctx, d)
		} else {
			w, err = s.signReferrer(ctx, d, desc, SignPredicateType, nil)
		}
		if err != nil {
			return out, err
		}
		out = append(out, w)
	}
	return out, nil
}

// Attest signs an in-toto statement about the manifest d names, with the
// given predicate, and stores it in each format.
func (s *Signer) Attest(ctx context.Context, d name.Digest, predicateType string, predicate json.RawMessage) ([]Written, error) {
	if predicateType == "" {
		return nil, errors.New("no predicate type")
	}
	if !json.Valid(predicate) {
		return nil, errors.New("the predicate is not JSON")
	}
	schemes, err := s.formats()
	if err != nil {
		return nil, err
	}
	desc, err := s.Client.Describe(ctx, d)
	if err != nil {
		return nil, err
	}
	var out []Written
	for _, sc := range schemes {
		var w Written
		if sc == SchemeTag {
			w, err = s.attestLegacy(ctx, d, predicateType, predicate)
		} else {
			w, err = s.signReferrer(ctx, d, desc, predicateType, predicate)
		}
		if err != nil {
			return out, err
		}
		out = append(out, w)
	}
	return out, nil
}

// statement is an in-toto Statement v1 with subject annotations, which
// intoto.Statement does not model.
type statement struct {
	Type          string          `json:"_type"`
	Subject       []subject       `json:"subject"`
	PredicateType string          `json:"predicateType"`
	Predicate     json.RawMessage `json:"predicate"`
}

type subject struct {
	Name        string            `json:"name,omitempty"`
	Digest      map[string]string `json:"digest"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Statement returns the in-toto Statement v1 sigil signs for an image:
// for cosign's sign predicate the subject is the digest alone with the
// annotations and the predicate {} (sigstore/cosign
// cmd/cosign/cli/sign/sign.go signDigestBundle); for attestations the
// subject is also named by the repository, as cosign attest names it.
func Statement(d name.Digest, predicateType string, predicate json.RawMessage, annotations map[string]string) ([]byte, error) {
	alg, hx, _ := strings.Cut(d.DigestStr(), ":")
	sub := subject{Digest: map[string]string{alg: hx}, Annotations: annotations}
	if predicateType != SignPredicateType {
		sub.Name = d.Context().Name()
	}
	if predicate == nil {
		predicate = json.RawMessage("{}")
	}
	return json.Marshal(statement{Type: intoto.StatementV1, Subject: []subject{sub}, PredicateType: predicateType, Predicate: predicate})
}

func (s *Signer) signReferrer(ctx context.Context, d name.Digest, desc v1.Descriptor, predicateType string, predicate json.RawMessage) (Written, error) {
	w := Written{Image: d, Scheme: SchemeReferrers}
	ann := s.Annotations
	if predicateType != SignPredicateType {
		ann = nil // cosign attest puts no annotations on the subject
	}
	st, err := Statement(d, predicateType, predicate, ann)
	if err != nil {
		return w, err
	}
	res, err := s.Signer.SignDSSE(ctx, intoto.PayloadType, st)
	if err != nil {
		return w, err
	}
	w.Result = res
	raw, err := res.Bundle.Marshal()
	if err != nil {
		return w, err
	}
	ref, err := s.Client.WriteReferrer(ctx, d, desc, raw, "dsse-envelope", predicateType, s.now())
	w.Location = ref.String()
	return w, err
}

func (s *Signer) signLegacy(ctx context.Context, d name.Digest) (Written, error) {
	w := Written{Image: d, Scheme: SchemeTag}
	payload, err := NewSimpleSigning(d.Context().Name(), d.DigestStr(), s.Annotations).Marshal()
	if err != nil {
		return w, err
	}
	res, err := s.Signer.SignBlob(ctx, strings.NewReader(string(payload)))
	if err != nil {
		return w, err
	}
	w.Result = res
	var stamp []byte
	if len(res.Bundle.Timestamps) > 0 {
		stamp = res.Bundle.Timestamps[0]
	}
	l, err := s.legacyLayer(res, MediaTypeSimpleSigning, payload, stamp)
	if err != nil {
		return w, err
	}
	tag, err := s.Client.AppendLegacy(ctx, d, KindSignature, l)
	w.Location = tag.String()
	return w, err
}

func (s *Signer) attestLegacy(ctx context.Context, d name.Digest, predicateType string, predicate json.RawMessage) (Written, error) {
	w := Written{Image: d, Scheme: SchemeTag}
	st, err := Statement(d, predicateType, predicate, nil)
	if err != nil {
		return w, err
	}
	res, err := s.Signer.SignDSSE(ctx, intoto.PayloadType, st)
	if err != nil {
		return w, err
	}
	w.Result = res
	// The layer is the envelope exactly as the log recorded it: cosign v2
	// checks the dsse entry's envelope hash against the layer.
	env, err := json.Marshal(res.Bundle.Envelope)
	if err != nil {
		return w, err
	}
	for _, e := range res.Bundle.TlogEntries {
		if e.GetKindVersion().GetKind() != rekor.KindDSSE {
			continue
		}
		body, err := rekor.ParseV1Body(e.GetCanonicalizedBody())
		if err != nil {
			return w, fmt.Errorf("couldn't read the log entry: %w", err)
		}
		sum := sha256.Sum256(env)
		if body.EnvelopeHash.Algorithm != "sha256" || hex.EncodeToString(body.EnvelopeHash.Value) != hex.EncodeToString(sum[:]) {
			return w, errors.New("couldn't reproduce the envelope the log recorded, so the legacy attestation would not verify; use --format referrers")
		}
	}
	// cosign stamps the whole envelope of a legacy attestation.
	var stamp []byte
	if len(s.Signer.TSAs) > 0 {
		if stamp, err = s.Signer.TSAs[0].Timestamp(ctx, env); err != nil {
			return w, fmt.Errorf("couldn't timestamp the attestation: %w", err)
		}
	}
	l, err := s.legacyLayer(res, MediaTypeDSSE, env, stamp)
	if err != nil {
		return w, err
	}
	l.Annotations[AnnotationPredicateType] = predicateType
	tag, err := s.Client.AppendLegacy(ctx, d, KindAttestation, l)
	w.Location = tag.String()
	return w, err
}

// legacyLayer makes the layer for a signed bundle and checks that it
// verifies as a reader will see it, so nothing unverifiable is written.
func (s *Signer) legacyLayer(res *sign.Result, mt string, payload, stamp []byte) (*LegacyLayer, error) {
	ann, err := legacyAnnotations(res.Bundle, s.Signer.TrustedRoot, stamp)
	if err != nil {
		return nil, err
	}
	l := &LegacyLayer{MediaType: mt, Payload: payload, Annotations: ann}
	b, err := l.Bundle()
	if err != nil {
		return nil, fmt.Errorf("couldn't read back the legacy layer: %w", err)
	}
	opts := verify.Options{}
	if len(s.Signer.Logs) == 0 {
		opts.TlogThreshold = verify.Off
		opts.UseCurrentTime = res.Certificate == nil
	}
	pol := verify.Policy{}
	if res.Identity != nil {
		pol.Identities = []verify.Identity{{SubjectAlternativeName: verify.Matcher{Exact: res.Identity.SubjectAlternativeName}, Issuer: verify.Matcher{Exact: res.Identity.Issuer}}}
	} else {
		pol.Key = s.Signer.Key.Public()
	}
	art := verify.Artifact{None: true}
	if b.MessageSignature != nil {
		art = verify.Artifact{Open: openBytes(payload)}
	}
	if _, err := verify.New(s.Signer.TrustedRoot, opts).Verify(b, art, pol); err != nil {
		return nil, fmt.Errorf("the legacy signature layer does not verify, so it was not written: %w", err)
	}
	return l, nil
}
