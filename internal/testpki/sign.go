package testpki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"time"

	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"

	"sigil.dev/sigil/bundle"
	"sigil.dev/sigil/dsse"
	"sigil.dev/sigil/intoto"
	"sigil.dev/sigil/rekor"
)

// SignOptions choose the shape of a bundle.
type SignOptions struct {
	Identity *Identity     // default DefaultIdentity
	Key      crypto.Signer // default a new P-256 key
	// KeySigned uses the public-key material form instead of a certificate.
	KeySigned bool
	Leaf      LeafOptions
	// V2 logs to the Rekor v2 log (and adds a timestamp); default Rekor v1.
	V2     bool
	NoTlog bool
	// Timestamp adds an RFC 3161 timestamp (always with V2).
	Timestamp   bool
	TimestampAt time.Time
	// DSSE signs an in-toto statement over the artifact instead.
	DSSE          bool
	PredicateType string
	Entry         EntryOptions
}

// Signed is a bundle with what made it.
type Signed struct {
	Bundle *bundle.Bundle
	Key    crypto.Signer
	Cert   *x509.Certificate
}

// Sign signs artifact and returns a v0.3 bundle.
func (p *PKI) Sign(artifact []byte, o SignOptions) (*Signed, error) {
	key := o.Key
	if key == nil {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		key = k
	}
	id := DefaultIdentity
	if o.Identity != nil {
		id = *o.Identity
	}
	out := &Signed{Key: key}
	var certDER []byte
	var keyPEM []byte
	if o.KeySigned {
		keyPEM = PublicKeyPEM(key.Public())
	} else {
		c, err := p.Leaf(id, key.Public(), o.Leaf)
		if err != nil {
			return nil, err
		}
		out.Cert, certDER, keyPEM = c, c.Raw, PEM(c)
	}

	_, h, err := rekor.KeyDetails(key.Public())
	if err != nil {
		return nil, err
	}
	var msg *bundle.MessageSignature
	var env *dsse.Envelope
	var sig, logDigest []byte
	if o.DSSE {
		d := sha256.Sum256(artifact)
		pt := o.PredicateType
		if pt == "" {
			pt = "https://slsa.dev/provenance/v1"
		}
		st, _ := json.Marshal(intoto.Statement{
			Type:          intoto.StatementV1,
			Subject:       []intoto.Subject{{Name: "artifact", Digest: map[string]string{"sha256": hex.EncodeToString(d[:])}}},
			PredicateType: pt,
			Predicate:     json.RawMessage(`{"buildDefinition":{"buildType":"https://sigil.test/build"}}`),
		})
		env = &dsse.Envelope{PayloadType: intoto.PayloadType, Payload: st}
		pae := env.PAE()
		hh := h.New()
		hh.Write(pae)
		logDigest = hh.Sum(nil)
		if sig, err = key.Sign(rand.Reader, logDigest, h); err != nil {
			return nil, err
		}
		env.Signatures = []dsse.Signature{{Sig: sig}}
	} else {
		hh := h.New()
		hh.Write(artifact)
		logDigest = hh.Sum(nil)
		if sig, err = key.Sign(rand.Reader, logDigest, h); err != nil {
			return nil, err
		}
		msg = &bundle.MessageSignature{DigestAlgorithm: h, Digest: logDigest, Signature: sig}
	}

	var entries []*protorekor.TransparencyLogEntry
	if !o.NoTlog {
		e, err := p.logEntry(o, key.Public(), certDER, keyPEM, msg, env, sig, logDigest, h)
		if err != nil {
			return nil, err
		}
		entries = append(entries, e)
	}
	var tss [][]byte
	if o.V2 || o.Timestamp {
		at := o.TimestampAt
		if at.IsZero() {
			at = time.Now()
		}
		ts, err := p.Timestamp(sig, at)
		if err != nil {
			return nil, err
		}
		tss = append(tss, ts)
	}
	var hint *string
	if o.KeySigned {
		s := base64.StdEncoding.EncodeToString(func() []byte { k := KeyID(key.Public()); return k[:] }())
		hint = &s
		certDER = nil
	}
	b, err := bundle.New(certDER, hint, msg, env, entries, tss)
	if err != nil {
		return nil, err
	}
	out.Bundle = b
	return out, nil
}

func (p *PKI) logEntry(o SignOptions, pub crypto.PublicKey, certDER, keyPEM []byte, msg *bundle.MessageSignature, env *dsse.Envelope, sig, logDigest []byte, h crypto.Hash) (*protorekor.TransparencyLogEntry, error) {
	eo := o.Entry
	if o.V2 {
		details, _, err := rekor.KeyDetails(pub)
		if err != nil {
			return nil, err
		}
		v := rekor.V2Verifier{KeyDetails: details, Certificate: certDER}
		if certDER == nil {
			if v.PublicKey, err = x509.MarshalPKIXPublicKey(pub); err != nil {
				return nil, err
			}
		}
		body := rekor.HashedRekordV002(h, logDigest, sig, v)
		i := p.RekorV2.Append(body)
		eo.Kind, eo.Version = rekor.KindHashedRekord, rekor.VersionHashedRekordV2
		return p.RekorV2.Entry(i, body, eo)
	}
	var body []byte
	if env != nil {
		ej, _ := json.Marshal(env)
		body = rekor.DSSEV001(ej, env.Payload, []rekor.DSSESignature{{Signature: base64.StdEncoding.EncodeToString(sig), PEM: keyPEM}})
		eo.Kind, eo.Version = rekor.KindDSSE, rekor.VersionDSSEV1
	} else {
		body = rekor.HashedRekordV001(msg.DigestAlgorithm, msg.Digest, sig, keyPEM)
		eo.Kind, eo.Version = rekor.KindHashedRekord, rekor.VersionHashedRekordV1
	}
	i := p.RekorV1.Append(body)
	return p.RekorV1.Entry(i, body, eo)
}
