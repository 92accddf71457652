package timestamp

import (
	"bytes"
	"crypto"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// TestRoundTrip issues tokens with Signer.Respond, parses them back with
// ParseResponse and verifies them, for each key type, with and without an
// intermediate, with and without embedded certificates.
func TestRoundTrip(t *testing.T) {
	for _, alg := range []keyAlg{algP256, algP384, algP521, algEd25519, algRSA, algRSAPSS} {
		for _, inter := range []bool{false, true} {
			p := newPKI(t, pkiConfig{alg: alg, intermediate: inter})
			for _, certReq := range []bool{false, true} {
				name := string(alg)
				if inter {
					name += "/intermediate"
				}
				if certReq {
					name += "/certReq"
				}
				t.Run(name, func(t *testing.T) {
					nonce := big.NewInt(0x1234567890)
					resp, err := p.signer(testNow).Respond(sha256Request(testMsg, certReq, nonce))
					if err != nil {
						t.Fatal(err)
					}
					tok, err := ParseResponse(resp)
					if err != nil {
						t.Fatal(err)
					}
					if tok.Nonce == nil || tok.Nonce.Cmp(nonce) != 0 {
						t.Errorf("nonce = %v, want %v echoed", tok.Nonce, nonce)
					}
					if !tok.Time.Equal(testNow) || tok.Time.Location() != time.UTC {
						t.Errorf("genTime = %v, want %v UTC", tok.Time, testNow)
					}
					if tok.Accuracy != time.Second || tok.Ordering || !tok.Policy.Equal(PolicySigstore) {
						t.Errorf("accuracy %v ordering %v policy %v, want 1s false %v", tok.Accuracy, tok.Ordering, tok.Policy, PolicySigstore)
					}
					if tok.SerialNumber.Sign() <= 0 || tok.SerialNumber.BitLen() > 160 {
						t.Errorf("serial %v not a positive ≤160-bit number", tok.SerialNumber)
					}
					wantCerts := 0
					if certReq {
						wantCerts = 1 + len(p.chain())
					}
					if len(tok.Certificates) != wantCerts {
						t.Fatalf("%d embedded certificates, want %d", len(tok.Certificates), wantCerts)
					}
					if certReq && !tok.Certificates[0].Equal(p.leaf) {
						t.Errorf("first embedded certificate is %q, want the leaf", tok.Certificates[0].Subject)
					}

					// As sigstore-go calls it: roots, intermediates and the leaf from the trusted root.
					if err := tok.Verify(testMsg, p.opts(true)); err != nil {
						t.Errorf("Verify with leaf: %v", err)
					}
					if certReq {
						if err := tok.Verify(testMsg, p.opts(false)); err != nil {
							t.Errorf("Verify with embedded certificates only: %v", err)
						}
						// The embedded chain supplies the intermediate.
						o := p.opts(false)
						o.Intermediates = nil
						if err := tok.Verify(testMsg, o); err != nil {
							t.Errorf("Verify without intermediates in options: %v", err)
						}
					} else if err := tok.Verify(testMsg, p.opts(false)); !errors.Is(err, ErrSignerNotFound) {
						t.Errorf("Verify without embedded certificates or leaf = %v, want ErrSignerNotFound", err)
					}
					if err := tok.Verify([]byte("another message"), p.opts(true)); !errors.Is(err, ErrImprintMismatch) {
						t.Errorf("Verify of another message = %v, want ErrImprintMismatch", err)
					}

					// ParseToken on the bare token gives the same thing.
					tok2, err := ParseToken(tok.Raw)
					if err != nil {
						t.Fatal(err)
					}
					if err := tok2.Verify(testMsg, p.opts(true)); err != nil {
						t.Errorf("Verify of ParseToken result: %v", err)
					}
				})
			}
		}
	}
}

// TestImprintHashes covers SHA-384 and SHA-512 imprints.
func TestImprintHashes(t *testing.T) {
	p := newPKI(t, pkiConfig{})
	for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		t.Run(h.String(), func(t *testing.T) {
			d := h.New()
			d.Write(testMsg)
			digest := d.Sum(nil)
			resp, err := p.signer(testNow).Respond(&Request{HashAlgorithm: h, HashedMessage: digest})
			if err != nil {
				t.Fatal(err)
			}
			tok, err := ParseResponse(resp)
			if err != nil {
				t.Fatal(err)
			}
			if tok.HashAlgorithm != h || !bytes.Equal(tok.HashedMessage, digest) || tok.Nonce != nil {
				t.Errorf("imprint %v %x nonce %v", tok.HashAlgorithm, tok.HashedMessage, tok.Nonce)
			}
			if err := tok.Verify(testMsg, p.opts(true)); err != nil {
				t.Error(err)
			}
			if err := tok.VerifyDigest(digest, p.opts(true)); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestVerifyRejects has one case per verification rule, each asserting the
// sentinel error that names it.
func TestVerifyRejects(t *testing.T) {
	defaultPKI := newPKI(t, pkiConfig{})
	interPKI := newPKI(t, pkiConfig{intermediate: true})
	otherPKI := newPKI(t, pkiConfig{keyIndex: 1})

	type testCase struct {
		name     string
		pki      *testPKI                                  // default: defaultPKI
		now      time.Time                                 // issue time; default testNow
		req      *Request                                  // default: SHA-256 of testMsg, certificates requested
		hooks    *issueHooks                               // to issue what a correct TSA would not
		mutate   func(t *testing.T, tok []byte) []byte     // DER surgery on the token
		edit     func(tok *Token)                          // after parsing
		opts     func(p *testPKI, o *VerifyOptions)        // default: p.opts(true)
		message  []byte                                    // default testMsg
		parseErr error                                     // expected from ParseToken
		want     error                                     // expected from Verify; nil: must verify
		check    func(t *testing.T, tok *Token, err error) // extra assertions
	}
	sha1Digest := sha1.Sum(testMsg)
	sha224Digest := sha256.Sum224(testMsg)
	tests := []testCase{
		{name: "valid token", want: nil},
		{name: "valid token identified by subjectKeyIdentifier", hooks: &issueHooks{ski: true}, want: nil},
		{name: "valid token, signer found by SKI without embedded certs", hooks: &issueHooks{ski: true},
			req: sha256Request(testMsg, false, nil), want: nil},

		// 1. Imprint hash algorithm.
		{name: "SHA-1 imprint", req: &Request{HashAlgorithm: crypto.SHA1, HashedMessage: sha1Digest[:], CertReq: true}, want: ErrHashAlgorithm},
		{name: "SHA-224 imprint", req: &Request{HashAlgorithm: crypto.SHA224, HashedMessage: sha224Digest[:], CertReq: true}, want: ErrHashAlgorithm},

		// 2. Signer certificate lookup.
		{name: "no embedded certificates and no leaf", req: sha256Request(testMsg, false, nil),
			opts: func(p *testPKI, o *VerifyOptions) { o.Leaf = nil }, want: ErrSignerNotFound},
		{name: "embedded certificates lack the signer",
			mutate: func(t *testing.T, tok []byte) []byte {
				p := splitToken(t, tok)
				p.certs = p.certs[1:] // drop the leaf, keep the root
				return p.join()
			},
			opts: func(p *testPKI, o *VerifyOptions) { o.Leaf = nil }, want: ErrSignerNotFound},
		{name: "two SignerInfos",
			mutate: func(t *testing.T, tok []byte) []byte {
				p := splitToken(t, tok)
				p.signerInfos = append(p.signerInfos, p.signerInfos[0])
				return p.join()
			}, parseErr: ErrMalformed},
		{name: "no SignerInfo",
			mutate: func(t *testing.T, tok []byte) []byte {
				p := splitToken(t, tok)
				p.signerInfos = nil
				return p.join()
			}, parseErr: ErrMalformed},

		// 3. The trusted leaf.
		{name: "signer not the trusted leaf (embedded certs)",
			opts: func(p *testPKI, o *VerifyOptions) { o.Leaf = otherPKI.leaf }, want: ErrSignerMismatch},
		{name: "signer not the trusted leaf (no embedded certs)", req: sha256Request(testMsg, false, nil),
			opts: func(p *testPKI, o *VerifyOptions) { o.Leaf = otherPKI.leaf }, want: ErrSignerMismatch},
		{name: "ESS signing-certificate-v2 names another certificate",
			hooks: &issueHooks{editAttrs: replaceAttr(oidAttrSigningCertV2, attribute(oidAttrSigningCertV2, func(b *cryptobyte.Builder) {
				h := sha256.Sum256(defaultPKI.root.Raw)
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1OctetString(h[:]) })
					})
				})
			}))}, want: ErrSignerMismatch},
		{name: "valid token with a SHA-1 ESS signing-certificate (v1) attribute",
			hooks: &issueHooks{editAttrs: replaceAttr(oidAttrSigningCertV2, attribute(oidAttrSigningCert, func(b *cryptobyte.Builder) {
				h := sha1.Sum(defaultPKI.leaf.Raw)
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1OctetString(h[:]) })
					})
				})
			}))}, want: nil},
		{name: "valid token without ESS attribute", hooks: &issueHooks{editAttrs: replaceAttr(oidAttrSigningCertV2, nil)}, want: nil},

		// 4. CMS signature.
		{name: "tampered TSTInfo imprint",
			mutate: func(t *testing.T, tok []byte) []byte {
				d := sha256.Sum256(testMsg)
				return flipAt(t, tok, d[:], 0)
			}, want: ErrSignature},
		{name: "tampered TSTInfo genTime",
			mutate: func(t *testing.T, tok []byte) []byte {
				return replaceOnce(t, tok, []byte(testNow.Format("20060102150405Z")), []byte(testNow.Add(time.Minute).Format("20060102150405Z")))
			}, want: ErrSignature},
		{name: "tampered signed attributes (signing-time)",
			mutate: func(t *testing.T, tok []byte) []byte {
				return replaceOnce(t, tok, []byte("\x17\x0d"+testNow.Format("060102150405Z")), []byte("\x17\x0d"+testNow.Add(time.Minute).Format("060102150405Z")))
			}, want: ErrSignature},
		{name: "tampered signature",
			mutate: func(t *testing.T, tok []byte) []byte {
				out := bytes.Clone(tok)
				out[len(out)-1] ^= 1 // the signature is the last field
				return out
			}, want: ErrSignature},
		{name: "content-type attribute is id-data",
			hooks: &issueHooks{editAttrs: replaceAttr(oidAttrContentType, attribute(oidAttrContentType, func(b *cryptobyte.Builder) {
				b.AddASN1ObjectIdentifier(asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1})
			}))}, want: ErrSignature},
		{name: "no content-type attribute", hooks: &issueHooks{editAttrs: replaceAttr(oidAttrContentType, nil)}, want: ErrSignature},
		{name: "no message-digest attribute", hooks: &issueHooks{editAttrs: replaceAttr(oidAttrMessageDigest, nil)}, want: ErrSignature},
		{name: "message-digest attribute of other content",
			hooks: &issueHooks{editAttrs: replaceAttr(oidAttrMessageDigest, attribute(oidAttrMessageDigest, func(b *cryptobyte.Builder) {
				d := sha256.Sum256([]byte("other TSTInfo"))
				b.AddASN1OctetString(d[:])
			}))}, want: ErrSignature},
		{name: "no signed attributes", edit: func(tok *Token) { tok.signer.signedAttrs = nil }, want: ErrSignature},
		{name: "SHA-1 SignerInfo digest algorithm", edit: func(tok *Token) { tok.signer.digestAlg = crypto.SHA1 }, want: ErrSignature},
		{name: "signature algorithm does not fit the key", edit: func(tok *Token) { tok.signer.sigAlg = sigAlgorithm{kind: sigEd25519} }, want: ErrSignature},
		{name: "ECDSA with SHA-1", edit: func(tok *Token) {
			tok.signer.sigAlg = signatureAlgorithm(oidECDSASHA1, nil, crypto.SHA256)
		}, want: ErrSignature},

		// 5. Chain at genTime.
		{name: "untrusted root", opts: func(p *testPKI, o *VerifyOptions) {
			o.Roots = []*x509.Certificate{otherPKI.root}
			o.Leaf = nil
		}, want: ErrUntrustedChain,
			check: func(t *testing.T, tok *Token, err error) {
				var ua x509.UnknownAuthorityError
				if !errors.As(err, &ua) {
					t.Errorf("error %v does not wrap x509.UnknownAuthorityError", err)
				}
			}},
		{name: "untrusted root, trusted leaf given", opts: func(p *testPKI, o *VerifyOptions) {
			o.Roots = []*x509.Certificate{otherPKI.root}
		}, want: ErrUntrustedChain},
		{name: "no roots", opts: func(p *testPKI, o *VerifyOptions) { o.Roots = []*x509.Certificate{nil} }, want: ErrUntrustedChain},
		{name: "genTime after the leaf expired", now: epoch.AddDate(1, 0, 1), want: ErrUntrustedChain,
			check: func(t *testing.T, tok *Token, err error) {
				var ci x509.CertificateInvalidError
				if !errors.As(err, &ci) || ci.Reason != x509.Expired {
					t.Errorf("error %v does not wrap x509 Expired", err)
				}
			}},
		{name: "genTime before the leaf was valid", now: epoch.Add(-time.Hour), want: ErrUntrustedChain},
		{name: "genTime on the leaf's last second", now: epoch.AddDate(1, 0, 0), want: nil},
		{name: "signing-time outside the leaf's validity",
			hooks: &issueHooks{editAttrs: replaceAttr(oidAttrSigningTime, attribute(oidAttrSigningTime, func(b *cryptobyte.Builder) {
				b.AddASN1UTCTime(epoch.AddDate(2, 0, 0))
			}))}, want: ErrUntrustedChain},
		{name: "leaf EKU is codeSigning only",
			pki: newPKI(t, pkiConfig{keyIndex: 2, editLeaf: func(c *x509.Certificate) {
				c.ExtraExtensions = []pkix.Extension{ekuExtension(true, oidEKUCodeSigning)}
			}}), want: ErrUntrustedChain},
		{name: "intermediate EKU excludes timeStamping",
			pki: newPKI(t, pkiConfig{keyIndex: 2, intermediate: true, editInter: func(c *x509.Certificate) {
				c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
			}}), want: ErrUntrustedChain},
		{name: "valid token through an intermediate with EKU any",
			pki: newPKI(t, pkiConfig{keyIndex: 2, intermediate: true, editInter: func(c *x509.Certificate) {
				c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageAny}
			}}), want: nil},
		{name: "valid token through an intermediate without EKU",
			pki: newPKI(t, pkiConfig{keyIndex: 2, intermediate: true, editInter: func(c *x509.Certificate) {
				c.ExtKeyUsage = nil
			}}), want: nil},
		{name: "valid token through an intermediate", pki: interPKI, want: nil},

		// 6. RFC 3161 §2.3 leaf profile.
		{name: "leaf EKU not critical",
			pki: newPKI(t, pkiConfig{keyIndex: 2, editLeaf: func(c *x509.Certificate) {
				c.ExtraExtensions = nil
				c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}
			}}), want: ErrLeafPolicy},
		{name: "leaf with two EKUs",
			pki: newPKI(t, pkiConfig{keyIndex: 2, editLeaf: func(c *x509.Certificate) {
				c.ExtraExtensions = []pkix.Extension{ekuExtension(true, oidEKUTimeStamping, oidEKUCodeSigning)}
			}}), want: ErrLeafPolicy},
		{name: "leaf with timeStamping and an unknown EKU",
			pki: newPKI(t, pkiConfig{keyIndex: 2, editLeaf: func(c *x509.Certificate) {
				c.ExtraExtensions = []pkix.Extension{ekuExtension(true, oidEKUTimeStamping, oidEKUUnknown)}
			}}), want: ErrLeafPolicy},
		{name: "leaf without EKU",
			pki: newPKI(t, pkiConfig{keyIndex: 2, editLeaf: func(c *x509.Certificate) {
				c.ExtraExtensions = nil
			}}), want: ErrLeafPolicy},
		{name: "leaf is a CA",
			pki: newPKI(t, pkiConfig{keyIndex: 2, editLeaf: func(c *x509.Certificate) {
				c.IsCA = true
				c.KeyUsage |= x509.KeyUsageCertSign
			}}), want: ErrLeafPolicy},

		// 7. Imprint.
		{name: "wrong message", message: []byte("not what was stamped"), want: ErrImprintMismatch},
		{name: "empty message", message: []byte{}, want: ErrImprintMismatch},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.pki
			if p == nil {
				p = defaultPKI
			}
			now := tc.now
			if now.IsZero() {
				now = testNow
			}
			req := tc.req
			if req == nil {
				req = sha256Request(testMsg, true, nil)
			}
			der, err := p.signer(now).issue(req, tc.hooks)
			if err != nil {
				t.Fatal(err)
			}
			if tc.mutate != nil {
				der = tc.mutate(t, der)
			}
			tok, err := ParseResponse(wrapResponse(der))
			if tc.parseErr != nil {
				if !errors.Is(err, tc.parseErr) {
					t.Fatalf("ParseResponse = %v, want %v", err, tc.parseErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseResponse: %v", err)
			}
			if tc.edit != nil {
				tc.edit(tok)
			}
			opts := p.opts(true)
			if tc.opts != nil {
				tc.opts(p, &opts)
			}
			msg := testMsg
			if tc.message != nil {
				msg = tc.message
			}
			err = tok.Verify(msg, opts)
			switch {
			case tc.want == nil && err != nil:
				t.Fatalf("Verify: %v", err)
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
			if err != nil {
				t.Logf("%v", err)
				if !strings.HasPrefix(err.Error(), "couldn't ") {
					t.Errorf("error %q does not start with \"couldn't\"", err)
				}
				for _, s := range []error{ErrMalformed, ErrHashAlgorithm, ErrSignerNotFound, ErrSignerMismatch, ErrSignature, ErrUntrustedChain, ErrLeafPolicy, ErrImprintMismatch} {
					if s != tc.want && errors.Is(err, s) {
						t.Errorf("error also matches %v", s)
					}
				}
			}
			if tc.check != nil {
				tc.check(t, tok, err)
			}
		})
	}
}

// flipAt flips a bit in the first occurrence of needle in der.
func flipAt(t *testing.T, der, needle []byte, offset int) []byte {
	t.Helper()
	i := bytes.Index(der, needle)
	if i < 0 || bytes.Index(der[i+1:], needle) >= 0 {
		t.Fatalf("needle %x not found exactly once", needle)
	}
	out := bytes.Clone(der)
	out[i+offset] ^= 1
	return out
}

func replaceOnce(t *testing.T, der, old, new []byte) []byte {
	t.Helper()
	if bytes.Count(der, old) != 1 || len(old) != len(new) {
		t.Fatalf("%q found %d times", old, bytes.Count(der, old))
	}
	return bytes.Replace(der, old, new, 1)
}

func TestParseResponseStatus(t *testing.T) {
	for _, tc := range []struct {
		status, failInfo int
		want             string
	}{
		{StatusRejection, FailBadAlg, "rejection (2), failInfo badAlg"},
		{StatusRejection, FailUnacceptedPolicy, "rejection (2), failInfo unacceptedPolicy"},
		{StatusRejection, FailSystemFailure, "rejection (2), failInfo systemFailure"},
		{StatusWaiting, -1, "waiting (3)"},
		{StatusRevocationNotification, FailTimeNotAvailable, "revocationNotification (5), failInfo timeNotAvailable"},
	} {
		der := ErrorResponse(tc.status, tc.failInfo)
		_, err := ParseResponse(der)
		if !errors.Is(err, ErrNotGranted) {
			t.Fatalf("ParseResponse(ErrorResponse(%d, %d)) = %v, want ErrNotGranted", tc.status, tc.failInfo, err)
		}
		var se *StatusError
		if !errors.As(err, &se) || se.Status != tc.status {
			t.Fatalf("error %v: want a *StatusError with status %d", err, tc.status)
		}
		if tc.failInfo >= 0 && (len(se.FailInfo) != 1 || se.FailInfo[0] != tc.failInfo) {
			t.Errorf("FailInfo = %v, want [%d]", se.FailInfo, tc.failInfo)
		}
		if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "couldn't ") {
			t.Errorf("error %q does not contain %q", err, tc.want)
		}
	}

	// The DER of a rejection is what encoding/asn1 (and so digitorus/timestamp
	// and the Sigstore TSA) would write: status 2, failInfo bit 0 as the
	// one-bit string 07 80.
	if got, want := ErrorResponse(StatusRejection, FailBadAlg), []byte{0x30, 0x09, 0x30, 0x07, 0x02, 0x01, 0x02, 0x03, 0x02, 0x07, 0x80}; !bytes.Equal(got, want) {
		t.Errorf("ErrorResponse(rejection, badAlg) = %x, want %x", got, want)
	}

	// A status string is reported.
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1Int64(2)
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.UTF8String, func(b *cryptobyte.Builder) { b.AddBytes([]byte("hash not supported")) })
			})
		})
	})
	if _, err := ParseResponse(b.BytesOrPanic()); err == nil || !strings.Contains(err.Error(), "hash not supported") {
		t.Errorf("status string not reported: %v", err)
	}
}

func TestParseMalformed(t *testing.T) {
	p := newPKI(t, pkiConfig{})
	resp, err := p.signer(testNow).Respond(sha256Request(testMsg, true, big.NewInt(7)))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := ParseResponse(resp)
	if err != nil {
		t.Fatal(err)
	}
	granted := wrapResponse(tok.Raw)
	if !bytes.Equal(granted, resp) {
		t.Fatalf("Respond wrote an unexpected PKIStatusInfo")
	}
	for _, tc := range []struct {
		name string
		der  []byte
	}{
		{"empty", nil},
		{"trailing data", append(bytes.Clone(resp), 0)},
		{"truncated", resp[:len(resp)-1]},
		{"granted without token", ErrorResponse(StatusGranted, -1)},
		{"indefinite length (BER)", append([]byte{0x30, 0x80}, resp[4:]...)},
		{"not signedData", bytes.Replace(resp, oidSignedData, mustOID(1, 2, 840, 113549, 1, 7, 1), 1)},
		{"not TSTInfo", bytes.Replace(resp, oidTSTInfo, mustOID(1, 2, 840, 113549, 1, 7, 1), 1)},
	} {
		if _, err := ParseResponse(tc.der); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: ParseResponse = %v, want ErrMalformed", tc.name, err)
		}
	}
	if _, err := ParseToken(resp); !errors.Is(err, ErrMalformed) {
		t.Errorf("ParseToken(TimeStampResp) = %v, want ErrMalformed", err)
	}
}

// TestTSTInfoFields parses TSTInfo encodings a Signer does not write.
func TestTSTInfoFields(t *testing.T) {
	p := newPKI(t, pkiConfig{})
	imprint := sha256.Sum256(testMsg)
	tst := func(genTime string, accuracy func(*cryptobyte.Builder), ordering, nonce bool, tail func(*cryptobyte.Builder)) func(*cryptobyte.Builder) {
		return func(b *cryptobyte.Builder) {
			b.AddASN1Int64(1)
			b.AddASN1ObjectIdentifier(asn1.ObjectIdentifier{1, 2, 3})
			addMessageImprint(b, crypto.SHA256, imprint[:])
			b.AddASN1BigInt(big.NewInt(-0x21524111)) // 0xDEADBEEF as a 4-byte INTEGER is negative; real vectors have it
			b.AddASN1(cbasn1.GeneralizedTime, func(b *cryptobyte.Builder) { b.AddBytes([]byte(genTime)) })
			if accuracy != nil {
				b.AddASN1(cbasn1.SEQUENCE, accuracy)
			}
			if ordering {
				b.AddASN1Boolean(true)
			}
			if nonce {
				b.AddASN1Int64(42)
			}
			if tail != nil {
				tail(b)
			}
		}
	}
	ms := func(b *cryptobyte.Builder) {
		b.AddASN1Int64WithTag(500, cbasn1.Tag(0).ContextSpecific())
		b.AddASN1Int64WithTag(7, cbasn1.Tag(1).ContextSpecific())
	}
	for _, tc := range []struct {
		name     string
		body     func(*cryptobyte.Builder)
		wantErr  bool
		wantTime time.Time
		wantAcc  time.Duration
	}{
		{name: "fractional genTime, millis and micros", body: tst("20250131000000.25Z", ms, true, true, nil),
			wantTime: testNow.Add(250 * time.Millisecond), wantAcc: 500*time.Millisecond + 7*time.Microsecond},
		{name: "no accuracy", body: tst("20250131000000Z", nil, false, false, nil), wantTime: testNow},
		{name: "tsa name and extensions", body: tst("20250131000000Z", nil, false, false, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.Tag(4).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) { b.AddBytes(p.leaf.RawSubject) })
			})
			b.AddASN1(cbasn1.Tag(1).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1ObjectIdentifier(asn1.ObjectIdentifier{1, 2, 3, 4})
					b.AddASN1OctetString([]byte{5})
				})
			})
		}), wantTime: testNow},
		{name: "trailing zero in fraction", body: tst("20250131000000.50Z", nil, false, false, nil), wantErr: true},
		{name: "no seconds", body: tst("202501310000Z", nil, false, false, nil), wantErr: true},
		{name: "millis out of range", body: tst("20250131000000Z", func(b *cryptobyte.Builder) {
			b.AddASN1Int64WithTag(1000, cbasn1.Tag(0).ContextSpecific())
		}, false, false, nil), wantErr: true},
		{name: "unknown trailing field", body: tst("20250131000000Z", nil, false, false, func(b *cryptobyte.Builder) {
			b.AddASN1OctetString([]byte("x"))
		}), wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			der, err := p.signer(testNow).issue(sha256Request(testMsg, true, nil), &issueHooks{editTST: tc.body})
			if err != nil {
				t.Fatal(err)
			}
			tok, err := ParseToken(der)
			if tc.wantErr {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("ParseToken = %v, want ErrMalformed", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tok.Time.Equal(tc.wantTime) || tok.Accuracy != tc.wantAcc {
				t.Errorf("time %v accuracy %v, want %v %v", tok.Time, tok.Accuracy, tc.wantTime, tc.wantAcc)
			}
			if tok.SerialNumber.Int64() != -0x21524111 {
				t.Errorf("serial %v", tok.SerialNumber)
			}
			if err := tok.Verify(testMsg, p.opts(true)); err != nil {
				t.Errorf("Verify: %v", err)
			}
		})
	}
}

func TestRequestRoundTrip(t *testing.T) {
	d256 := sha256.Sum256(testMsg)
	d512 := sha512.Sum512(testMsg)
	for _, r := range []*Request{
		{HashAlgorithm: crypto.SHA256, HashedMessage: d256[:]},
		{HashAlgorithm: crypto.SHA512, HashedMessage: d512[:], Nonce: big.NewInt(-5), CertReq: true, Policy: PolicySigstore},
		{HashAlgorithm: crypto.SHA256, HashedMessage: d256[:], Nonce: new(big.Int).Lsh(big.NewInt(1), 70),
			Extensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 2, 3}, Critical: true, Value: []byte{1, 2}}, {Id: asn1.ObjectIdentifier{1, 2, 4}, Value: []byte{}}}},
	} {
		der, err := r.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		// encoding/asn1 reads what we write.
		var std struct {
			Version        int
			MessageImprint struct {
				HashAlgorithm pkix.AlgorithmIdentifier
				HashedMessage []byte
			}
			ReqPolicy  asn1.ObjectIdentifier `asn1:"optional"`
			Nonce      *big.Int              `asn1:"optional"`
			CertReq    bool                  `asn1:"optional,default:false"`
			Extensions []pkix.Extension      `asn1:"tag:0,optional"`
		}
		if rest, err := asn1.Unmarshal(der, &std); err != nil || len(rest) != 0 || std.Version != 1 || std.CertReq != r.CertReq {
			t.Errorf("encoding/asn1 reads %+v, %v", std, err)
		}
		got, err := ParseRequest(der)
		if err != nil {
			t.Fatal(err)
		}
		if got.HashAlgorithm != r.HashAlgorithm || !bytes.Equal(got.HashedMessage, r.HashedMessage) ||
			got.CertReq != r.CertReq || !got.Policy.Equal(r.Policy) || (got.Nonce == nil) != (r.Nonce == nil) ||
			(r.Nonce != nil && got.Nonce.Cmp(r.Nonce) != 0) || len(got.Extensions) != len(r.Extensions) {
			t.Errorf("round trip: got %+v, want %+v", got, r)
		}
		again, _ := got.Marshal()
		if !bytes.Equal(again, der) {
			t.Errorf("Marshal(ParseRequest(x)) != x")
		}
	}

	// What `openssl ts -query -data payload -cert -sha256` sends (with a
	// nonce): the request of rekor2-timestamp-with-incorrect-time_fail.
	openssl := []byte{0x30, 0x39, 0x02, 0x01, 0x01, 0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}
	openssl = append(openssl, d256[:]...)
	openssl = append(openssl, 0x01, 0x01, 0xff)
	r, err := ParseRequest(openssl)
	if err != nil || !r.CertReq || r.HashAlgorithm != crypto.SHA256 || r.Nonce != nil {
		t.Errorf("ParseRequest(openssl request) = %+v, %v", r, err)
	}

	if _, err := (&Request{HashAlgorithm: crypto.SHA256, HashedMessage: d512[:]}).Marshal(); err == nil {
		t.Error("Marshal accepted a 64-byte SHA-256 digest")
	}
	if _, err := (&Request{HashAlgorithm: crypto.MD5, HashedMessage: make([]byte, 16)}).Marshal(); !errors.Is(err, ErrHashAlgorithm) {
		t.Errorf("Marshal(MD5) = %v, want ErrHashAlgorithm", err)
	}
	sha3Req := bytes.Replace(openssl, mustOID(2, 16, 840, 1, 101, 3, 4, 2, 1), mustOID(2, 16, 840, 1, 101, 3, 4, 2, 8), 1)
	if _, err := ParseRequest(sha3Req); !errors.Is(err, ErrHashAlgorithm) {
		t.Errorf("ParseRequest(SHA3-256) = %v, want ErrHashAlgorithm", err)
	}
	for _, bad := range [][]byte{nil, openssl[:len(openssl)-1], append(bytes.Clone(openssl), 0)} {
		if _, err := ParseRequest(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseRequest(%x) = %v, want ErrMalformed", bad, err)
		}
	}
}

func TestRespondRejects(t *testing.T) {
	p := newPKI(t, pkiConfig{})
	d := sha256.Sum256(testMsg)
	s1 := sha1.Sum(testMsg)
	for _, tc := range []struct {
		name string
		req  *Request
		want int
	}{
		{"SHA-1", &Request{HashAlgorithm: crypto.SHA1, HashedMessage: s1[:]}, FailBadAlg},
		{"short digest", &Request{HashAlgorithm: crypto.SHA256, HashedMessage: d[:31]}, FailBadDataFormat},
		{"other policy", &Request{HashAlgorithm: crypto.SHA256, HashedMessage: d[:], Policy: asn1.ObjectIdentifier{1, 2, 3}}, FailUnacceptedPolicy},
		{"extension", &Request{HashAlgorithm: crypto.SHA256, HashedMessage: d[:], Extensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 2, 3}}}}, FailUnacceptedExtension},
	} {
		_, err := p.signer(testNow).Respond(tc.req)
		var re *RejectError
		if !errors.As(err, &re) || re.FailInfo != tc.want {
			t.Errorf("%s: Respond = %v, want RejectError with failInfo %d", tc.name, err, tc.want)
		}
	}
	// The Sigstore policy may be asked for explicitly.
	if _, err := p.signer(testNow).Respond(&Request{HashAlgorithm: crypto.SHA256, HashedMessage: d[:], Policy: PolicySigstore}); err != nil {
		t.Errorf("Respond with the Sigstore policy: %v", err)
	}
	// A key that is not the certificate's.
	s := p.signer(testNow)
	s.Key = newPKI(t, pkiConfig{keyIndex: 1}).leafKey
	if _, err := s.Respond(sha256Request(testMsg, false, nil)); err == nil {
		t.Error("Respond signed with a key that is not the certificate's")
	}
}

// TestSignerDefaults checks Respond against the defaults the Sigstore TSA
// uses, and the DER layout of what it writes.
func TestSignerDefaults(t *testing.T) {
	p := newPKI(t, pkiConfig{})
	now := time.Date(2025, 6, 12, 12, 2, 20, 987654321, time.FixedZone("CEST", 2*3600))
	s := &Signer{Key: p.leafKey, Cert: p.leaf, Now: func() time.Time { return now }, Accuracy: 1500 * time.Millisecond}
	resp, err := s.Respond(sha256Request(testMsg, true, nil))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := ParseResponse(resp)
	if err != nil {
		t.Fatal(err)
	}
	if want := now.UTC().Truncate(time.Second); !tok.Time.Equal(want) {
		t.Errorf("genTime %v, want %v", tok.Time, want)
	}
	if !bytes.Contains(tok.eContent, []byte("20250612100220Z")) {
		t.Errorf("genTime not written as 20250612100220Z")
	}
	if tok.Accuracy != 1500*time.Millisecond {
		t.Errorf("accuracy %v", tok.Accuracy)
	}
	if len(tok.Certificates) != 1 {
		t.Errorf("%d certificates embedded, want only the leaf (Chain is empty)", len(tok.Certificates))
	}
	si := tok.signer
	if si.digestAlg != crypto.SHA256 || si.sigAlg.kind != sigECDSA || si.sigAlg.hash != crypto.SHA256 ||
		!si.hasSigningTime || !si.signingTime.Equal(tok.Time) || !si.hasESSAttribute || si.essHashAlg != crypto.SHA256 {
		t.Errorf("SignerInfo %+v", si)
	}
	// Signed attributes are a DER SET OF: sorted.
	attrs := cryptobyte.String(si.signedAttrs)
	var set cryptobyte.String
	attrs.ReadASN1(&set, cbasn1.SET)
	elems, _ := readElements(set, 10)
	for i := 1; i < len(elems); i++ {
		if bytes.Compare(elems[i-1], elems[i]) > 0 {
			t.Errorf("signed attributes not in DER order")
		}
	}
	if err := tok.Verify(testMsg, p.opts(false)); err != nil {
		t.Error(err)
	}
}
