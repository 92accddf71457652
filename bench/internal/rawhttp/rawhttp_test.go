package rawhttp

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestPost(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || r.Header.Get("Authorization") != "Bearer t" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		switch r.URL.Path {
		case "/length":
			w.Header().Set("Content-Length", "7")
			w.WriteHeader(http.StatusCreated)
			io.WriteString(w, "created")
		case "/chunked":
			// Flushing before the end makes net/http use chunked coding.
			io.WriteString(w, "echo:")
			w.(http.Flusher).Flush()
			w.Write(b)
		case "/close":
			w.Header().Set("Connection", "close")
			io.WriteString(w, "bye")
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	c, err := New(srv.URL, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	hdr := []string{"Authorization: Bearer t"}
	for i := range 3 {
		code, body, err := c.Post("/length", "application/json", hdr, []byte(`{}`))
		if err != nil || code != http.StatusCreated || string(body) != "created" {
			t.Fatalf("length %d: %d %q %v", i, code, body, err)
		}
		big := strings.Repeat("x", 20000)
		code, body, err = c.Post("/chunked", "application/json", hdr, []byte(big))
		if err != nil || code != http.StatusOK || string(body) != "echo:"+big {
			t.Fatalf("chunked %d: %d %d bytes %v", i, code, len(body), err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for six requests, want 1 (keep-alive)", n)
	}
	if code, body, err := c.Post("/close", "application/json", hdr, nil); err != nil || code != http.StatusOK || string(body) != "bye" {
		t.Fatalf("close: %d %q %v", code, body, err)
	}
	if code, _, err := c.Post("/length", "application/json", hdr, nil); err != nil || code != http.StatusCreated {
		t.Fatalf("after close: %d %v", code, err)
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections, want 2 (a new one after Connection: close)", n)
	}
	if code, _, err := c.Post("/length", "application/json", nil, nil); err != nil || code != http.StatusBadRequest {
		t.Errorf("without the header: %d %v, want 400", code, err)
	}
}

func TestNewRejects(t *testing.T) {
	for _, u := range []string{"https://x:1", "x:1", "http://"} {
		if _, err := New(u, 0); err == nil {
			t.Errorf("New(%q) succeeded", u)
		}
	}
}
