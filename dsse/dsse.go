// Package dsse implements the Dead Simple Signing Envelope (DSSE) v1 as used by
// Sigstore bundles and in-toto attestations.
//
// The signature of an envelope is computed over the pre-authentication
// encoding (PAE) of its payload type and payload, never over the payload
// itself (github.com/secure-systems-lab/dsse, protocol.md):
//
//	PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body
//
// where LEN is the ASCII decimal byte length and SP is one space.
package dsse

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// Envelope is a DSSE envelope in its JSON form. Payload and signature bytes
// are decoded; MarshalJSON/UnmarshalJSON use standard base64 as the
// specification requires.
type Envelope struct {
	PayloadType string      `json:"payloadType"`
	Payload     []byte      `json:"payload"`
	Signatures  []Signature `json:"signatures"`
}

// Signature is one signature of an envelope.
type Signature struct {
	KeyID string `json:"keyid,omitempty"`
	Sig   []byte `json:"sig"`
}

// PAE returns the pre-authentication encoding of payloadType and payload.
func PAE(payloadType string, payload []byte) []byte {
	b := make([]byte, 0, len("DSSEv1  ")+len(payloadType)+len(payload)+24)
	return AppendPAE(b, payloadType, payload)
}

// AppendPAE appends the pre-authentication encoding to dst.
func AppendPAE(dst []byte, payloadType string, payload []byte) []byte {
	dst = append(dst, "DSSEv1 "...)
	dst = strconv.AppendInt(dst, int64(len(payloadType)), 10)
	dst = append(dst, ' ')
	dst = append(dst, payloadType...)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, int64(len(payload)), 10)
	dst = append(dst, ' ')
	return append(dst, payload...)
}

// ErrNoSignature is returned by Parse for an envelope without signatures.
var ErrNoSignature = errors.New("dsse: envelope has no signatures")

// Parse decodes a JSON envelope and checks its shape: a payload type and at
// least one non-empty signature.
func Parse(data []byte) (*Envelope, error) {
	var e Envelope
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, fmt.Errorf("couldn't parse DSSE envelope: %w", err)
	}
	if err := e.Validate(); err != nil {
		return nil, err
	}
	return &e, nil
}

// Validate checks the envelope's shape.
func (e *Envelope) Validate() error {
	if e.PayloadType == "" {
		return errors.New("dsse: envelope has no payloadType")
	}
	if len(e.Signatures) == 0 {
		return ErrNoSignature
	}
	for i, s := range e.Signatures {
		if len(s.Sig) == 0 {
			return fmt.Errorf("dsse: signature %d is empty", i)
		}
	}
	return nil
}

// PAE returns the bytes the envelope's signatures sign.
func (e *Envelope) PAE() []byte { return PAE(e.PayloadType, e.Payload) }
