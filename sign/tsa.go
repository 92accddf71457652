package sign

import (
	"context"
	"crypto"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"

	"sigil.dev/sigil/internal/printable"
	"sigil.dev/sigil/timestamp"
)

// TSAClient gets RFC 3161 timestamps over signatures.
type TSAClient struct {
	URL        string // the full timestamp endpoint, e.g. https://tsa.example.com/api/v1/timestamp
	HTTPClient *http.Client
	UserAgent  string
}

// Timestamp returns a DER TimeStampResp over SHA-256(sig), checked to be a
// granted response stamping that digest. The caller verifies it against
// the trusted root.
func (c *TSAClient) Timestamp(ctx context.Context, sig []byte) ([]byte, error) {
	d := sha256.Sum256(sig)
	req, err := (&timestamp.Request{HashAlgorithm: crypto.SHA256, HashedMessage: d[:], CertReq: true}).Marshal()
	if err != nil {
		return nil, fmt.Errorf("couldn't build timestamp request: %w", err)
	}
	resp, raw, err := do(ctx, c.HTTPClient, c.UserAgent, http.MethodPost, c.URL, "application/timestamp-query", req)
	if err != nil {
		return nil, fmt.Errorf("couldn't reach the timestamp authority at %s: %w", c.URL, err)
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		return nil, &ServiceError{Service: "timestamp authority", Status: resp.StatusCode, Message: tsaErrorMessage(raw)}
	}
	tok, err := timestamp.ParseResponse(raw)
	if err != nil {
		return nil, fmt.Errorf("couldn't parse the timestamp response: %w", err)
	}
	if tok.HashAlgorithm != crypto.SHA256 || string(tok.HashedMessage) != string(d[:]) {
		return nil, fmt.Errorf("the timestamp authority stamped a different digest")
	}
	return raw, nil
}

// tsaErrorMessage is what a TSA said when it refused a request: the status,
// failure and reason of a TimeStampResp without a token (RFC 3161 §2.4.2,
// which sigil's TSA answers with HTTP 400, or 500 for a failure of its
// own), else the JSON error or text of the body.
func tsaErrorMessage(raw []byte) string {
	var se *timestamp.StatusError
	if _, err := timestamp.ParseResponse(raw); errors.As(err, &se) {
		return printable.Cut(se.Error(), 300)
	}
	return errorMessage(raw)
}
