package tlog

import (
	"fmt"
	"testing"
	"time"

	"github.com/transparency-dev/tessera"
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
