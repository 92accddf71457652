package oci

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// listReferrers returns the referrers listing of subject: the referrers
// API's answer, every page of it, or else the referrers tag schema index.
// A registry may answer the API a page at a time, naming the next page
// in a Link header (distribution-spec "Listing Referrers");
// go-containerregistry reads the first page only, so the transport notes
// the header and the later pages are read here. When a later page cannot
// be read, the pages read so far are returned with the error.
func (c *Client) listReferrers(ctx context.Context, subject name.Digest) (*v1.IndexManifest, error) {
	rec := &nextPage{}
	idx, err := remote.Referrers(subject, remote.Reuse(c.puller), remote.WithContext(context.WithValue(ctx, nextPageKey{}, rec)))
	if err != nil {
		return nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	next, err := rec.get()
	if err != nil || next == nil {
		return im, err
	}
	auth, err := authn.Resolve(ctx, c.keychain, subject.Context())
	if err != nil {
		return nil, err
	}
	rt, err := transport.NewWithContext(ctx, subject.Context().Registry, auth,
		transport.NewRetry(c.transport, transport.WithRetryBackoff(c.backoff),
			transport.WithRetryStatusCodes(http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
				http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout)),
		[]string{subject.Scope(transport.PullScope)})
	if err != nil {
		return nil, err
	}
	if c.opts.UserAgent != "" {
		rt = transport.NewUserAgent(rt, c.opts.UserAgent)
	}
	client := &http.Client{Transport: rt}
	seen := map[string]bool{}
	for next != nil {
		if seen[next.String()] || len(seen) > MaxReferrers {
			return nil, fmt.Errorf("the registry's pages of referrers do not end (page %s again, or more than %d pages)", next, MaxReferrers)
		}
		seen[next.String()] = true
		page, after, err := c.referrersPage(ctx, client, next)
		if err != nil {
			return im, err
		}
		im.Manifests = append(im.Manifests, page...)
		if len(im.Manifests) > MaxReferrers {
			break // refused by the caller, which says how many
		}
		next = after
	}
	return im, nil
}

// referrersPage reads one page of a referrers listing and returns its
// descriptors and the next page, if any.
func (c *Client) referrersPage(ctx context.Context, client *http.Client, u *url.URL) ([]v1.Descriptor, *url.URL, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Accept", string(types.OCIImageIndex))
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	if err := transport.CheckError(resp, http.StatusOK); err != nil {
		return nil, nil, err
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != string(types.OCIImageIndex) {
		return nil, nil, fmt.Errorf("GET %s: the next page of referrers is %q, not an image index", u, resp.Header.Get("Content-Type"))
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, c.opts.MaxBlobSize+1))
	if err != nil {
		return nil, nil, err
	}
	if int64(len(b)) > c.opts.MaxBlobSize {
		return nil, nil, fmt.Errorf("GET %s: a page of referrers larger than %d bytes", u, c.opts.MaxBlobSize)
	}
	im, err := v1.ParseIndexManifest(bytes.NewReader(b))
	if err != nil {
		return nil, nil, fmt.Errorf("GET %s: %w", u, err)
	}
	next, err := nextLink(resp)
	if err != nil {
		return nil, nil, err
	}
	return im.Manifests, next, nil
}

// nextPageKey is the context key under which listReferrers asks the
// transport for the Link header of the referrers API's answer.
type nextPageKey struct{}

// nextPage is the next page of a referrers listing, as the answer named it.
type nextPage struct {
	mu   sync.Mutex
	next *url.URL
	err  error
}

func (p *nextPage) get() (*url.URL, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.next, p.err
}

// nextPageRecorder is the registry transport: for a request made by
// listReferrers, it notes the next page that the referrers API's answer
// names.
type nextPageRecorder struct{ http.RoundTripper }

func (r nextPageRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.RoundTripper.RoundTrip(req)
	p, ok := req.Context().Value(nextPageKey{}).(*nextPage)
	if !ok || err != nil || req.Method != http.MethodGet || !strings.Contains(req.URL.Path, "/referrers/") {
		return resp, err
	}
	next, lerr := nextLink(resp)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.next, p.err = nil, nil
	// go-containerregistry takes only this answer for the API's (else it
	// reads the referrers tag schema index).
	if resp.StatusCode == http.StatusOK && resp.Header.Get("Content-Type") == string(types.OCIImageIndex) {
		p.next, p.err = next, lerr
	}
	return resp, err
}

// nextLink returns the target of the Link header's rel="next" link (RFC
// 8288), resolved against the request, or nil. A link to another host is
// refused: the next page is the same registry's.
func nextLink(resp *http.Response) (*url.URL, error) {
	for _, h := range resp.Header.Values("Link") {
		for _, link := range strings.Split(h, ",") {
			target, params, ok := strings.Cut(strings.TrimSpace(link), ";")
			target = strings.TrimSpace(target)
			if !ok || !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") {
				continue
			}
			next := false
			for _, p := range strings.Split(params, ";") {
				k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
				if strings.EqualFold(k, "rel") && strings.EqualFold(strings.Trim(v, `"`), "next") {
					next = true
				}
			}
			if !next {
				continue
			}
			u, err := resp.Request.URL.Parse(target[1 : len(target)-1])
			if err != nil {
				return nil, fmt.Errorf("couldn't read the next page link %q of %s: %w", target, resp.Request.URL, err)
			}
			if u.Host != resp.Request.URL.Host {
				return nil, errors.New("the next page of referrers is on another host: " + u.Redacted())
			}
			return u, nil
		}
	}
	return nil, nil
}
