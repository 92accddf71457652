package timestamp

import (
	"crypto"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Request is a TimeStampReq (RFC 3161 §2.4.1). Sigstore clients send
// HashAlgorithm SHA-256 over the signature bytes, no nonce and CertReq false
// (sigstore/sigstore-go pkg/sign/timestamping.go).
type Request struct {
	HashAlgorithm crypto.Hash
	HashedMessage []byte
	Nonce         *big.Int // optional
	CertReq       bool     // ask the TSA to embed its certificates
	Policy        asn1.ObjectIdentifier
	Extensions    []pkix.Extension

	// rawImprint is the request's messageImprint as sent (ParseRequest):
	// the token echoes it byte for byte, as RFC 3161 §2.4.2 asks ("MUST
	// have the same value"), also when the algorithm's NULL parameters
	// were left out.
	rawImprint []byte
}

// ParseRequest parses a DER TimeStampReq. A request with an unknown imprint
// hash algorithm fails with ErrHashAlgorithm (a TSA answers it with
// FailBadAlg); one with a known but refused hash (SHA-1, SHA-224) parses,
// and Signer.Respond rejects it.
func ParseRequest(der []byte) (*Request, error) {
	s := cryptobyte.String(der)
	var req cryptobyte.String
	if !s.ReadASN1(&req, cbasn1.SEQUENCE) || !s.Empty() {
		return nil, malformed("timestamp request")
	}
	var version int64
	if !req.ReadASN1Integer(&version) {
		return nil, malformed("timestamp request version")
	}
	if version != 1 {
		return nil, malformed("timestamp request: version %d, want 1", version)
	}
	r := &Request{}
	before := req
	if err := readMessageImprint(&req, &r.HashAlgorithm, &r.HashedMessage); err != nil {
		return nil, err
	}
	r.rawImprint = append([]byte(nil), before[:len(before)-len(req)]...)
	r.HashedMessage = append([]byte(nil), r.HashedMessage...)
	if req.PeekASN1Tag(cbasn1.OBJECT_IDENTIFIER) && !req.ReadASN1ObjectIdentifier(&r.Policy) {
		return nil, malformed("timestamp request reqPolicy")
	}
	if req.PeekASN1Tag(cbasn1.INTEGER) {
		r.Nonce = new(big.Int)
		if !req.ReadASN1Integer(r.Nonce) {
			return nil, malformed("timestamp request nonce")
		}
	}
	if !readOptionalBoolean(&req, &r.CertReq) {
		return nil, malformed("timestamp request certReq")
	}
	var exts cryptobyte.String
	var present bool
	if !req.ReadOptionalASN1(&exts, &present, cbasn1.Tag(0).Constructed().ContextSpecific()) || !req.Empty() {
		return nil, malformed("timestamp request: trailing fields")
	}
	if present {
		if exts.Empty() {
			return nil, malformed("timestamp request: empty extensions")
		}
		for !exts.Empty() {
			// Extension ::= SEQUENCE { extnID OID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING } (RFC 5280 §4.1)
			var ext, val cryptobyte.String
			var e pkix.Extension
			if !exts.ReadASN1(&ext, cbasn1.SEQUENCE) || !ext.ReadASN1ObjectIdentifier(&e.Id) ||
				!readOptionalBoolean(&ext, &e.Critical) || !ext.ReadASN1(&val, cbasn1.OCTET_STRING) || !ext.Empty() {
				return nil, malformed("timestamp request extension")
			}
			e.Value = append([]byte(nil), val...)
			r.Extensions = append(r.Extensions, e)
		}
	}
	return r, nil
}

// Marshal returns the DER TimeStampReq. HashAlgorithm must be SHA-1,
// SHA-224, SHA-256, SHA-384 or SHA-512 and HashedMessage of its size.
func (r *Request) Marshal() ([]byte, error) {
	oid := oidFromHash(r.HashAlgorithm)
	if oid == nil {
		return nil, fmt.Errorf("couldn't marshal timestamp request: %w: %v", ErrHashAlgorithm, r.HashAlgorithm)
	}
	if len(r.HashedMessage) != r.HashAlgorithm.Size() {
		return nil, fmt.Errorf("couldn't marshal timestamp request: %d-byte digest for %v", len(r.HashedMessage), r.HashAlgorithm)
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(1)
		addMessageImprint(b, r.HashAlgorithm, r.HashedMessage)
		if len(r.Policy) > 0 {
			b.AddASN1ObjectIdentifier(r.Policy)
		}
		if r.Nonce != nil {
			b.AddASN1BigInt(r.Nonce)
		}
		if r.CertReq {
			b.AddASN1Boolean(true)
		}
		if len(r.Extensions) > 0 {
			b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
				for _, e := range r.Extensions {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1ObjectIdentifier(e.Id)
						if e.Critical {
							b.AddASN1Boolean(true)
						}
						b.AddASN1OctetString(e.Value)
					})
				}
			})
		}
	})
	der, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("couldn't marshal timestamp request: %w", err)
	}
	return der, nil
}

func addMessageImprint(b *cryptobyte.Builder, h crypto.Hash, digest []byte) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		addHashAlgorithm(b, h)
		b.AddASN1OctetString(digest)
	})
}
