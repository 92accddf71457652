package gitsign

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"

	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"google.golang.org/protobuf/proto"

	"sigil.dev/sigil/sign"
	"sigil.dev/sigil/timestamp"
	"sigil.dev/sigil/verify"
)

// Mode says where the transparency log entry of a signature goes
// (gitsign.rekorMode; sigstore/gitsign internal/git/git.go).
type Mode string

const (
	// Offline logs a hashedrekord over SHA-256 of the signed attributes
	// and embeds the entry (inclusion proof, SET, checkpoint) in the
	// signature, so verification needs no log access. sigil's default.
	Offline Mode = "offline"
	// Online logs a hashedrekord over SHA-256 of the hex ID of the
	// signed commit or tag, signed with the same key, and embeds nothing:
	// verification searches the log. gitsign's default; needs a Rekor v1
	// log with the search index.
	Online Mode = "online"
)

// ParseMode parses a mode name; "" is Offline.
func ParseMode(s string) (Mode, error) {
	switch Mode(strings.ToLower(strings.TrimSpace(s))) {
	case "", Offline:
		return Offline, nil
	case Online:
		return Online, nil
	}
	return "", fmt.Errorf("unknown log mode %q: use offline or online", s)
}

// Signer signs commits and tags keyless.
type Signer struct {
	// Signer is a keyless signer: its CA and Token get certificates, its
	// Logs and TSAs record the signatures, its TrustedRoot checks them.
	// Its Key and Chain are set per signature from the cache.
	Signer *sign.Signer
	// Mode chooses where the log entry goes; default Offline.
	Mode Mode
	// Cache, if set, keeps the ephemeral key and its certificate between
	// signatures, under CacheKey (what the credentials depend on: CA URL,
	// OIDC issuer and client ID).
	Cache    *Cache
	CacheKey string
	// Now is the clock for the signing time and the cache; default
	// time.Now.
	Now func() time.Time
	// Notice, if set, is told about problems that do not stop signing
	// (an unusable cache).
	Notice func(string)
}

// Signed is a signature and what it states.
type Signed struct {
	// PEM is the signature git stores: a "SIGNED MESSAGE" block.
	PEM         []byte
	Certificate *x509.Certificate
	Identity    string
	// LogEntries are the entries that record the signature.
	LogEntries []verify.VerifiedLogEntry
	// ObjectID is the ID of the commit or tag the signature makes (online
	// mode: what the log records).
	ObjectID string
	// Cached reports that the certificate came from the cache.
	Cached bool
}

func (s *Signer) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Signer) notice(format string, args ...any) {
	if s.Notice != nil {
		s.Notice(fmt.Sprintf(format, args...))
	}
}

// Sign signs payload, a commit or tag without signature as git hands it to
// its signing program, and returns the detached signature.
func (s *Signer) Sign(ctx context.Context, payload []byte) (*Signed, error) {
	if s.Signer == nil || s.Signer.TrustedRoot == nil {
		return nil, errors.New("couldn't sign: no signer or trusted root configured")
	}
	switch strings.ToLower(s.Signer.KeyAlgorithm) {
	case "", sign.AlgECDSAP256, "p256", "ecdsa":
	default:
		return nil, fmt.Errorf("couldn't sign: git signatures use ECDSA P-256 keys (as gitsign), not %s", s.Signer.KeyAlgorithm)
	}
	mode := s.Mode
	if mode == "" {
		mode = Offline
	}
	if len(s.Signer.Logs) == 0 {
		return nil, errors.New("couldn't sign: no transparency log configured; a ten-minute certificate is only good with the log's proof of when it signed")
	}
	if mode == Online {
		for _, l := range s.Signer.Logs {
			if _, ok := l.(*sign.RekorV1); !ok {
				return nil, fmt.Errorf("couldn't sign: online mode needs a Rekor v1 log with a search index, and %s is not one; use offline mode", l.URL())
			}
		}
	}

	key, chain, cached, err := s.credentials(ctx, false)
	if err != nil {
		return nil, err
	}
	out, err := s.sign(ctx, mode, key, chain, payload)
	if err != nil && cached && staleCertificate(err) {
		// The cached certificate no longer verifies (the trusted root
		// changed): drop it and sign once more with a fresh one.
		s.notice("the cached certificate no longer verifies (%v); getting a new one", err)
		if key, chain, _, err = s.credentials(ctx, true); err != nil {
			return nil, err
		}
		cached = false
		out, err = s.sign(ctx, mode, key, chain, payload)
	}
	if err != nil {
		return nil, err
	}
	out.Cached = cached
	return out, nil
}

// staleCertificate reports an error the verifier gives for a certificate
// the trusted root no longer accepts.
func staleCertificate(err error) bool {
	switch verify.CheckOf(err) {
	case verify.CheckCertificate, verify.CheckSCT, verify.CheckTrustedRoot:
		return true
	}
	return false
}

// credentials returns a key and its certificate chain: cached, or new from
// the CA (and then cached).
func (s *Signer) credentials(ctx context.Context, fresh bool) (crypto.Signer, []*x509.Certificate, bool, error) {
	if s.Cache != nil {
		if fresh {
			s.Cache.Delete(s.CacheKey)
		} else {
			k, chain, err := s.Cache.Load(s.CacheKey)
			switch {
			case err != nil:
				s.notice("not using the credential cache: %v", err)
			case k != nil:
				if _, ok := k.Public().(*ecdsa.PublicKey); ok {
					return k, chain, true, nil
				}
			}
		}
	}
	ca := *s.Signer
	ca.KeyAlgorithm = sign.AlgECDSAP256
	k, chain, err := ca.Certificate(ctx)
	if err != nil {
		return nil, nil, false, err
	}
	if s.Cache != nil {
		if err := s.Cache.Store(s.CacheKey, k, chain); err != nil {
			s.notice("couldn't cache the certificate: %v", err)
		}
	}
	return k, chain, false, nil
}

func (s *Signer) sign(ctx context.Context, mode Mode, key crypto.Signer, chain []*x509.Certificate, payload []byte) (*Signed, error) {
	if pub, ok := key.Public().(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
		return nil, errors.New("couldn't sign: the key is not ECDSA P-256")
	}
	attrs := SignedAttributes(payload, s.now())
	sig := &Signature{Certificates: chain[:1], SignedAttributes: attrs}
	out := &Signed{Certificate: chain[0], Identity: uidOf(chain[0])}
	ss := *s.Signer
	ss.Key, ss.Chain, ss.CA = key, chain, nil

	if mode == Offline {
		// The artifact is the signed attributes: the bundle's message
		// signature is the CMS signature, its log entry a hashedrekord
		// over SHA-256(signed attributes) (sigstore/gitsign
		// docs/bundle-cms.md).
		res, err := ss.SignBlob(ctx, bytes.NewReader(attrs))
		if err != nil {
			return nil, err
		}
		sig.Signature = res.Bundle.MessageSignature.Signature
		for _, e := range res.Bundle.TlogEntries {
			stored := cloneEntry(e)
			stored.CanonicalizedBody = nil // rebuilt on verification, as gitsign does
			raw, err := marshalEntry(stored)
			if err != nil {
				return nil, err
			}
			sig.LogEntries = append(sig.LogEntries, raw)
		}
		for _, ts := range res.Bundle.Timestamps {
			tok, err := timestamp.ParseResponse(ts)
			if err != nil {
				return nil, fmt.Errorf("couldn't read the timestamp: %w", err)
			}
			sig.Timestamps = append(sig.Timestamps, tok.Raw)
		}
		out.LogEntries = res.Verified.TlogEntries
		p, err := sig.MarshalPEM()
		if err != nil {
			return nil, err
		}
		// What is handed to git must verify as any verifier will see it.
		v := &Verifier{TrustedRoot: ss.TrustedRoot}
		if _, err := v.Verify(ctx, payload, p); err != nil {
			return nil, fmt.Errorf("the signature does not verify, so it was not written: %w", err)
		}
		out.PEM = p
		return out, nil
	}

	// Online: the CMS signature carries no log entry; the log records the
	// ID of the object this signature makes, signed with the same key.
	d := sha256.Sum256(attrs)
	var err error
	if sig.Signature, err = key.Sign(rand.Reader, d[:], crypto.SHA256); err != nil {
		return nil, fmt.Errorf("couldn't sign: %w", err)
	}
	for _, t := range ss.TSAs {
		resp, err := t.Timestamp(ctx, sig.Signature)
		if err != nil {
			return nil, err
		}
		tok, err := timestamp.ParseResponse(resp)
		if err != nil {
			return nil, fmt.Errorf("couldn't read the timestamp: %w", err)
		}
		sig.Timestamps = append(sig.Timestamps, tok.Raw)
	}
	p, err := sig.MarshalPEM()
	if err != nil {
		return nil, err
	}
	if back, err := Parse(p); err != nil || chain[0].CheckSignature(x509.ECDSAWithSHA256, back.SignedAttributes, back.Signature) != nil {
		return nil, fmt.Errorf("the signature does not verify, so it was not written: %v", err)
	}
	if out.ObjectID, err = ObjectID(payload, p); err != nil {
		return nil, err
	}
	ss.TSAs = nil // the log's integrated time dates the entry
	res, err := ss.SignBlob(ctx, strings.NewReader(out.ObjectID))
	if err != nil {
		return nil, err
	}
	out.LogEntries = res.Verified.TlogEntries
	out.PEM = p
	return out, nil
}

func cloneEntry(e *protorekor.TransparencyLogEntry) *protorekor.TransparencyLogEntry {
	return proto.Clone(e).(*protorekor.TransparencyLogEntry)
}

func marshalEntry(e *protorekor.TransparencyLogEntry) ([]byte, error) {
	raw, err := proto.MarshalOptions{Deterministic: true}.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("couldn't encode the log entry: %w", err)
	}
	return raw, nil
}
