package verify

import (
	"bytes"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"crypto/x509"

	"sigil.dev/sigil/cert"
	"sigil.dev/sigil/sct"
	"sigil.dev/sigil/trust"
)

// caChain is a certificate authority of the trusted root prepared for fast
// repeated verification. A leaf is checked with x509.Verify against the
// issuing certificate alone as anchor (one signature check per bundle); the
// links above it, which are the same for every leaf, are checked once per
// verifier: signatures, CA constraints, path lengths and EKU nesting. Their
// validity periods are checked at every verified time. Name constraints
// above the issuing certificate depend on the leaf's names, so a leaf under
// such a certificate is verified with x509.Verify through the whole chain
// (full). The result equals a full x509.Verify against the trusted root's
// certificates only.
type caChain struct {
	ca      *trust.CA
	chain   []*x509.Certificate // issuing certificate first, anchor last
	anchors []*x509.CertPool    // chain[i] alone, for a leaf it issued
	// constrained[i] is set when a certificate above chain[i] constrains
	// names.
	constrained []bool

	once    sync.Once
	linkErr error
}

func newCAChain(ca *trust.CA) *caChain {
	c := &caChain{ca: ca, chain: append(append([]*x509.Certificate{}, ca.Intermediates...), ca.Root)}
	for _, x := range c.chain {
		p := x509.NewCertPool()
		p.AddCert(x)
		c.anchors = append(c.anchors, p)
	}
	c.constrained = make([]bool, len(c.chain))
	for i := len(c.chain) - 2; i >= 0; i-- {
		c.constrained[i] = c.constrained[i+1] || hasNameConstraints(c.chain[i+1])
	}
	return c
}

// verifyOptions returns the roots and intermediates to verify a leaf issued
// by chain[at]: chain[at] alone as anchor, or, when a certificate above it
// constrains names (which crypto/x509 applies to the leaf's names only
// along a path it builds), the whole chain from chain[at] to the anchor.
func (c *caChain) verifyOptions(at int) (roots, intermediates *x509.CertPool) {
	if !c.constrained[at] {
		return c.anchors[at], nil
	}
	intermediates = x509.NewCertPool()
	for _, x := range c.chain[at : len(c.chain)-1] {
		intermediates.AddCert(x)
	}
	return c.anchors[len(c.chain)-1], intermediates
}

func hasNameConstraints(c *x509.Certificate) bool {
	return len(c.PermittedDNSDomains)+len(c.ExcludedDNSDomains)+len(c.PermittedIPRanges)+len(c.ExcludedIPRanges)+
		len(c.PermittedEmailAddresses)+len(c.ExcludedEmailAddresses)+len(c.PermittedURIDomains)+len(c.ExcludedURIDomains) > 0
}

// issuerOf returns the position in the chain of the certificate that
// issued leaf: the first whose subject is the leaf's issuer, else 0 (the
// issuing certificate, which then fails to verify it). A leaf is usually
// issued by the first; one issued by a certificate above it (a root that
// also signs leaves directly) verifies too, as with x509.Verify over the
// whole chain (sigstore-go puts the intermediates in the pool).
func (c *caChain) issuerOf(leaf *x509.Certificate) int {
	for i, x := range c.chain {
		if bytes.Equal(x.RawSubject, leaf.RawIssuer) {
			return i
		}
	}
	return 0
}

// links verifies, once, that each certificate of the CA chain is issued by
// the next, that every issuer may issue at its depth, and that EKUs above the
// leaf allow code signing.
func (c *caChain) links() error {
	c.once.Do(func() {
		for i, x := range c.chain {
			if !x.BasicConstraintsValid || !x.IsCA {
				c.linkErr = fmt.Errorf("%s is not a CA certificate", x.Subject)
				return
			}
			if i > 0 {
				// Path length: certificate i has i CA certificates below
				// it on the path from a leaf.
				if x.MaxPathLen >= 0 && (x.MaxPathLen > 0 || x.MaxPathLenZero) && i > x.MaxPathLen {
					c.linkErr = fmt.Errorf("%s allows a path length of %d, the chain needs %d", x.Subject, x.MaxPathLen, i)
					return
				}
				if len(x.UnhandledCriticalExtensions) > 0 {
					c.linkErr = fmt.Errorf("%s has an unhandled critical extension %s", x.Subject, x.UnhandledCriticalExtensions[0])
					return
				}
			}
			if !ekuAllowsCodeSigning(x) {
				c.linkErr = fmt.Errorf("%s does not allow code signing (extended key usage)", x.Subject)
				return
			}
			if i+1 < len(c.chain) {
				if err := x.CheckSignatureFrom(c.chain[i+1]); err != nil {
					c.linkErr = fmt.Errorf("%s is not signed by %s: %v", x.Subject, c.chain[i+1].Subject, err)
					return
				}
			}
		}
	})
	return c.linkErr
}

func ekuAllowsCodeSigning(x *x509.Certificate) bool {
	if len(x.ExtKeyUsage) == 0 && len(x.UnknownExtKeyUsage) == 0 {
		return true
	}
	for _, u := range x.ExtKeyUsage {
		if u == x509.ExtKeyUsageCodeSigning || u == x509.ExtKeyUsageAny {
			return true
		}
	}
	return false
}

// validAt checks the CA's trusted-root window and every CA certificate's
// validity period at t.
func (c *caChain) validAt(t time.Time) error {
	if !c.ca.Valid.Contains(t) {
		return fmt.Errorf("CA %s is trusted from %s to %s in the trusted root", caName(c.ca), fmtTime(c.ca.Valid.Start), fmtTime(c.ca.Valid.End))
	}
	for _, x := range c.chain {
		if !certValidAt(x, t) {
			return fmt.Errorf("CA certificate %s is valid from %s to %s", x.Subject, fmtTime(x.NotBefore), fmtTime(x.NotAfter))
		}
	}
	return nil
}

func caName(ca *trust.CA) string {
	if ca.URI != "" {
		return ca.URI
	}
	return ca.Root.Subject.String()
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "(open)"
	}
	return t.UTC().Format(time.RFC3339)
}

// verifyCertificate checks the leaf at every verified time and its SCTs,
// and returns its identity.
func (v *Verifier) verifyCertificate(leaf *x509.Certificate, times []VerifiedTime) (*cert.Summary, error) {
	summary, err := cert.Summarize(leaf)
	if err != nil {
		return nil, &Error{Check: CheckCertificate, Err: err}
	}
	if len(times) == 0 {
		// The chain is checked at each verified time: with none (the
		// observer threshold disabled), nothing would be checked.
		return nil, fail(CheckTimestamp, "no verified time to check the certificate at: a certificate needs a log integrated time (SET) or an RFC 3161 timestamp, whatever the thresholds")
	}
	checked := leafForVerify(leaf)
	var issuer *x509.Certificate
	verified := map[*caChain]bool{} // CAs the leaf's signature and constraints were checked against
	for _, t := range times {
		var why []string
		ok := false
		for _, c := range v.cas {
			if err := c.validAt(t.Timestamp); err != nil {
				why = append(why, err.Error())
				continue
			}
			if err := c.links(); err != nil {
				why = append(why, fmt.Sprintf("CA %s: %v", caName(c.ca), err))
				continue
			}
			at := c.issuerOf(leaf)
			if !verified[c] {
				roots, intermediates := c.verifyOptions(at)
				if _, err := checked.Verify(x509.VerifyOptions{
					Roots:         roots,
					Intermediates: intermediates,
					CurrentTime:   t.Timestamp,
					KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
				}); err != nil {
					why = append(why, fmt.Sprintf("CA %s: %v", caName(c.ca), err))
					continue
				}
				verified[c] = true
			} else if !certValidAt(leaf, t.Timestamp) {
				why = append(why, "the certificate is not valid at that time")
				continue
			}
			if issuer == nil {
				issuer = c.chain[at]
			}
			ok = true
			break
		}
		if !ok {
			if len(v.cas) == 0 {
				why = append(why, "the trusted root lists no certificate authorities")
			}
			return nil, fail(CheckCertificate, "the certificate (valid %s to %s) does not chain to a trusted CA at %s (%s time): %s",
				fmtTime(leaf.NotBefore), fmtTime(leaf.NotAfter), fmtTime(t.Timestamp), t.Type, strings.Join(dedupe(why), "; "))
		}
	}
	if err := v.verifySCTs(leaf, issuer); err != nil {
		return nil, err
	}
	return &summary, nil
}

// leafForVerify returns the leaf with the SAN extension dropped from the
// unhandled critical extensions when it holds only a Fulcio OtherName, which
// crypto/x509 does not parse (sigstore-go does the same).
func leafForVerify(leaf *x509.Certificate) *x509.Certificate {
	for i, id := range leaf.UnhandledCriticalExtensions {
		if id.Equal(cert.OIDSAN) {
			if _, err := cert.OtherNameSAN(leaf); err != nil {
				return leaf
			}
			c := *leaf
			c.UnhandledCriticalExtensions = append(append([]asn1.ObjectIdentifier{}, leaf.UnhandledCriticalExtensions[:i]...), leaf.UnhandledCriticalExtensions[i+1:]...)
			return &c
		}
	}
	return leaf
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// verifySCTs checks the embedded SCTs against the trusted CT logs.
func (v *Verifier) verifySCTs(leaf, issuer *x509.Certificate) error {
	threshold := v.threshold(v.opts.SCTThreshold, 1)
	if threshold == 0 {
		return nil
	}
	scts, err := sct.Embedded(leaf)
	if errors.Is(err, sct.ErrNone) {
		return fail(CheckSCT, "the certificate has no embedded SCT; %d required", threshold)
	}
	if err != nil {
		return &Error{Check: CheckSCT, Err: err}
	}
	verified := map[string]bool{}
	var why []string
	for _, s := range scts {
		id := hex.EncodeToString(s.LogID[:])
		log := v.root.CTLogs[id]
		if log == nil {
			why = append(why, fmt.Sprintf("SCT from CT log %s, which is not in the trusted root", id))
			continue
		}
		if !log.Valid.Contains(s.Time()) {
			why = append(why, fmt.Sprintf("SCT time %s is outside the validity of CT log %s", fmtTime(s.Time()), log.BaseURL))
			continue
		}
		if err := s.Verify(log.PublicKey, leaf, issuer.RawSubjectPublicKeyInfo); err != nil {
			why = append(why, fmt.Sprintf("SCT from CT log %s: %v", log.BaseURL, err))
			continue
		}
		verified[id] = true
	}
	if len(verified) < threshold {
		none := "none embedded"
		if len(verified) > 0 {
			none = fmt.Sprintf("the certificate embeds only %d from distinct logs", len(verified))
		}
		return fail(CheckSCT, "%d of %d required SCTs verified: %s", len(verified), threshold, joinOr(why, none))
	}
	return nil
}

// checkBundleChain looks at the certificates a v0.1/v0.2 bundle carries
// after its leaf. They are never used to build a chain, but a self-signed
// root among them that is not a trust anchor of the trusted root is refused:
// signers MUST NOT include roots (sigstore/protobuf-specs
// X509CertificateChain), and one the verifier does not trust is an attempt
// to smuggle trust in (conformance vector bundle-with-root-cert_fail). Older
// public-good bundles that include the trusted root itself still verify.
func (v *Verifier) checkBundleChain(chain []*x509.Certificate) error {
	for _, c := range chain {
		if !bytes.Equal(c.RawIssuer, c.RawSubject) || c.CheckSignatureFrom(c) != nil {
			continue
		}
		trusted := false
		for _, ca := range v.root.CAs {
			if bytes.Equal(ca.Root.Raw, c.Raw) {
				trusted = true
				break
			}
		}
		if !trusted {
			return fail(CheckCertificate, "the bundle's certificate chain includes the root certificate %s, which is not a trust anchor of the trusted root; signers must not include roots", c.Subject)
		}
	}
	return nil
}
