package ctlog

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/ctonly"

	"sigil.dev/sigil/internal/fsutil"
	"sigil.dev/sigil/internal/pacing"
)

// sequencer group-commits entries to Tessera: at most one batch is in
// Tessera at a time, and every entry submitted while it is being written
// goes into the next one. Tessera's own queue cuts batches by age, which
// either delays an idle log by the batch age or, with a short age, splits
// a busy log's work into many small fsync rounds; gating on the previous
// batch's durability makes one fsync round serve all the submissions that
// arrived during the previous one.
//
// Under load it also paces batches (package pacing): after a batch of at
// least siblings entries, the next starts no sooner than delay after it,
// unless maxBatch entries are waiting.
//
// Locking: mu guards pending, running and closed. The loop goroutine owns
// each batch it takes.
type sequencer struct {
	ctx context.Context // Tessera's background context
	add func(context.Context, *ctonly.Entry) tessera.IndexFuture
	// writable, if set, checks before each batch that the storage can
	// take it (Tessera's POSIX driver panics on a read-only file system).
	writable func() error
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

	// lastFail is the newest batch whose entries all failed (storage full
	// or unwritable), lastOK the time of the newest batch with a durable
	// entry: health reports the log unfit for writes while the former is
	// newer.
	lastFail atomic.Pointer[seqFailure]
	lastOK   atomic.Int64
	// recovery probes the storage once writes failed, so that health
	// clears when the storage takes writes again (no submission comes
	// while a load balancer reads the log as unready).
	recovery fsutil.Recovery

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
	var futures []tessera.IndexFuture
	pace := pacing.Pacer{Delay: q.delay, Siblings: q.siblings}
	full := func() bool {
		q.mu.Lock()
		defer q.mu.Unlock()
		return len(q.pending) >= q.maxBatch
	}
	for {
		pace.Wait(q.ctx, full, q.full) // at shutdown the queue is still served
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
		pace.Started(len(batch))
		if q.observe != nil {
			q.observe(len(batch))
		}
		futures = futures[:0]
		var unwritable error
		if q.writable != nil {
			unwritable = q.writable()
		}
		for _, r := range batch {
			if unwritable != nil {
				futures = append(futures, func() (tessera.Index, error) { return tessera.Index{}, unwritable })
				continue
			}
			futures = append(futures, q.add(q.ctx, r.entry))
		}
		var failed error
		ok := false
		for i, r := range batch {
			r.index, r.err = futures[i]()
			if r.err == nil {
				ok = true
			} else if failed == nil && !errors.Is(r.err, tessera.ErrPushback) {
				failed = r.err
			}
		}
		// Health first, so that a submitter told of its failure finds
		// the log not ready.
		if ok {
			q.lastOK.Store(time.Now().UnixNano())
		} else if failed != nil {
			q.lastFail.Store(&seqFailure{at: time.Now(), err: failed})
		}
		for _, r := range batch {
			close(r.done)
		}
	}
}

type seqFailure struct {
	at  time.Time
	err error
}

// health reports why the log cannot take entries now: the newest batch
// failed, none has succeeded since (a full or unwritable disk), and the
// storage fails a probe write.
func (q *sequencer) health() error {
	if f := q.lastFail.Load(); f != nil && f.at.UnixNano() > q.lastOK.Load() && !q.recovery.Since(f.at) {
		return fmt.Errorf("writes failing since %s: %w", f.at.UTC().Format(time.RFC3339), f.err)
	}
	return nil
}

// close refuses new submissions and waits until every queued one is
// resolved.
func (q *sequencer) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.idle.Wait()
}
