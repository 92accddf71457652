package token

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// githubRetryDelays are the waits between the attempts of a GitHub Actions
// token request (cosign tries 3 times, sigstore/cosign
// pkg/providers/github/github.go). Tests shorten them.
var githubRetryDelays = []time.Duration{time.Second, 2 * time.Second}

// GitHubActions returns the GitHub Actions provider: when both
// ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are set
// (GitHub sets them for jobs with permissions: id-token: write), it GETs
// the request URL with audience=opts.Audience added to its query and
// "Authorization: bearer <request token>", and answers the "value" of the
// JSON reply (GitHub docs "Configuring OpenID Connect in cloud providers";
// sigstore/cosign pkg/providers/github/github.go). Network errors and 5xx
// or 429 answers are retried twice.
func GitHubActions(opts Options) Source {
	o := opts.withDefaults()
	return SourceFunc(func(ctx context.Context) (string, error) {
		reqURL, reqTok := o.Getenv("ACTIONS_ID_TOKEN_REQUEST_URL"), o.Getenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
		if reqURL == "" || reqTok == "" {
			reason := "ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set"
			if o.Getenv("GITHUB_ACTIONS") == "true" {
				reason += " (this is a GitHub Actions job: give it permissions: id-token: write)"
			}
			return "", &Unavailable{"GitHub Actions", reason}
		}
		u, err := url.Parse(reqURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return "", fmt.Errorf("couldn't parse ACTIONS_ID_TOKEN_REQUEST_URL: %q is not an http(s) URL", reqURL)
		}
		q := u.Query()
		q.Set("audience", o.Audience)
		u.RawQuery = q.Encode()
		var lastErr error
		for attempt := 0; ; attempt++ {
			tok, retry, err := githubRequest(ctx, o.HTTPClient, u.String(), reqTok)
			if err == nil {
				return tok, nil
			}
			lastErr = err
			if !retry || attempt >= len(githubRetryDelays) {
				break
			}
			select {
			case <-ctx.Done():
				return "", fmt.Errorf("couldn't request a GitHub Actions ID token: %w (after %v)", ctx.Err(), lastErr)
			case <-time.After(githubRetryDelays[attempt]):
			}
		}
		return "", lastErr
	})
}

// githubRequest makes one request; retry says whether another may succeed.
func githubRequest(ctx context.Context, client *http.Client, u, reqTok string) (tok string, retry bool, _ error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", false, fmt.Errorf("couldn't request a GitHub Actions ID token: %w", err)
	}
	req.Header.Set("Authorization", "bearer "+reqTok)
	req.Header.Set("Accept", "application/json; api-version=2.0")
	req.Header.Set("User-Agent", "sigil")
	resp, err := client.Do(req)
	if err != nil {
		return "", ctx.Err() == nil, fmt.Errorf("couldn't request a GitHub Actions ID token: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxTokenSize+1024))
	if err != nil {
		return "", true, fmt.Errorf("couldn't read the GitHub Actions ID token: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		retry := resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests
		return "", retry, fmt.Errorf("couldn't get a GitHub Actions ID token: %s: %s", resp.Status, snippet(body))
	}
	var v struct {
		Value string `json:"value"`
	}
	if err := json.Unmarshal(body, &v); err != nil || v.Value == "" {
		return "", false, fmt.Errorf("couldn't read the GitHub Actions ID token: the answer has no \"value\": %s", snippet(body))
	}
	return v.Value, false, nil
}

// snippet quotes the start of a response body for an error message.
func snippet(b []byte) string {
	const n = 200
	s := strings.TrimSpace(string(b))
	if len(s) > n {
		s = s[:n] + "…"
	}
	return fmt.Sprintf("%q", s)
}

// fileSource reads a mounted token on every call, so a token that the
// kubelet or a SPIFFE helper rotates is picked up. A missing file is
// Unavailable unless its path was given explicitly.
type fileSource struct {
	path     string
	explicit bool
}

// File returns a Source that reads a token file (a Kubernetes projected
// service account token, a JWT-SVID written by spiffe-helper, …) on every
// call. A missing file is an error.
func File(path string) Source { return &fileSource{path: path, explicit: true} }

func (f *fileSource) Token(context.Context) (string, error) {
	if f.path == "" {
		return "", &Unavailable{"token file", "no path given"}
	}
	tok, err := readTokenFile(f.path)
	if err != nil && !f.explicit && errors.Is(err, fs.ErrNotExist) {
		return "", &Unavailable{"token file " + f.path, "does not exist (SIGSTORE_ID_TOKEN_FILE names another)"}
	}
	return tok, err
}

// readTokenFile reads a token of at most MaxTokenSize bytes, trimmed of
// white space (a CRLF from Windows) and of a leading UTF-8 byte order
// mark, which Windows editors and PowerShell 5's Out-File and Set-Content
// -Encoding UTF8 write: no JWT starts with one.
func readTokenFile(path string) (string, error) {
	fh, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("couldn't read the token file: %w", err)
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, MaxTokenSize+1))
	if err != nil {
		return "", fmt.Errorf("couldn't read the token file %s: %w", path, err)
	}
	if len(b) > MaxTokenSize {
		return "", fmt.Errorf("%w: the token file %s is larger than %d bytes", ErrMalformed, path, MaxTokenSize)
	}
	tok := strings.TrimSpace(strings.TrimPrefix(string(b), "\ufeff"))
	if tok == "" {
		return "", fmt.Errorf("%w: the token file %s is empty", ErrMalformed, path)
	}
	return tok, nil
}
