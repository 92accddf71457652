package tlog

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
)

// The Rekor v2 write API speaks protojson (sigstore/rekor-tiles
// api/proto/rekor/v2/{entry,hashedrekord,dsse,verifier}.proto; protobuf-specs
// v0.5.2 has no Go types for them). These hand-written types decode the
// same JSON that protojson.Unmarshal accepts for CreateEntryRequest:
//
//	{"hashedRekordRequestV002":{"digest":"<b64>","signature":{"content":"<b64>",
//	  "verifier":{"publicKey":{"rawBytes":"<b64 DER>"} | "x509Certificate":{"rawBytes":"<b64 DER>"},
//	              "keyDetails":"PKIX_ECDSA_P256_SHA_256"}}}}
//	{"dsseRequestV002":{"envelope":{"payload":"<b64>","payloadType":"…","signatures":[{"sig":"<b64>","keyid":"…"}]},
//	  "verifiers":[{…verifier…}]}}
//
// Like protojson: field names in lowerCamelCase or their proto names,
// unknown fields rejected, bytes in standard or URL base64 with or without
// padding, enums by name or number, null for an absent field, exactly one
// member of a oneof. (Unlike protojson, encoding/json also matches names
// case-insensitively, and a repeated key keeps its last value.)

// b64 is a protojson bytes field.
type b64 []byte

func (b *b64) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		*b = nil
		return nil
	}
	if len(data) < 2 || data[0] != '"' || data[len(data)-1] != '"' {
		return errors.New("bytes must be a base64 string")
	}
	text := data[1 : len(data)-1]
	if bytes.IndexByte(text, '\\') >= 0 {
		// Escapes (such as "\/") are legal JSON; unescape the slow way.
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return errors.New("bytes must be a base64 string")
		}
		text = []byte(s)
	}
	d, err := decodeB64(text)
	if err != nil {
		return err
	}
	*b = d
	return nil
}

// decodeB64 decodes base64 as protojson does (google.golang.org/protobuf
// encoding/protojson decode.go unmarshalBytes): the URL alphabet if the
// text has '-' or '_', without padding if its length is not a multiple of
// four. Line breaks are not allowed.
func decodeB64(text []byte) ([]byte, error) {
	enc := base64.StdEncoding
	if bytes.ContainsAny(text, "-_") {
		enc = base64.URLEncoding
	}
	if len(text)%4 != 0 {
		enc = enc.WithPadding(base64.NoPadding)
	}
	if bytes.ContainsAny(text, "\r\n") {
		return nil, errors.New("illegal line break in base64 data")
	}
	d := make([]byte, enc.DecodedLen(len(text)))
	n, err := enc.Decode(d, text)
	if err != nil {
		return nil, fmt.Errorf("bad base64: %v", err)
	}
	return d[:n], nil
}

// keyDetails is a PublicKeyDetails enum value, read by name or number.
type keyDetails string

func (k *keyDetails) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		*k = ""
		return nil
	}
	var name string
	var err error
	if len(data) >= 2 && data[0] == '"' && data[len(data)-1] == '"' && bytes.IndexByte(data, '\\') < 0 {
		name = string(data[1 : len(data)-1])
	} else if data[0] == '"' {
		err = json.Unmarshal(data, &name)
	} else {
		err = errors.New("not a string")
	}
	if err == nil {
		if _, ok := protocommon.PublicKeyDetails_value[name]; !ok {
			return fmt.Errorf("unknown keyDetails %q", name)
		}
		*k = keyDetails(name)
		return nil
	}
	n, err := strconv.ParseInt(string(data), 10, 32)
	if err != nil {
		return errors.New("keyDetails must be an enum name or number")
	}
	name, ok := protocommon.PublicKeyDetails_name[int32(n)]
	if !ok {
		return fmt.Errorf("unknown keyDetails %d", n)
	}
	*k = keyDetails(name)
	return nil
}

type wireCreateEntryRequest struct {
	HashedRekord  *wireHashedRekordRequest `json:"hashedRekordRequestV002"`
	HashedRekordP *wireHashedRekordRequest `json:"hashed_rekord_request_v002"`
	DSSE          *wireDSSERequest         `json:"dsseRequestV002"`
	DSSEP         *wireDSSERequest         `json:"dsse_request_v002"`
}

type wireHashedRekordRequest struct {
	Digest    b64            `json:"digest"`
	Signature *wireSignature `json:"signature"`
}

type wireSignature struct {
	Content  b64           `json:"content"`
	Verifier *wireVerifier `json:"verifier"`
}

type wireVerifier struct {
	PublicKey   *wireRaw   `json:"publicKey"`
	PublicKeyP  *wireRaw   `json:"public_key"`
	Cert        *wireRaw   `json:"x509Certificate"`
	CertP       *wireRaw   `json:"x509_certificate"`
	KeyDetails  keyDetails `json:"keyDetails"`
	KeyDetailsP keyDetails `json:"key_details"`
}

type wireRaw struct {
	RawBytes  b64 `json:"rawBytes"`
	RawBytesP b64 `json:"raw_bytes"`
}

type wireDSSERequest struct {
	Envelope  *wireEnvelope   `json:"envelope"`
	Verifiers []*wireVerifier `json:"verifiers"`
}

type wireEnvelope struct {
	Payload      b64                 `json:"payload"`
	PayloadType  string              `json:"payloadType"`
	PayloadTypeP string              `json:"payload_type"`
	Signatures   []*wireEnvSignature `json:"signatures"`
}

type wireEnvSignature struct {
	Sig   b64    `json:"sig"`
	KeyID string `json:"keyid"`
}

// v2Request is a decoded write request: a hashedrekord (digest, signature,
// verifier), or a DSSE envelope with its verifier, which the log records
// as a hashedrekord over the envelope's PAE (formats.md §1.3; sigstore-go
// pkg/sign/transparency.go getRekorV2TLE).
type v2Request struct {
	digest     []byte // hashedrekord
	sig        []byte
	keyDetails string
	publicKey  []byte // DER SubjectPublicKeyInfo, or
	cert       []byte // DER certificate

	dsse        bool
	payloadType string
	payload     []byte
}

// decodeStrict decodes one JSON value, rejecting unknown fields and
// trailing data.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

// one returns whichever of a field's two spellings is set.
func one[T any](name string, a, b *T) (*T, error) {
	if a != nil && b != nil {
		return nil, fmt.Errorf("%s is set twice", name)
	}
	if a != nil {
		return a, nil
	}
	return b, nil
}

func oneString[T ~string](name string, a, b T) (T, error) {
	if a != "" && b != "" {
		return "", fmt.Errorf("%s is set twice", name)
	}
	if a != "" {
		return a, nil
	}
	return b, nil
}

func oneBytes(name string, a, b []byte) ([]byte, error) {
	if a != nil && b != nil {
		return nil, fmt.Errorf("%s is set twice", name)
	}
	if a != nil {
		return a, nil
	}
	return b, nil
}

// parseV2Request decodes a CreateEntryRequest. Errors name the problem.
func parseV2Request(data []byte) (*v2Request, error) {
	var w wireCreateEntryRequest
	if err := decodeStrict(data, &w); err != nil {
		if field, berr := badBase64Field(data, bytesFieldsV2, protoBase64); field != "" {
			return nil, badRequest("couldn't decode request: %s is not base64: %v", field, berr)
		}
		return nil, badRequest("couldn't decode request: %v", err)
	}
	hr, err := one("hashedRekordRequestV002", w.HashedRekord, w.HashedRekordP)
	if err != nil {
		return nil, badRequest("%v", err)
	}
	ds, err := one("dsseRequestV002", w.DSSE, w.DSSEP)
	if err != nil {
		return nil, badRequest("%v", err)
	}
	switch {
	case hr != nil && ds != nil:
		return nil, badRequest("request sets both hashedRekordRequestV002 and dsseRequestV002")
	case hr != nil:
		return parseHashedRekordRequest(hr)
	case ds != nil:
		return parseDSSERequest(ds)
	}
	return nil, badRequest("request has neither hashedRekordRequestV002 nor dsseRequestV002")
}

func parseHashedRekordRequest(hr *wireHashedRekordRequest) (*v2Request, error) {
	if len(hr.Digest) == 0 {
		return nil, badRequest("hashedRekordRequestV002: missing digest")
	}
	if hr.Signature == nil || len(hr.Signature.Content) == 0 {
		return nil, badRequest("hashedRekordRequestV002: missing signature.content")
	}
	r := &v2Request{digest: hr.Digest, sig: hr.Signature.Content}
	if err := r.setVerifier("hashedRekordRequestV002.signature.verifier", hr.Signature.Verifier); err != nil {
		return nil, err
	}
	return r, nil
}

func parseDSSERequest(d *wireDSSERequest) (*v2Request, error) {
	env := d.Envelope
	if env == nil {
		return nil, badRequest("dsseRequestV002: missing envelope")
	}
	pt, err := oneString("dsseRequestV002.envelope.payloadType", env.PayloadType, env.PayloadTypeP)
	if err != nil {
		return nil, badRequest("%v", err)
	}
	if pt == "" {
		return nil, badRequest("dsseRequestV002: missing envelope.payloadType")
	}
	// A Rekor v2 entry records one signature; a bundle carries one.
	if len(env.Signatures) != 1 || env.Signatures[0] == nil || len(env.Signatures[0].Sig) == 0 {
		return nil, badRequest("dsseRequestV002: the envelope must carry exactly one signature, it has %d", len(env.Signatures))
	}
	if len(d.Verifiers) != 1 {
		return nil, badRequest("dsseRequestV002: exactly one verifier is needed, got %d", len(d.Verifiers))
	}
	r := &v2Request{dsse: true, payloadType: pt, payload: env.Payload, sig: env.Signatures[0].Sig}
	if err := r.setVerifier("dsseRequestV002.verifiers[0]", d.Verifiers[0]); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *v2Request) setVerifier(field string, v *wireVerifier) error {
	if v == nil {
		return badRequest("%s: missing verifier", field)
	}
	pk, err := one(field+".publicKey", v.PublicKey, v.PublicKeyP)
	if err != nil {
		return badRequest("%v", err)
	}
	c, err := one(field+".x509Certificate", v.Cert, v.CertP)
	if err != nil {
		return badRequest("%v", err)
	}
	kd, err := oneString(field+".keyDetails", v.KeyDetails, v.KeyDetailsP)
	if err != nil {
		return badRequest("%v", err)
	}
	if kd == "" || kd == "PUBLIC_KEY_DETAILS_UNSPECIFIED" {
		return badRequest("%s: missing keyDetails", field)
	}
	r.keyDetails = string(kd)
	switch {
	case pk != nil && c != nil:
		return badRequest("%s: set only one of publicKey and x509Certificate", field)
	case pk != nil:
		if r.publicKey, err = oneBytes(field+".publicKey.rawBytes", pk.RawBytes, pk.RawBytesP); err != nil {
			return badRequest("%v", err)
		}
		if len(r.publicKey) == 0 {
			return badRequest("%s: missing publicKey.rawBytes", field)
		}
	case c != nil:
		if r.cert, err = oneBytes(field+".x509Certificate.rawBytes", c.RawBytes, c.RawBytesP); err != nil {
			return badRequest("%v", err)
		}
		if len(r.cert) == 0 {
			return badRequest("%s: missing x509Certificate.rawBytes", field)
		}
	default:
		return badRequest("%s: missing publicKey or x509Certificate", field)
	}
	return nil
}
