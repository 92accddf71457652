package timestamp

import (
	"bytes"
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
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Signer issues time-stamp tokens, as a TSA. Its zero defaults give what the
// Sigstore TSA issues (sigstore/timestamp-authority pkg/api/timestamp.go):
// policy 1.3.6.1.4.1.57264.2, accuracy 1 s, ordering false, genTime in UTC
// with whole seconds, the TSA certificates embedded only on request.
//
// A Signer is safe for concurrent use if Key and Now are.
type Signer struct {
	Key      crypto.Signer
	Cert     *x509.Certificate     // TSA leaf; its key must be Key's
	Chain    []*x509.Certificate   // intermediates and root to embed after Cert when the request asks for certificates
	Policy   asn1.ObjectIdentifier // default PolicySigstore
	Accuracy time.Duration         // default 1s
	Now      func() time.Time      // default time.Now

	// SignerOpts optionally chooses the CMS signature. nil picks by key:
	// ECDSA P-256/P-384/P-521 with SHA-256/384/512, RSA PKCS #1 v1.5 with
	// SHA-256, pure Ed25519 (digest SHA-512, RFC 8419 §3.1). Otherwise its
	// HashFunc is the digest for ECDSA and RSA keys, and an *rsa.PSSOptions
	// selects RSASSA-PSS (MGF1 with the same hash, salt length = hash size).
	// sigstore-go verifies tokens with digitorus/pkcs7, which has no
	// RSASSA-PSS: a TSA meant for Sigstore clients signs with ECDSA, RSA
	// PKCS #1 v1.5 or Ed25519.
	SignerOpts crypto.SignerOpts
}

// Respond answers req with a DER TimeStampResp with status granted: a fresh
// random 159-bit serial number, the request's nonce echoed, and a
// SignerInfo with content-type, signing-time, message-digest and ESS
// signing-certificate-v2 (RFC 5816) signed attributes. Certificates (Cert,
// then Chain) are embedded iff req.CertReq.
//
// A request the TSA must refuse gives a *RejectError whose FailInfo the
// caller sends back with ErrorResponse: an imprint hash other than
// SHA-256/384/512 (FailBadAlg), a digest of the wrong length
// (FailBadDataFormat), a policy other than the Signer's
// (FailUnacceptedPolicy), any extension (FailUnacceptedExtension). Other
// errors mean the Signer is misconfigured or its key failed.
func (s *Signer) Respond(req *Request) ([]byte, error) {
	if err := s.accept(req); err != nil {
		return nil, err
	}
	tok, err := s.issue(req, nil)
	if err != nil {
		return nil, err
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1Int64(StatusGranted)
		})
		b.AddBytes(tok)
	})
	return b.Bytes()
}

// ErrorResponse returns a TimeStampResp without a token: PKIStatusInfo with
// the given status, the texts (if any) as its statusString, the reason
// for a person to read, and, if failInfo >= 0, the PKIFailureInfo bit
// failInfo set (RFC 3161 §2.4.2; bits 0 to 63), e.g.
// ErrorResponse(StatusRejection, FailBadAlg, "SHA-1 is not accepted").
func ErrorResponse(status int, failInfo int, texts ...string) []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1Int64(int64(status))
			if len(texts) > 0 {
				// PKIFreeText ::= SEQUENCE SIZE (1..MAX) OF UTF8String (RFC 4210 §5.1.1).
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					for _, t := range texts {
						b.AddASN1(cbasn1.UTF8String, func(b *cryptobyte.Builder) {
							b.AddBytes([]byte(strings.ToValidUTF8(t, "\uFFFD")))
						})
					}
				})
			}
			if failInfo >= 0 && failInfo < 64 {
				// DER named bit list: no trailing zero bits (X.690 §11.2.2).
				bits := make([]byte, failInfo/8+1)
				bits[failInfo/8] = 0x80 >> (failInfo % 8)
				b.AddASN1(cbasn1.BIT_STRING, func(b *cryptobyte.Builder) {
					b.AddUint8(uint8(7 - failInfo%8))
					b.AddBytes(bits)
				})
			}
		})
	})
	return b.BytesOrPanic()
}

func (s *Signer) policy() asn1.ObjectIdentifier {
	if len(s.Policy) > 0 {
		return s.Policy
	}
	return PolicySigstore
}

func (s *Signer) accept(req *Request) error {
	if !strongHash(req.HashAlgorithm) {
		return &RejectError{FailInfo: FailBadAlg, Reason: fmt.Sprintf("imprint hash %v not accepted (want SHA-256, SHA-384 or SHA-512)", req.HashAlgorithm)}
	}
	if len(req.HashedMessage) != req.HashAlgorithm.Size() {
		return &RejectError{FailInfo: FailBadDataFormat, Reason: fmt.Sprintf("%d-byte digest for %v", len(req.HashedMessage), req.HashAlgorithm)}
	}
	if len(req.Policy) > 0 && !req.Policy.Equal(s.policy()) {
		return &RejectError{FailInfo: FailUnacceptedPolicy, Reason: fmt.Sprintf("policy %v not offered", req.Policy)}
	}
	if len(req.Extensions) > 0 {
		return &RejectError{FailInfo: FailUnacceptedExtension, Reason: fmt.Sprintf("extension %v not supported", req.Extensions[0].Id)}
	}
	return nil
}

// issueHooks let tests produce tokens a correct TSA would not.
type issueHooks struct {
	ski       bool                      // identify the signer by subjectKeyIdentifier
	editAttrs func([][]byte) [][]byte   // change the signed attributes before signing
	editTST   func(*cryptobyte.Builder) // replaces the whole TSTInfo body
}

// cmsAlgorithm is how a Signer signs.
type cmsAlgorithm struct {
	digest    crypto.Hash // digestAlgorithm and message-digest hash
	sigOID    []byte
	sigParams func(*cryptobyte.Builder) // nil: parameters absent
	opts      crypto.SignerOpts         // for Key.Sign; nil for Ed25519 (crypto.Hash(0))
	pure      bool                      // Ed25519: sign the attributes themselves
}

func (s *Signer) algorithm() (cmsAlgorithm, error) {
	var h crypto.Hash
	if s.SignerOpts != nil {
		h = s.SignerOpts.HashFunc()
	}
	switch pub := s.Key.Public().(type) {
	case *ecdsa.PublicKey:
		if h == 0 {
			switch pub.Curve {
			case elliptic.P256():
				h = crypto.SHA256
			case elliptic.P384():
				h = crypto.SHA384
			default:
				h = crypto.SHA512
			}
		}
		var oid []byte
		switch h {
		case crypto.SHA256:
			oid = oidECDSASHA256
		case crypto.SHA384:
			oid = oidECDSASHA384
		case crypto.SHA512:
			oid = oidECDSASHA512
		default:
			return cmsAlgorithm{}, fmt.Errorf("couldn't sign timestamp: %v not supported with ECDSA", h)
		}
		return cmsAlgorithm{digest: h, sigOID: oid, opts: h}, nil
	case *rsa.PublicKey:
		if h == 0 {
			h = crypto.SHA256
		}
		if !strongHash(h) {
			return cmsAlgorithm{}, fmt.Errorf("couldn't sign timestamp: %v not supported with RSA", h)
		}
		if _, ok := s.SignerOpts.(*rsa.PSSOptions); ok {
			return cmsAlgorithm{
				digest: h,
				sigOID: oidRSAPSS,
				sigParams: func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
							addHashAlgorithm(b, h)
						})
						b.AddASN1(cbasn1.Tag(1).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
							b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
								addOID(b, oidMGF1)
								addHashAlgorithm(b, h)
							})
						})
						b.AddASN1(cbasn1.Tag(2).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
							b.AddASN1Int64(int64(h.Size()))
						})
					})
				},
				opts: &rsa.PSSOptions{SaltLength: h.Size(), Hash: h},
			}, nil
		}
		oid := map[crypto.Hash][]byte{crypto.SHA256: oidRSASHA256, crypto.SHA384: oidRSASHA384, crypto.SHA512: oidRSASHA512}[h]
		return cmsAlgorithm{digest: h, sigOID: oid, sigParams: func(b *cryptobyte.Builder) { b.AddASN1NULL() }, opts: h}, nil
	case ed25519.PublicKey:
		return cmsAlgorithm{digest: crypto.SHA512, sigOID: oidEd25519, opts: crypto.Hash(0), pure: true}, nil
	default:
		return cmsAlgorithm{}, fmt.Errorf("couldn't sign timestamp: unsupported key type %T", pub)
	}
}

// issue builds the TimeStampToken (ContentInfo) for req.
func (s *Signer) issue(req *Request, hooks *issueHooks) ([]byte, error) {
	if s.Key == nil || s.Cert == nil {
		return nil, errors.New("couldn't sign timestamp: Signer needs Key and Cert")
	}
	if pub, ok := s.Key.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(s.Cert.PublicKey) {
		return nil, errors.New("couldn't sign timestamp: Key does not match Cert")
	}
	if hooks == nil {
		hooks = &issueHooks{}
	}
	alg, err := s.algorithm()
	if err != nil {
		return nil, err
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	genTime := now().UTC().Truncate(time.Second)
	accuracy := s.Accuracy
	if accuracy <= 0 {
		accuracy = time.Second
	}

	// RFC 3161 §2.4.2: serialNumber is unique per TSA, up to 160 bits.
	var serialBytes [20]byte
	if _, err := rand.Read(serialBytes[:]); err != nil {
		return nil, fmt.Errorf("couldn't sign timestamp: %w", err)
	}
	serialBytes[0] &= 0x7f
	serial := new(big.Int).SetBytes(serialBytes[:])

	var tb cryptobyte.Builder
	tb.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		if hooks.editTST != nil {
			hooks.editTST(b)
			return
		}
		b.AddASN1Int64(1)
		b.AddASN1ObjectIdentifier(s.policy())
		if req.rawImprint != nil {
			b.AddBytes(req.rawImprint)
		} else {
			addMessageImprint(b, req.HashAlgorithm, req.HashedMessage)
		}
		b.AddASN1BigInt(serial)
		b.AddASN1GeneralizedTime(genTime)
		addAccuracy(b, accuracy)
		if req.Nonce != nil {
			b.AddASN1BigInt(req.Nonce)
		}
		// tsa [0] GeneralName: directoryName [4] Name.
		b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.Tag(4).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
				b.AddBytes(s.Cert.RawSubject)
			})
		})
	})
	tst, err := tb.Bytes()
	if err != nil {
		return nil, fmt.Errorf("couldn't encode TSTInfo: %w", err)
	}

	attrs, err := s.signedAttributes(alg.digest, tst, genTime)
	if err != nil {
		return nil, err
	}
	if hooks.editAttrs != nil {
		attrs = hooks.editAttrs(attrs)
	}
	// DER SET OF: elements sorted by their encodings (X.690 §11.6).
	slices.SortFunc(attrs, bytes.Compare)
	var ab cryptobyte.Builder
	ab.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
		for _, a := range attrs {
			b.AddBytes(a)
		}
	})
	attrSet, err := ab.Bytes()
	if err != nil {
		return nil, fmt.Errorf("couldn't encode signed attributes: %w", err)
	}

	toSign := attrSet
	if !alg.pure {
		h := alg.digest.New()
		h.Write(attrSet)
		toSign = h.Sum(nil)
	}
	var opts crypto.SignerOpts = crypto.Hash(0)
	if alg.opts != nil {
		opts = alg.opts
	}
	sig, err := s.Key.Sign(rand.Reader, toSign, opts)
	if err != nil {
		return nil, fmt.Errorf("couldn't sign timestamp: %w", err)
	}

	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // ContentInfo
		addOID(b, oidSignedData)
		b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // SignedData
				b.AddASN1Int64(3) // RFC 5652 §5.1: eContentType is not id-data
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { addHashAlgorithm(b, alg.digest) })
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // EncapsulatedContentInfo
					addOID(b, oidTSTInfo)
					b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
						b.AddASN1OctetString(tst)
					})
				})
				if req.CertReq {
					// Leaf first, then the chain, as the Sigstore TSA and
					// OpenSSL do; verifiers do not depend on the order.
					b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
						b.AddBytes(s.Cert.Raw)
						for _, c := range s.Chain {
							b.AddBytes(c.Raw)
						}
					})
				}
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // SignerInfo
						if hooks.ski {
							b.AddASN1Int64(3)
							b.AddASN1(cbasn1.Tag(0).ContextSpecific(), func(b *cryptobyte.Builder) {
								b.AddBytes(s.Cert.SubjectKeyId)
							})
						} else {
							b.AddASN1Int64(1)
							b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
								b.AddBytes(s.Cert.RawIssuer)
								b.AddASN1BigInt(s.Cert.SerialNumber)
							})
						}
						addHashAlgorithm(b, alg.digest)
						b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
							b.AddBytes(attrSet[len(attrSet)-setContentLen(attrSet):])
						})
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
							addOID(b, alg.sigOID)
							if alg.sigParams != nil {
								alg.sigParams(b)
							}
						})
						b.AddASN1OctetString(sig)
					})
				})
			})
		})
	})
	tok, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("couldn't encode timestamp token: %w", err)
	}
	return tok, nil
}

// setContentLen returns the length of the content of the DER element der.
func setContentLen(der []byte) int {
	s := cryptobyte.String(der)
	var content cryptobyte.String
	var tag cbasn1.Tag
	s.ReadAnyASN1(&content, &tag)
	return len(content)
}

// signedAttributes returns the DER Attributes the SignerInfo signs:
// content-type (RFC 5652 §11.1), signing-time (§11.3; UTCTime through 2049),
// message-digest (§11.2) and signing-certificate-v2 naming Cert by its
// SHA-256 hash and issuer/serial (RFC 5816 §2.2.1, RFC 5035 §3).
func (s *Signer) signedAttributes(digest crypto.Hash, tst []byte, genTime time.Time) ([][]byte, error) {
	attr := func(oid []byte, value func(*cryptobyte.Builder)) []byte {
		var b cryptobyte.Builder
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			addOID(b, oid)
			b.AddASN1(cbasn1.SET, value)
		})
		return b.BytesOrPanic()
	}
	h := digest.New()
	h.Write(tst)
	md := h.Sum(nil)
	certHash := sha256.Sum256(s.Cert.Raw)
	var st []byte
	{
		var b cryptobyte.Builder
		if y := genTime.Year(); y >= 1950 && y < 2050 {
			b.AddASN1UTCTime(genTime)
		} else {
			b.AddASN1GeneralizedTime(genTime)
		}
		var err error
		if st, err = b.Bytes(); err != nil {
			return nil, fmt.Errorf("couldn't encode signing-time: %w", err)
		}
	}
	return [][]byte{
		attr(oidAttrContentType, func(b *cryptobyte.Builder) { addOID(b, oidTSTInfo) }),
		attr(oidAttrSigningTime, func(b *cryptobyte.Builder) { b.AddBytes(st) }),
		attr(oidAttrMessageDigest, func(b *cryptobyte.Builder) { b.AddASN1OctetString(md) }),
		attr(oidAttrSigningCertV2, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // SigningCertificateV2
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // certs
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // ESSCertIDv2, hashAlgorithm DEFAULT sha256
						b.AddASN1OctetString(certHash[:])
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // IssuerSerial
							b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // GeneralNames
								b.AddASN1(cbasn1.Tag(4).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
									b.AddBytes(s.Cert.RawIssuer)
								})
							})
							b.AddASN1BigInt(s.Cert.SerialNumber)
						})
					})
				})
			})
		}),
	}, nil
}

// addAccuracy writes Accuracy (RFC 3161 §2.4.2) with only its non-zero
// fields; a sub-microsecond accuracy is rounded up to 1 µs.
func addAccuracy(b *cryptobyte.Builder, d time.Duration) {
	if d < time.Microsecond {
		d = time.Microsecond
	}
	sec := int64(d / time.Second)
	ms := int64(d % time.Second / time.Millisecond)
	us := int64(d % time.Millisecond / time.Microsecond)
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		if sec > 0 {
			b.AddASN1Int64(sec)
		}
		if ms > 0 {
			b.AddASN1Int64WithTag(ms, cbasn1.Tag(0).ContextSpecific())
		}
		if us > 0 {
			b.AddASN1Int64WithTag(us, cbasn1.Tag(1).ContextSpecific())
		}
	})
}
