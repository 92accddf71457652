package httpx

import (
	"io"
	"net/http"
)

// LimitBodies returns a RoundTripper over rt (http.DefaultTransport when
// nil) whose response bodies fail, with tooLarge(req), once more than max
// bytes have been read: a client library that reads a whole answer
// (go-oidc's discovery, the tlog-tiles fetcher) then cannot be made to hold
// all that a hostile server sends. A body of exactly max bytes reads whole.
func LimitBodies(rt http.RoundTripper, max int64, tooLarge func(*http.Request) error) http.RoundTripper {
	if rt == nil {
		rt = http.DefaultTransport
	}
	return limitTransport{rt, max, tooLarge}
}

type limitTransport struct {
	rt       http.RoundTripper
	max      int64
	tooLarge func(*http.Request) error
}

func (t limitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.rt.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = &limitBody{ReadCloser: resp.Body, left: t.max, err: func() error { return t.tooLarge(req) }}
	return resp, nil
}

type limitBody struct {
	io.ReadCloser
	left int64 // bytes still allowed; below zero once more were read
	err  func() error
}

func (b *limitBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, b.err()
	}
	// One byte past the limit tells a body of max bytes from a longer one.
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return n, b.err()
	}
	return n, err
}
