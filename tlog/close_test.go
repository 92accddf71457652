package tlog

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/transparency-dev/tessera"

	"sigil.dev/sigil/internal/testpki"
)

// TestCloseWithQueuedAdd: an add still queued when the log closes (its
// client gave up, so the service no longer waits for it) is failed or
// finished, and Close returns. Closing Tessera before the coalescer had
// handed it that add left a future that never resolved, and Close hung
// (seen once in CI, in the cleanup of a test with a cancelled client).
func TestCloseWithQueuedAdd(t *testing.T) {
	for i := range 5 {
		l := startLog(t, t.TempDir(), nil)
		r := &addRequest{entry: tessera.NewEntry([]byte(fmt.Sprintf("orphan %d", i))), done: make(chan addResult, 1)}
		l.svc.v2.enqueue(r)
		done := make(chan error, 1)
		go func() { done <- l.svc.Close() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("round %d: Close hangs with an add queued", i)
		}
		select {
		case <-r.done:
		default:
			t.Fatalf("round %d: the queued add was never answered", i)
		}
	}
}

// TestCloseWaitsForTheCheckpointInterval: Close waits for Tessera to
// publish a checkpoint covering every entry, and Tessera publishes only
// every CheckpointInterval. With an interval longer than Close's fixed
// budget (a minute; --checkpoint-interval 2m is accepted) every graceful
// shutdown after a write failed with "context deadline exceeded", the v1
// tree's budget spent waiting for the v2 tree's publication. The budget
// is shrunk here so that an interval of a few seconds exceeds it.
func TestCloseWaitsForTheCheckpointInterval(t *testing.T) {
	old := closeTimeout
	closeTimeout = 500 * time.Millisecond
	defer func() { closeTimeout = old }()
	l := startLog(t, t.TempDir(), func(c *Config) { c.CheckpointInterval = 2 * time.Second })
	time.Sleep(100 * time.Millisecond) // the start-up publication
	p, _ := testpki.New(testpki.Options{})
	s := newSigner(t, p, nil, true)
	req, _ := s.v2Request(t, []byte("closing"))
	resp, body := l.post("/api/v2/log/entries", req)
	mustStatus(t, resp, body, http.StatusCreated)
	req1, _, _ := s.v1HashedRekord(t, []byte("closing"))
	resp, body = l.post("/api/v1/log/entries", req1)
	mustStatus(t, resp, body, http.StatusCreated)
	l.srv.Close()
	if err := l.svc.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}
