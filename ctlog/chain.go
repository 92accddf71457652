package ctlog

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/transparency-dev/tessera/ctonly"

	"sigil.dev/sigil/cert"
	"sigil.dev/sigil/sct"
)

const (
	// maxChainLength bounds the certificates of a submission.
	maxChainLength = 10
	// notBeforeSkew is how far in the future a leaf's notBefore may be,
	// for a CA whose clock runs ahead of the log's.
	notBeforeSkew = 5 * time.Minute
	// maxIssuerCache bounds the verified issuer chains kept.
	maxIssuerCache = 64
)

// oidPrecertSigningEKU is the EKU of an RFC 6962 §3.1 precertificate
// signing certificate.
var oidPrecertSigningEKU = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 4}

// validator checks submitted chains against the accepted roots. It is safe
// for concurrent use.
type validator struct {
	roots     []*x509.Certificate
	rootsPool *x509.CertPool

	mu    sync.Mutex
	cache map[[32]byte]*issuerChain // by hash of the submitted issuer DERs
}

// issuerChain is a verified issuer chain: issuers of the leaf, root last.
type issuerChain struct {
	certs        []*x509.Certificate
	fingerprints [][32]byte
	// until is the earliest notAfter of the chain: the cached
	// verification holds until then.
	until time.Time
	// nameConstraints is set when a certificate of the chain constrains
	// names, which only a full verification of the leaf checks.
	nameConstraints bool
}

func newValidator(roots []*x509.Certificate) *validator {
	v := &validator{roots: roots, rootsPool: x509.NewCertPool(), cache: map[[32]byte]*issuerChain{}}
	for _, r := range roots {
		v.rootsPool.AddCert(r)
	}
	return v
}

// validated is an accepted submission.
type validated struct {
	leaf    *x509.Certificate
	issuers *issuerChain
}

// validate checks a submitted chain at time now; precert tells which
// endpoint received it; issued means an in-process CA has just signed the
// leaf (AddIssuedPreChain), whose signature is then not verified again.
// Errors wrap the sentinels of errors.go.
func (v *validator) validate(ders [][]byte, precert, issued bool, now time.Time) (*validated, error) {
	if len(ders) == 0 {
		return nil, fmt.Errorf("%w: empty chain", ErrMalformed)
	}
	if len(ders) > maxChainLength {
		return nil, fmt.Errorf("%w: %d certificates, at most %d accepted", ErrBadChain, len(ders), maxChainLength)
	}
	leaf, err := x509.ParseCertificate(ders[0])
	if err != nil {
		return nil, fmt.Errorf("%w: certificate 0: %v", ErrBadCertificate, err)
	}
	if err := checkLeaf(leaf, precert, now); err != nil {
		return nil, err
	}
	issuers, err := v.issuers(leaf, ders[1:], now)
	if err != nil {
		return nil, err
	}
	// A certificate's issuer is named as well as signing it (RFC 5280
	// §6.1.3 (a)(4)); the signature alone let a leaf name another issuer.
	if !bytes.Equal(leaf.RawIssuer, issuers.certs[0].RawSubject) {
		return nil, fmt.Errorf("%w: certificate 0 names the issuer %q, not the subject of the next certificate %q", ErrBadChain, leaf.Issuer, issuers.certs[0].Subject)
	}
	if !issued {
		if err := leaf.CheckSignatureFrom(issuers.certs[0]); err != nil {
			return nil, fmt.Errorf("%w: certificate 0 is not signed by its issuer %q: %v", ErrBadChain, issuers.certs[0].Subject, err)
		}
	}
	if issuers.nameConstraints {
		if err := v.verifyFull(leaf, issuers, now); err != nil {
			return nil, err
		}
	}
	return &validated{leaf: leaf, issuers: issuers}, nil
}

// checkLeaf applies the log's policy to the leaf alone.
func checkLeaf(leaf *x509.Certificate, precert bool, now time.Time) error {
	poison, err := poisonOf(leaf)
	if err != nil {
		return err
	}
	switch {
	case precert && !poison:
		return fmt.Errorf("%w: add-pre-chain takes a precertificate, and this certificate has no poison extension", ErrBadSubmission)
	case !precert && poison:
		return fmt.Errorf("%w: add-chain takes a certificate, and this is a precertificate; use add-pre-chain", ErrBadSubmission)
	}
	if leaf.IsCA {
		return fmt.Errorf("%w: the leaf is a CA certificate", ErrBadSubmission)
	}
	codeSigning := false
	for _, u := range leaf.ExtKeyUsage {
		if u == x509.ExtKeyUsageCodeSigning {
			codeSigning = true
		}
	}
	if !codeSigning {
		return fmt.Errorf("%w: the leaf lacks the codeSigning extended key usage", ErrBadSubmission)
	}
	if now.After(leaf.NotAfter) {
		return fmt.Errorf("%w: the leaf expired at %s", ErrBadCertificate, leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	if leaf.NotBefore.After(now.Add(notBeforeSkew)) {
		return fmt.Errorf("%w: the leaf is not valid before %s", ErrBadCertificate, leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	return nil
}

// poisonOf reports whether c carries the precertificate poison, which must
// then be critical with an ASN.1 NULL value and appear once (RFC 6962 §3.1).
func poisonOf(c *x509.Certificate) (bool, error) {
	found := false
	for _, e := range c.Extensions {
		if !e.Id.Equal(cert.OIDPrecertPoison) {
			continue
		}
		if found {
			return false, fmt.Errorf("%w: the poison extension appears twice", ErrBadCertificate)
		}
		if !e.Critical || !bytes.Equal(e.Value, []byte{0x05, 0x00}) {
			return false, fmt.Errorf("%w: the poison extension must be critical with an ASN.1 NULL value", ErrBadCertificate)
		}
		found = true
	}
	return found, nil
}

// issuers returns the verified issuer chain of leaf from the submitted
// issuers, completed with an accepted root when it does not end at one.
func (v *validator) issuers(leaf *x509.Certificate, ders [][]byte, now time.Time) (*issuerChain, error) {
	key := chainKey(leaf.RawIssuer, ders)
	v.mu.Lock()
	c := v.cache[key]
	v.mu.Unlock()
	if c != nil && now.Before(c.until) {
		return c, nil
	}
	c, err := v.verifyIssuers(leaf, ders, now)
	if err != nil {
		return nil, err
	}
	v.mu.Lock()
	if len(v.cache) >= maxIssuerCache {
		clear(v.cache)
	}
	v.cache[key] = c
	v.mu.Unlock()
	return c, nil
}

func chainKey(leafIssuer []byte, ders [][]byte) [32]byte {
	h := sha256.New()
	var n [4]byte
	if len(ders) == 0 {
		// The issuer is found by name among the roots.
		binary.BigEndian.PutUint32(n[:], uint32(len(leafIssuer)))
		h.Write(n[:])
		h.Write(leafIssuer)
	}
	for _, d := range ders {
		binary.BigEndian.PutUint32(n[:], uint32(len(d)))
		h.Write(n[:])
		h.Write(d)
	}
	return [32]byte(h.Sum(nil))
}

// verifyIssuers verifies the issuer chain with crypto/x509 (signatures,
// validity at now, CA and key-usage bits, path lengths, name constraints,
// codeSigning EKU nesting) and requires the verified path to be the
// submitted one.
func (v *validator) verifyIssuers(leaf *x509.Certificate, ders [][]byte, now time.Time) (*issuerChain, error) {
	var submitted []*x509.Certificate
	for i, d := range ders {
		c, err := x509.ParseCertificate(d)
		if err != nil {
			return nil, fmt.Errorf("%w: certificate %d: %v", ErrBadCertificate, i+1, err)
		}
		submitted = append(submitted, c)
	}
	if len(submitted) == 0 {
		for _, r := range v.roots {
			if bytes.Equal(r.RawSubject, leaf.RawIssuer) && leaf.CheckSignatureFrom(r) == nil {
				submitted = []*x509.Certificate{r}
				break
			}
		}
		if len(submitted) == 0 {
			return nil, fmt.Errorf("%w: the leaf's issuer %q is not an accepted root, and the chain has no issuer", ErrUnknownAnchor, leaf.Issuer)
		}
	}
	for i, c := range submitted {
		for _, u := range c.UnknownExtKeyUsage {
			if u.Equal(oidPrecertSigningEKU) {
				return nil, fmt.Errorf("%w: certificate %d is a precertificate signing certificate, which this log does not accept", ErrBadChain, i+1)
			}
		}
	}
	inter := x509.NewCertPool()
	for _, c := range submitted[1:] {
		inter.AddCert(c)
	}
	chains, err := submitted[0].Verify(x509.VerifyOptions{
		Roots:         v.rootsPool,
		Intermediates: inter,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	})
	if err != nil {
		return nil, classifyVerifyError(err)
	}
	for _, ch := range chains {
		if !isSubmittedPath(ch, submitted) {
			continue
		}
		out := &issuerChain{certs: ch, until: ch[0].NotAfter}
		for _, c := range ch {
			out.fingerprints = append(out.fingerprints, sha256.Sum256(c.Raw))
			if c.NotAfter.Before(out.until) {
				out.until = c.NotAfter
			}
			if hasNameConstraints(c) {
				out.nameConstraints = true
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: the submitted certificates do not form a path to an accepted root in the order given", ErrBadChain)
}

// isSubmittedPath reports whether a verified chain is the submitted one,
// possibly with the root appended.
func isSubmittedPath(chain, submitted []*x509.Certificate) bool {
	if len(chain) != len(submitted) && len(chain) != len(submitted)+1 {
		return false
	}
	for i, c := range submitted {
		if !bytes.Equal(chain[i].Raw, c.Raw) {
			return false
		}
	}
	return true
}

func classifyVerifyError(err error) error {
	var unknown x509.UnknownAuthorityError
	if errors.As(err, &unknown) {
		return fmt.Errorf("%w: %v", ErrUnknownAnchor, err)
	}
	var invalid x509.CertificateInvalidError
	if errors.As(err, &invalid) && invalid.Reason == x509.Expired {
		return fmt.Errorf("%w: %v", ErrBadCertificate, err)
	}
	return fmt.Errorf("%w: %v", ErrBadChain, err)
}

func hasNameConstraints(c *x509.Certificate) bool {
	return len(c.PermittedDNSDomains)+len(c.ExcludedDNSDomains)+len(c.PermittedIPRanges)+len(c.ExcludedIPRanges)+
		len(c.PermittedEmailAddresses)+len(c.ExcludedEmailAddresses)+len(c.PermittedURIDomains)+len(c.ExcludedURIDomains) > 0
}

// verifyFull verifies the leaf with crypto/x509 through the issuer chain,
// for the name constraints the fast path does not check. The leaf's
// unhandled critical extensions (the poison, an OtherName SAN) are not
// crypto/x509's to judge here.
func (v *validator) verifyFull(leaf *x509.Certificate, issuers *issuerChain, now time.Time) error {
	l := *leaf
	l.UnhandledCriticalExtensions = nil
	inter := x509.NewCertPool()
	for _, c := range issuers.certs {
		inter.AddCert(c)
	}
	_, err := l.Verify(x509.VerifyOptions{
		Roots:         v.rootsPool,
		Intermediates: inter,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	})
	if err != nil {
		return classifyVerifyError(err)
	}
	return nil
}

// entry returns the log entry for an accepted submission at timestamp (ms).
func (s *validated) entry(der []byte, precert bool, timestamp uint64) (*ctonly.Entry, error) {
	e := &ctonly.Entry{
		Timestamp:         timestamp,
		IsPrecert:         precert,
		Certificate:       der,
		FingerprintsChain: s.issuers.fingerprints,
	}
	if precert {
		tbs, err := sct.RemoveExtension(s.leaf.RawTBSCertificate, cert.OIDPrecertPoison)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadCertificate, err)
		}
		ikh := sha256.Sum256(s.issuers.certs[0].RawSubjectPublicKeyInfo)
		e.Certificate, e.Precertificate, e.IssuerKeyHash = tbs, der, ikh[:]
	}
	return e, nil
}

// signedData returns the bytes the SCT for entry e signs (RFC 6962 §3.2).
func signedData(e *ctonly.Entry, issuerSPKI []byte, extensions []byte) ([]byte, error) {
	if e.IsPrecert {
		return sct.PrecertSignedData(e.Timestamp, issuerSPKI, e.Certificate, extensions)
	}
	return sct.X509SignedData(e.Timestamp, e.Certificate, extensions)
}
