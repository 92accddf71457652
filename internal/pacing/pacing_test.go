package pacing

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// TestWait: the wait applies only after a group of Siblings or more, and
// ends at its deadline, when a full group is pending (however stale the
// wake-up), or when ctx ends.
func TestWait(t *testing.T) {
	ctx := context.Background()
	never := func() bool { return false }
	wake := make(chan struct{}, 1)

	var zero Pacer
	zero.Started(1000)
	if !zero.Wait(ctx, never, wake) {
		t.Error("zero Pacer: false")
	}
	p := Pacer{Delay: time.Hour, Siblings: 3}
	if !p.Wait(ctx, never, wake) {
		t.Error("before any group: false")
	}
	p.Started(2) // a small group: no wait, however long Delay is
	if !p.Wait(ctx, never, wake) {
		t.Error("after a small group: false")
	}
	near := Pacer{Delay: 20 * time.Millisecond, Siblings: 3}
	near.Started(3)
	if !near.Wait(ctx, never, wake) {
		t.Error("near deadline: false")
	}

	p.Started(3) // a big group: the hour applies...
	if !p.Wait(ctx, func() bool { return true }, wake) {
		t.Error("with a full group: false") // ...unless a full group waits
	}
	wake <- struct{}{} // a stale wake-up must not end the wait
	var pending atomic.Int32
	go func() {
		for range 3 {
			time.Sleep(time.Millisecond)
			pending.Add(1)
			select {
			case wake <- struct{}{}:
			default:
			}
		}
	}()
	if !p.Wait(ctx, func() bool { return pending.Load() >= 3 }, wake) {
		t.Error("while a group fills: false")
	}
	if pending.Load() < 3 {
		t.Errorf("returned with %d pending, before the group was full", pending.Load())
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if p.Wait(cctx, never, wake) {
		t.Error("after ctx ended: true")
	}
}
