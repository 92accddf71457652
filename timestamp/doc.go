// Package timestamp implements RFC 3161 time-stamp tokens the way Sigstore
// uses them: parsing a TimeStampResp or a bare TimeStampToken, verifying a
// token against the signature bytes it stamps, and issuing tokens for the
// sigil TSA and for tests.
//
// # Wire format
//
// A request is a TimeStampReq (RFC 3161 §2.4.1):
//
//	TimeStampReq ::= SEQUENCE {
//	    version        INTEGER { v1(1) },
//	    messageImprint MessageImprint,      -- SEQUENCE { hashAlgorithm AlgorithmIdentifier, hashedMessage OCTET STRING }
//	    reqPolicy      TSAPolicyId OPTIONAL,
//	    nonce          INTEGER OPTIONAL,
//	    certReq        BOOLEAN DEFAULT FALSE,
//	    extensions     [0] IMPLICIT Extensions OPTIONAL }
//
// The answer is a TimeStampResp (RFC 3161 §2.4.2):
//
//	TimeStampResp ::= SEQUENCE {
//	    status         PKIStatusInfo,       -- SEQUENCE { status INTEGER, statusString SEQUENCE OF UTF8String OPTIONAL, failInfo BIT STRING OPTIONAL }
//	    timeStampToken TimeStampToken OPTIONAL }
//
// Only granted(0) and grantedWithMods(1) carry a token (RFC 3161 §2.4.2).
// The token is a CMS ContentInfo of type id-signedData (RFC 5652 §3, §5.1)
// whose encapsulated content, of type id-ct-TSTInfo
// (1.2.840.113549.1.9.16.1.4), is the DER of
//
//	TSTInfo ::= SEQUENCE {
//	    version        INTEGER { v1(1) },
//	    policy         TSAPolicyId,
//	    messageImprint MessageImprint,
//	    serialNumber   INTEGER,             -- up to 160 bits
//	    genTime        GeneralizedTime,     -- "YYYYMMDDhhmmss[.s...]Z", no trailing zeros in the fraction
//	    accuracy       Accuracy OPTIONAL,   -- SEQUENCE { seconds INTEGER OPTIONAL, millis [0] INTEGER OPTIONAL, micros [1] INTEGER OPTIONAL }
//	    ordering       BOOLEAN DEFAULT FALSE,
//	    nonce          INTEGER OPTIONAL,
//	    tsa            [0] GeneralName OPTIONAL,
//	    extensions     [1] IMPLICIT Extensions OPTIONAL }
//
// RFC 3161 §2.4.2 says the token MUST NOT carry any signature other than the
// TSA's, so a token has exactly one SignerInfo. Because the content type is
// not id-data, the SignerInfo MUST carry signed attributes, among them
// content-type and message-digest (RFC 5652 §5.3, §11.1, §11.2); the
// signature is computed over the DER of the signed attributes with the
// [0] IMPLICIT tag replaced by the universal SET OF tag (RFC 5652 §5.4).
// The TSA identifies its certificate with an ESS signing-certificate
// attribute, SigningCertificateV2 with ESSCertIDv2 (RFC 5816 §2.2.1,
// RFC 5035 §3; hash algorithm DEFAULT SHA-256) or the older
// SigningCertificate with a SHA-1 ESSCertID (RFC 2634 §5.4).
//
// # Verification
//
// [Token.Verify] follows sigstore/timestamp-authority
// pkg/verification.VerifyTimestampResponse as sigstore-go calls it (trusted
// root roots, intermediates and leaf; the chain checked at the token's own
// genTime). The rules and the error each one returns are listed on
// [Token.VerifyDigest]. The TSA certificate profile comes from RFC 3161
// §2.3: the TSA "MUST sign each time-stamp message with a key reserved
// specifically for that purpose", and its certificate "MUST contain only one
// instance of the extended key usage field extension ... with KeyPurposeID
// having value id-kp-timeStamping. This extension MUST be critical."
//
// Parsing is strict DER (golang.org/x/crypto/cryptobyte); BER tokens
// (indefinite lengths, constructed OCTET STRINGs) are refused as
// [ErrMalformed]. A parsed [Token] keeps references into the bytes it was
// parsed from: do not modify them afterwards.
package timestamp
