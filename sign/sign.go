package sign

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"

	"sigil.dev/sigil/bundle"
	"sigil.dev/sigil/cert"
	"sigil.dev/sigil/dsse"
	"sigil.dev/sigil/rekor"
	"sigil.dev/sigil/trust"
	"sigil.dev/sigil/verify"
)

// Signer signs artifacts and statements into bundles.
//
// Keyless: set CA and Token; an ephemeral key (KeyAlgorithm) gets a
// short-lived certificate. Keyless with a certificate obtained earlier
// (a credential cache, see Certificate): set Key and Chain; the CA is not
// asked. Key-based: set Key and leave CA and Chain nil; the bundle names the
// key by a hint. Logs and TSAs are the services the signing config
// selected; a Rekor v2 log needs a timestamp, so Sign refuses v2 logs
// without a TSA.
type Signer struct {
	Key          crypto.Signer
	KeyAlgorithm string
	// Chain, with Key, is a certificate chain (leaf first) the CA issued
	// earlier for Key. The leaf MUST certify Key and not have expired.
	Chain []*x509.Certificate
	CA    *CAClient
	Token func(ctx context.Context) (string, error)
	Logs  []LogClient
	TSAs  []*TSAClient
	// TrustedRoot verifies the bundle before it is returned. Required
	// unless LoadTrustedRoot is set: nothing unverifiable is handed out.
	TrustedRoot *trust.TrustedRoot
	// LoadTrustedRoot, when TrustedRoot is nil, returns the trusted root.
	// SignBlob and SignDSSE call it once, in the background from their
	// start, so that parsing the trusted root overlaps hashing and the
	// service calls; its error fails them before a bundle is returned.
	LoadTrustedRoot func() (*trust.TrustedRoot, error)
	// Retry bounds the retries of each service call on transient errors
	// (network, 5xx, 429): at most Attempts tries within Timeout.
	Retry Retry
	// Progress, if set, is told each step ("certificate", "log", …).
	Progress func(step, detail string)
}

// Retry is a retry policy.
type Retry struct {
	Attempts int           // default 4
	Timeout  time.Duration // default 60s per service call
	// MoreTime says how to allow more time, at the end of the error of a
	// service that kept failing (default "allow more time with --timeout").
	MoreTime string
}

// Result is a signed bundle and what it states.
type Result struct {
	Bundle *bundle.Bundle
	// JSON is Bundle's encoding (bundle.Marshal), made while the bundle
	// was verified.
	JSON        []byte
	Certificate *x509.Certificate // nil when key-signed
	Identity    *cert.Summary     // nil when key-signed
	Verified    *verify.Result
}

// SignBlob hashes r with the key's hash and signs the digest.
func (s *Signer) SignBlob(ctx context.Context, r io.Reader) (*Result, error) {
	tr, err := s.trustedRoot()
	if err != nil {
		return nil, err
	}
	key, err := s.key()
	if err != nil {
		return nil, err
	}
	_, h, err := rekor.KeyDetails(key.Public())
	if err != nil {
		return nil, err
	}
	d, err := hashReader(h, r)
	if err != nil {
		return nil, err
	}
	return s.sign(ctx, key, &content{hash: h, digest: d}, tr)
}

// SignDSSE signs a DSSE envelope over payload (an in-toto statement when
// payloadType is application/vnd.in-toto+json).
func (s *Signer) SignDSSE(ctx context.Context, payloadType string, payload []byte) (*Result, error) {
	tr, err := s.trustedRoot()
	if err != nil {
		return nil, err
	}
	key, err := s.key()
	if err != nil {
		return nil, err
	}
	return s.sign(ctx, key, &content{env: &dsse.Envelope{PayloadType: payloadType, Payload: payload}}, tr)
}

// trustedRoot returns a function that returns the trusted root: the one
// given, or the result of LoadTrustedRoot, called now in the background.
func (s *Signer) trustedRoot() (func() (*trust.TrustedRoot, error), error) {
	if s.TrustedRoot != nil {
		tr := s.TrustedRoot
		return func() (*trust.TrustedRoot, error) { return tr, nil }, nil
	}
	if s.LoadTrustedRoot == nil {
		return nil, errors.New("no trusted root to check the bundle against")
	}
	var tr *trust.TrustedRoot
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		tr, err = s.LoadTrustedRoot()
	}()
	return func() (*trust.TrustedRoot, error) {
		<-done
		return tr, err
	}, nil
}

type content struct {
	hash   crypto.Hash
	digest []byte
	env    *dsse.Envelope
}

func (s *Signer) key() (crypto.Signer, error) {
	if s.Key != nil {
		return s.Key, nil
	}
	if len(s.Chain) > 0 {
		return nil, errors.New("a certificate chain was given without its key")
	}
	if s.CA == nil {
		return nil, errors.New("no signing key and no CA: pass --key, or sign keyless with a CA from the signing config")
	}
	return NewKey(s.KeyAlgorithm)
}

// Certificate makes an ephemeral key (KeyAlgorithm) and gets its
// certificate chain (leaf first) from the CA, proving possession of the key
// for the identity of a token from Token. Callers that sign several times
// in a few minutes (git commits) keep both and set Key and Chain, so the
// CA and the identity provider are asked once.
func (s *Signer) Certificate(ctx context.Context) (crypto.Signer, []*x509.Certificate, error) {
	if s.CA == nil {
		return nil, nil, errors.New("no CA to get a certificate from")
	}
	key, err := NewKey(s.KeyAlgorithm)
	if err != nil {
		return nil, nil, err
	}
	chain, err := s.certify(ctx, key)
	if err != nil {
		return nil, nil, err
	}
	return key, chain, nil
}

// certify asks the CA for a certificate for key.
func (s *Signer) certify(ctx context.Context, key crypto.Signer) ([]*x509.Certificate, error) {
	if s.Token == nil {
		return nil, errors.New("keyless signing needs an identity token")
	}
	tok, err := s.Token(ctx)
	if err != nil {
		return nil, err
	}
	subject, err := TokenSubject(tok)
	if err != nil {
		return nil, err
	}
	s.progress("certificate", s.CA.URL)
	var chain []*x509.Certificate
	err = s.retry(ctx, func(ctx context.Context) error {
		var err error
		chain, err = s.CA.SigningCert(ctx, tok, key, subject)
		return err
	})
	if err != nil {
		return nil, err
	}
	if !samePublicKey(chain[0].PublicKey, key.Public()) {
		return nil, errors.New("the CA issued a certificate for another key")
	}
	return chain, nil
}

func (s *Signer) progress(step, detail string) {
	if s.Progress != nil {
		s.Progress(step, detail)
	}
}

func (s *Signer) sign(ctx context.Context, key crypto.Signer, c *content, trustedRoot func() (*trust.TrustedRoot, error)) (*Result, error) {
	for _, l := range s.Logs {
		if _, v2 := l.(*RekorV2); v2 && len(s.TSAs) == 0 {
			return nil, fmt.Errorf("the Rekor v2 log %s gives no signed time: a timestamp authority is required (add one to the signing config or pass --timestamp-server-url, or sign into a Rekor v1 log with --rekor-url)", l.URL())
		}
	}
	res := &Result{}
	switch {
	case len(s.Chain) > 0:
		leaf := s.Chain[0]
		if !samePublicKey(leaf.PublicKey, key.Public()) {
			return nil, errors.New("the given certificate does not certify the given key")
		}
		// Only an expired certificate is refused here: one valid from a
		// time still to come by this clock comes from a CA whose clock is
		// ahead (it dates certificates from its own now). The bundle is
		// verified at the log's (or TSA's) time before it is returned.
		if now := time.Now(); now.After(leaf.NotAfter) {
			return nil, fmt.Errorf("the given certificate is valid from %s to %s, not now: get a new one", leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotAfter.UTC().Format(time.RFC3339))
		}
		res.Certificate = leaf
	case s.CA != nil:
		chain, err := s.certify(ctx, key)
		if err != nil {
			return nil, err
		}
		res.Certificate = chain[0]
	}

	entry := &Entry{Key: key.Public()}
	if res.Certificate != nil {
		entry.Certificate = res.Certificate.Raw
	} else {
		der, err := x509.MarshalPKIXPublicKey(key.Public())
		if err != nil {
			return nil, err
		}
		entry.PublicKey = der
	}
	var msg *bundle.MessageSignature
	if c.env == nil {
		sig, err := signDigest(key, c.hash, c.digest)
		if err != nil {
			return nil, fmt.Errorf("couldn't sign: %w", err)
		}
		msg = &bundle.MessageSignature{DigestAlgorithm: c.hash, Digest: c.digest, Signature: sig}
		entry.Signature, entry.DigestAlgorithm, entry.Digest = sig, c.hash, c.digest
	} else {
		pae := c.env.PAE()
		sig, err := signMessage(key, pae)
		if err != nil {
			return nil, fmt.Errorf("couldn't sign: %w", err)
		}
		c.env.Signatures = []dsse.Signature{{Sig: sig}}
		envJSON, err := json.Marshal(c.env)
		if err != nil {
			return nil, err
		}
		_, h, err := rekor.KeyDetails(key.Public())
		if err != nil {
			return nil, err
		}
		hh := h.New()
		hh.Write(pae)
		entry.Signature, entry.EnvelopeJSON, entry.Payload, entry.PAEDigest = sig, envJSON, c.env.Payload, hh.Sum(nil)
	}

	// The logs and the timestamp authorities need only the signature:
	// ask them all at once.
	entries := make([]*protorekor.TransparencyLogEntry, len(s.Logs))
	stamps := make([][]byte, len(s.TSAs))
	errs := make([]error, len(s.Logs)+len(s.TSAs))
	var wg sync.WaitGroup
	for i, l := range s.Logs {
		s.progress("log", l.URL())
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.retry(ctx, func(ctx context.Context) error {
				var err error
				entries[i], err = l.Upload(ctx, entry)
				return err
			})
			var dup *DuplicateError
			if r2, ok := l.(*RekorV2); ok && errors.As(errs[i], &dup) && dup.Index >= 0 {
				// Logged before (a deterministic signature): use that entry.
				tr, err := trustedRoot()
				if err != nil {
					errs[i] = err
					return
				}
				entries[i], errs[i] = r2.Existing(ctx, dup, tr)
			}
		}()
	}
	for i, t := range s.TSAs {
		s.progress("timestamp", t.URL)
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[len(s.Logs)+i] = s.retry(ctx, func(ctx context.Context) error {
				var err error
				stamps[i], err = t.Timestamp(ctx, entry.Signature)
				return err
			})
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}

	var certDER []byte
	var hint *string
	if res.Certificate != nil {
		certDER = res.Certificate.Raw
	} else {
		h := keyHint(key.Public())
		hint = &h
	}
	b, err := bundle.New(certDER, hint, msg, c.env, entries, stamps)
	if err != nil {
		return nil, fmt.Errorf("couldn't assemble the bundle: %w", err)
	}
	res.Bundle = b

	// Check everything before handing the bundle out.
	s.progress("verify", "")
	opts := verify.Options{}
	if len(s.Logs) == 0 {
		opts.TlogThreshold = verify.Off
		opts.UseCurrentTime = res.Certificate == nil
	}
	pol := verify.Policy{}
	art := verify.Artifact{None: true}
	if msg != nil {
		art = verify.Artifact{DigestAlgorithm: msg.DigestAlgorithm, Digest: msg.Digest}
	}
	if res.Certificate != nil {
		sum, err := cert.Summarize(res.Certificate)
		if err != nil {
			return nil, fmt.Errorf("couldn't read the issued certificate: %w", err)
		}
		res.Identity = &sum
		pol.Identities = []verify.Identity{{SubjectAlternativeName: verify.Matcher{Exact: sum.SubjectAlternativeName}, Issuer: verify.Matcher{Exact: sum.Issuer}}}
	} else {
		pol.Key = key.Public()
	}
	tr, err := trustedRoot()
	if err != nil {
		return nil, err
	}
	// Encode the bundle while it is verified; hand it out only verified.
	var merr error
	encoded := make(chan struct{})
	go func() {
		defer close(encoded)
		res.JSON, merr = b.Marshal()
	}()
	vr, err := verify.New(tr, opts).Verify(b, art, pol)
	<-encoded
	if err != nil {
		return nil, fmt.Errorf("the signed bundle does not verify against the trusted root, so it was not written: %w (if the services' keys changed, update the trust root: `sigil trust show` fetches the newest from the TUF mirror)", err)
	}
	if merr != nil {
		return nil, fmt.Errorf("couldn't encode the bundle: %w", merr)
	}
	res.Verified = vr
	return res, nil
}

// keyHint is the hint of a key-signed bundle: base64 of SHA-256(DER).
func keyHint(pub crypto.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return ""
	}
	d := sha256Sum(der)
	return base64.StdEncoding.EncodeToString(d[:])
}

func samePublicKey(a, b crypto.PublicKey) bool {
	da, err1 := x509.MarshalPKIXPublicKey(a)
	db, err2 := x509.MarshalPKIXPublicKey(b)
	return err1 == nil && err2 == nil && bytes.Equal(da, db)
}

// TokenSubject returns what the proof of possession signs: the email claim
// when present (which must then be verified), else sub (sigstore/sigstore
// pkg/oauthflow SubjectFromToken). The token is not verified here; the CA
// verifies it.
func TokenSubject(tok string) (string, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return "", errors.New("the identity token is not a JWT")
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return "", fmt.Errorf("couldn't decode the identity token: %w", err)
	}
	var c struct {
		Sub           string `json:"sub"`
		Email         string `json:"email"`
		EmailVerified any    `json:"email_verified"`
		// A NumericDate may have a fraction (RFC 7519 §2).
		Exp float64 `json:"exp"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return "", fmt.Errorf("couldn't parse the identity token: %w", err)
	}
	if exp := time.Unix(int64(c.Exp), 0); c.Exp != 0 && exp.Before(time.Now()) {
		return "", fmt.Errorf("the identity token expired at %s; get a fresh one", exp.UTC().Format(time.RFC3339))
	}
	if c.Email != "" {
		if v, ok := c.EmailVerified.(bool); ok && !v {
			return "", errors.New("the identity token's email is not verified")
		}
		if s, ok := c.EmailVerified.(string); ok && s == "false" {
			return "", errors.New("the identity token's email is not verified")
		}
		return c.Email, nil
	}
	if c.Sub == "" {
		return "", errors.New("the identity token has neither email nor sub")
	}
	return c.Sub, nil
}

// retry runs f with a per-call timeout, retrying transient failures with
// exponential backoff.
func (s *Signer) retry(ctx context.Context, f func(context.Context) error) error {
	attempts, timeout := s.Retry.Attempts, s.Retry.Timeout
	if attempts <= 0 {
		attempts = 4
	}
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	wait := 250 * time.Millisecond
	var err error
	for i := 0; i < attempts; i++ {
		if err = f(ctx); err == nil || !temporary(err) {
			return err
		}
		if i == attempts-1 {
			break
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.Canceled) {
				return fmt.Errorf("%w (cancelled after %d attempts)", err, i+1)
			}
			return gaveUp(err, i+1, timeout, s.Retry.MoreTime)
		case <-time.After(wait):
		}
		wait *= 2
	}
	return gaveUp(err, attempts, timeout, s.Retry.MoreTime)
}

// gaveUp is the error of a service that kept failing: what happened, then
// what to do.
func gaveUp(err error, attempts int, timeout time.Duration, moreTime string) error {
	tries := "1 attempt"
	if attempts > 1 {
		tries = fmt.Sprintf("%d attempts", attempts)
	}
	if moreTime == "" {
		moreTime = "allow more time with --timeout"
	}
	return fmt.Errorf("%w (gave up after %s, time limit %s: check that the service is up and reachable, or %s)", err, tries, timeout, moreTime)
}

func temporary(err error) bool {
	var se *ServiceError
	if errors.As(err, &se) {
		return se.Temporary()
	}
	var ce *CAError
	if errors.As(err, &ce) {
		return ce.Status >= 500 || ce.Status == 429
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "connection refused")
}
