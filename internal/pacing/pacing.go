// Package pacing paces group commits under load, as PostgreSQL's
// commit_delay does for WAL flushes: after a group of at least Siblings
// entries (other writers are active), the next group starts no sooner than
// Delay after that one started, unless a full group is waiting. A storage
// batch costs the same file operations whatever its size (Tessera's POSIX
// driver creates, fsyncs and renames the entry bundle, a tile per tree
// level and the tree state), so under load fewer, larger batches leave more
// CPU for the entries themselves. A lone write after a quiet spell never
// waits: the previous group was small, or started longer than Delay ago.
//
// The transparency log's coalescer and the CT log's sequencer both use it.
package pacing

import (
	"context"
	"time"
)

// Pacer remembers the last group of one committer. The zero Pacer, or one
// with Delay ≤ 0, never waits. It is used from one goroutine.
type Pacer struct {
	Delay    time.Duration
	Siblings int

	lastStart time.Time
	lastSize  int
}

// Started records that a group of n entries starts now.
func (p *Pacer) Started(n int) { p.lastStart, p.lastSize = time.Now(), n }

// Wait returns when the next group may start: at once unless the last
// group had Siblings or more entries; otherwise at Delay after that group
// started, or earlier when full reports true (it is checked first and each
// time wake fires; a wake may be stale), or when ctx ends. It reports
// false only when ctx ended.
func (p *Pacer) Wait(ctx context.Context, full func() bool, wake <-chan struct{}) bool {
	if p.Delay <= 0 || p.lastSize < p.Siblings {
		return true
	}
	d := time.Until(p.lastStart.Add(p.Delay))
	if d <= 0 {
		return true
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		if full() {
			return true
		}
		select {
		case <-timer.C:
			return true
		case <-wake:
		case <-ctx.Done():
			return false
		}
	}
}
