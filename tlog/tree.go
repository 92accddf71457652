package tlog

import (
	"bytes"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera"
	"golang.org/x/mod/sumdb/note"

	"sigil.dev/sigil/checkpoint"
	"sigil.dev/sigil/internal/fsutil"
	"sigil.dev/sigil/internal/pacing"
)

// Errors a tree returns for callers to branch on.
var (
	// ErrPushback means the log is saturated; the client should retry
	// later (HTTP 503 with Retry-After).
	ErrPushback = errors.New("the log is busy")
	// ErrFrozen means the log is read-only.
	ErrFrozen = errors.New("this log has been frozen")
	// ErrClosed means the service is shutting down.
	ErrClosed = errors.New("the log is shutting down")
	// ErrIntegrity means the log found its storage inconsistent with a
	// checkpoint it signed; it stops acknowledging writes.
	ErrIntegrity = errors.New("the log's storage failed an integrity check")
)

// snapshot is a signed checkpoint of the tree: everything below size is
// durable and integrated, and root is the tree's root at size.
type snapshot struct {
	size uint64
	root []byte
	note []byte // the signed checkpoint
}

// tree is one log: a Tessera appender and reader, a group-commit coalescer
// in front of the appender, and the checkpoints it signs.
//
// Acknowledgement contract: an add is answered only after Tessera made the
// entry durable (the POSIX driver fsyncs the entry bundle, tiles and tree
// state before resolving the index), the tree covering it is integrated,
// and a checkpoint over that tree was signed. The inclusion proof returned
// is built from the tiles of that tree and verified against the signed
// root before use.
//
// Checkpoints: after each group commit the tree signs a checkpoint of the
// integrated tree, so an add waits for one group commit rather than for
// Tessera's next periodic publication (every CheckpointInterval, at least
// 100ms for POSIX). Every checkpoint it signs is checked consistent with the
// previous one, and the checkpoints Tessera publishes into storage are
// checked consistent with the newest; a failed check stops acknowledgements
// (ErrIntegrity). A frozen tree writes nothing and serves the checkpoint
// found in storage, or, when the tree was integrated beyond it (a crash
// before Tessera's next publication), one it signs over the integrated
// tree, which the entries acknowledged meanwhile were proven against.
type tree struct {
	name     string // "v1" or "v2", for logs and metrics
	log      *slog.Logger
	origin   string
	signer   note.Signer
	verifier note.Verifier
	reader   tessera.LogReader
	add      tessera.AddFn // nil when frozen
	// writable, if set, checks before each group that the storage can
	// take it (Tessera's POSIX driver panics on a read-only file system).
	writable func() error
	shutdown func(context.Context) error
	nodes    *nodeCache

	pub    atomic.Pointer[snapshot]
	pubMu  sync.Mutex // serializes advance and the published-checkpoint checks
	broken atomic.Pointer[error]
	// lastFail is the newest group of adds that all failed (storage full
	// or unwritable), lastOK the time of the newest group with a durable
	// add (Unix nanoseconds): health reports failing writes while the
	// newest outcome is a failure.
	lastFail atomic.Pointer[addFailure]
	lastOK   atomic.Int64
	// recovery probes the storage once writes failed, so that health
	// clears when the storage takes writes again (no write comes while a
	// load balancer reads the tree as unready).
	recovery fsutil.Recovery
	lastRaw  []byte // last published checkpoint checked, guarded by pubMu

	mu      sync.Mutex // guards waiters
	waiters waiterHeap

	addMu     sync.Mutex // guards adds
	adds      []*addRequest
	addWake   chan struct{}
	coalesced chan struct{}
	// stopCoalescing ends the coalescer (close); nil when frozen.
	stopCoalescing context.CancelFunc
	// Group-commit pacing under load (see coalesce): the delay, and the
	// group size at which the coalescer stops waiting.
	commitDelay time.Duration
	commitFull  int

	slots   chan struct{} // one per add in flight
	timeout time.Duration
	groups  atomic.Uint64 // groups committed (for benchmarks: entries per group)

	onPublish func(*snapshot)
	onStage   func(stage string, d time.Duration)
	// onDurable, if set, records a group's entries once they are durable.
	// It must call done exactly once, from any goroutine, without
	// blocking; the group is answered once done was called (a non-nil
	// error fails the group) and its checkpoint is signed.
	onDurable func(ctx context.Context, items []durable, done func(error))
	answering sync.WaitGroup // groups waiting for onDurable
	stop      context.CancelFunc
	stopped   chan struct{}
}

type treeOptions struct {
	name      string
	signer    note.Signer
	verifier  note.Verifier
	readOnly  bool
	onPublish func(*snapshot)
	onStage   func(stage string, d time.Duration)
	onDurable func(ctx context.Context, items []durable, done func(error))
}

const (
	// crossCheckInterval is how often the checkpoint Tessera published
	// into storage is checked against the newest signed one.
	crossCheckInterval = time.Second
	// cachedFullTiles bounds the node cache (about 16 KiB per tile).
	cachedFullTiles = 2048
)

func openTree(ctx context.Context, cfg *Config, o treeOptions) (*tree, error) {
	t := &tree{
		name: o.name, log: cfg.Logger.With("log", o.name), origin: o.signer.Name(), signer: o.signer, verifier: o.verifier,
		slots: make(chan struct{}, cfg.MaxInFlight), addWake: make(chan struct{}, 1), coalesced: make(chan struct{}),
		commitDelay: cfg.GroupCommitDelay, commitFull: int(cfg.BatchMaxSize),
		timeout: cfg.AddTimeout, onPublish: o.onPublish, onStage: o.onStage, onDurable: o.onDurable, stopped: make(chan struct{}),
	}
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	t.stop = cancel
	fail := func(err error) (*tree, error) {
		cancel()
		if t.shutdown != nil {
			t.shutdown(ctx) //nolint:errcheck
		}
		return nil, err
	}
	if o.readOnly {
		r, err := cfg.Storage.Reader(wctx, o.name)
		if err != nil {
			return fail(err)
		}
		t.reader = r
	} else {
		opts := tessera.NewAppendOptions().
			WithCheckpointSigner(o.signer).
			WithCheckpointInterval(cfg.CheckpointInterval).
			WithBatching(cfg.BatchMaxSize, cfg.BatchMaxAge).
			WithAntispam(cfg.DedupeCacheSize, nil).
			// Its shutdown waits for the next publication (see Close).
			WithShutdownTimeout(cfg.CheckpointInterval + closeTimeout)
		a, shutdown, r, err := cfg.Storage.Appender(wctx, o.name, opts)
		if err != nil {
			return fail(fmt.Errorf("couldn't open the %s log: %w", o.name, err))
		}
		t.add, t.shutdown, t.reader = a.Add, shutdown, r
		if c, ok := cfg.Storage.(writeChecker); ok {
			t.writable = func() error { return c.checkWritable(o.name) }
			t.recovery.Probe = func() error { return c.probeWritable(o.name) }
		}
	}
	t.nodes = newNodeCache(t.reader.ReadTile, cachedFullTiles)
	t.nodes.latest = func() uint64 {
		if s := t.latest(); s != nil {
			return s.size
		}
		return 0
	}
	if o.readOnly {
		if err := t.loadPublished(wctx); err != nil {
			return fail(fmt.Errorf("couldn't read the %s log's checkpoint: %w", o.name, err))
		}
		// Entries integrated after the last publication (the writer
		// crashed before its next one) were acknowledged under
		// checkpoints the log signed: sign one covering them, proven
		// consistent with the published one, in memory only.
		size, err := t.reader.IntegratedSize(wctx)
		if err != nil {
			return fail(fmt.Errorf("couldn't read the %s log's size: %w", o.name, err))
		}
		if err := t.advance(wctx, size); err != nil {
			return fail(err)
		}
	} else {
		size, err := t.reader.IntegratedSize(wctx)
		if err != nil {
			return fail(fmt.Errorf("couldn't read the %s log's size: %w", o.name, err))
		}
		if err := t.advance(wctx, size); err != nil {
			return fail(err)
		}
		if err := t.crossCheck(wctx); err != nil {
			return fail(err)
		}
	}
	go t.watch(wctx)
	if t.add != nil {
		cctx, ccancel := context.WithCancel(wctx)
		t.stopCoalescing = ccancel
		go t.coalesce(cctx)
	} else {
		close(t.coalesced)
	}
	return t, nil
}

// latest returns the newest signed checkpoint.
func (t *tree) latest() *snapshot { return t.pub.Load() }

// append adds data to the log and waits until a signed checkpoint covers
// it. It returns the entry's index, whether the entry was already in the
// log (Tessera's antispam then returns the earlier index), and that
// checkpoint.
func (t *tree) append(ctx context.Context, data []byte) (uint64, bool, *snapshot, error) {
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	idx, dup, release, err := t.sequence(ctx, data, nil)
	if err != nil {
		return 0, false, nil, err
	}
	defer release()
	snap, err := t.await(ctx, idx)
	if err != nil {
		return idx, dup, nil, err
	}
	return idx, dup, snap, nil
}

// sequence adds data to the log and returns its index once Tessera has
// made it durable and a checkpoint covering it is signed. The caller holds
// one of MaxInFlight slots until it calls release.
func (t *tree) sequence(ctx context.Context, data []byte, meta any) (idx uint64, dup bool, release func(), err error) {
	if t.add == nil {
		return 0, false, nil, ErrFrozen
	}
	if err := t.integrity(); err != nil {
		return 0, false, nil, err
	}
	select {
	case t.slots <- struct{}{}:
	default:
		return 0, false, nil, fmt.Errorf("%w: %d adds in flight", ErrPushback, cap(t.slots))
	}
	release = func() { <-t.slots }
	start := time.Now()
	r := &addRequest{entry: tessera.NewEntry(data), meta: meta, done: make(chan addResult, 1)}
	t.enqueue(r)
	var res addResult
	select {
	case res = <-r.done:
	case <-ctx.Done():
		// The entry may still be logged; it is not acknowledged.
		release()
		return 0, false, nil, fmt.Errorf("%w: entry not sequenced in time: %v", ErrPushback, ctx.Err())
	}
	if t.onStage != nil {
		t.onStage("durable", time.Since(start))
	}
	if res.err != nil {
		release()
		if errors.Is(res.err, tessera.ErrPushback) {
			return 0, false, nil, fmt.Errorf("%w: %v", ErrPushback, res.err)
		}
		if errors.Is(res.err, ErrIntegrity) || errors.Is(res.err, ErrClosed) {
			return 0, false, nil, res.err
		}
		return 0, false, nil, fmt.Errorf("couldn't add entry: %w", res.err)
	}
	return res.index.Index, res.index.IsDup, release, nil
}

// enqueue queues r for the coalescer, waking it for the first entry of a
// group and for a full group (which ends its pacing wait).
func (t *tree) enqueue(r *addRequest) {
	t.addMu.Lock()
	t.adds = append(t.adds, r)
	n := len(t.adds)
	t.addMu.Unlock()
	if n == 1 || n == t.commitFull {
		select {
		case t.addWake <- struct{}{}:
		default:
		}
	}
}

type addRequest struct {
	entry *tessera.Entry
	meta  any
	done  chan addResult
}

type addResult struct {
	index tessera.Index
	err   error
}

// coalesce is group commit in front of Tessera: it hands Tessera every
// entry that arrived while the previous group was being sequenced, all at
// once, so that they form one batch (one round of fsyncs); waits for that
// batch to be durable and integrated; signs a checkpoint of the tree; and
// only then answers the group. Batches grow with the load and shrink with
// it, so sequencing keeps up whatever the storage's fsync latency, and no
// entry waits on a timer longer than BatchMaxAge. (Tessera's own queue
// flushes by age and size only: with a batch age below the time a batch
// takes to sequence, batches queue up and latency grows without bound.)
//
// Under load it also paces the groups (package pacing): after a group of
// commitSiblings or more entries, the next starts no sooner than
// commitDelay after it, unless commitFull entries are waiting.
func (t *tree) coalesce(ctx context.Context) {
	defer close(t.coalesced)
	full := func() bool {
		t.addMu.Lock()
		defer t.addMu.Unlock()
		return len(t.adds) >= t.commitFull
	}
	for {
		select {
		case <-t.addWake:
		case <-ctx.Done():
			t.failPending()
			return
		}
		pace := pacing.Pacer{Delay: t.commitDelay, Siblings: commitSiblings}
		for {
			if !pace.Wait(ctx, full, t.addWake) {
				t.failPending()
				return
			}
			t.addMu.Lock()
			group := t.adds
			t.adds = nil
			t.addMu.Unlock()
			if len(group) == 0 {
				break
			}
			pace.Started(len(group))
			// A group handed to Tessera is seen through even when
			// stopping: close shuts Tessera down only after this.
			t.commit(context.WithoutCancel(ctx), group)
		}
	}
}

// commitSiblings is the size of a group that shows other writers are
// active, so that the next group may wait for more entries (coalesce).
const commitSiblings = 16

// failPending answers every pending add with ErrClosed.
func (t *tree) failPending() {
	t.addMu.Lock()
	group := t.adds
	t.adds = nil
	t.addMu.Unlock()
	for _, r := range group {
		r.done <- addResult{err: ErrClosed}
	}
}

// commit sequences one group, signs a checkpoint covering it, and answers
// it. With an onDurable hook (the v1 index), the hook records the group
// while the checkpoint is signed and the next group is already being
// sequenced; whichever of the two finishes last answers the group from
// its own goroutine. (No goroutine is started to wait for both: each
// goroutine on the way to the answer waits its turn in the scheduler's run
// queue, which is long when the log is saturated.)
func (t *tree) commit(ctx context.Context, group []*addRequest) {
	t.groups.Add(1)
	futures := make([]tessera.IndexFuture, len(group))
	var unwritable error
	if t.writable != nil {
		unwritable = t.writable()
	}
	for i, r := range group {
		if unwritable != nil {
			futures[i] = func() (tessera.Index, error) { return tessera.Index{}, unwritable }
			continue
		}
		futures[i] = t.add(ctx, r.entry)
	}
	results := make([]addResult, len(group))
	need := uint64(0)
	for i, f := range futures {
		idx, err := f()
		results[i] = addResult{idx, err}
		if err == nil && idx.Index+1 > need {
			need = idx.Index + 1
		}
	}
	if need > 0 {
		t.lastOK.Store(time.Now().UnixNano())
	} else {
		for _, r := range results {
			if r.err != nil {
				t.lastFail.Store(&addFailure{at: time.Now(), err: r.err})
				break
			}
		}
	}
	answer := func() {
		for i, r := range group {
			r.done <- results[i]
		}
	}
	if t.onDurable == nil || need == 0 {
		if need > 0 {
			t.checkpointGroup(ctx, need, results)
		}
		answer()
		return
	}
	items := make([]durable, 0, len(group))
	for i, r := range group {
		if results[i].err == nil {
			items = append(items, durable{index: results[i].index.Index, dup: results[i].index.IsDup, meta: r.meta})
		}
	}
	// Two parties: the hook and the checkpoint. The last one answers.
	var (
		parties atomic.Int32
		hookErr error
	)
	parties.Store(2)
	t.answering.Add(1)
	last := func() {
		if hookErr != nil {
			t.log.Error("couldn't record new entries", "err", hookErr)
			failAll(results, hookErr)
			// The entries are durable but every write fails: not ready
			// either (the v1 index on a full disk).
			t.lastFail.Store(&addFailure{at: time.Now(), err: hookErr})
		}
		answer()
		t.answering.Done()
	}
	t.onDurable(ctx, items, func(err error) {
		hookErr = err
		if parties.Add(-1) == 0 {
			last()
		}
	})
	t.checkpointGroup(ctx, need, results)
	if parties.Add(-1) == 0 {
		last()
	}
}

// checkpointGroup signs a checkpoint covering need entries; if it cannot,
// the group's entries fail (they are durable, not acknowledged, and the
// next checkpoint covers them).
func (t *tree) checkpointGroup(ctx context.Context, need uint64, results []addResult) {
	if err := t.advance(ctx, need); err != nil {
		t.log.Error("couldn't sign a checkpoint for new entries", "err", err)
		failAll(results, err)
	}
}

func failAll(results []addResult, err error) {
	for i := range results {
		if results[i].err == nil {
			results[i].err = err
		}
	}
}

// durable is an entry the storage made durable, for the onDurable hook.
type durable struct {
	index uint64
	dup   bool
	meta  any // what the caller passed to sequence
}

// advance signs a checkpoint of the integrated tree once it covers need
// entries, checks it consistent with the newest one, and publishes it to
// waiters and readers.
func (t *tree) advance(ctx context.Context, need uint64) error {
	t.pubMu.Lock()
	defer t.pubMu.Unlock()
	old := t.latest()
	if old != nil && old.size >= need {
		return nil
	}
	// The POSIX driver integrates before resolving indices; drivers that
	// integrate asynchronously (AWS, GCP) get there shortly after.
	size, err := t.reader.IntegratedSize(ctx)
	for err == nil && size < need {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Millisecond):
		}
		size, err = t.reader.IntegratedSize(ctx)
	}
	if err != nil {
		return fmt.Errorf("couldn't read the integrated tree size: %w", err)
	}
	root, err := t.nodes.rootAt(ctx, size)
	if err != nil {
		return err
	}
	if old != nil && old.size > 0 {
		if err := t.checkConsistent(ctx, old.size, old.root, size, root); err != nil {
			return err
		}
	}
	n, err := checkpoint.Sign(&checkpoint.Checkpoint{Origin: t.origin, Size: size, Hash: root}, t.signer)
	if err != nil {
		return err
	}
	t.publish(&snapshot{size: size, root: root, note: n})
	return nil
}

// checkConsistent proves from the tiles that the tree of size2 extends
// the tree of size1; a failure fences the log.
func (t *tree) checkConsistent(ctx context.Context, size1 uint64, root1 []byte, size2 uint64, root2 []byte) error {
	p, err := t.nodes.consistencyProof(ctx, size1, size2)
	if err == nil {
		err = proof.VerifyConsistency(rfc6962.DefaultHasher, size1, size2, p, root1, root2)
	}
	if err != nil {
		err = fmt.Errorf("%w: the %s tree at size %d is not consistent with size %d: %v", ErrIntegrity, t.name, size2, size1, err)
		t.broken.Store(&err)
		t.log.Error("integrity check failed; no more writes will be acknowledged", "err", err)
	}
	return err
}

// addFailure is a group of adds that all failed.
type addFailure struct {
	at  time.Time
	err error
}

// health reports why the tree cannot take writes now: its storage failed
// an integrity check, or the newest group of adds failed, none has
// succeeded since (a full or unwritable disk), and the storage fails a
// probe write (a storage that cannot be probed stays unready until the
// next durable add). A load balancer's readiness check sends writers
// elsewhere meanwhile.
func (t *tree) health() error {
	if err := t.integrity(); err != nil {
		return err
	}
	if f := t.lastFail.Load(); f != nil && f.at.UnixNano() > t.lastOK.Load() && !t.recovery.Since(f.at) {
		return fmt.Errorf("writes failing since %s: %w", f.at.UTC().Format(time.RFC3339), f.err)
	}
	return nil
}

func (t *tree) integrity() error {
	if e := t.broken.Load(); e != nil {
		return *e
	}
	return nil
}

// publish makes s the newest checkpoint and releases the adds it covers.
func (t *tree) publish(s *snapshot) {
	t.pub.Store(s)
	if t.onPublish != nil {
		t.onPublish(s)
	}
	t.mu.Lock()
	for len(t.waiters) > 0 && t.waiters[0].index < s.size {
		w := heap.Pop(&t.waiters).(*waiter)
		w.ch <- s
	}
	t.mu.Unlock()
}

// await waits for a signed checkpoint covering index.
func (t *tree) await(ctx context.Context, index uint64) (*snapshot, error) {
	if s := t.latest(); s.size > index {
		return s, nil
	}
	if t.onStage != nil {
		defer func(start time.Time) { t.onStage("published", time.Since(start)) }(time.Now())
	}
	w := &waiter{index: index, ch: make(chan *snapshot, 1)}
	t.mu.Lock()
	heap.Push(&t.waiters, w)
	t.mu.Unlock()
	if s := t.latest(); s.size > index { // published meanwhile
		return s, nil
	}
	select {
	case s := <-w.ch:
		return s, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: no checkpoint covered entry %d in time: %v", ErrPushback, index, ctx.Err())
	case <-t.stopped:
		return nil, ErrClosed
	}
}

// watch checks, every crossCheckInterval, that the checkpoint Tessera
// published into storage is consistent with the newest signed one.
func (t *tree) watch(ctx context.Context) {
	defer close(t.stopped)
	tick := time.NewTicker(crossCheckInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if t.add == nil {
			continue // frozen: nothing changes
		}
		if t.integrity() != nil {
			continue // fenced for good, and said so once
		}
		if err := t.crossCheck(ctx); err != nil && ctx.Err() == nil {
			t.log.Error("checkpoint cross-check failed", "err", err)
		}
	}
}

// crossCheck verifies the checkpoint Tessera published into storage:
// signed by the log, and consistent with the newest signed checkpoint
// (proven from the tiles).
func (t *tree) crossCheck(ctx context.Context) error {
	raw, err := t.reader.ReadCheckpoint(ctx)
	if errors.Is(err, fs.ErrNotExist) {
		// Not published yet (a crash on the first start between the
		// tree state and the first publication), or deleted: Tessera
		// publishes one from its tree state.
		return nil
	}
	if err != nil {
		return fmt.Errorf("couldn't read the published checkpoint: %w", err)
	}
	t.pubMu.Lock()
	defer t.pubMu.Unlock()
	if t.lastRaw != nil && bytes.Equal(raw, t.lastRaw) {
		return nil
	}
	cp, _, err := checkpoint.Open(raw, t.origin, t.verifier)
	if err != nil {
		text, ok := checkpoint.Split(raw)
		if ok {
			_, err := checkpoint.Parse(text)
			ok = err == nil
		}
		if !ok {
			// Tessera never replaces a checkpoint it cannot parse, and
			// collects no garbage (partial tiles) after one.
			err = fmt.Errorf("%w: the published %s checkpoint (the file checkpoint in the log's storage) is damaged, not a signed checkpoint (%v): delete it and start the log again, which then publishes a new one from its tree", ErrIntegrity, t.name, err)
		} else if stored, _, _ := strings.Cut(string(raw), "\n"); stored != t.origin {
			// The likeliest cause: the public URL changed.
			what := "public URL makes"
			if t.name == "v1" {
				what = "public URL and tree ID make"
			}
			err = fmt.Errorf("%w: the data directory holds the %s log of origin %q, but the configured %s the origin %q; a log's origin is part of its identity and cannot change: start with the old settings, or give a new log a new data directory", ErrIntegrity, t.name, stored, what, t.origin)
		} else {
			err = fmt.Errorf("%w: the published %s checkpoint: %v", ErrIntegrity, t.name, err)
		}
		t.broken.Store(&err)
		return err
	}
	cur := t.latest()
	switch {
	case cp.Size > cur.size:
		// Another writer of the same storage got further; the next
		// advance covers it.
	case cp.Size == cur.size:
		if !bytes.Equal(cp.Hash, cur.root) {
			err = fmt.Errorf("%w: the published %s checkpoint of size %d has root %x, the log signed %x", ErrIntegrity, t.name, cp.Size, cp.Hash, cur.root)
			t.broken.Store(&err)
			return err
		}
	case cp.Size > 0:
		if err := t.checkConsistent(ctx, cp.Size, cp.Hash, cur.size, cur.root); err != nil {
			return err
		}
	}
	t.lastRaw = raw
	return nil
}

// loadPublished makes the checkpoint found in storage the newest (frozen
// logs).
func (t *tree) loadPublished(ctx context.Context) error {
	raw, err := t.reader.ReadCheckpoint(ctx)
	if err != nil {
		return err
	}
	cp, _, err := checkpoint.Open(raw, t.origin, t.verifier)
	if err != nil {
		return fmt.Errorf("published checkpoint: %w", err)
	}
	t.publish(&snapshot{size: cp.Size, root: cp.Hash, note: raw})
	return nil
}

// proveInclusion returns the inclusion proof of the entry at index with
// leaf hash leaf against snapshot s, verified against s's root.
func (t *tree) proveInclusion(ctx context.Context, index uint64, leaf []byte, s *snapshot) ([][]byte, error) {
	p, err := t.nodes.inclusionProof(ctx, index, s.size)
	if err != nil {
		return nil, err
	}
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, index, s.size, leaf, p, s.root); err != nil {
		return nil, fmt.Errorf("couldn't prove entry %d in the tree of size %d: %w", index, s.size, err)
	}
	return p, nil
}

// entry returns the entry at index of the tree of size size.
func (t *tree) entry(ctx context.Context, index, size uint64) ([]byte, error) {
	return readEntry(ctx, t.reader.ReadEntryBundle, index, size)
}

// close stops the coalescer (it finishes the group it handed Tessera and
// fails adds still queued: their clients are gone, as the service waited
// for the writes in flight), waits until Tessera has published a
// checkpoint covering every index it assigned (its shutdown), then stops
// the tree's other goroutines. Tessera goes last: an add handed to it
// after its shutdown would never resolve, and close would hang.
func (t *tree) close(ctx context.Context) error {
	if t.stopCoalescing != nil {
		t.stopCoalescing()
	}
	<-t.coalesced
	var err error
	if t.shutdown != nil {
		if err = t.shutdown(ctx); err != nil {
			err = fmt.Errorf("couldn't shut down the %s log: %w", t.name, err)
		}
	}
	t.stop()
	<-t.stopped
	t.answering.Wait()
	return err
}

type waiter struct {
	index uint64
	ch    chan *snapshot
}

type waiterHeap []*waiter

func (h waiterHeap) Len() int           { return len(h) }
func (h waiterHeap) Less(i, j int) bool { return h[i].index < h[j].index }
func (h waiterHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *waiterHeap) Push(x any)        { *h = append(*h, x.(*waiter)) }
func (h *waiterHeap) Pop() any {
	old := *h
	w := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return w
}
