package tlog

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"sigil.dev/sigil/internal/testpki"
)

// TestSlowClient: a client that stops sending its body gets a JSON 408
// once bodyReadTimeout passes, and the connection is closed, so it holds
// nothing (and does not hold up a graceful shutdown); the log keeps
// serving.
func TestSlowClient(t *testing.T) {
	old := bodyReadTimeout
	bodyReadTimeout = 300 * time.Millisecond
	defer func() { bodyReadTimeout = old }()
	l := startLog(t, "", nil)
	for _, path := range []string{"/api/v2/log/entries", "/api/v1/log/entries"} {
		conn, err := net.Dial("tcp", strings.TrimPrefix(l.url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		// Promise 1,000 bytes, send 9, then wait.
		io.WriteString(conn, "POST "+path+" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"a\":\"b\",")
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%s: no answer to a stalled body: %v", path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(body), "not received within") {
			t.Errorf("%s: %d %s", path, resp.StatusCode, body)
		}
		if _, err := br.ReadByte(); err != io.EOF {
			t.Errorf("%s: the connection stayed open after the 408: %v", path, err)
		}
	}
	if resp, _ := l.get("/api/v2/checkpoint"); resp.StatusCode != http.StatusOK {
		t.Errorf("checkpoint after slow clients: %d", resp.StatusCode)
	}
}

// TestOriginChange: restarting a log's data directory under another public
// URL (so another origin) is refused with a message that says so, not as a
// bare integrity failure.
func TestOriginChange(t *testing.T) {
	dir := t.TempDir()
	l := startLog(t, dir, nil)
	l.stop()
	cfg := l.cfg
	cfg.V2PublicURL, cfg.V1PublicURL = "http://log.example.com", "http://log.example.com"
	svc, err := New(context.Background(), cfg)
	if err == nil {
		svc.Close()
		t.Fatal("a new origin was accepted")
	}
	if !strings.Contains(err.Error(), `makes the origin "log.example.com"`) || !strings.Contains(err.Error(), "cannot change") {
		t.Fatalf("%v", err)
	}
}

// TestHalfClose: a client that half-closes its connection after sending a
// write (net/http then cancels the request's context) still gets a whole
// answer — the entry's 201, or a 503 if the cancellation won — never an
// empty 200.
func TestHalfClose(t *testing.T) {
	l := startLog(t, "", nil)
	p, _ := testpki.New(testpki.Options{})
	s := newSigner(t, p, nil, true)
	for i := range 5 {
		req, _ := s.v2Request(t, []byte("half-close "+strconv.Itoa(i)))
		conn, err := net.Dial("tcp", strings.TrimPrefix(l.url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(conn, "POST /api/v2/log/entries HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "+strconv.Itoa(len(req))+"\r\n\r\n"+string(req))
		conn.(*net.TCPConn).CloseWrite()
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("no answer after a half-close: %v", err)
		}
		body, _ := io.ReadAll(resp.Body)
		conn.Close()
		if (resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusServiceUnavailable) || len(body) == 0 {
			t.Errorf("half-closed write %d: %d %q", i, resp.StatusCode, body)
		}
	}
}

// TestAnnouncedBodyNotPreallocated: a request announcing a large body and
// sending a few bytes costs a few bytes of heap, not its Content-Length
// (held for the whole read timeout by a client that sends nothing more).
func TestAnnouncedBodyNotPreallocated(t *testing.T) {
	l := startLog(t, "", nil)
	h := l.svc.Handler()
	const n = 8
	for _, path := range []string{"/api/v2/log/entries", "/api/v1/log/entries"} {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for i := 0; i < n; i++ {
			req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(`{"hashedRekordRequestV002":`))
			req.ContentLength = 1 << 20
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusBadRequest {
				t.Fatalf("%s: status %d: %s", path, w.Code, w.Body)
			}
		}
		runtime.ReadMemStats(&after)
		if per := (after.TotalAlloc - before.TotalAlloc) / n; per > 256<<10 {
			t.Errorf("%s: %d bytes allocated per request announcing 1 MiB and sending 27", path, per)
		}
	}
}

// TestLostTreeStateRefused: a log directory whose tree state
// (.state/treeState, Tessera's record of the integrated tree) is missing
// while its checkpoint and tiles are there (a backup restored without
// hidden directories, a file deleted by hand) is refused at start. Tessera
// takes a missing tree state for a new log: it started the log over at
// size 0, published an empty checkpoint over the log's and handed out
// indices already in use, a fork every client saw.
func TestLostTreeStateRefused(t *testing.T) {
	for _, name := range []string{"v1", "v2"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			l := startLog(t, dir, nil)
			p, _ := testpki.New(testpki.Options{})
			s := newSigner(t, p, nil, true)
			req, _ := s.v2Request(t, []byte("before the tree state was lost"))
			resp, body := l.post("/api/v2/log/entries", req)
			mustStatus(t, resp, body, http.StatusCreated)
			req1, _, _ := s.v1HashedRekord(t, []byte("before the tree state was lost"))
			resp, body = l.post("/api/v1/log/entries", req1)
			mustStatus(t, resp, body, http.StatusCreated)
			l.stop()
			cp := filepath.Join(dir, name, "checkpoint")
			before, err := os.ReadFile(cp)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(filepath.Join(dir, name, ".state", "treeState")); err != nil {
				t.Fatal(err)
			}
			cfg := l.cfg
			svc, err := New(context.Background(), cfg)
			if err == nil {
				svc.Close()
				t.Fatalf("the %s log started without its tree state", name)
			}
			if err := containsAll(err.Error(), filepath.Join(dir, name), "treeState", "restore"); err != nil {
				t.Error(err)
			}
			if after, _ := os.ReadFile(cp); !bytes.Equal(after, before) {
				t.Errorf("the checkpoint changed:\n%s\nwas\n%s", after, before)
			}
		})
	}
}

// TestDamagedPublishedCheckpoint: the checkpoint Tessera published into
// storage, missing or damaged. Missing (deleted, or a crash on the first
// start between the tree state and the first publication), the log
// starts and Tessera publishes a new one; before, every start failed
// with 'couldn't read the published checkpoint: file does not exist'.
// Damaged (empty, cut short), the log says so and what to do, while
// running and at start; Tessera never replaces a checkpoint it cannot
// parse (nor collects garbage after one). Before, an empty file was
// reported as a change of the public URL while running and passed
// unnoticed at start (it equalled the nil 'last checked').
func TestDamagedPublishedCheckpoint(t *testing.T) {
	dir := t.TempDir()
	l := startLog(t, dir, nil)
	p, _ := testpki.New(testpki.Options{})
	s := newSigner(t, p, nil, true)
	req, _ := s.v2Request(t, []byte("published"))
	resp, body := l.post("/api/v2/log/entries", req)
	mustStatus(t, resp, body, http.StatusCreated)
	cp := filepath.Join(dir, "v2", "checkpoint")
	if err := os.WriteFile(cp, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	damaged := func(err error) error {
		if err == nil {
			return errors.New("no error")
		}
		return containsAll(err.Error(), "v2", "damaged", "delete")
	}
	for err := l.svc.Ready(); err == nil; err = l.svc.Ready() {
		time.Sleep(50 * time.Millisecond) // the next cross-check
	}
	if err := damaged(l.svc.Ready()); err != nil {
		t.Errorf("Ready with an empty published checkpoint: %v", err)
	}
	l.srv.Close()
	l.svc.Close() //nolint:errcheck // Tessera's shutdown fails on the damaged checkpoint too

	for _, c := range []struct{ name, content string }{{"empty", ""}, {"cut short", "127.0.0.1\n1\n"}} {
		if err := os.WriteFile(cp, []byte(c.content), 0o644); err != nil {
			t.Fatal(err)
		}
		svc, err := New(context.Background(), l.cfg)
		if err == nil {
			svc.Close()
		}
		if err := damaged(err); err != nil {
			t.Errorf("New with a published checkpoint %s: %v", c.name, err)
		}
	}

	if err := os.Remove(cp); err != nil {
		t.Fatal(err)
	}
	l = startLog(t, dir, func(c *Config) { *c = l.cfg })
	req, _ = s.v2Request(t, []byte("after the checkpoint was deleted"))
	resp, body = l.post("/api/v2/log/entries", req)
	mustStatus(t, resp, body, http.StatusCreated)
}

// TestFencedLogLogsOnce: a log fenced by a failed check of its published
// checkpoint logs the failure once, not again at every check (every
// second, for as long as the server runs).
func TestFencedLogLogsOnce(t *testing.T) {
	var logs lockedBuffer
	dir := t.TempDir()
	l := startLog(t, dir, func(c *Config) { c.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	if err := os.WriteFile(filepath.Join(dir, "v1", "checkpoint"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for l.svc.Ready() == nil {
		time.Sleep(50 * time.Millisecond) // the next cross-check
	}
	time.Sleep(3 * crossCheckInterval) // the checks that would log again
	if n := strings.Count(logs.String(), "cross-check failed"); n != 1 {
		t.Errorf("the failed check was logged %d times:\n%s", n, logs.String())
	}
	l.srv.Close()
	l.svc.Close() //nolint:errcheck // Tessera's shutdown fails on the damaged checkpoint too
}

// lockedBuffer is a bytes.Buffer safe for concurrent writers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
