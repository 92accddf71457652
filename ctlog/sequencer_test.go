package ctlog

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

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

// batchSizes records the sizes of the batches a sequencer starts.
type batchSizes struct {
	mu    sync.Mutex
	sizes []int
}

func (b *batchSizes) observe(n int) {
	b.mu.Lock()
	b.sizes = append(b.sizes, n)
	b.mu.Unlock()
}

func (b *batchSizes) get() []int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.sizes)
}

// submitter returns a function that submits an entry to q from a new
// goroutine, which sends the outcome to results.
func submitter(q *sequencer, wg *sync.WaitGroup, results chan<- error) func() {
	return func() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := q.submit(context.Background(), &ctonly.Entry{})
			results <- err
		}()
	}
}

// TestSequencerGroupCommits: while one batch is being made durable, the
// submissions that arrive form the next batch, all of them together.
func TestSequencerGroupCommits(t *testing.T) {
	f := &fakeTessera{release: make(chan struct{}), started: make(chan int, 100)}
	var sizes batchSizes
	q := &sequencer{ctx: context.Background(), add: f.add, maxBatch: 4, maxPending: 8, observe: sizes.observe}
	var wg sync.WaitGroup
	results := make(chan error, 20)
	submit := submitter(q, &wg, results)
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
	if got, want := sizes.get(), []int{1, 4, 4}; !slices.Equal(got, want) {
		t.Errorf("batch sizes %v, want %v", got, want)
	}
	if _, err := q.submit(context.Background(), &ctonly.Entry{}); !errors.Is(err, ErrShutdown) {
		t.Errorf("after close: %v, want ErrShutdown", err)
	}
}

// TestSequencerPacing: after a batch with siblings or more entries, the
// next waits for the pacing delay unless maxBatch entries are waiting; a
// submission after a small batch goes at once.
func TestSequencerPacing(t *testing.T) {
	f := &fakeTessera{release: make(chan struct{}), started: make(chan int, 100)}
	var sizes batchSizes
	q := &sequencer{ctx: context.Background(), add: f.add, maxBatch: 4, maxPending: 16,
		delay: time.Hour, siblings: 2, full: make(chan struct{}, 1), observe: sizes.observe}
	var wg sync.WaitGroup
	results := make(chan error, 20)
	submit := submitter(q, &wg, results)
	waitPending := func(want int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			q.mu.Lock()
			n := len(q.pending)
			q.mu.Unlock()
			if n == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d submissions pending, want %d", n, want)
			}
			time.Sleep(time.Millisecond)
		}
	}
	submit()
	<-f.started // a batch of one: no pacing after it
	submit()
	submit()
	waitPending(2)
	close(f.release)
	<-f.started
	<-f.started // the batch of two went at once
	for range 3 {
		if err := <-results; err != nil {
			t.Fatal(err)
		}
	}
	// After a batch of two (= siblings) the next one waits an hour...
	submit()
	submit()
	submit()
	waitPending(3)
	if got := sizes.get(); len(got) != 2 {
		t.Errorf("batches %v started before the pacing delay", got)
	}
	// ...unless maxBatch entries are waiting.
	submit()
	wg.Wait()
	close(results)
	for err := range results {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got, want := sizes.get(), []int{1, 2, 4}; !slices.Equal(got, want) {
		t.Errorf("batch sizes %v, want %v", got, want)
	}
}
