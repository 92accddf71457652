package timestamp

import (
	"bytes"
	"crypto"
	"encoding/asn1"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// PolicySigstore is the TSA policy OID the Sigstore TSA puts in its tokens
// (sigstore/timestamp-authority; observed in public-good tokens).
var PolicySigstore = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 2}

// Object identifiers, kept as the DER content octets (no tag or length) so
// the parser compares bytes instead of decoding into []int.
var (
	oidSignedData        = mustOID(1, 2, 840, 113549, 1, 7, 2)         // RFC 5652 §5.1
	oidTSTInfo           = mustOID(1, 2, 840, 113549, 1, 9, 16, 1, 4)  // RFC 3161 §2.4.2 id-ct-TSTInfo
	oidAttrContentType   = mustOID(1, 2, 840, 113549, 1, 9, 3)         // RFC 5652 §11.1
	oidAttrMessageDigest = mustOID(1, 2, 840, 113549, 1, 9, 4)         // RFC 5652 §11.2
	oidAttrSigningTime   = mustOID(1, 2, 840, 113549, 1, 9, 5)         // RFC 5652 §11.3
	oidAttrSigningCert   = mustOID(1, 2, 840, 113549, 1, 9, 16, 2, 12) // RFC 2634 §5.4 id-aa-signingCertificate
	oidAttrSigningCertV2 = mustOID(1, 2, 840, 113549, 1, 9, 16, 2, 47) // RFC 5035 §3 id-aa-signingCertificateV2

	oidSHA1   = mustOID(1, 3, 14, 3, 2, 26)
	oidSHA224 = mustOID(2, 16, 840, 1, 101, 3, 4, 2, 4)
	oidSHA256 = mustOID(2, 16, 840, 1, 101, 3, 4, 2, 1)
	oidSHA384 = mustOID(2, 16, 840, 1, 101, 3, 4, 2, 2)
	oidSHA512 = mustOID(2, 16, 840, 1, 101, 3, 4, 2, 3)

	// RFC 5753 / RFC 5758 §3.2: ECDSA. id-ecPublicKey is what some CMS
	// signers put in signatureAlgorithm; the hash then is digestAlgorithm.
	oidECPublicKey = mustOID(1, 2, 840, 10045, 2, 1)
	oidECDSASHA1   = mustOID(1, 2, 840, 10045, 4, 1)
	oidECDSASHA256 = mustOID(1, 2, 840, 10045, 4, 3, 2)
	oidECDSASHA384 = mustOID(1, 2, 840, 10045, 4, 3, 3)
	oidECDSASHA512 = mustOID(1, 2, 840, 10045, 4, 3, 4)
	// RFC 3370 §3.2, RFC 5754 §3.2: RSA PKCS #1 v1.5. RFC 4056: RSASSA-PSS.
	oidRSA       = mustOID(1, 2, 840, 113549, 1, 1, 1)
	oidRSASHA1   = mustOID(1, 2, 840, 113549, 1, 1, 5)
	oidRSASHA256 = mustOID(1, 2, 840, 113549, 1, 1, 11)
	oidRSASHA384 = mustOID(1, 2, 840, 113549, 1, 1, 12)
	oidRSASHA512 = mustOID(1, 2, 840, 113549, 1, 1, 13)
	oidRSAPSS    = mustOID(1, 2, 840, 113549, 1, 1, 10)
	oidMGF1      = mustOID(1, 2, 840, 113549, 1, 1, 8)
	// RFC 8419 §3.1: pure Ed25519 over the signed attributes.
	oidEd25519 = mustOID(1, 3, 101, 112)
)

func mustOID(arcs ...int) []byte {
	var b cryptobyte.Builder
	b.AddASN1ObjectIdentifier(arcs)
	der := b.BytesOrPanic()
	return der[2:] // every OID here is shorter than 128 bytes
}

var hashOIDs = []struct {
	oid []byte
	h   crypto.Hash
}{
	{oidSHA256, crypto.SHA256},
	{oidSHA384, crypto.SHA384},
	{oidSHA512, crypto.SHA512},
	{oidSHA1, crypto.SHA1},
	{oidSHA224, crypto.SHA224},
}

func hashFromOID(oid []byte) crypto.Hash {
	for _, e := range hashOIDs {
		if bytes.Equal(e.oid, oid) {
			return e.h
		}
	}
	return 0
}

func oidFromHash(h crypto.Hash) []byte {
	for _, e := range hashOIDs {
		if e.h == h {
			return e.oid
		}
	}
	return nil
}

// strongHash reports whether h may be used for an imprint or a signature:
// SHA-256, SHA-384 or SHA-512 (sigstore/timestamp-authority refuses SHA-1 as
// weak and supports nothing else).
func strongHash(h crypto.Hash) bool {
	return h == crypto.SHA256 || h == crypto.SHA384 || h == crypto.SHA512
}

// readAlgorithmIdentifier reads AlgorithmIdentifier ::= SEQUENCE {
// algorithm OID, parameters ANY OPTIONAL } (RFC 5280 §4.1.1.2), returning the
// OID content octets and the full parameters element (nil if absent).
func readAlgorithmIdentifier(s *cryptobyte.String, oid, params *cryptobyte.String) bool {
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

// readHashAlgorithm reads a digest AlgorithmIdentifier, whose parameters are
// absent or NULL (RFC 5754 §2: both MUST be accepted). It returns 0 for an
// unknown algorithm.
func readHashAlgorithm(s *cryptobyte.String, out *crypto.Hash) bool {
	var oid, params cryptobyte.String
	if !readAlgorithmIdentifier(s, &oid, &params) || !nullOrAbsent(params) {
		return false
	}
	*out = hashFromOID(oid)
	return true
}

func nullOrAbsent(params []byte) bool {
	return len(params) == 0 || (len(params) == 2 && params[0] == 0x05 && params[1] == 0)
}

// addHashAlgorithm writes a digest AlgorithmIdentifier with NULL parameters,
// as the Sigstore TSA (encoding/asn1 via digitorus/timestamp) and OpenSSL do.
func addHashAlgorithm(b *cryptobyte.Builder, h crypto.Hash) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		addOID(b, oidFromHash(h))
		b.AddASN1NULL()
	})
}

func addOID(b *cryptobyte.Builder, content []byte) {
	b.AddASN1(cbasn1.OBJECT_IDENTIFIER, func(b *cryptobyte.Builder) { b.AddBytes(content) })
}

const generalizedTimeLayout = "20060102150405.999999999Z0700"

// readGeneralizedTime reads a GeneralizedTime, fractional seconds allowed
// (RFC 3161 §2.4.2 genTime: "YYYYMMDDhhmmss[.s...]Z", the fraction without
// trailing zeros). cryptobyte's reader refuses fractions, so this is ours;
// like encoding/asn1 it insists that the text is the canonical rendering of
// the time it denotes.
func readGeneralizedTime(s *cryptobyte.String, out *time.Time) bool {
	var v cryptobyte.String
	if !s.ReadASN1(&v, cbasn1.GeneralizedTime) {
		return false
	}
	str := string(v)
	t, err := time.Parse(generalizedTimeLayout, str)
	if err != nil || t.Format(generalizedTimeLayout) != str {
		return false
	}
	*out = t.UTC()
	return true
}

// readTime reads a Time ::= CHOICE { utcTime UTCTime, generalTime
// GeneralizedTime } (RFC 5652 §11.3 signing-time).
func readTime(s *cryptobyte.String, out *time.Time) bool {
	if s.PeekASN1Tag(cbasn1.UTCTime) {
		return s.ReadASN1UTCTime(out)
	}
	return readGeneralizedTime(s, out)
}

// readOptionalBoolean reads an untagged BOOLEAN DEFAULT FALSE. An explicit
// FALSE is not DER but is accepted, as encoding/asn1 and OpenSSL do.
func readOptionalBoolean(s *cryptobyte.String, out *bool) bool {
	*out = false
	if !s.PeekASN1Tag(cbasn1.BOOLEAN) {
		return true
	}
	return s.ReadASN1Boolean(out)
}
