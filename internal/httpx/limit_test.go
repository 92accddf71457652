package httpx

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestLimitBodies(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("x", len(r.URL.Path)-1)) //nolint:errcheck
	}))
	defer srv.Close()
	tooLarge := errors.New("too large")
	c := &http.Client{Transport: LimitBodies(nil, 10, func(*http.Request) error { return tooLarge })}
	for path, wantErr := range map[string]bool{"/123456789": false, "/1234567890": false, "/12345678901": true} {
		resp, err := c.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if wantErr != errors.Is(err, tooLarge) || (!wantErr && len(b) != len(path)-1) {
			t.Errorf("%d bytes: read %d, %v", len(path)-1, len(b), err)
		}
	}
}
