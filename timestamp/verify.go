package timestamp

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"time"
)

// VerifyOptions are the trust anchors for a TSA, as a Sigstore trusted root
// lists them (timestampAuthorities[].certChain: certificate 0 is the leaf
// when it is not a CA, the last is the root, the rest are intermediates;
// sigstore/sigstore-go pkg/root/trusted_root.go).
type VerifyOptions struct {
	Roots         []*x509.Certificate
	Intermediates []*x509.Certificate
	// Leaf is the TSA signing certificate from the trusted root, optional.
	// When set, the token must be signed by exactly this certificate; when
	// the token embeds no certificates, Leaf is the signer.
	Leaf *x509.Certificate
}

var (
	oidExtKeyUsage     = asn1.ObjectIdentifier{2, 5, 29, 37}
	timeStampingUsages = []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}
)

// Verify checks the token against the bytes whose digest it stamps (for
// Sigstore: the signature bytes, messageSignature.signature or the DSSE
// signature) and the given trust anchors. See VerifyDigest for the rules.
func (t *Token) Verify(message []byte, opts VerifyOptions) error {
	if !strongHash(t.HashAlgorithm) {
		return t.hashError()
	}
	var buf [64]byte
	return t.VerifyDigest(digestInto(&buf, t.HashAlgorithm, message), opts)
}

// VerifyDigest is Verify given the digest of the message already computed
// with t.HashAlgorithm. The checks, in order, follow
// sigstore/timestamp-authority pkg/verification.VerifyTimestampResponse:
//
//  1. The imprint hash is SHA-256, SHA-384 or SHA-512; SHA-1 is refused as
//     weak (ErrHashAlgorithm).
//  2. The signer certificate is the embedded certificate matching the
//     SignerIdentifier (issuerAndSerialNumber or subjectKeyIdentifier,
//     RFC 5652 §5.3); when none is embedded it is opts.Leaf, which must match
//     the SignerIdentifier (ErrSignerNotFound, ErrSignerMismatch).
//  3. If opts.Leaf is set the signer certificate equals it; an ESS
//     signing-certificate(-v2) attribute, when present, must hash to the
//     signer certificate (RFC 5816 §2.2.1, RFC 2634 §5.4) (ErrSignerMismatch).
//     The ESS check is stricter than sigstore/timestamp-authority, which
//     ignores the attribute; every token in the sigstore-conformance vectors
//     (Sigstore TSA, FreeTSA) carries a matching one.
//  4. The CMS signature: signed attributes are present, the content-type
//     attribute is id-ct-TSTInfo, the message-digest attribute is the digest
//     of the TSTInfo with the SignerInfo's digestAlgorithm (RFC 5652 §5.4,
//     §11.1, §11.2), and the signature over the signed attributes verifies
//     with the signer's key: ECDSA P-256/384/521, RSA PKCS #1 v1.5,
//     RSASSA-PSS or Ed25519 with SHA-256/384/512 (ErrSignature). It is
//     verified exactly once.
//  5. The signer certificate chains to opts.Roots through opts.Intermediates
//     and the embedded certificates, at genTime, for id-kp-timeStamping
//     (x509.Certificate.Verify); a signing-time attribute, when present,
//     lies within the signer certificate's validity, as digitorus/pkcs7
//     requires; intermediates carry no EKU or one allowing timeStamping or
//     anyExtendedKeyUsage (ErrUntrustedChain).
//  6. The signer certificate is not a CA and has exactly one EKU,
//     id-kp-timeStamping, in a critical extension (RFC 3161 §2.3)
//     (ErrLeafPolicy).
//  7. The imprint equals digest (ErrImprintMismatch).
//
// Revocation is not checked (nor is it by Sigstore). The nonce and policy
// are not compared with anything: callers that sent a nonce or asked for a
// policy compare t.Nonce and t.Policy themselves.
func (t *Token) VerifyDigest(digest []byte, opts VerifyOptions) error {
	// 1. Imprint hash algorithm.
	if !strongHash(t.HashAlgorithm) {
		return t.hashError()
	}

	// 2, 3. Signer certificate.
	signer, err := t.findSigner(opts.Leaf)
	if err != nil {
		return err
	}
	if opts.Leaf != nil && !opts.Leaf.Equal(signer) {
		return fmt.Errorf("couldn't match timestamp signer: %w: the token is signed by %q, the trusted TSA certificate is %q",
			ErrSignerMismatch, signer.Subject, opts.Leaf.Subject)
	}
	if err := t.checkESS(signer); err != nil {
		return err
	}

	// 4. CMS signature.
	if err := t.checkSignature(signer); err != nil {
		return err
	}

	// 5. Chain at genTime.
	chains, err := t.verifyChain(signer, opts)
	if err != nil {
		return err
	}

	// 6. RFC 3161 §2.3 profile of the TSA certificate.
	if err := checkLeafProfile(signer); err != nil {
		return err
	}
	if err := checkIntermediatesEKU(chains); err != nil {
		return err
	}

	// 7. Imprint.
	if len(digest) != len(t.HashedMessage) || subtle.ConstantTimeCompare(digest, t.HashedMessage) != 1 {
		return fmt.Errorf("couldn't match timestamp to message: %w: token stamps %s digest %x, message digest is %x",
			ErrImprintMismatch, t.HashAlgorithm, t.HashedMessage, digest)
	}
	return nil
}

func (t *Token) hashError() error {
	if t.HashAlgorithm == crypto.SHA1 {
		return fmt.Errorf("couldn't verify timestamp: %w: SHA-1 imprint refused as weak", ErrHashAlgorithm)
	}
	return fmt.Errorf("couldn't verify timestamp: %w: %v imprint (want SHA-256, SHA-384 or SHA-512)", ErrHashAlgorithm, t.HashAlgorithm)
}

// digestInto hashes data into buf without allocating for the SHA-2
// functions the verifier accepts.
func digestInto(buf *[64]byte, h crypto.Hash, data []byte) []byte {
	switch h {
	case crypto.SHA256:
		d := sha256.Sum256(data)
		return buf[:copy(buf[:], d[:])]
	case crypto.SHA384:
		d := sha512.Sum384(data)
		return buf[:copy(buf[:], d[:])]
	case crypto.SHA512:
		d := sha512.Sum512(data)
		return buf[:copy(buf[:], d[:])]
	}
	hh := h.New()
	hh.Write(data)
	return hh.Sum(buf[:0])
}

// matchesSID reports whether cert is the one the SignerIdentifier names.
func (si *signerInfo) matchesSID(cert *x509.Certificate) bool {
	if si.ski != nil {
		return len(cert.SubjectKeyId) > 0 && bytes.Equal(cert.SubjectKeyId, si.ski)
	}
	return si.serial.Cmp(cert.SerialNumber) == 0 && bytes.Equal(cert.RawIssuer, si.issuer)
}

func (si *signerInfo) describeSID() string {
	if si.ski != nil {
		return fmt.Sprintf("subject key ID %x", si.ski)
	}
	return fmt.Sprintf("serial %x", si.serial)
}

func (t *Token) findSigner(leaf *x509.Certificate) (*x509.Certificate, error) {
	if len(t.Certificates) > 0 {
		for _, c := range t.Certificates {
			if t.signer.matchesSID(c) {
				return c, nil
			}
		}
		return nil, fmt.Errorf("couldn't find timestamp signer: %w: none of the %d embedded certificates has %s",
			ErrSignerNotFound, len(t.Certificates), t.signer.describeSID())
	}
	if leaf == nil {
		return nil, fmt.Errorf("couldn't find timestamp signer: %w: the token embeds no certificates and no TSA leaf certificate was given",
			ErrSignerNotFound)
	}
	if !t.signer.matchesSID(leaf) {
		return nil, fmt.Errorf("couldn't match timestamp signer: %w: the token is signed by %s, not by the trusted TSA certificate %q",
			ErrSignerMismatch, t.signer.describeSID(), leaf.Subject)
	}
	return leaf, nil
}

func (t *Token) checkESS(signer *x509.Certificate) error {
	si := &t.signer
	if !si.hasESSAttribute {
		return nil
	}
	if !si.essHashAlg.Available() {
		return fmt.Errorf("couldn't check ESS signing-certificate attribute: %w: unsupported hash algorithm", ErrSignerMismatch)
	}
	var buf [64]byte
	if !bytes.Equal(digestInto(&buf, si.essHashAlg, signer.Raw), si.essCertHash) {
		return fmt.Errorf("couldn't check ESS signing-certificate attribute: %w: it names another certificate than %q",
			ErrSignerMismatch, signer.Subject)
	}
	return nil
}

func (t *Token) checkSignature(signer *x509.Certificate) error {
	si := &t.signer
	fail := func(format string, args ...any) error {
		return fmt.Errorf("couldn't verify timestamp signature: %w: %s", ErrSignature, fmt.Sprintf(format, args...))
	}
	if si.signedAttrs == nil {
		// RFC 5652 §5.3: signedAttrs MUST be present when the content type
		// is not id-data.
		return fail("SignerInfo has no signed attributes")
	}
	if si.contentType == nil {
		return fail("no content-type signed attribute")
	}
	if !bytes.Equal(si.contentType, oidTSTInfo) {
		return fail("content-type attribute is %s, not id-ct-TSTInfo", oidString(si.contentType))
	}
	if si.messageDigest == nil {
		return fail("no message-digest signed attribute")
	}
	if !strongHash(si.digestAlg) {
		return fail("digest algorithm %v not supported", si.digestAlg)
	}
	var buf [64]byte
	if !bytes.Equal(digestInto(&buf, si.digestAlg, t.eContent), si.messageDigest) {
		return fail("message-digest attribute does not match the TSTInfo")
	}

	alg := si.sigAlg
	if alg.kind == sigUnknown {
		return fail("%s", alg.err)
	}
	var digest []byte
	if alg.kind != sigEd25519 {
		if !strongHash(alg.hash) {
			return fail("signature hash %v not supported", alg.hash)
		}
		digest = digestInto(&buf, alg.hash, si.signedAttrs)
	}
	ok := false
	switch pub := signer.PublicKey.(type) {
	case *ecdsa.PublicKey:
		if alg.kind != sigECDSA {
			return fail("ECDSA key, non-ECDSA signature algorithm")
		}
		ok = ecdsa.VerifyASN1(pub, digest, si.signature)
	case *rsa.PublicKey:
		switch alg.kind {
		case sigRSAPKCS1:
			ok = rsa.VerifyPKCS1v15(pub, alg.hash, digest, si.signature) == nil
		case sigRSAPSS:
			ok = rsa.VerifyPSS(pub, alg.hash, digest, si.signature, &rsa.PSSOptions{SaltLength: alg.salt, Hash: alg.hash}) == nil
		default:
			return fail("RSA key, non-RSA signature algorithm")
		}
	case ed25519.PublicKey:
		if alg.kind != sigEd25519 {
			return fail("Ed25519 key, non-Ed25519 signature algorithm")
		}
		ok = ed25519.Verify(pub, si.signedAttrs, si.signature)
	default:
		return fail("unsupported public key type %T", signer.PublicKey)
	}
	if !ok {
		return fail("signature by %q does not verify", signer.Subject)
	}
	return nil
}

func (t *Token) verifyChain(signer *x509.Certificate, opts VerifyOptions) ([][]*x509.Certificate, error) {
	roots := x509.NewCertPool()
	n := 0
	for _, c := range opts.Roots {
		if c != nil {
			roots.AddCert(c)
			n++
		}
	}
	if n == 0 {
		return nil, fmt.Errorf("couldn't verify TSA certificate chain: %w: no root certificates given", ErrUntrustedChain)
	}
	inter := x509.NewCertPool()
	for _, c := range opts.Intermediates {
		if c != nil {
			inter.AddCert(c)
		}
	}
	// Embedded certificates may serve as intermediates. The signer itself
	// and copies of trusted roots (TSAs embed their whole chain) are left
	// out: they cannot lengthen a chain, and crypto/x509 would spend a
	// signature verification on each as a candidate issuer.
embedded:
	for _, c := range t.Certificates {
		if c == signer || c.Equal(signer) {
			continue
		}
		for _, r := range opts.Roots {
			if r != nil && r.Equal(c) {
				continue embedded
			}
		}
		inter.AddCert(c)
	}
	chains, err := signer.Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inter,
		CurrentTime:   t.Time,
		KeyUsages:     timeStampingUsages,
	})
	if err != nil {
		return nil, fmt.Errorf("couldn't verify TSA certificate chain at genTime %s: %w: %w",
			t.Time.Format(time.RFC3339), ErrUntrustedChain, err)
	}
	if si := &t.signer; si.hasSigningTime &&
		(si.signingTime.Before(signer.NotBefore) || si.signingTime.After(signer.NotAfter)) {
		return nil, fmt.Errorf("couldn't verify TSA certificate chain: %w: signing-time %s is outside the TSA certificate's validity [%s, %s]",
			ErrUntrustedChain, si.signingTime.Format(time.RFC3339), signer.NotBefore.Format(time.RFC3339), signer.NotAfter.Format(time.RFC3339))
	}
	return chains, nil
}

// checkLeafProfile enforces RFC 3161 §2.3 on the signer certificate: an
// end-entity certificate whose only EKU is id-kp-timeStamping, in a
// critical extension.
func checkLeafProfile(c *x509.Certificate) error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("couldn't accept TSA certificate %q: %w: %s", c.Subject, ErrLeafPolicy, fmt.Sprintf(format, args...))
	}
	if c.IsCA {
		return fail("it is a CA certificate")
	}
	critical, found := false, false
	for _, ext := range c.Extensions {
		if ext.Id.Equal(oidExtKeyUsage) {
			critical, found = ext.Critical, true
			break
		}
	}
	if !found {
		return fail("it has no extended key usage extension")
	}
	if !critical {
		return fail("its extended key usage extension is not critical")
	}
	// crypto/x509 sorts purposes it does not know into UnknownExtKeyUsage;
	// count both so an extra unknown purpose is caught.
	if n := len(c.ExtKeyUsage) + len(c.UnknownExtKeyUsage); n != 1 {
		return fail("it has %d extended key usages, want only id-kp-timeStamping", n)
	}
	if len(c.ExtKeyUsage) != 1 || c.ExtKeyUsage[0] != x509.ExtKeyUsageTimeStamping {
		return fail("its extended key usage is not id-kp-timeStamping")
	}
	return nil
}

// checkIntermediatesEKU requires one verified chain whose intermediates
// (neither the leaf nor the root) have no EKU or allow timeStamping or any
// usage, as sigstore/timestamp-authority does. crypto/x509 already enforces
// EKU nesting for KeyUsages, so this is defence in depth.
func checkIntermediatesEKU(chains [][]*x509.Certificate) error {
	var lastErr error
	for _, chain := range chains {
		ok := true
		for i := 1; i < len(chain)-1; i++ {
			if !allowsTimeStamping(chain[i]) {
				ok = false
				lastErr = fmt.Errorf("couldn't verify TSA certificate chain: %w: intermediate %q does not allow timeStamping",
					ErrUntrustedChain, chain[i].Subject)
				break
			}
		}
		if ok {
			return nil
		}
	}
	if lastErr == nil {
		lastErr = fmt.Errorf("couldn't verify TSA certificate chain: %w: no chain", ErrUntrustedChain)
	}
	return lastErr
}

func allowsTimeStamping(c *x509.Certificate) bool {
	if len(c.ExtKeyUsage) == 0 && len(c.UnknownExtKeyUsage) == 0 {
		return true
	}
	for _, u := range c.ExtKeyUsage {
		if u == x509.ExtKeyUsageTimeStamping || u == x509.ExtKeyUsageAny {
			return true
		}
	}
	return false
}
