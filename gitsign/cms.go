package gitsign

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// PEMType is the PEM block type of a git x509 signature. Git recognises
// the x509 format by the line "-----BEGIN SIGNED MESSAGE-----" (git/git
// gpg-interface.c x509_sigs).
const PEMType = "SIGNED MESSAGE"

// OIDTransparencyLogEntry is the unsigned attribute that carries a
// serialized dev.sigstore.rekor.v1.TransparencyLogEntry (canonicalizedBody
// cleared) in gitsign's offline mode (sigstore/gitsign
// internal/rekor/oid/oid.go; sigstore/rekor pull 1390).
var OIDTransparencyLogEntry = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 3, 1}

// Object identifiers, as DER content octets.
var (
	oidSignedData        = mustOID(1, 2, 840, 113549, 1, 7, 2)         // RFC 5652 §5.1
	oidData              = mustOID(1, 2, 840, 113549, 1, 7, 1)         // RFC 5652 §4
	oidAttrContentType   = mustOID(1, 2, 840, 113549, 1, 9, 3)         // RFC 5652 §11.1
	oidAttrMessageDigest = mustOID(1, 2, 840, 113549, 1, 9, 4)         // RFC 5652 §11.2
	oidAttrSigningTime   = mustOID(1, 2, 840, 113549, 1, 9, 5)         // RFC 5652 §11.3
	oidAttrTimeStamp     = mustOID(1, 2, 840, 113549, 1, 9, 16, 2, 14) // RFC 3161 Appendix A id-aa-timeStampToken
	oidAttrTlogEntry     = mustOID(1, 3, 6, 1, 4, 1, 57264, 3, 1)      // OIDTransparencyLogEntry
	oidSHA256            = mustOID(2, 16, 840, 1, 101, 3, 4, 2, 1)     // RFC 5754 §2.2
	oidECDSASHA256       = mustOID(1, 2, 840, 10045, 4, 3, 2)          // RFC 5758 §3.2
	oidECPublicKey       = mustOID(1, 2, 840, 10045, 2, 1)             // RFC 5480, used by some CMS signers
	oidRSA               = mustOID(1, 2, 840, 113549, 1, 1, 1)         // RFC 3370 §3.2
	oidRSASHA256         = mustOID(1, 2, 840, 113549, 1, 1, 11)        // RFC 5754 §3.2
)

func mustOID(arcs ...int) []byte {
	var b cryptobyte.Builder
	b.AddASN1ObjectIdentifier(arcs)
	return b.BytesOrPanic()[2:] // every OID here is shorter than 128 bytes
}

// ErrMalformed wraps every error about a signature that is not a detached
// CMS SignedData as git x509 signers write it.
var ErrMalformed = errors.New("malformed signature")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// Signature is a detached CMS SignedData (RFC 5652 §5) with exactly one
// signer, the form gitsign writes (sigstore/gitsign
// internal/signature/sign.go, docs/bundle-cms.md):
//
//	ContentInfo { signedData, [0] SignedData {
//	  version 1, digestAlgorithms {sha256},
//	  encapContentInfo { id-data } (no content: detached),
//	  certificates [0] { leaf },
//	  signerInfos { SignerInfo {
//	    version 1, sid issuerAndSerialNumber, digestAlgorithm sha256,
//	    signedAttrs [0] { contentType id-data, signingTime,
//	                      messageDigest SHA-256(commit or tag without signature) },
//	    signatureAlgorithm ecdsa-with-SHA256,
//	    signature ECDSA-P256(SHA-256(DER(signedAttrs as SET OF))),
//	    unsignedAttrs [1] { 1.3.6.1.4.1.57264.3.1: TransparencyLogEntry (offline mode),
//	                        1.2.840.113549.1.9.16.2.14: TimeStampToken (if stamped) } } } } }
//
// Armored, it is a PEM block of type "SIGNED MESSAGE".
type Signature struct {
	// Certificates is the certificate bag (gitsign puts only the leaf).
	Certificates []*x509.Certificate

	// The signer identifier: IssuerAndSerialNumber (Issuer is the DER of
	// the issuer Name), or SubjectKeyID.
	Issuer       []byte
	SerialNumber *big.Int
	SubjectKeyID []byte

	// SignedAttributes is the DER of the signed attributes as a SET OF
	// (RFC 5652 §5.4): exactly the bytes the signature covers, and the
	// artifact the transparency log entry records (as their SHA-256).
	SignedAttributes []byte
	// MessageDigest is SHA-256 of the signed content (the commit or tag
	// without its signature).
	MessageDigest []byte
	// SigningTime is the signer's claimed time; it is not authenticated
	// by anyone but the signer.
	SigningTime time.Time

	// Signature is ECDSA (or RSA PKCS #1 v1.5) over SHA-256 of
	// SignedAttributes.
	Signature []byte
	// SignatureAlgorithm is what the SignerInfo names.
	SignatureAlgorithm x509.SignatureAlgorithm

	// LogEntries are the serialized TransparencyLogEntry messages of the
	// unsigned attribute OIDTransparencyLogEntry (offline mode); gitsign
	// writes one.
	LogEntries [][]byte
	// Timestamps are DER RFC 3161 TimeStampTokens over Signature.
	Timestamps [][]byte
}

// Signer returns the certificate of the bag that the signer identifier
// names.
func (s *Signature) Signer() (*x509.Certificate, error) {
	for _, c := range s.Certificates {
		if s.SerialNumber != nil && bytes.Equal(c.RawIssuer, s.Issuer) && c.SerialNumber.Cmp(s.SerialNumber) == 0 {
			return c, nil
		}
		if s.SubjectKeyID != nil && bytes.Equal(c.SubjectKeyId, s.SubjectKeyID) {
			return c, nil
		}
	}
	return nil, malformed("the signature does not carry the signer's certificate")
}

// SignedAttributes returns the DER signed attributes (SET OF Attribute,
// sorted as DER requires) for content signed at t: content type id-data,
// signing time, and SHA-256(content) (RFC 5652 §5.3, §11).
func SignedAttributes(content []byte, t time.Time) []byte {
	d := crypto.SHA256.New()
	d.Write(content)
	digest := d.Sum(nil)
	attrs := [][]byte{
		attribute(oidAttrContentType, func(b *cryptobyte.Builder) { addOID(b, oidData) }),
		attribute(oidAttrSigningTime, func(b *cryptobyte.Builder) { addTime(b, t) }),
		attribute(oidAttrMessageDigest, func(b *cryptobyte.Builder) { b.AddASN1OctetString(digest) }),
	}
	return setOf(cbasn1.SET, attrs)
}

// addTime writes a Time (RFC 5652 §11.3): UTCTime from 1950 to 2049,
// GeneralizedTime otherwise, in UTC to the second.
func addTime(b *cryptobyte.Builder, t time.Time) {
	t = t.UTC().Truncate(time.Second)
	if t.Year() >= 1950 && t.Year() < 2050 {
		b.AddASN1UTCTime(t)
		return
	}
	b.AddASN1GeneralizedTime(t)
}

// attribute encodes Attribute ::= SEQUENCE { attrType OID, attrValues SET
// OF AttributeValue } with one value.
func attribute(oid []byte, value func(*cryptobyte.Builder)) []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		addOID(b, oid)
		b.AddASN1(cbasn1.SET, value)
	})
	return b.BytesOrPanic()
}

// setOf encodes elements (each a full DER element) as a SET OF under tag,
// sorted by their encodings as DER requires (X.690 §11.6).
func setOf(tag cbasn1.Tag, elems [][]byte) []byte {
	sorted := slices.Clone(elems)
	slices.SortFunc(sorted, bytes.Compare)
	var b cryptobyte.Builder
	b.AddASN1(tag, func(b *cryptobyte.Builder) {
		for _, e := range sorted {
			b.AddBytes(e)
		}
	})
	return b.BytesOrPanic()
}

func addOID(b *cryptobyte.Builder, content []byte) {
	b.AddASN1(cbasn1.OBJECT_IDENTIFIER, func(b *cryptobyte.Builder) { b.AddBytes(content) })
}

// Marshal returns the DER ContentInfo. The signer is named by the issuer
// and serial number of Certificates[0].
func (s *Signature) Marshal() ([]byte, error) {
	if len(s.Certificates) == 0 {
		return nil, errors.New("couldn't encode the signature: no certificate")
	}
	leaf := s.Certificates[0]
	sigAlg := oidECDSASHA256
	switch leaf.PublicKeyAlgorithm {
	case x509.ECDSA:
	case x509.RSA:
		sigAlg = oidRSASHA256
	default:
		return nil, fmt.Errorf("couldn't encode the signature: unsupported key algorithm %s", leaf.PublicKeyAlgorithm)
	}
	if len(s.SignedAttributes) == 0 || s.SignedAttributes[0] != byte(cbasn1.SET) {
		return nil, errors.New("couldn't encode the signature: no signed attributes")
	}
	var unsigned [][]byte
	if len(s.LogEntries) > 0 {
		var b cryptobyte.Builder
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			addOID(b, oidAttrTlogEntry)
			var values [][]byte
			for _, e := range s.LogEntries {
				var v cryptobyte.Builder
				v.AddASN1OctetString(e)
				values = append(values, v.BytesOrPanic())
			}
			b.AddBytes(setOf(cbasn1.SET, values))
		})
		unsigned = append(unsigned, b.BytesOrPanic())
	}
	if len(s.Timestamps) > 0 {
		var b cryptobyte.Builder
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			addOID(b, oidAttrTimeStamp)
			b.AddBytes(setOf(cbasn1.SET, s.Timestamps))
		})
		unsigned = append(unsigned, b.BytesOrPanic())
	}

	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		addOID(b, oidSignedData)
		b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1Int64(1)
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { addAlgorithm(b, oidSHA256) })
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { addOID(b, oidData) })
				b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
					for _, c := range s.Certificates {
						b.AddBytes(c.Raw)
					}
				})
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1Int64(1)
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
							b.AddBytes(leaf.RawIssuer)
							b.AddASN1BigInt(leaf.SerialNumber)
						})
						addAlgorithm(b, oidSHA256)
						// [0] IMPLICIT: the SET OF re-tagged.
						attrs := slices.Clone(s.SignedAttributes)
						attrs[0] = byte(cbasn1.Tag(0).Constructed().ContextSpecific())
						b.AddBytes(attrs)
						addAlgorithm(b, sigAlg)
						b.AddASN1OctetString(s.Signature)
						if len(unsigned) > 0 {
							b.AddBytes(setOf(cbasn1.Tag(1).Constructed().ContextSpecific(), unsigned))
						}
					})
				})
			})
		})
	})
	return b.Bytes()
}

// addAlgorithm writes an AlgorithmIdentifier without parameters, as
// gitsign does for sha256 and as RFC 5758 §3.2 requires for ECDSA.
func addAlgorithm(b *cryptobyte.Builder, oid []byte) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { addOID(b, oid) })
}

// MarshalPEM returns the armored signature git stores.
func (s *Signature) MarshalPEM() ([]byte, error) {
	der, err := s.Marshal()
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: PEMType, Bytes: der}), nil
}

// maxSignatureSize bounds what Parse reads: a gitsign signature with a
// certificate, a log entry and a timestamp is about 5 KiB.
const maxSignatureSize = 1 << 20

// Parse parses a git x509 signature: one PEM block of type SIGNED MESSAGE
// (and nothing but white space around it), or the DER it armors. It checks
// the structure only; Verifier checks the rest.
func Parse(sig []byte) (*Signature, error) {
	if len(sig) > maxSignatureSize {
		return nil, malformed("longer than %d bytes", maxSignatureSize)
	}
	der := sig
	if t := bytes.TrimSpace(sig); bytes.HasPrefix(t, []byte("-----BEGIN ")) {
		blk, rest := pem.Decode(t)
		switch {
		case blk == nil:
			return nil, malformed("broken PEM armor")
		case blk.Type != PEMType:
			return nil, malformed("PEM block %q, want %q", blk.Type, PEMType)
		case len(bytes.TrimSpace(rest)) > 0:
			return nil, malformed("more than one signature block")
		case len(blk.Headers) > 0:
			return nil, malformed("PEM headers in the signature block")
		}
		der = blk.Bytes
	}
	return parseDER(der)
}

func parseDER(der []byte) (*Signature, error) {
	s := cryptobyte.String(der)
	var ci, oid, explicit, sd cryptobyte.String
	if !s.ReadASN1(&ci, cbasn1.SEQUENCE) || !s.Empty() || !ci.ReadASN1(&oid, cbasn1.OBJECT_IDENTIFIER) {
		return nil, malformed("not a DER CMS ContentInfo")
	}
	if !bytes.Equal(oid, oidSignedData) {
		return nil, malformed("content type is not id-signedData")
	}
	if !ci.ReadASN1(&explicit, cbasn1.Tag(0).Constructed().ContextSpecific()) || !ci.Empty() ||
		!explicit.ReadASN1(&sd, cbasn1.SEQUENCE) || !explicit.Empty() {
		return nil, malformed("SignedData")
	}
	var version int64
	var digestAlgs, eci, eType cryptobyte.String
	if !sd.ReadASN1Integer(&version) || !sd.ReadASN1(&digestAlgs, cbasn1.SET) || !sd.ReadASN1(&eci, cbasn1.SEQUENCE) {
		return nil, malformed("SignedData")
	}
	if !eci.ReadASN1(&eType, cbasn1.OBJECT_IDENTIFIER) || !bytes.Equal(eType, oidData) {
		return nil, malformed("the encapsulated content type is not id-data")
	}
	if !eci.Empty() {
		return nil, malformed("the signature encapsulates its content; git signatures are detached")
	}

	sig := &Signature{}
	var certs cryptobyte.String
	var hasCerts bool
	if !sd.ReadOptionalASN1(&certs, &hasCerts, cbasn1.Tag(0).Constructed().ContextSpecific()) {
		return nil, malformed("certificates")
	}
	for !certs.Empty() {
		var c cryptobyte.String
		var tag cbasn1.Tag
		if !certs.ReadAnyASN1Element(&c, &tag) {
			return nil, malformed("certificates")
		}
		if tag != cbasn1.SEQUENCE {
			continue // other CertificateChoices (RFC 5652 §10.2.2) play no part
		}
		crt, err := x509.ParseCertificate(c)
		if err != nil {
			return nil, fmt.Errorf("%w: couldn't parse a certificate: %v", ErrMalformed, err)
		}
		sig.Certificates = append(sig.Certificates, crt)
	}
	if !sd.SkipOptionalASN1(cbasn1.Tag(1).Constructed().ContextSpecific()) {
		return nil, malformed("crls")
	}
	var signerInfos, si cryptobyte.String
	if !sd.ReadASN1(&signerInfos, cbasn1.SET) || !sd.Empty() {
		return nil, malformed("signerInfos")
	}
	if !signerInfos.ReadASN1(&si, cbasn1.SEQUENCE) {
		return nil, malformed("no SignerInfo")
	}
	if !signerInfos.Empty() {
		return nil, malformed("more than one signer; a git signature has one")
	}
	if err := sig.parseSignerInfo(si); err != nil {
		return nil, err
	}
	return sig, nil
}

// parseSignerInfo reads SignerInfo ::= SEQUENCE { version, sid,
// digestAlgorithm, signedAttrs [0] IMPLICIT OPTIONAL, signatureAlgorithm,
// signature OCTET STRING, unsignedAttrs [1] IMPLICIT OPTIONAL }.
func (sig *Signature) parseSignerInfo(si cryptobyte.String) error {
	var version int64
	if !si.ReadASN1Integer(&version) {
		return malformed("SignerInfo version")
	}
	switch {
	case si.PeekASN1Tag(cbasn1.SEQUENCE):
		var ias, issuer cryptobyte.String
		var tag cbasn1.Tag
		sig.SerialNumber = new(big.Int)
		if !si.ReadASN1(&ias, cbasn1.SEQUENCE) || !ias.ReadAnyASN1Element(&issuer, &tag) || tag != cbasn1.SEQUENCE ||
			!ias.ReadASN1Integer(sig.SerialNumber) || !ias.Empty() {
			return malformed("SignerInfo issuerAndSerialNumber")
		}
		sig.Issuer = issuer
	case si.PeekASN1Tag(cbasn1.Tag(0).ContextSpecific()):
		var ski cryptobyte.String
		if !si.ReadASN1(&ski, cbasn1.Tag(0).ContextSpecific()) {
			return malformed("SignerInfo subjectKeyIdentifier")
		}
		sig.SubjectKeyID = ski
	default:
		return malformed("SignerInfo signer identifier")
	}
	var digestAlg, params cryptobyte.String
	if !readAlgorithm(&si, &digestAlg, &params) {
		return malformed("SignerInfo digestAlgorithm")
	}
	if !bytes.Equal(digestAlg, oidSHA256) || !nullOrAbsent(params) {
		return malformed("digest algorithm is not SHA-256")
	}
	var attrsElem cryptobyte.String
	var tag cbasn1.Tag
	if !si.PeekASN1Tag(cbasn1.Tag(0).Constructed().ContextSpecific()) || !si.ReadAnyASN1Element(&attrsElem, &tag) {
		return malformed("the signer has no signed attributes")
	}
	sig.SignedAttributes = slices.Clone([]byte(attrsElem))
	sig.SignedAttributes[0] = byte(cbasn1.SET)
	if err := sig.parseSignedAttributes(); err != nil {
		return err
	}
	var sigAlg cryptobyte.String
	if !readAlgorithm(&si, &sigAlg, &params) {
		return malformed("SignerInfo signatureAlgorithm")
	}
	switch {
	case bytes.Equal(sigAlg, oidECDSASHA256) && len(params) == 0, bytes.Equal(sigAlg, oidECPublicKey):
		sig.SignatureAlgorithm = x509.ECDSAWithSHA256
	case (bytes.Equal(sigAlg, oidRSASHA256) || bytes.Equal(sigAlg, oidRSA)) && nullOrAbsent(params):
		sig.SignatureAlgorithm = x509.SHA256WithRSA
	default:
		return malformed("unsupported signature algorithm (want ECDSA or RSA PKCS #1 v1.5 with SHA-256)")
	}
	var value cryptobyte.String
	if !si.ReadASN1(&value, cbasn1.OCTET_STRING) {
		return malformed("SignerInfo signature")
	}
	sig.Signature = value
	var unsigned cryptobyte.String
	var hasUnsigned bool
	if !si.ReadOptionalASN1(&unsigned, &hasUnsigned, cbasn1.Tag(1).Constructed().ContextSpecific()) || !si.Empty() {
		return malformed("SignerInfo unsigned attributes")
	}
	return sig.parseUnsignedAttributes(unsigned)
}

func readAlgorithm(s *cryptobyte.String, oid, params *cryptobyte.String) bool {
	var seq cryptobyte.String
	if !s.ReadASN1(&seq, cbasn1.SEQUENCE) || !seq.ReadASN1(oid, cbasn1.OBJECT_IDENTIFIER) {
		return false
	}
	*params = nil
	if !seq.Empty() {
		var tag cbasn1.Tag
		if !seq.ReadAnyASN1Element(params, &tag) || !seq.Empty() {
			return false
		}
	}
	return true
}

func nullOrAbsent(p []byte) bool {
	return len(p) == 0 || bytes.Equal(p, []byte{0x05, 0x00})
}

// parseSignedAttributes reads the content type, message digest and
// signing time. Each may appear once with one value (RFC 5652 §11);
// content type and message digest are required.
func (sig *Signature) parseSignedAttributes() error {
	s := cryptobyte.String(sig.SignedAttributes)
	var attrs cryptobyte.String
	if !s.ReadASN1(&attrs, cbasn1.SET) || !s.Empty() {
		return malformed("signed attributes")
	}
	seen := map[string]bool{}
	var contentType bool
	for !attrs.Empty() {
		var attr, oid, values, value cryptobyte.String
		if !attrs.ReadASN1(&attr, cbasn1.SEQUENCE) || !attr.ReadASN1(&oid, cbasn1.OBJECT_IDENTIFIER) ||
			!attr.ReadASN1(&values, cbasn1.SET) || !attr.Empty() {
			return malformed("signed attribute")
		}
		if seen[string(oid)] {
			return malformed("a signed attribute appears twice")
		}
		seen[string(oid)] = true
		switch {
		case bytes.Equal(oid, oidAttrContentType):
			if !values.ReadASN1(&value, cbasn1.OBJECT_IDENTIFIER) || !values.Empty() || !bytes.Equal(value, oidData) {
				return malformed("the content-type attribute is not id-data")
			}
			contentType = true
		case bytes.Equal(oid, oidAttrMessageDigest):
			if !values.ReadASN1(&value, cbasn1.OCTET_STRING) || !values.Empty() || len(value) != crypto.SHA256.Size() {
				return malformed("message-digest attribute")
			}
			sig.MessageDigest = value
		case bytes.Equal(oid, oidAttrSigningTime):
			var t time.Time
			ok := false
			if values.PeekASN1Tag(cbasn1.UTCTime) {
				ok = values.ReadASN1UTCTime(&t)
			} else {
				ok = values.ReadASN1GeneralizedTime(&t)
			}
			if !ok || !values.Empty() {
				return malformed("signing-time attribute")
			}
			sig.SigningTime = t.UTC()
		}
	}
	if !contentType || sig.MessageDigest == nil {
		return malformed("the signed attributes lack the content type or the message digest")
	}
	return nil
}

func (sig *Signature) parseUnsignedAttributes(attrs cryptobyte.String) error {
	seen := map[string]bool{}
	for !attrs.Empty() {
		var attr, oid, values cryptobyte.String
		if !attrs.ReadASN1(&attr, cbasn1.SEQUENCE) || !attr.ReadASN1(&oid, cbasn1.OBJECT_IDENTIFIER) ||
			!attr.ReadASN1(&values, cbasn1.SET) || !attr.Empty() {
			return malformed("unsigned attribute")
		}
		switch {
		case bytes.Equal(oid, oidAttrTlogEntry):
			if seen[string(oid)] {
				return malformed("two transparency log entry attributes")
			}
			for !values.Empty() {
				var v cryptobyte.String
				if !values.ReadASN1(&v, cbasn1.OCTET_STRING) {
					return malformed("transparency log entry attribute")
				}
				sig.LogEntries = append(sig.LogEntries, v)
			}
		case bytes.Equal(oid, oidAttrTimeStamp):
			for !values.Empty() {
				var v cryptobyte.String
				var tag cbasn1.Tag
				if !values.ReadAnyASN1Element(&v, &tag) || tag != cbasn1.SEQUENCE {
					return malformed("timestamp token attribute")
				}
				sig.Timestamps = append(sig.Timestamps, v)
			}
		}
		seen[string(oid)] = true
	}
	return nil
}
