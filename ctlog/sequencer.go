package ctlog

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/ctonly"
)

// sequencer group-commits entries to Tessera: at most one batch is in
// Tessera at a time, and every entry submitted while it is being written
// goes into the next one. Tessera's own queue cuts batches by age, which
// either delays an idle log by the batch age or, with a short age, splits
// a busy log's work into many small fsync rounds; gating on the previous
// batch's durability makes one fsync round serve all the submissions that
// arrived during the previous one.
//
// Under load it also paces batches, as PostgreSQL's commit_delay does for
// WAL flushes: after a batch of at least siblings entries (other
// submitters are active), the next batch starts no sooner than delay after
// that one started, unless maxBatch entries are waiting. Every batch costs
// the POSIX driver the same file operations whatever its size (the entry
// bundle, a tile per tree level and the tree state, each created, fsync'd
// and renamed: a few milliseconds of CPU on a small VM), so under load
// fewer, larger batches leave more CPU to the CA. A lone submission to an
// idle log never waits: the previous batch was small, or started longer
// than delay ago.
//
// Locking: mu guards pending, running and closed. The loop goroutine owns
// each batch it takes.
type sequencer struct {
	ctx      context.Context // Tessera's background context
	add      func(context.Context, *ctonly.Entry) tessera.IndexFuture
	maxBatch int
	// maxPending bounds the queue; beyond it submissions get ErrPushback
	// at once instead of waiting longer than any client would.
	maxPending int
	observe    func(n int) // batch size, for metrics; may be nil
	// delay and siblings pace batches under load (see above); delay 0
	// turns pacing off.
	delay    time.Duration
	siblings int
	full     chan struct{} // signalled when maxBatch entries are pending; buffered 1

	mu      sync.Mutex
	pending []*seqRequest
	running bool
	closed  bool
	idle    sync.WaitGroup // the loop goroutine
}

type seqRequest struct {
	entry *ctonly.Entry
	index tessera.Index
	err   error
	done  chan struct{}
}

// submit queues e and waits until its index is durably assigned, or ctx
// ends (the entry may still be sequenced then; it just gets no SCT).
func (q *sequencer) submit(ctx context.Context, e *ctonly.Entry) (tessera.Index, error) {
	r := &seqRequest{entry: e, done: make(chan struct{})}
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return tessera.Index{}, ErrShutdown
	}
	if len(q.pending) >= q.maxPending {
		q.mu.Unlock()
		return tessera.Index{}, fmt.Errorf("%w: %d submissions already queued", ErrPushback, len(q.pending))
	}
	q.pending = append(q.pending, r)
	if len(q.pending) == q.maxBatch && q.full != nil {
		select {
		case q.full <- struct{}{}:
		default:
		}
	}
	if !q.running {
		q.running = true
		q.idle.Add(1)
		go q.loop()
	}
	q.mu.Unlock()
	select {
	case <-r.done:
		return r.index, r.err
	case <-ctx.Done():
		return tessera.Index{}, ctx.Err()
	}
}

func (q *sequencer) loop() {
	defer q.idle.Done()
	var (
		futures   []tessera.IndexFuture
		lastStart time.Time
		lastSize  int
	)
	for {
		if q.delay > 0 && lastSize >= q.siblings {
			q.linger(lastStart.Add(q.delay))
		}
		q.mu.Lock()
		batch := q.pending
		if len(batch) > q.maxBatch {
			batch = batch[:q.maxBatch:q.maxBatch]
			q.pending = append([]*seqRequest(nil), q.pending[q.maxBatch:]...)
		} else {
			q.pending = nil
		}
		if len(batch) == 0 {
			q.running = false
			q.mu.Unlock()
			return
		}
		q.mu.Unlock()
		lastStart, lastSize = time.Now(), len(batch)
		if q.observe != nil {
			q.observe(len(batch))
		}
		futures = futures[:0]
		for _, r := range batch {
			futures = append(futures, q.add(q.ctx, r.entry))
		}
		for i, r := range batch {
			r.index, r.err = futures[i]()
			close(r.done)
		}
	}
}

// linger waits until the deadline, until maxBatch entries are pending, or
// until the log shuts down.
func (q *sequencer) linger(deadline time.Time) {
	d := time.Until(deadline)
	if d <= 0 {
		return
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		q.mu.Lock()
		full := len(q.pending) >= q.maxBatch
		q.mu.Unlock()
		if full {
			return
		}
		select {
		case <-timer.C:
			return
		case <-q.full: // perhaps left from an earlier batch: check again
		case <-q.ctx.Done():
			return
		}
	}
}

// close refuses new submissions and waits until every queued one is
// resolved.
func (q *sequencer) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.idle.Wait()
}
