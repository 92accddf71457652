package tlog

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"sigil.dev/sigil/internal/testpki"
)

// TestGroupCommitPacingIdle: a write to a quiet log is not held back by
// the group-commit delay, however long it is.
func TestGroupCommitPacingIdle(t *testing.T) {
	l := startLog(t, "", func(c *Config) { c.GroupCommitDelay = time.Hour })
	p, _ := testpki.New(testpki.Options{})
	s := newSigner(t, p, nil, true)
	for i := range 3 {
		req, _ := s.v2Request(t, []byte("lone "+strconv.Itoa(i)))
		resp, body := l.post("/api/v2/log/entries", req)
		mustStatus(t, resp, body, http.StatusCreated)
	}
}

// TestLinger: the coalescer's wait ends at its deadline, when a full
// group is pending, or when the log shuts down.
func TestLinger(t *testing.T) {
	tr := &tree{addWake: make(chan struct{}, 1), commitFull: 3}
	ctx := context.Background()
	if !tr.linger(ctx, time.Now().Add(-time.Second)) {
		t.Error("linger past its deadline: false")
	}
	if !tr.linger(ctx, time.Now().Add(20*time.Millisecond)) {
		t.Error("linger to a near deadline: false")
	}
	// A full group ends the wait at once.
	tr.adds = make([]*addRequest, 3)
	if !tr.linger(ctx, time.Now().Add(time.Hour)) {
		t.Error("linger with a full group: false")
	}
	// So does a group that fills up while it waits, as sequence wakes it.
	tr.adds = nil
	go func() {
		for range 3 {
			tr.enqueue(&addRequest{})
		}
	}()
	if !tr.linger(ctx, time.Now().Add(time.Hour)) {
		t.Error("linger while a group fills: false")
	}
	// Shutting down ends it with false.
	tr.adds = nil
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if tr.linger(cctx, time.Now().Add(time.Hour)) {
		t.Error("linger after shutdown: true")
	}
}
