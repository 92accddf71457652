// Package sct reads and verifies RFC 6962 Signed Certificate Timestamps
// embedded in X.509 certificates, the proof that a Sigstore CA submitted a
// certificate to a certificate-transparency log before issuing it.
//
// Layouts (RFC 6962 §3.2, §3.3):
//
//	extension 1.3.6.1.4.1.11129.2.4.2 = OCTET STRING { SignedCertificateTimestampList }
//	SignedCertificateTimestampList = opaque sct_list<1..2^16-1> of SerializedSCT<1..2^16-1>
//	SCT = version(1) log_id(32) timestamp(8, ms) extensions<0..2^16-1>
//	      hash_alg(1) sig_alg(1) signature<0..2^16-1>
//
// An embedded SCT signs the precertificate entry:
//
//	version(1)=0 signature_type(1)=0 timestamp(8) entry_type(2)=1
//	issuer_key_hash(32)=SHA-256(issuer SubjectPublicKeyInfo)
//	tbs_certificate<1..2^24-1> = the leaf's TBSCertificate without the SCT list extension
//	extensions<0..2^16-1>
//
// SCT extensions are opaque; static-CT logs put the leaf index there and
// verifiers must accept them (sigstore/sigstore-conformance#319, vector
// bundle-with-sct-with-extensions).
package sct

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// OIDSCTList is the embedded SCT list extension.
var OIDSCTList = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 2}

// Errors callers may branch on.
var (
	ErrMalformed = errors.New("malformed SCT")
	ErrSignature = errors.New("SCT signature does not verify")
	ErrNone      = errors.New("certificate has no embedded SCTs")
)

// SCT is one parsed v1 SCT.
type SCT struct {
	LogID      [32]byte
	Timestamp  uint64 // milliseconds since the epoch
	Extensions []byte
	HashAlg    uint8 // TLS HashAlgorithm: 4 = SHA-256, 5 = SHA-384, 6 = SHA-512
	SigAlg     uint8 // TLS SignatureAlgorithm: 1 = RSA, 3 = ECDSA
	Signature  []byte
}

// Time returns the SCT timestamp.
func (s *SCT) Time() time.Time { return time.UnixMilli(int64(s.Timestamp)).UTC() }

// Embedded returns the SCTs embedded in a certificate; ErrNone if there are
// none.
func Embedded(c *x509.Certificate) ([]SCT, error) {
	for _, e := range c.Extensions {
		if e.Id.Equal(OIDSCTList) {
			return ParseList(e.Value)
		}
	}
	return nil, ErrNone
}

// ParseList parses the value of the SCT list extension.
func ParseList(extValue []byte) ([]SCT, error) {
	var octets cryptobyte.String
	in := cryptobyte.String(extValue)
	if !in.ReadASN1(&octets, cbasn1.OCTET_STRING) || !in.Empty() {
		return nil, fmt.Errorf("%w: list is not an OCTET STRING", ErrMalformed)
	}
	var list cryptobyte.String
	if !octets.ReadUint16LengthPrefixed(&list) || !octets.Empty() || list.Empty() {
		return nil, fmt.Errorf("%w: bad list length", ErrMalformed)
	}
	var out []SCT
	for !list.Empty() {
		var raw cryptobyte.String
		if !list.ReadUint16LengthPrefixed(&raw) {
			return nil, fmt.Errorf("%w: bad entry length", ErrMalformed)
		}
		s, err := Parse(raw)
		if err != nil {
			return nil, err
		}
		out = append(out, *s)
	}
	return out, nil
}

// Parse parses one serialized SCT.
func Parse(b []byte) (*SCT, error) {
	in := cryptobyte.String(b)
	var s SCT
	var version uint8
	var logID, ext, sig []byte
	if !in.ReadUint8(&version) {
		return nil, fmt.Errorf("%w: truncated", ErrMalformed)
	}
	if version != 0 {
		return nil, fmt.Errorf("%w: unsupported version %d", ErrMalformed, version)
	}
	if !in.ReadBytes(&logID, 32) || !in.ReadUint64(&s.Timestamp) ||
		!in.ReadUint16LengthPrefixed((*cryptobyte.String)(&ext)) ||
		!in.ReadUint8(&s.HashAlg) || !in.ReadUint8(&s.SigAlg) ||
		!in.ReadUint16LengthPrefixed((*cryptobyte.String)(&sig)) || !in.Empty() {
		return nil, fmt.Errorf("%w: truncated or trailing data", ErrMalformed)
	}
	copy(s.LogID[:], logID)
	s.Extensions, s.Signature = ext, sig
	return &s, nil
}

// SignedData returns the bytes an embedded SCT signs for leaf issued by the
// key issuerSPKI (DER SubjectPublicKeyInfo).
func (s *SCT) SignedData(leaf *x509.Certificate, issuerSPKI []byte) ([]byte, error) {
	tbs, err := removeExtension(leaf.RawTBSCertificate, OIDSCTList)
	if err != nil {
		return nil, err
	}
	return PrecertSignedData(s.Timestamp, issuerSPKI, tbs, s.Extensions)
}

// PrecertSignedData returns the bytes an SCT for a precertificate entry
// signs: tbs is the TBSCertificate with neither the poison nor the SCT list
// extension, issuerSPKI the issuer's DER SubjectPublicKeyInfo.
func PrecertSignedData(timestamp uint64, issuerSPKI, tbs, extensions []byte) ([]byte, error) {
	ikh := sha256.Sum256(issuerSPKI)
	var b cryptobyte.Builder
	b.AddUint8(0) // v1
	b.AddUint8(0) // certificate_timestamp
	b.AddUint64(timestamp)
	b.AddUint16(1) // precert_entry
	b.AddBytes(ikh[:])
	b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(tbs) })
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(extensions) })
	return b.Bytes()
}

// X509SignedData returns the bytes an SCT for an X.509 entry signs (a
// detached SCT, returned by add-chain; RFC 6962 §3.2):
//
//	version(1)=0 signature_type(1)=0 timestamp(8) entry_type(2)=0
//	ASN.1Cert<1..2^24-1> = the certificate's DER
//	extensions<0..2^16-1>
func X509SignedData(timestamp uint64, certDER, extensions []byte) ([]byte, error) {
	var b cryptobyte.Builder
	b.AddUint8(0) // v1
	b.AddUint8(0) // certificate_timestamp
	b.AddUint64(timestamp)
	b.AddUint16(0) // x509_entry
	b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(certDER) })
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(extensions) })
	return b.Bytes()
}

// Verify checks an embedded SCT's signature by the log key pub.
func (s *SCT) Verify(pub crypto.PublicKey, leaf *x509.Certificate, issuerSPKI []byte) error {
	data, err := s.SignedData(leaf, issuerSPKI)
	if err != nil {
		return err
	}
	return s.VerifySignedData(pub, data)
}

// VerifySignedData checks the SCT's signature by the log key pub over
// data, the output of PrecertSignedData or X509SignedData (for a detached
// SCT over a precertificate or a certificate).
func (s *SCT) VerifySignedData(pub crypto.PublicKey, data []byte) error {
	var h crypto.Hash
	switch s.HashAlg {
	case 4:
		h = crypto.SHA256
	case 5:
		h = crypto.SHA384
	case 6:
		h = crypto.SHA512
	default:
		return fmt.Errorf("%w: unsupported hash algorithm %d", ErrMalformed, s.HashAlg)
	}
	d := h.New()
	d.Write(data)
	digest := d.Sum(nil)
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if s.SigAlg != 3 {
			return fmt.Errorf("%w: signature algorithm %d with an ECDSA key", ErrSignature, s.SigAlg)
		}
		if !ecdsa.VerifyASN1(k, digest, s.Signature) {
			return ErrSignature
		}
	case *rsa.PublicKey:
		if s.SigAlg != 1 {
			return fmt.Errorf("%w: signature algorithm %d with an RSA key", ErrSignature, s.SigAlg)
		}
		if rsa.VerifyPKCS1v15(k, h, digest, s.Signature) != nil {
			return ErrSignature
		}
	default:
		return fmt.Errorf("%w: unsupported log key %T", ErrSignature, pub)
	}
	return nil
}

// removeExtension returns tbs with the extension oid removed from its
// extensions, re-encoded in DER. It is an error if the extension is absent.
func removeExtension(tbs []byte, oid asn1.ObjectIdentifier) ([]byte, error) {
	in := cryptobyte.String(tbs)
	var body cryptobyte.String
	if !in.ReadASN1(&body, cbasn1.SEQUENCE) || !in.Empty() {
		return nil, fmt.Errorf("%w: bad TBSCertificate", ErrMalformed)
	}
	var b cryptobyte.Builder
	found := false
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		for !body.Empty() {
			var elem cryptobyte.String
			var tag cbasn1.Tag
			if !body.ReadAnyASN1Element(&elem, &tag) {
				b.SetError(fmt.Errorf("%w: bad TBSCertificate element", ErrMalformed))
				return
			}
			if tag != cbasn1.Tag(3).Constructed().ContextSpecific() {
				b.AddBytes(elem)
				continue
			}
			var wrapped, exts cryptobyte.String
			if !elem.ReadASN1(&wrapped, tag) || !wrapped.ReadASN1(&exts, cbasn1.SEQUENCE) {
				b.SetError(fmt.Errorf("%w: bad extensions", ErrMalformed))
				return
			}
			b.AddASN1(tag, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					for !exts.Empty() {
						var ext, e cryptobyte.String
						if !exts.ReadASN1Element(&ext, cbasn1.SEQUENCE) {
							b.SetError(fmt.Errorf("%w: bad extension", ErrMalformed))
							return
						}
						e = ext
						var id asn1.ObjectIdentifier
						var inner cryptobyte.String
						if !e.ReadASN1(&inner, cbasn1.SEQUENCE) || !inner.ReadASN1ObjectIdentifier(&id) {
							b.SetError(fmt.Errorf("%w: bad extension", ErrMalformed))
							return
						}
						if id.Equal(oid) {
							found = true
							continue
						}
						b.AddBytes(ext)
					}
				})
			})
		}
	})
	out, err := b.Bytes()
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("%w: extension %s not in certificate", ErrMalformed, oid)
	}
	return out, nil
}

// Serialize returns the TLS encoding of a v1 SCT.
func (s *SCT) Serialize() []byte {
	var b cryptobyte.Builder
	b.AddUint8(0)
	b.AddBytes(s.LogID[:])
	b.AddUint64(s.Timestamp)
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(s.Extensions) })
	b.AddUint8(s.HashAlg)
	b.AddUint8(s.SigAlg)
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(s.Signature) })
	return b.BytesOrPanic()
}

// MarshalList returns the value of the SCT list extension for scts.
func MarshalList(scts []SCT) ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.OCTET_STRING, func(b *cryptobyte.Builder) {
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			for i := range scts {
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(scts[i].Serialize()) })
			}
		})
	})
	return b.Bytes()
}

// RemoveExtension returns a DER TBSCertificate without the extension oid
// (for example the precertificate poison), which must be present.
func RemoveExtension(tbs []byte, oid asn1.ObjectIdentifier) ([]byte, error) {
	return removeExtension(tbs, oid)
}
