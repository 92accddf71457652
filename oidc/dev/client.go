package dev

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// RequestTestToken asks a running dev issuer (its URL, as Issuer.URL
// returns it) for a test token through its loopback-only GET /test/token
// endpoint, with claims merged over the identity's (see Issuer.Mint). It is
// how scripts and other processes get a token without a sign-in.
func RequestTestToken(ctx context.Context, client *http.Client, issuer string, claims map[string]any) (string, error) {
	if client == nil {
		client = http.DefaultClient
	}
	q := url.Values{}
	if len(claims) > 0 {
		b, err := json.Marshal(claims)
		if err != nil {
			return "", fmt.Errorf("couldn't encode the claims: %w", err)
		}
		q.Set("claims", string(b))
	}
	u := strings.TrimSuffix(issuer, "/") + "/test/token"
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", fmt.Errorf("couldn't request a test token: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("couldn't request a test token from %s: %w", issuer, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", fmt.Errorf("couldn't read the test token: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("couldn't get a test token from %s: %s: %q (is it sigil's dev issuer, reached over loopback?)", issuer, resp.Status, strings.TrimSpace(string(body)))
	}
	return strings.TrimSpace(string(body)), nil
}
