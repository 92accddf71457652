package ctlog

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"sigil.dev/sigil/sct"
)

// Client submits chains to an RFC 6962 CT log over HTTP. It implements
// Submitter against any RFC 6962 log, this package's or another.
//
// The SCT it returns is checked for form only: callers verify it with the
// log's key from the trusted root (sct.(*SCT).Verify once embedded, or
// VerifySignedData over sct.PrecertSignedData / sct.X509SignedData).
// Errors wrap this package's sentinels when the log answers with an RFC
// 9162 error type (ErrBadChain, ErrUnknownAnchor, …, ErrShutdown), and
// ErrPushback for other 429 and 503 answers. Client does not retry.
type Client struct {
	// URL is the log's base URL (its submission prefix), e.g.
	// "https://sigil.example/ct"; requests go to URL + "/ct/v1/…".
	URL string
	// HTTPClient makes the requests; when nil, a client with a 30 s
	// timeout.
	HTTPClient *http.Client
}

var _ Submitter = (*Client)(nil)

var defaultHTTPClient = &http.Client{Timeout: 30 * time.Second}

// maxResponseBody bounds what Client reads of an answer.
const maxResponseBody = 64 << 10

// AddPreChain submits a precertificate chain (RFC 6962 §4.2).
func (c *Client) AddPreChain(ctx context.Context, chain [][]byte) (*sct.SCT, error) {
	return c.add(ctx, "add-pre-chain", chain)
}

// AddChain submits a certificate chain (RFC 6962 §4.1).
func (c *Client) AddChain(ctx context.Context, chain [][]byte) (*sct.SCT, error) {
	return c.add(ctx, "add-chain", chain)
}

func (c *Client) add(ctx context.Context, endpoint string, chain [][]byte) (*sct.SCT, error) {
	body, err := json.Marshal(AddChainRequest{Chain: chain})
	if err != nil {
		return nil, fmt.Errorf("couldn't encode %s request: %w", endpoint, err)
	}
	u := strings.TrimRight(c.URL, "/") + "/ct/v1/" + endpoint
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("couldn't build %s request: %w", endpoint, err)
	}
	req.Header.Set("Content-Type", "application/json")
	hc := c.HTTPClient
	if hc == nil {
		hc = defaultHTTPClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("couldn't reach CT log: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	if err != nil {
		return nil, fmt.Errorf("couldn't read %s response: %w", endpoint, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, responseError(endpoint, resp, raw)
	}
	var r AddChainResponse
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("couldn't parse %s response: %w", endpoint, err)
	}
	s, err := sctFromResponse(&r)
	if err != nil {
		return nil, fmt.Errorf("couldn't parse %s response: %w", endpoint, err)
	}
	return s, nil
}

// responseError turns a non-200 answer into an error wrapping the
// matching sentinel.
func responseError(endpoint string, resp *http.Response, body []byte) error {
	detail := strings.TrimSpace(string(body))
	var sentinel error
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == "application/problem+json" {
		var p problem
		if json.Unmarshal(body, &p) == nil {
			sentinel = errorForType(p.Type)
			detail = p.Detail
		}
	}
	if sentinel == nil {
		switch resp.StatusCode {
		case http.StatusTooManyRequests, http.StatusServiceUnavailable:
			sentinel = ErrPushback
		}
	}
	if len(detail) > 512 {
		detail = detail[:512] + "…"
	}
	if sentinel != nil {
		return fmt.Errorf("CT log refused %s (%s): %w: %s", endpoint, resp.Status, sentinel, strings.TrimPrefix(detail, sentinel.Error()+": "))
	}
	return fmt.Errorf("CT log refused %s: %s: %s", endpoint, resp.Status, detail)
}
