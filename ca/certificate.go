package ca

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"sigil.dev/sigil/cert"
	"sigil.dev/sigil/oidc"
	"sigil.dev/sigil/sct"
)

// The certificate is encoded here rather than by x509.CreateCertificate,
// which verifies every signature it makes (about 70 µs for P-256, twice per
// certificate with an embedded SCT). The encoding is the one
// x509.CreateCertificate produces for the same template (see the tests),
// and signatures of keys outside the Go standard library (HSMs) are still
// verified.

var (
	oidKeyUsage     = asn1.ObjectIdentifier{2, 5, 29, 15}
	oidExtKeyUsage  = asn1.ObjectIdentifier{2, 5, 29, 37}
	oidAuthKeyID    = asn1.ObjectIdentifier{2, 5, 29, 35}
	oidCodeSigning  = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 3}
	oidECDSASHA256  = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidECDSASHA384  = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
	oidECDSASHA512  = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}
	oidSHA256RSA    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	oidEd25519      = asn1.ObjectIdentifier{1, 3, 101, 112}
	keyUsageDigSig  = []byte{0x03, 0x02, 0x07, 0x80}                                                 // BIT STRING digitalSignature
	extKeyUsageCode = []byte{0x30, 0x0a, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03} // SEQUENCE { codeSigning }
	poisonValue     = []byte{0x05, 0x00}                                                             // NULL
)

// signatureAlgorithm returns the DER AlgorithmIdentifier and hash a CA key
// signs with: Go's defaults (x509.CreateCertificate).
func signatureAlgorithm(pub crypto.PublicKey) ([]byte, crypto.Hash, error) {
	var b cryptobyte.Builder
	var h crypto.Hash
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		var oid asn1.ObjectIdentifier
		switch k.Curve {
		case elliptic.P256():
			oid, h = oidECDSASHA256, crypto.SHA256
		case elliptic.P384():
			oid, h = oidECDSASHA384, crypto.SHA384
		case elliptic.P521():
			oid, h = oidECDSASHA512, crypto.SHA512
		default:
			return nil, 0, errors.New("unsupported ECDSA curve")
		}
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(oid) })
	case *rsa.PublicKey:
		h = crypto.SHA256
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(oidSHA256RSA)
			b.AddASN1NULL()
		})
	case ed25519.PublicKey:
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(oidEd25519) })
	default:
		return nil, 0, fmt.Errorf("unsupported key type %T", pub)
	}
	der, err := b.Bytes()
	return der, h, err
}

func marshalAuthorityKeyID(skid []byte) []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.Tag(0).ContextSpecific(), func(b *cryptobyte.Builder) { b.AddBytes(skid) })
	})
	return b.BytesOrPanic()
}

// extension is one certificate extension.
type extension struct {
	id       asn1.ObjectIdentifier
	critical bool
	value    []byte
}

// leaf is a certificate about to be signed.
type leaf struct {
	serial              *big.Int
	notBefore, notAfter time.Time
	spki                []byte
	exts                []extension
}

// newSerial returns 20 random bytes with the top bit clear, what
// x509.CreateCertificate picks when no serial is given (RFC 5280 §4.1.2.2).
func newSerial() (*big.Int, error) {
	b := make([]byte, 20)
	for {
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		b[0] &= 0x7f
		if n := new(big.Int).SetBytes(b); n.Sign() > 0 {
			return n, nil
		}
	}
}

// ErrIdentityEncoding is returned when a principal cannot be written into a
// certificate (a SAN outside IA5String, or a URI that does not parse).
var ErrIdentityEncoding = errors.New("identity cannot be encoded in a certificate")

// newLeaf prepares the certificate for principal p and public key spki.
func (s *Service) newLeaf(p *oidc.Principal, spki []byte) (*leaf, error) {
	serial, err := newSerial()
	if err != nil {
		return nil, fmt.Errorf("couldn't generate serial number: %w", err)
	}
	now := s.cfg.Now().UTC().Truncate(time.Second)
	if !now.Before(s.issuer.NotAfter) || now.Before(s.issuer.NotBefore) {
		return nil, fmt.Errorf("couldn't issue certificate: the issuing certificate is valid only from %s to %s", s.issuer.NotBefore, s.issuer.NotAfter)
	}
	l := &leaf{serial: serial, notBefore: now, notAfter: now.Add(s.cfg.Lifetime), spki: spki}
	if l.notAfter.After(s.issuer.NotAfter) {
		// Never outlive the issuer: verifiers would refuse the chain.
		l.notAfter = s.issuer.NotAfter
	}
	l.exts = append(l.exts,
		extension{id: oidKeyUsage, critical: true, value: keyUsageDigSig},
		extension{id: oidExtKeyUsage, value: extKeyUsageCode})
	if s.authKeyID != nil {
		l.exts = append(l.exts, extension{id: oidAuthKeyID, value: s.authKeyID})
	}
	san, err := marshalSAN(p)
	if err != nil {
		return nil, err
	}
	fulcio, err := cert.Render(p.Extensions)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrIdentityEncoding, err)
	}
	// x509.CreateCertificate puts its own SAN after the AuthorityKeyId
	// and before ExtraExtensions; Fulcio's username SAN comes in
	// ExtraExtensions, first.
	l.exts = append(l.exts, extension{id: cert.OIDSAN, critical: true, value: san})
	for _, e := range fulcio {
		l.exts = append(l.exts, extension{id: e.Id, critical: e.Critical, value: e.Value})
	}
	return l, nil
}

// marshalSAN returns the SAN extension value for a principal: one URI
// (url.Parse then String, as x509.CreateCertificate writes template.URIs),
// one rfc822Name, or one Fulcio OtherName.
func marshalSAN(p *oidc.Principal) ([]byte, error) {
	var tag cbasn1.Tag
	var value string
	switch p.SANType {
	case oidc.SANURI:
		u, err := url.Parse(p.SAN)
		if err != nil {
			return nil, fmt.Errorf("%w: SAN %q is not a URI: %v", ErrIdentityEncoding, p.SAN, err)
		}
		tag, value = cbasn1.Tag(6).ContextSpecific(), u.String()
	case oidc.SANEmail:
		tag, value = cbasn1.Tag(1).ContextSpecific(), p.SAN
	case oidc.SANUsername:
		if !utf8.ValidString(p.SAN) {
			return nil, fmt.Errorf("%w: username is not UTF-8", ErrIdentityEncoding)
		}
		v, err := cert.MarshalOtherNameSAN(p.SAN)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrIdentityEncoding, err)
		}
		return v, nil
	default:
		return nil, fmt.Errorf("%w: no subject alternative name", ErrIdentityEncoding)
	}
	for i := 0; i < len(value); i++ {
		if value[i] >= utf8.RuneSelf {
			return nil, fmt.Errorf("%w: %q cannot be encoded as an IA5String", ErrIdentityEncoding, value)
		}
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(tag, func(b *cryptobyte.Builder) { b.AddBytes([]byte(value)) })
	})
	return b.Bytes()
}

// tbs encodes the TBSCertificate with the leaf's extensions followed by
// extra (the poison or the SCT list).
func (s *Service) tbs(l *leaf, extra ...extension) ([]byte, error) {
	n := 256 + len(s.issuer.RawSubject) + len(l.spki)
	for _, e := range l.exts {
		n += len(e.value) + 24
	}
	for _, e := range extra {
		n += len(e.value) + 24
	}
	b := cryptobyte.NewBuilder(make([]byte, 0, n))
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) { b.AddASN1Int64(2) })
		b.AddASN1BigInt(l.serial)
		b.AddBytes(s.algID)
		b.AddBytes(s.issuer.RawSubject)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			addTime(b, l.notBefore)
			addTime(b, l.notAfter)
		})
		b.AddBytes([]byte{0x30, 0x00}) // empty subject
		b.AddBytes(l.spki)
		b.AddASN1(cbasn1.Tag(3).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				for _, e := range l.exts {
					addExtension(b, e)
				}
				for _, e := range extra {
					addExtension(b, e)
				}
			})
		})
	})
	return b.Bytes()
}

func addExtension(b *cryptobyte.Builder, e extension) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(e.id)
		if e.critical {
			b.AddASN1Boolean(true)
		}
		b.AddASN1OctetString(e.value)
	})
}

// addTime writes UTCTime for 1950–2049 and GeneralizedTime otherwise
// (RFC 5280 §4.1.2.5).
func addTime(b *cryptobyte.Builder, t time.Time) {
	t = t.UTC()
	if y := t.Year(); y >= 1950 && y < 2050 {
		b.AddASN1UTCTime(t)
	} else {
		b.AddASN1GeneralizedTime(t)
	}
}

// sign signs a TBSCertificate and returns the DER certificate.
func (s *Service) sign(tbs []byte) ([]byte, error) {
	msg := tbs
	if s.hash != 0 {
		h := s.hash.New()
		h.Write(tbs)
		msg = h.Sum(nil)
	}
	sig, err := s.cfg.Signer.Sign(rand.Reader, msg, s.hash)
	if err != nil {
		return nil, fmt.Errorf("couldn't sign certificate: %w", err)
	}
	if s.selfCheck {
		if err := checkSignature(s.issuer.PublicKey, s.hash, msg, sig); err != nil {
			return nil, fmt.Errorf("couldn't sign certificate: the signer returned an invalid signature: %w", err)
		}
	}
	b := cryptobyte.NewBuilder(make([]byte, 0, len(tbs)+len(s.algID)+len(sig)+16))
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(tbs)
		b.AddBytes(s.algID)
		b.AddASN1BitString(sig)
	})
	return b.Bytes()
}

func checkSignature(pub crypto.PublicKey, h crypto.Hash, msg, sig []byte) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(k, msg, sig) {
			return errors.New("ECDSA verification failure")
		}
		return nil
	case *rsa.PublicKey:
		return rsa.VerifyPKCS1v15(k, h, msg, sig)
	case ed25519.PublicKey:
		if !ed25519.Verify(k, msg, sig) {
			return errors.New("Ed25519 verification failure")
		}
		return nil
	}
	return fmt.Errorf("unsupported key %T", pub)
}

// issued is the outcome of issuance.
type issued struct {
	der         []byte
	detachedSCT *sct.SCT // set in the detached flow with CT
	embedded    bool
}

// issue signs the certificate for l, going through the CT log when one is
// configured.
func (s *Service) issue(ctx context.Context, l *leaf) (*issued, error) {
	switch {
	case s.cfg.CT == nil:
		der, err := s.signLeaf(l)
		if err != nil {
			return nil, err
		}
		return &issued{der: der}, nil
	case s.cfg.DetachedSCT:
		der, err := s.signLeaf(l)
		if err != nil {
			return nil, err
		}
		sc, err := s.cfg.CT.AddChain(ctx, append([][]byte{der}, s.chainDER...))
		if err != nil {
			return nil, &ctError{err}
		}
		if s.cfg.CTKey != nil {
			if err := verifyX509SCT(sc, s.cfg.CTKey, der); err != nil {
				return nil, &ctError{fmt.Errorf("the CT log returned an SCT that does not verify: %w", err)}
			}
		}
		return &issued{der: der, detachedSCT: sc}, nil
	default:
		tbs, err := s.tbs(l, extension{id: cert.OIDPrecertPoison, critical: true, value: poisonValue})
		if err != nil {
			return nil, fmt.Errorf("couldn't encode precertificate: %w", err)
		}
		pre, err := s.sign(tbs)
		if err != nil {
			return nil, err
		}
		chain := append([][]byte{pre}, s.chainDER...)
		var sc *sct.SCT
		if in, ok := s.cfg.CT.(IssuedSubmitter); ok {
			sc, err = in.AddIssuedPreChain(ctx, chain)
		} else {
			sc, err = s.cfg.CT.AddPreChain(ctx, chain)
		}
		if err != nil {
			return nil, &ctError{err}
		}
		if sc == nil {
			return nil, &ctError{errors.New("the CT log returned no SCT")}
		}
		list, err := sct.MarshalList([]sct.SCT{*sc})
		if err != nil {
			return nil, &ctError{fmt.Errorf("couldn't encode SCT list: %w", err)}
		}
		if s.cfg.CTKey != nil {
			final, err := s.tbs(l)
			if err != nil {
				return nil, err
			}
			data, err := sct.PrecertSignedData(sc.Timestamp, s.issuer.RawSubjectPublicKeyInfo, final, sc.Extensions)
			if err != nil {
				return nil, err
			}
			if err := verifySCTData(sc, s.cfg.CTKey, data); err != nil {
				return nil, &ctError{fmt.Errorf("the CT log returned an SCT that does not verify: %w", err)}
			}
		}
		tbs, err = s.tbs(l, extension{id: cert.OIDSCTList, value: list})
		if err != nil {
			return nil, fmt.Errorf("couldn't encode certificate: %w", err)
		}
		der, err := s.sign(tbs)
		if err != nil {
			return nil, err
		}
		return &issued{der: der, embedded: true}, nil
	}
}

func (s *Service) signLeaf(l *leaf) ([]byte, error) {
	tbs, err := s.tbs(l)
	if err != nil {
		return nil, fmt.Errorf("couldn't encode certificate: %w", err)
	}
	return s.sign(tbs)
}

// ctError marks a failure of the CT log.
type ctError struct{ err error }

func (e *ctError) Error() string { return "couldn't enter certificate in the CT log: " + e.err.Error() }
func (e *ctError) Unwrap() error { return e.err }

// x509SignedData is what an SCT for an X.509 entry signs (RFC 6962 §3.2).
func x509SignedData(timestamp uint64, der, extensions []byte) []byte {
	var b cryptobyte.Builder
	b.AddUint8(0) // v1
	b.AddUint8(0) // certificate_timestamp
	b.AddUint64(timestamp)
	b.AddUint16(0) // x509_entry
	b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(der) })
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(extensions) })
	return b.BytesOrPanic()
}

func verifyX509SCT(sc *sct.SCT, pub crypto.PublicKey, der []byte) error {
	return verifySCTData(sc, pub, x509SignedData(sc.Timestamp, der, sc.Extensions))
}

// VerifyDetachedSCT checks a detached SCT (an X.509 entry, RFC 6962 §3.2)
// for the DER certificate certDER with the CT log key pub.
func VerifyDetachedSCT(s *sct.SCT, pub crypto.PublicKey, certDER []byte) error {
	if err := verifyX509SCT(s, pub, certDER); err != nil {
		return fmt.Errorf("couldn't verify detached SCT: %w: %v", sct.ErrSignature, err)
	}
	return nil
}

// verifySCTData checks that sc names the log of pub (its log ID,
// SHA-256 of the key's DER SubjectPublicKeyInfo, RFC 6962 §3.2, is what
// verifiers look the log up by in the trusted root: an SCT whose
// signature verifies under another ID fails every verification later)
// and that its signature over data verifies with pub.
func verifySCTData(sc *sct.SCT, pub crypto.PublicKey, data []byte) error {
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return fmt.Errorf("couldn't encode the CT log key: %w", err)
	}
	if id := sha256.Sum256(spki); sc.LogID != id {
		return fmt.Errorf("the SCT names log ID %x, not the configured CT log key's %x", sc.LogID, id)
	}
	var h crypto.Hash
	switch sc.HashAlg {
	case 4:
		h = crypto.SHA256
	case 5:
		h = crypto.SHA384
	case 6:
		h = crypto.SHA512
	default:
		return fmt.Errorf("unsupported SCT hash algorithm %d", sc.HashAlg)
	}
	d := h.New()
	d.Write(data)
	return checkSignature(pub, h, d.Sum(nil), sc.Signature)
}
