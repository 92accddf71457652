package oidc

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
)

// compactJWS is a compact-serialized JWS (RFC 7515 §7.1) taken apart for
// signature verification. go-oidc has already parsed the token with
// go-jose (structure, allow-listed algorithm) before the key set sees it;
// this second look only needs the algorithm, the key ID and the signing
// input, so it avoids a second full go-jose parse on every request. The
// signature checks are the standard library's, per RFC 7518 §3.
type compactJWS struct {
	alg, kid string
	input    string // BASE64URL(header) "." BASE64URL(payload)
	rawBody  string // BASE64URL(payload)
	sig      []byte
}

func parseCompact(raw string, algs []string) (*compactJWS, error) {
	h, rest, ok1 := strings.Cut(raw, ".")
	body, sig, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.Contains(sig, ".") {
		return nil, errors.New("malformed JWS: not three parts")
	}
	hb, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		return nil, fmt.Errorf("malformed JWS header: %v", err)
	}
	var header struct {
		Alg  string          `json:"alg"`
		Kid  string          `json:"kid"`
		Crit json.RawMessage `json:"crit"`
	}
	if err := json.Unmarshal(hb, &header); err != nil {
		return nil, fmt.Errorf("malformed JWS header: %v", err)
	}
	if header.Crit != nil {
		return nil, errors.New("JWS header has critical extensions")
	}
	if !contains(algs, header.Alg) {
		return nil, fmt.Errorf("JWS algorithm %q is not allowed", header.Alg)
	}
	s, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil {
		return nil, fmt.Errorf("malformed JWS signature: %v", err)
	}
	return &compactJWS{alg: header.Alg, kid: header.Kid, input: raw[:len(h)+1+len(body)], rawBody: body, sig: s}, nil
}

func (j *compactJWS) payload() ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(j.rawBody)
	if err != nil {
		return nil, fmt.Errorf("malformed JWS payload: %v", err)
	}
	return b, nil
}

// verify checks the signature with the keys whose ID matches (every key
// when the token names none). known reports whether a key matched the ID.
func (j *compactJWS) verify(keys []jose.JSONWebKey) (known bool, err error) {
	err = errors.New("signature does not verify")
	for i := range keys {
		k := &keys[i]
		if j.kid != "" && k.KeyID != j.kid {
			continue
		}
		if j.kid != "" {
			known = true
		}
		if k.Algorithm != "" && k.Algorithm != j.alg {
			continue // the key is for another algorithm (RFC 7517 §4.4)
		}
		if verifyJWS(j.alg, k.Key, j.input, j.sig) {
			return true, nil
		}
	}
	return known, err
}

// verifyJWS checks sig over input with pub for a JWS algorithm (RFC 7518
// §3.3–3.5, RFC 8037 §3.1). ECDSA signatures are R||S, each the size of the
// curve order.
func verifyJWS(alg string, pub any, input string, sig []byte) bool {
	var h crypto.Hash
	switch alg[len(alg)-3:] {
	case "256":
		h = crypto.SHA256
	case "384":
		h = crypto.SHA384
	case "512":
		h = crypto.SHA512
	}
	digest := func() []byte {
		switch h {
		case crypto.SHA256:
			d := sha256.Sum256([]byte(input))
			return d[:]
		case crypto.SHA384:
			d := sha512.Sum384([]byte(input))
			return d[:]
		default:
			d := sha512.Sum512([]byte(input))
			return d[:]
		}
	}
	switch alg {
	case "RS256", "RS384", "RS512":
		k, ok := pub.(*rsa.PublicKey)
		return ok && rsa.VerifyPKCS1v15(k, h, digest(), sig) == nil
	case "PS256", "PS384", "PS512":
		k, ok := pub.(*rsa.PublicKey)
		return ok && rsa.VerifyPSS(k, h, digest(), sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil
	case "ES256", "ES384", "ES512":
		k, ok := pub.(*ecdsa.PublicKey)
		if !ok {
			return false
		}
		want := map[string]elliptic.Curve{"ES256": elliptic.P256(), "ES384": elliptic.P384(), "ES512": elliptic.P521()}[alg]
		size := (want.Params().BitSize + 7) / 8
		if k.Curve != want || len(sig) != 2*size {
			return false
		}
		r, s := new(big.Int).SetBytes(sig[:size]), new(big.Int).SetBytes(sig[size:])
		return ecdsa.Verify(k, digest(), r, s)
	case "EdDSA":
		k, ok := pub.(ed25519.PublicKey)
		return ok && len(k) == ed25519.PublicKeySize && ed25519.Verify(k, []byte(input), sig)
	}
	return false
}
