package ctlog

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/ctonly"
)

// fakeTessera assigns indices in order; each batch waits for release.
type fakeTessera struct {
	mu      sync.Mutex
	next    uint64
	release chan struct{}
	started chan int // index of each entry handed over
}

func (f *fakeTessera) add(_ context.Context, e *ctonly.Entry) tessera.IndexFuture {
	f.mu.Lock()
	i := f.next
	f.next++
	f.mu.Unlock()
	f.started <- int(i)
	return func() (tessera.Index, error) {
		<-f.release
		return tessera.Index{Index: i}, nil
	}
}

// TestSequencerGroupCommits: while one batch is being made durable, the
// submissions that arrive form the next batch, all of them together.
func TestSequencerGroupCommits(t *testing.T) {
	f := &fakeTessera{release: make(chan struct{}), started: make(chan int, 100)}
	var sizes []int
	var sizesMu sync.Mutex
	q := &sequencer{ctx: context.Background(), add: f.add, maxBatch: 4, maxPending: 8, observe: func(n int) {
		sizesMu.Lock()
		sizes = append(sizes, n)
		sizesMu.Unlock()
	}}
	var wg sync.WaitGroup
	results := make(chan error, 20)
	submit := func() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := q.submit(context.Background(), &ctonly.Entry{})
			results <- err
		}()
	}
	submit()
	<-f.started // the first batch, of one entry, is in Tessera
	for range 6 {
		submit()
	}
	// Wait until the six are queued: the loop is blocked on the first
	// batch, so they stay pending.
	for {
		q.mu.Lock()
		n := len(q.pending)
		q.mu.Unlock()
		if n == 6 {
			break
		}
	}
	// The queue holds 8 at most: two more fit, the third is pushed back.
	submit()
	submit()
	submit()
	if err := <-results; !errors.Is(err, ErrPushback) {
		t.Fatalf("ninth submission: %v, want ErrPushback", err)
	}
	close(f.release)
	wg.Wait()
	close(results)
	for err := range results {
		if err != nil {
			t.Errorf("submission: %v", err)
		}
	}
	q.close()
	if want := []int{1, 4, 4}; len(sizes) != 3 || sizes[0] != want[0] || sizes[1] != want[1] || sizes[2] != want[2] {
		t.Errorf("batch sizes %v, want %v", sizes, want)
	}
	if _, err := q.submit(context.Background(), &ctonly.Entry{}); !errors.Is(err, ErrShutdown) {
		t.Errorf("after close: %v, want ErrShutdown", err)
	}
}
