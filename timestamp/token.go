package timestamp

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"math"
	"math/big"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Token is a parsed RFC 3161 TimeStampToken (CMS SignedData over TSTInfo).
// The exported fields come from the TSTInfo and are not authenticated until
// Verify succeeds.
type Token struct {
	HashAlgorithm crypto.Hash // of the message imprint
	HashedMessage []byte
	Time          time.Time // genTime, in UTC
	Accuracy      time.Duration
	SerialNumber  *big.Int
	Policy        asn1.ObjectIdentifier
	Nonce         *big.Int // nil if absent
	Ordering      bool
	Certificates  []*x509.Certificate // embedded in the SignedData, if any

	// Raw is the DER of the TimeStampToken (the CMS ContentInfo).
	Raw []byte

	// What Verify needs, parsed once.
	eContent []byte // DER of the TSTInfo
	signer   signerInfo
}

// signerInfo is the one SignerInfo of the token (RFC 5652 §5.3).
type signerInfo struct {
	// SignerIdentifier: issuerAndSerialNumber or [0] subjectKeyIdentifier.
	issuer []byte // DER of the issuer Name
	serial *big.Int
	ski    []byte

	digestAlg crypto.Hash // 0 if unknown
	sigAlg    sigAlgorithm
	signature []byte

	// signedAttrs is the DER of the signed attributes re-tagged as SET OF
	// (RFC 5652 §5.4), i.e. exactly the bytes the signature covers; nil if
	// the SignerInfo has none.
	signedAttrs []byte

	// Values of the signed attributes Verify checks.
	contentType     []byte // content octets of the content-type OID; nil if absent
	messageDigest   []byte // nil if absent
	signingTime     time.Time
	hasSigningTime  bool
	essHashAlg      crypto.Hash // hash of the first ESSCertID(v2); 0 if unknown or absent
	essCertHash     []byte      // nil if no signing-certificate attribute
	hasESSAttribute bool
}

// sigKind is the signature scheme of a SignerInfo.
type sigKind int

const (
	sigUnknown sigKind = iota
	sigECDSA
	sigRSAPKCS1
	sigRSAPSS
	sigEd25519
)

type sigAlgorithm struct {
	kind sigKind
	hash crypto.Hash // hash the signature is computed with; 0 for Ed25519
	salt int         // RSASSA-PSS salt length
	err  string      // why kind is sigUnknown
}

// ParseResponse parses a DER TimeStampResp (RFC 3161 §2.4.2). A response
// whose PKIStatus is not granted(0) or grantedWithMods(1) gives a
// *StatusError wrapping ErrNotGranted that names the status and failInfo.
func ParseResponse(der []byte) (*Token, error) {
	s := cryptobyte.String(der)
	var resp, statusInfo cryptobyte.String
	if !s.ReadASN1(&resp, cbasn1.SEQUENCE) || !s.Empty() {
		return nil, malformed("timestamp response")
	}
	if !resp.ReadASN1(&statusInfo, cbasn1.SEQUENCE) {
		return nil, malformed("timestamp response status")
	}
	var status int64
	if !statusInfo.ReadASN1Integer(&status) {
		return nil, malformed("timestamp response status")
	}
	if status != StatusGranted && status != StatusGrantedWithMods {
		se := &StatusError{Status: int(status)}
		if status < 0 || status > math.MaxInt32 {
			se.Status = -1
		}
		var texts cryptobyte.String
		var present bool
		if statusInfo.ReadOptionalASN1(&texts, &present, cbasn1.SEQUENCE) && present {
			for !texts.Empty() && len(se.StatusString) < 8 {
				var str cryptobyte.String
				if !texts.ReadASN1(&str, cbasn1.UTF8String) {
					break
				}
				se.StatusString = append(se.StatusString, string(str))
			}
		}
		var bits asn1.BitString
		if statusInfo.PeekASN1Tag(cbasn1.BIT_STRING) && statusInfo.ReadASN1BitString(&bits) {
			for i := 0; i < bits.BitLength && i < 64; i++ {
				if bits.At(i) == 1 {
					se.FailInfo = append(se.FailInfo, i)
				}
			}
		}
		return nil, se
	}
	// The rest of PKIStatusInfo is only informative for a granted token.
	var tok cryptobyte.String
	var tag cbasn1.Tag
	if !resp.ReadAnyASN1Element(&tok, &tag) || tag != cbasn1.SEQUENCE || !resp.Empty() {
		return nil, malformed("timestamp response: granted but no token")
	}
	return ParseToken(tok)
}

// ParseToken parses a DER TimeStampToken: a CMS ContentInfo of type
// id-signedData whose encapsulated content is a TSTInfo (RFC 3161 §2.4.2,
// RFC 5652 §3, §5). It checks structure only; see Verify.
func ParseToken(der []byte) (*Token, error) {
	t := &Token{Raw: der}
	s := cryptobyte.String(der)
	var ci, oid, explicit, sd cryptobyte.String
	if !s.ReadASN1(&ci, cbasn1.SEQUENCE) || !s.Empty() ||
		!ci.ReadASN1(&oid, cbasn1.OBJECT_IDENTIFIER) {
		return nil, malformed("timestamp token ContentInfo")
	}
	if !bytes.Equal(oid, oidSignedData) {
		return nil, malformed("timestamp token: content type is not id-signedData")
	}
	if !ci.ReadASN1(&explicit, cbasn1.Tag(0).Constructed().ContextSpecific()) || !ci.Empty() ||
		!explicit.ReadASN1(&sd, cbasn1.SEQUENCE) || !explicit.Empty() {
		return nil, malformed("timestamp token SignedData")
	}

	// SignedData ::= SEQUENCE { version CMSVersion, digestAlgorithms SET OF
	// DigestAlgorithmIdentifier, encapContentInfo EncapsulatedContentInfo,
	// certificates [0] IMPLICIT CertificateSet OPTIONAL, crls [1] IMPLICIT
	// RevocationInfoChoices OPTIONAL, signerInfos SET OF SignerInfo }
	var version int64
	var eci, eType, eExplicit, eContent cryptobyte.String
	if !sd.ReadASN1Integer(&version) || !sd.SkipASN1(cbasn1.SET) ||
		!sd.ReadASN1(&eci, cbasn1.SEQUENCE) {
		return nil, malformed("timestamp token SignedData")
	}
	// EncapsulatedContentInfo ::= SEQUENCE { eContentType OID, eContent [0]
	// EXPLICIT OCTET STRING OPTIONAL }
	if !eci.ReadASN1(&eType, cbasn1.OBJECT_IDENTIFIER) {
		return nil, malformed("timestamp token EncapsulatedContentInfo")
	}
	if !bytes.Equal(eType, oidTSTInfo) {
		return nil, malformed("timestamp token: encapsulated content type is not id-ct-TSTInfo")
	}
	if !eci.ReadASN1(&eExplicit, cbasn1.Tag(0).Constructed().ContextSpecific()) || !eci.Empty() ||
		!eExplicit.ReadASN1(&eContent, cbasn1.OCTET_STRING) || !eExplicit.Empty() {
		return nil, malformed("timestamp token: missing or non-DER TSTInfo content")
	}
	t.eContent = eContent

	var certs cryptobyte.String
	if !sd.ReadOptionalASN1(&certs, nil, cbasn1.Tag(0).Constructed().ContextSpecific()) {
		return nil, malformed("timestamp token certificates")
	}
	for !certs.Empty() {
		var c cryptobyte.String
		var tag cbasn1.Tag
		if !certs.ReadAnyASN1Element(&c, &tag) {
			return nil, malformed("timestamp token certificates")
		}
		if tag != cbasn1.SEQUENCE {
			continue // CertificateChoices other than an X.509 certificate (RFC 5652 §10.2.2) play no part here
		}
		cert, err := x509.ParseCertificate(c)
		if err != nil {
			return nil, fmt.Errorf("couldn't parse certificate embedded in timestamp token: %w: %w", ErrMalformed, err)
		}
		t.Certificates = append(t.Certificates, cert)
	}
	if !sd.SkipOptionalASN1(cbasn1.Tag(1).Constructed().ContextSpecific()) {
		return nil, malformed("timestamp token crls")
	}
	var signerInfos cryptobyte.String
	if !sd.ReadASN1(&signerInfos, cbasn1.SET) || !sd.Empty() {
		return nil, malformed("timestamp token signerInfos")
	}
	// RFC 3161 §2.4.2: "The time-stamp token MUST NOT contain any signatures
	// other than the signature of the TSA."
	var si cryptobyte.String
	if !signerInfos.ReadASN1(&si, cbasn1.SEQUENCE) {
		return nil, malformed("timestamp token: no SignerInfo")
	}
	if !signerInfos.Empty() {
		return nil, malformed("timestamp token: more than one SignerInfo")
	}
	if err := parseSignerInfo(si, &t.signer); err != nil {
		return nil, err
	}
	if err := parseTSTInfo(eContent, t); err != nil {
		return nil, err
	}
	return t, nil
}

// parseSignerInfo parses
//
//	SignerInfo ::= SEQUENCE {
//	    version CMSVersion,
//	    sid SignerIdentifier,              -- issuerAndSerialNumber | [0] IMPLICIT SubjectKeyIdentifier
//	    digestAlgorithm DigestAlgorithmIdentifier,
//	    signedAttrs [0] IMPLICIT SignedAttributes OPTIONAL,
//	    signatureAlgorithm SignatureAlgorithmIdentifier,
//	    signature OCTET STRING,
//	    unsignedAttrs [1] IMPLICIT UnsignedAttributes OPTIONAL }
//
// (RFC 5652 §5.3).
func parseSignerInfo(si cryptobyte.String, out *signerInfo) error {
	var version int64
	if !si.ReadASN1Integer(&version) {
		return malformed("SignerInfo version")
	}
	switch {
	case si.PeekASN1Tag(cbasn1.SEQUENCE):
		var ias, issuer cryptobyte.String
		var tag cbasn1.Tag
		out.serial = new(big.Int)
		if !si.ReadASN1(&ias, cbasn1.SEQUENCE) ||
			!ias.ReadAnyASN1Element(&issuer, &tag) || tag != cbasn1.SEQUENCE ||
			!ias.ReadASN1Integer(out.serial) || !ias.Empty() {
			return malformed("SignerInfo issuerAndSerialNumber")
		}
		out.issuer = issuer
	case si.PeekASN1Tag(cbasn1.Tag(0).ContextSpecific()):
		var ski cryptobyte.String
		if !si.ReadASN1(&ski, cbasn1.Tag(0).ContextSpecific()) || len(ski) == 0 {
			return malformed("SignerInfo subjectKeyIdentifier")
		}
		out.ski = ski
	default:
		return malformed("SignerInfo SignerIdentifier")
	}
	if !readHashAlgorithm(&si, &out.digestAlg) {
		return malformed("SignerInfo digestAlgorithm")
	}
	var attrs cryptobyte.String
	if si.PeekASN1Tag(cbasn1.Tag(0).Constructed().ContextSpecific()) {
		var tag cbasn1.Tag
		if !si.ReadAnyASN1Element(&attrs, &tag) {
			return malformed("SignerInfo signedAttrs")
		}
		// RFC 5652 §5.4: the signature covers the DER of SignedAttributes
		// with an EXPLICIT SET OF tag, not the [0] IMPLICIT tag that appears
		// in the SignerInfo.
		out.signedAttrs = append([]byte{byte(cbasn1.SET)}, attrs[1:]...)
		if err := parseSignedAttrs(cryptobyte.String(out.signedAttrs), out); err != nil {
			return err
		}
	}
	var sigOID, sigParams cryptobyte.String
	if !readAlgorithmIdentifier(&si, &sigOID, &sigParams) {
		return malformed("SignerInfo signatureAlgorithm")
	}
	out.sigAlg = signatureAlgorithm(sigOID, sigParams, out.digestAlg)
	var sig cryptobyte.String
	if !si.ReadASN1(&sig, cbasn1.OCTET_STRING) {
		return malformed("SignerInfo signature")
	}
	out.signature = sig
	if !si.SkipOptionalASN1(cbasn1.Tag(1).Constructed().ContextSpecific()) || !si.Empty() {
		return malformed("SignerInfo unsignedAttrs")
	}
	return nil
}

// parseSignedAttrs reads the attributes Verify checks out of
//
//	SignedAttributes ::= SET SIZE (1..MAX) OF Attribute
//	Attribute ::= SEQUENCE { attrType OBJECT IDENTIFIER, attrValues SET OF AttributeValue }
//
// content-type, message-digest and signing-time MUST NOT appear more than
// once and MUST have a single value (RFC 5652 §11.1–§11.3).
func parseSignedAttrs(set cryptobyte.String, out *signerInfo) error {
	var attrs cryptobyte.String
	if !set.ReadASN1(&attrs, cbasn1.SET) || !set.Empty() || attrs.Empty() {
		return malformed("signed attributes")
	}
	var seenCT, seenMD, seenST, seenESS2, seenESS1 bool
	var ess1 cryptobyte.String
	for !attrs.Empty() {
		var attr, typ, values cryptobyte.String
		if !attrs.ReadASN1(&attr, cbasn1.SEQUENCE) ||
			!attr.ReadASN1(&typ, cbasn1.OBJECT_IDENTIFIER) ||
			!attr.ReadASN1(&values, cbasn1.SET) || !attr.Empty() {
			return malformed("signed attribute")
		}
		once := func(seen *bool, name string) error {
			if *seen {
				return malformed("signed attributes: %s appears twice", name)
			}
			*seen = true
			return nil
		}
		switch {
		case bytes.Equal(typ, oidAttrContentType):
			if err := once(&seenCT, "content-type"); err != nil {
				return err
			}
			var v cryptobyte.String
			if !values.ReadASN1(&v, cbasn1.OBJECT_IDENTIFIER) || !values.Empty() {
				return malformed("content-type attribute")
			}
			out.contentType = v
		case bytes.Equal(typ, oidAttrMessageDigest):
			if err := once(&seenMD, "message-digest"); err != nil {
				return err
			}
			var v cryptobyte.String
			if !values.ReadASN1(&v, cbasn1.OCTET_STRING) || !values.Empty() {
				return malformed("message-digest attribute")
			}
			out.messageDigest = v
		case bytes.Equal(typ, oidAttrSigningTime):
			if err := once(&seenST, "signing-time"); err != nil {
				return err
			}
			if !readTime(&values, &out.signingTime) || !values.Empty() {
				return malformed("signing-time attribute")
			}
			out.hasSigningTime = true
		case bytes.Equal(typ, oidAttrSigningCertV2):
			if err := once(&seenESS2, "signing-certificate-v2"); err != nil {
				return err
			}
			if err := parseSigningCertificate(values, true, out); err != nil {
				return err
			}
		case bytes.Equal(typ, oidAttrSigningCert):
			if err := once(&seenESS1, "signing-certificate"); err != nil {
				return err
			}
			ess1 = values
		}
	}
	// ESSCertIDv2 wins when both are present (RFC 5816 §2.2.1 allows a TSA
	// to send both for backward compatibility).
	if seenESS1 && !seenESS2 {
		if err := parseSigningCertificate(ess1, false, out); err != nil {
			return err
		}
	}
	return nil
}

// parseSigningCertificate reads the first certificate identifier of
//
//	SigningCertificateV2 ::= SEQUENCE { certs SEQUENCE OF ESSCertIDv2, policies SEQUENCE OF PolicyInformation OPTIONAL }
//	ESSCertIDv2 ::= SEQUENCE { hashAlgorithm AlgorithmIdentifier DEFAULT {algorithm id-sha256}, certHash OCTET STRING, issuerSerial IssuerSerial OPTIONAL }
//
// (RFC 5035 §3, RFC 5816 §2.2.1) or, for v1,
//
//	SigningCertificate ::= SEQUENCE { certs SEQUENCE OF ESSCertID, policies ... OPTIONAL }
//	ESSCertID ::= SEQUENCE { certHash OCTET STRING (SHA-1), issuerSerial IssuerSerial OPTIONAL }
//
// (RFC 2634 §5.4). The first ESSCertID identifies the signer.
func parseSigningCertificate(values cryptobyte.String, v2 bool, out *signerInfo) error {
	var sc, certs, id cryptobyte.String
	if !values.ReadASN1(&sc, cbasn1.SEQUENCE) || !values.Empty() ||
		!sc.ReadASN1(&certs, cbasn1.SEQUENCE) ||
		!certs.ReadASN1(&id, cbasn1.SEQUENCE) {
		return malformed("signing-certificate attribute")
	}
	out.hasESSAttribute = true
	out.essHashAlg = crypto.SHA1
	if v2 {
		out.essHashAlg = crypto.SHA256
		if id.PeekASN1Tag(cbasn1.SEQUENCE) && !readHashAlgorithm(&id, &out.essHashAlg) {
			return malformed("signing-certificate-v2 hashAlgorithm")
		}
	}
	var h cryptobyte.String
	if !id.ReadASN1(&h, cbasn1.OCTET_STRING) {
		return malformed("signing-certificate certHash")
	}
	out.essCertHash = h
	return nil
}

// signatureAlgorithm decides how to check a SignerInfo signature.
//
// For ECDSA the hash is the one signatureAlgorithm names (ecdsa-with-SHA*,
// RFC 5758 §3.2), or digestAlgorithm when it is the bare id-ecPublicKey;
// for RSA PKCS #1 v1.5 the hash is digestAlgorithm whether
// signatureAlgorithm is rsaEncryption or sha*WithRSAEncryption (RFC 3370
// §3.2). Both follow digitorus/pkcs7, which sigstore/timestamp-authority
// verifies with, so the same tokens are accepted. RSASSA-PSS takes its hash
// and salt length from its parameters (RFC 4055 §3.1, RFC 4056).
func signatureAlgorithm(oid, params []byte, digestAlg crypto.Hash) sigAlgorithm {
	switch {
	case bytes.Equal(oid, oidECDSASHA256):
		return sigAlgorithm{kind: sigECDSA, hash: crypto.SHA256}
	case bytes.Equal(oid, oidECDSASHA384):
		return sigAlgorithm{kind: sigECDSA, hash: crypto.SHA384}
	case bytes.Equal(oid, oidECDSASHA512):
		return sigAlgorithm{kind: sigECDSA, hash: crypto.SHA512}
	case bytes.Equal(oid, oidECPublicKey):
		return sigAlgorithm{kind: sigECDSA, hash: digestAlg}
	case bytes.Equal(oid, oidRSA), bytes.Equal(oid, oidRSASHA256),
		bytes.Equal(oid, oidRSASHA384), bytes.Equal(oid, oidRSASHA512):
		return sigAlgorithm{kind: sigRSAPKCS1, hash: digestAlg}
	case bytes.Equal(oid, oidRSAPSS):
		return pssAlgorithm(params)
	case bytes.Equal(oid, oidEd25519):
		if len(params) != 0 {
			return sigAlgorithm{err: "Ed25519 with parameters"}
		}
		return sigAlgorithm{kind: sigEd25519}
	case bytes.Equal(oid, oidECDSASHA1), bytes.Equal(oid, oidRSASHA1):
		return sigAlgorithm{err: "SHA-1 signatures are refused as weak"}
	}
	return sigAlgorithm{err: "unsupported signature algorithm " + oidString(oid)}
}

// pssAlgorithm reads RSASSA-PSS-params ::= SEQUENCE { hashAlgorithm [0]
// HashAlgorithm DEFAULT sha1, maskGenAlgorithm [1] MaskGenAlgorithm DEFAULT
// mgf1SHA1, saltLength [2] INTEGER DEFAULT 20, trailerField [3] INTEGER
// DEFAULT 1 } (RFC 4055 §3.1). Only MGF1 with the same hash as the message
// is supported (what crypto/rsa implements).
func pssAlgorithm(params []byte) sigAlgorithm {
	bad := sigAlgorithm{err: "unsupported RSASSA-PSS parameters"}
	s := cryptobyte.String(params)
	var seq cryptobyte.String
	if !s.ReadASN1(&seq, cbasn1.SEQUENCE) || !s.Empty() {
		return bad
	}
	hash, mgfHash := crypto.SHA1, crypto.SHA1
	var field cryptobyte.String
	var present bool
	if !seq.ReadOptionalASN1(&field, &present, cbasn1.Tag(0).Constructed().ContextSpecific()) {
		return bad
	}
	if present && (!readHashAlgorithm(&field, &hash) || !field.Empty()) {
		return bad
	}
	if !seq.ReadOptionalASN1(&field, &present, cbasn1.Tag(1).Constructed().ContextSpecific()) {
		return bad
	}
	if present {
		var mgfOID, mgfParams cryptobyte.String
		if !readAlgorithmIdentifier(&field, &mgfOID, &mgfParams) || !field.Empty() || !bytes.Equal(mgfOID, oidMGF1) {
			return bad
		}
		if !readHashAlgorithm(&mgfParams, &mgfHash) || !mgfParams.Empty() {
			return bad
		}
	}
	var salt, trailer int64
	if !seq.ReadOptionalASN1Integer(&salt, cbasn1.Tag(2).Constructed().ContextSpecific(), int64(20)) ||
		!seq.ReadOptionalASN1Integer(&trailer, cbasn1.Tag(3).Constructed().ContextSpecific(), int64(1)) ||
		!seq.Empty() {
		return bad
	}
	if hash != mgfHash || trailer != 1 || salt < 0 || salt > 1024 {
		return bad
	}
	return sigAlgorithm{kind: sigRSAPSS, hash: hash, salt: int(salt)}
}

// parseTSTInfo parses the TSTInfo (RFC 3161 §2.4.2) into t.
func parseTSTInfo(der []byte, t *Token) error {
	s := cryptobyte.String(der)
	var info cryptobyte.String
	if !s.ReadASN1(&info, cbasn1.SEQUENCE) || !s.Empty() {
		return malformed("TSTInfo")
	}
	var version int64
	if !info.ReadASN1Integer(&version) {
		return malformed("TSTInfo version")
	}
	if version != 1 {
		return malformed("TSTInfo: version %d, want 1", version)
	}
	if !info.ReadASN1ObjectIdentifier(&t.Policy) {
		return malformed("TSTInfo policy")
	}
	if err := readMessageImprint(&info, &t.HashAlgorithm, &t.HashedMessage); err != nil {
		return err
	}
	t.SerialNumber = new(big.Int)
	if !info.ReadASN1Integer(t.SerialNumber) {
		return malformed("TSTInfo serialNumber")
	}
	if !readGeneralizedTime(&info, &t.Time) {
		return malformed("TSTInfo genTime")
	}
	if info.PeekASN1Tag(cbasn1.SEQUENCE) {
		var acc cryptobyte.String
		info.ReadASN1(&acc, cbasn1.SEQUENCE)
		d, ok := readAccuracy(acc)
		if !ok {
			return malformed("TSTInfo accuracy")
		}
		t.Accuracy = d
	}
	if !readOptionalBoolean(&info, &t.Ordering) {
		return malformed("TSTInfo ordering")
	}
	if info.PeekASN1Tag(cbasn1.INTEGER) {
		t.Nonce = new(big.Int)
		if !info.ReadASN1Integer(t.Nonce) {
			return malformed("TSTInfo nonce")
		}
	}
	// tsa [0] GeneralName (explicit, GeneralName being a CHOICE) and
	// extensions [1] IMPLICIT Extensions are informative here.
	if !info.SkipOptionalASN1(cbasn1.Tag(0).Constructed().ContextSpecific()) ||
		!info.SkipOptionalASN1(cbasn1.Tag(1).Constructed().ContextSpecific()) ||
		!info.Empty() {
		return malformed("TSTInfo: trailing fields")
	}
	return nil
}

// readMessageImprint reads MessageImprint ::= SEQUENCE { hashAlgorithm
// AlgorithmIdentifier, hashedMessage OCTET STRING } (RFC 3161 §2.4.1). An
// unknown hash algorithm is ErrHashAlgorithm.
func readMessageImprint(s *cryptobyte.String, h *crypto.Hash, digest *[]byte) error {
	var mi, oid, params, msg cryptobyte.String
	if !s.ReadASN1(&mi, cbasn1.SEQUENCE) || !readAlgorithmIdentifier(&mi, &oid, &params) ||
		!mi.ReadASN1(&msg, cbasn1.OCTET_STRING) || !mi.Empty() || !nullOrAbsent(params) {
		return malformed("messageImprint")
	}
	*h = hashFromOID(oid)
	if *h == 0 {
		return fmt.Errorf("couldn't parse messageImprint: %w: %s", ErrHashAlgorithm, oidString(oid))
	}
	*digest = msg
	return nil
}

// readAccuracy reads Accuracy ::= SEQUENCE { seconds INTEGER OPTIONAL,
// millis [0] INTEGER (1..999) OPTIONAL, micros [1] INTEGER (1..999)
// OPTIONAL } (RFC 3161 §2.4.2; the tags are implicit under the module's
// IMPLICIT TAGS default).
func readAccuracy(acc cryptobyte.String) (time.Duration, bool) {
	var sec, ms, us int64
	if acc.PeekASN1Tag(cbasn1.INTEGER) && !acc.ReadASN1Integer(&sec) {
		return 0, false
	}
	if acc.PeekASN1Tag(cbasn1.Tag(0).ContextSpecific()) && !acc.ReadASN1Int64WithTag(&ms, cbasn1.Tag(0).ContextSpecific()) {
		return 0, false
	}
	if acc.PeekASN1Tag(cbasn1.Tag(1).ContextSpecific()) && !acc.ReadASN1Int64WithTag(&us, cbasn1.Tag(1).ContextSpecific()) {
		return 0, false
	}
	if !acc.Empty() || sec < 0 || sec > int64(math.MaxInt64/time.Second)-1 || ms < 0 || ms > 999 || us < 0 || us > 999 {
		return 0, false
	}
	return time.Duration(sec)*time.Second + time.Duration(ms)*time.Millisecond + time.Duration(us)*time.Microsecond, true
}

func oidString(content []byte) string {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.OBJECT_IDENTIFIER, func(b *cryptobyte.Builder) { b.AddBytes(content) })
	der, err := b.Bytes()
	if err != nil {
		return "invalid OID"
	}
	var oid asn1.ObjectIdentifier
	s := cryptobyte.String(der)
	if !s.ReadASN1ObjectIdentifier(&oid) {
		return fmt.Sprintf("invalid OID %x", content)
	}
	return oid.String()
}
