package rekor

import (
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"sigil.dev/sigil/internal/jcs"
)

// Body is a parsed Rekor v1 canonical body. Which fields are set depends on
// Kind:
//
//   - hashedrekord 0.0.1: Hash, Signatures[0] (signature and the PEM key or
//     certificate).
//   - dsse 0.0.1: EnvelopeHash, PayloadHash, Signatures (one per envelope
//     signature, sorted by their base64 text).
//   - intoto 0.0.2: EnvelopeHash (the client-supplied envelope hash),
//     PayloadHash, PayloadType, Signatures.
type Body struct {
	Kind, APIVersion string

	Hash         HashValue // hashedrekord: digest of the artifact
	EnvelopeHash HashValue // dsse, intoto
	PayloadHash  HashValue // dsse, intoto
	PayloadType  string    // intoto
	Signatures   []BodySignature
}

// HashValue is an algorithm name ("sha256", "sha384", "sha512") and a digest.
type HashValue struct {
	Algorithm string
	Value     []byte
}

// BodySignature is one signature recorded in a body with the PEM-encoded
// certificate or public key that verifies it.
type BodySignature struct {
	Signature []byte
	PEM       []byte
}

type v1Hash struct {
	Algorithm string `json:"algorithm"`
	Value     string `json:"value"`
}

func (h *v1Hash) decode(what string) (HashValue, error) {
	if h == nil {
		return HashValue{}, fmt.Errorf("missing %s", what)
	}
	hf, err := HashFromName(h.Algorithm)
	if err != nil {
		return HashValue{}, fmt.Errorf("%s: %w", what, err)
	}
	v, err := hex.DecodeString(h.Value)
	if err != nil {
		return HashValue{}, fmt.Errorf("%s: value is not hex: %w", what, err)
	}
	if len(v) != hf.Size() {
		return HashValue{}, fmt.Errorf("%s: %d-byte value for %s", what, len(v), h.Algorithm)
	}
	return HashValue{Algorithm: h.Algorithm, Value: v}, nil
}

type v1Envelope struct {
	APIVersion string          `json:"apiVersion"`
	Kind       string          `json:"kind"`
	Spec       json.RawMessage `json:"spec"`
}

type hashedRekordV001Spec struct {
	Data *struct {
		Hash *v1Hash `json:"hash"`
	} `json:"data"`
	Signature *struct {
		Content   []byte `json:"content"`
		PublicKey *struct {
			Content []byte `json:"content"`
		} `json:"publicKey"`
	} `json:"signature"`
}

type dsseV001Spec struct {
	EnvelopeHash *v1Hash `json:"envelopeHash"`
	PayloadHash  *v1Hash `json:"payloadHash"`
	Signatures   []struct {
		Signature string `json:"signature"`
		Verifier  []byte `json:"verifier"`
	} `json:"signatures"`
}

type intotoV002Spec struct {
	Content *struct {
		Envelope *struct {
			PayloadType string `json:"payloadType"`
			Signatures  []struct {
				Sig       []byte `json:"sig"`
				PublicKey []byte `json:"publicKey"`
			} `json:"signatures"`
		} `json:"envelope"`
		Hash        *v1Hash `json:"hash"`
		PayloadHash *v1Hash `json:"payloadHash"`
	} `json:"content"`
}

// ParseV1Body parses a Rekor v1 canonical body of kind hashedrekord 0.0.1,
// dsse 0.0.1 or intoto 0.0.2 and checks that every field a verifier relies on
// is present and well formed.
func ParseV1Body(body []byte) (*Body, error) {
	var env v1Envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("couldn't parse log entry body: %w", err)
	}
	b := &Body{Kind: env.Kind, APIVersion: env.APIVersion}
	var err error
	switch {
	case env.Kind == KindHashedRekord && env.APIVersion == VersionHashedRekordV1:
		err = b.parseHashedRekord(env.Spec)
	case env.Kind == KindDSSE && env.APIVersion == VersionDSSEV1:
		err = b.parseDSSE(env.Spec)
	case env.Kind == KindIntoto && env.APIVersion == VersionIntotoV1:
		err = b.parseIntoto(env.Spec)
	default:
		return nil, fmt.Errorf("%w: %s %s", ErrUnsupportedKind, env.Kind, env.APIVersion)
	}
	if err != nil {
		return nil, fmt.Errorf("couldn't parse %s %s log entry body: %w", env.Kind, env.APIVersion, err)
	}
	return b, nil
}

func (b *Body) parseHashedRekord(raw json.RawMessage) error {
	var s hashedRekordV001Spec
	if err := json.Unmarshal(raw, &s); err != nil {
		return err
	}
	if s.Data == nil {
		return errors.New("missing data")
	}
	h, err := s.Data.Hash.decode("data.hash")
	if err != nil {
		return err
	}
	if s.Signature == nil || len(s.Signature.Content) == 0 {
		return errors.New("missing signature.content")
	}
	if s.Signature.PublicKey == nil || len(s.Signature.PublicKey.Content) == 0 {
		return errors.New("missing signature.publicKey.content")
	}
	b.Hash = h
	b.Signatures = []BodySignature{{Signature: s.Signature.Content, PEM: s.Signature.PublicKey.Content}}
	return nil
}

func (b *Body) parseDSSE(raw json.RawMessage) error {
	var s dsseV001Spec
	if err := json.Unmarshal(raw, &s); err != nil {
		return err
	}
	var err error
	if b.EnvelopeHash, err = s.EnvelopeHash.decode("envelopeHash"); err != nil {
		return err
	}
	if b.PayloadHash, err = s.PayloadHash.decode("payloadHash"); err != nil {
		return err
	}
	if len(s.Signatures) == 0 {
		return errors.New("no signatures")
	}
	for i, sig := range s.Signatures {
		raw, err := base64.StdEncoding.DecodeString(sig.Signature)
		if err != nil || len(raw) == 0 {
			return fmt.Errorf("signature %d is not base64", i)
		}
		if len(sig.Verifier) == 0 {
			return fmt.Errorf("signature %d has no verifier", i)
		}
		b.Signatures = append(b.Signatures, BodySignature{Signature: raw, PEM: sig.Verifier})
	}
	return nil
}

func (b *Body) parseIntoto(raw json.RawMessage) error {
	var s intotoV002Spec
	if err := json.Unmarshal(raw, &s); err != nil {
		return err
	}
	c := s.Content
	if c == nil || c.Envelope == nil {
		return errors.New("missing content.envelope")
	}
	var err error
	if b.EnvelopeHash, err = c.Hash.decode("content.hash"); err != nil {
		return err
	}
	if b.PayloadHash, err = c.PayloadHash.decode("content.payloadHash"); err != nil {
		return err
	}
	b.PayloadType = c.Envelope.PayloadType
	if len(c.Envelope.Signatures) == 0 {
		return errors.New("no signatures")
	}
	for i, sig := range c.Envelope.Signatures {
		// cosign stores the already-base64 signature text in a base64
		// field, so it is base64 twice on the wire (sigstore/rekor
		// pkg/types/intoto/v0.0.2).
		// A value that is not base64 inside is kept as nil, so that it
		// matches no signature (sigstore-go decodes it the same way).
		inner, err := base64.StdEncoding.DecodeString(string(sig.Sig))
		if err != nil {
			inner = nil
		}
		if len(sig.PublicKey) == 0 {
			return fmt.Errorf("signature %d has no publicKey", i)
		}
		b.Signatures = append(b.Signatures, BodySignature{Signature: inner, PEM: sig.PublicKey})
	}
	return nil
}

// HashedRekordV001 returns the canonical body of a hashedrekord 0.0.1 entry.
// pemKey is the PEM encoding of the certificate or public key, as the server
// re-encodes it (sigstore/rekor cryptoutils.MarshalCertificateToPEM /
// MarshalPublicKeyToPEM).
func HashedRekordV001(hash crypto.Hash, digest, sig, pemKey []byte) []byte {
	b := make([]byte, 0, 256+len(sig)*4/3+len(pemKey)*4/3)
	b = append(b, `{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{"data":{"hash":{"algorithm":`...)
	b = jcs.AppendString(b, V1Name(hash))
	b = append(b, `,"value":"`...)
	b = hex.AppendEncode(b, digest)
	b = append(b, `"}},"signature":{"content":"`...)
	b = base64.StdEncoding.AppendEncode(b, sig)
	b = append(b, `","publicKey":{"content":"`...)
	b = base64.StdEncoding.AppendEncode(b, pemKey)
	return append(b, `"}}}}`...)
}

// DSSESignature is one envelope signature for a dsse 0.0.1 body: the
// signature exactly as the base64 text in the envelope, and the PEM of the
// key or certificate that verified it.
type DSSESignature struct {
	Signature string
	PEM       []byte
}

// DSSEV001 returns the canonical body of a dsse 0.0.1 entry.
// envelopeJSON is the envelope exactly as submitted (its SHA-256 is the
// envelope hash), payload the decoded payload. Signatures are sorted by their
// text, as the server sorts them (sigstore/rekor pkg/types/dsse/v0.0.1).
func DSSEV001(envelopeJSON, payload []byte, sigs []DSSESignature) []byte {
	sigs = append([]DSSESignature(nil), sigs...)
	sort.Slice(sigs, func(i, j int) bool { return sigs[i].Signature < sigs[j].Signature })
	eh := sha256.Sum256(envelopeJSON)
	ph := sha256.Sum256(payload)
	b := make([]byte, 0, 512)
	b = append(b, `{"apiVersion":"0.0.1","kind":"dsse","spec":{"envelopeHash":{"algorithm":"sha256","value":"`...)
	b = hex.AppendEncode(b, eh[:])
	b = append(b, `"},"payloadHash":{"algorithm":"sha256","value":"`...)
	b = hex.AppendEncode(b, ph[:])
	b = append(b, `"},"signatures":[`...)
	for i, s := range sigs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"signature":`...)
		b = jcs.AppendString(b, s.Signature)
		b = append(b, `,"verifier":"`...)
		b = base64.StdEncoding.AppendEncode(b, s.PEM)
		b = append(b, `"}`...)
	}
	return append(b, `]}}`...)
}

// SETPayload returns the bytes a Rekor v1 log signs as the Signed Entry
// Timestamp: JCS of {body, integratedTime, logID, logIndex} with the body in
// base64, the log ID in hex and the global log index (sigstore/rekor
// pkg/api/entries.go signEntry).
func SETPayload(body []byte, integratedTime int64, logID []byte, logIndex int64) []byte {
	return AppendSETPayload(make([]byte, 0, 96+len(body)*4/3+len(logID)*2), body, integratedTime, logID, logIndex)
}

// AppendSETPayload appends SETPayload(body, integratedTime, logID, logIndex)
// to dst. Its members are those of a Rekor v1 LogEntry, in the same order
// and encoding, so a log can write them once for both.
func AppendSETPayload(dst, body []byte, integratedTime int64, logID []byte, logIndex int64) []byte {
	b := append(dst, `{"body":"`...)
	b = base64.StdEncoding.AppendEncode(b, body)
	b = append(b, `","integratedTime":`...)
	b = jcs.AppendInt(b, integratedTime)
	b = append(b, `,"logID":"`...)
	b = hex.AppendEncode(b, logID)
	b = append(b, `","logIndex":`...)
	b = jcs.AppendInt(b, logIndex)
	return append(b, '}')
}

// IntotoSignature is one envelope signature of an intoto 0.0.2 entry as the
// client submitted it: the key ID, the envelope's base64 signature text and
// the PEM key or certificate. Both Sig and PublicKey are written base64
// encoded once more, as Rekor stores them (cosign's double encoding; see
// ParseV1Body).
type IntotoSignature struct {
	KeyID     string
	Sig       string
	PublicKey []byte
}

// IntotoV002 returns the canonical body of an intoto 0.0.2 entry
// (sigstore/rekor pkg/types/intoto/v0.0.2 Canonicalize):
//
//	{"apiVersion":"0.0.2","kind":"intoto","spec":{"content":{
//	  "envelope":{["payload":"<b64 of the b64 payload text>",]"payloadType":"…",
//	    "signatures":[{["keyid":"…",]"publicKey":"<b64 PEM>","sig":"<b64 of the b64 sig text>"}]},
//	  "hash":{"algorithm":"sha256","value":"<hex>"},
//	  "payloadHash":{"algorithm":"sha256","value":"<hex>"}}}}
//
// envelopeHash is the client-computed hash of the envelope (not
// re-derivable by the log), payloadHash the SHA-256 of the decoded payload.
// Signatures keep the client's order. Rekor stopped storing the payload;
// payloadText (the envelope's base64 payload text) is written only when not
// nil, to reproduce bodies older logs wrote.
func IntotoV002(payloadType string, payloadText []byte, sigs []IntotoSignature, envelopeHash, payloadHash []byte) []byte {
	b := make([]byte, 0, 512+len(payloadText)*4/3)
	b = append(b, `{"apiVersion":"0.0.2","kind":"intoto","spec":{"content":{"envelope":{`...)
	if payloadText != nil {
		b = append(b, `"payload":"`...)
		b = base64.StdEncoding.AppendEncode(b, payloadText)
		b = append(b, `",`...)
	}
	b = append(b, `"payloadType":`...)
	b = jcs.AppendString(b, payloadType)
	b = append(b, `,"signatures":[`...)
	for i, s := range sigs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '{')
		if s.KeyID != "" {
			b = append(b, `"keyid":`...)
			b = jcs.AppendString(b, s.KeyID)
			b = append(b, ',')
		}
		b = append(b, `"publicKey":"`...)
		b = base64.StdEncoding.AppendEncode(b, s.PublicKey)
		b = append(b, `","sig":"`...)
		b = base64.StdEncoding.AppendEncode(b, []byte(s.Sig))
		b = append(b, `"}`...)
	}
	b = append(b, `]},"hash":{"algorithm":"sha256","value":"`...)
	b = hex.AppendEncode(b, envelopeHash)
	b = append(b, `"},"payloadHash":{"algorithm":"sha256","value":"`...)
	b = hex.AppendEncode(b, payloadHash)
	return append(b, `"}}}}`...)
}
