package token

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// MaxTokenSize bounds the identity tokens this package reads (from a file,
// an environment variable or a provider's answer).
const MaxTokenSize = 64 << 10

// Claims are the claims of an identity token that a signer needs, read
// WITHOUT verifying the signature: the CA verifies the token for real
// (sigstore/fulcio pkg/identity/issuerpool.go). Use them to name what a
// token is for and to build the proof of possession, never to trust it.
type Claims struct {
	Issuer        string
	Subject       string
	Audience      []string
	Expiry        time.Time // zero when the token has no exp
	IssuedAt      time.Time // zero when absent
	Email         string
	EmailVerified bool
}

// Parse decodes the payload of a compact JWS identity token without
// verifying it. Like the CA, it wants exactly three dot-separated base64url
// parts (sigstore/fulcio pkg/identity/issuerpool.go extractIssuerURL), a
// JSON object header and payload, and an iss claim. aud may be a string or
// an array (RFC 7519 §4.1.3); email_verified a boolean or the strings
// "true"/"false" (sigstore/sigstore pkg/oauthflow/flow.go).
func Parse(raw string) (*Claims, error) {
	if len(raw) > MaxTokenSize {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrMalformed, MaxTokenSize)
	}
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("%w: not a JWT (want three base64url parts separated by dots, got %d parts)", ErrMalformed, len(parts))
	}
	hdr, err := decodeSegment(parts[0])
	if err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrMalformed, err)
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if err := json.Unmarshal(hdr, &h); err != nil || h.Alg == "" {
		return nil, fmt.Errorf("%w: header is not a JSON object with alg", ErrMalformed)
	}
	payload, err := decodeSegment(parts[1])
	if err != nil {
		return nil, fmt.Errorf("%w: payload: %v", ErrMalformed, err)
	}
	var p struct {
		Iss           string          `json:"iss"`
		Sub           string          `json:"sub"`
		Aud           json.RawMessage `json:"aud"`
		Exp           *float64        `json:"exp"`
		Iat           *float64        `json:"iat"`
		Email         string          `json:"email"`
		EmailVerified json.RawMessage `json:"email_verified"`
	}
	if err := json.Unmarshal(payload, &p); err != nil {
		return nil, fmt.Errorf("%w: couldn't decode the claims: %v", ErrMalformed, err)
	}
	c := &Claims{Issuer: p.Iss, Subject: p.Sub, Email: p.Email}
	if c.Issuer == "" {
		return nil, fmt.Errorf("%w: no iss claim", ErrMalformed)
	}
	if c.Audience, err = audience(p.Aud); err != nil {
		return nil, fmt.Errorf("%w: aud: %v", ErrMalformed, err)
	}
	if c.Expiry, err = numericDate(p.Exp); err != nil {
		return nil, fmt.Errorf("%w: exp: %v", ErrMalformed, err)
	}
	if c.IssuedAt, err = numericDate(p.Iat); err != nil {
		return nil, fmt.Errorf("%w: iat: %v", ErrMalformed, err)
	}
	switch v := string(bytes.TrimSpace(p.EmailVerified)); v {
	case "", "null", "false", `"false"`, `"False"`:
	case "true", `"true"`, `"True"`:
		c.EmailVerified = true
	default:
		return nil, fmt.Errorf("%w: email_verified is %s, not a boolean", ErrMalformed, v)
	}
	return c, nil
}

func decodeSegment(s string) ([]byte, error) {
	// JWS compact serialization uses unpadded base64url (RFC 7515 §2);
	// tolerate padding, which some issuers add.
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

func audience(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		return []string{one}, nil
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil {
		return nil, errors.New("neither a string nor an array of strings")
	}
	return many, nil
}

// numericDate converts an RFC 7519 NumericDate (seconds, maybe
// fractional).
func numericDate(f *float64) (time.Time, error) {
	if f == nil {
		return time.Time{}, nil
	}
	if math.IsNaN(*f) || *f < 0 || *f > 1<<40 {
		return time.Time{}, fmt.Errorf("%v is not a plausible time", *f)
	}
	sec, frac := math.Modf(*f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
}

// ProofSubject returns what a signer proves possession of its key over
// when it asks the CA for a certificate: the email when the token has one
// (which must then be verified), else the subject (sigstore/sigstore
// pkg/oauthflow/flow.go SubjectFromToken; the CA checks the proof against
// the same value, sigstore/fulcio pkg/identity/*/principal.go).
func (c *Claims) ProofSubject() (string, error) {
	if c.Email != "" {
		if !c.EmailVerified {
			return "", fmt.Errorf("the token's email %s is not verified by its issuer (email_verified is not true)", c.Email)
		}
		return c.Email, nil
	}
	if c.Subject == "" {
		return "", errors.New("the token has neither an email nor a sub claim")
	}
	return c.Subject, nil
}

// Check parses raw and checks, without verifying the signature, what a
// signer can tell before the CA does: it has not expired at now and it is
// for audience. The errors wrap ErrMalformed, ErrExpired or ErrAudience
// and say what the token holds.
func Check(raw, audience string, now time.Time) (*Claims, error) {
	c, err := Parse(raw)
	if err != nil {
		return nil, err
	}
	if c.Expiry.IsZero() {
		return nil, fmt.Errorf("%w: no exp claim (the CA requires one)", ErrMalformed)
	}
	if !now.Before(c.Expiry) {
		return nil, fmt.Errorf("%w at %s (%s ago)", ErrExpired, c.Expiry.Format(time.RFC3339), now.Sub(c.Expiry).Round(time.Second))
	}
	for _, a := range c.Audience {
		if a == audience {
			return c, nil
		}
	}
	got := "no audience"
	if len(c.Audience) > 0 {
		b, _ := json.Marshal(c.Audience)
		got = "audience " + string(b)
		if len(c.Audience) == 1 {
			got = fmt.Sprintf("audience %q", c.Audience[0])
		}
	}
	return nil, fmt.Errorf("%w: it is for %s, not %q (issuer %s)", ErrAudience, got, audience, c.Issuer)
}
