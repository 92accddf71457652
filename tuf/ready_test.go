package tuf

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkReady measures readiness checks of a dev repository, what GET
// /readyz costs the server (a passed check is reused for readyCache).
func BenchmarkReady(b *testing.B) {
	s, err := New(Config{Dir: b.TempDir(), Dev: true, Clock: NewFakeClock(testStart)})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.SetTargets(testTargets); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Ready(); err != nil {
			b.Fatal(err)
		}
	}
}

// TestReadyReusesAPassedCheckBriefly: a passed readiness check is reused
// (the full check verifies every root version, and /readyz answers
// anyone), but not once the service's clock has moved on by readyCache,
// and a failed check is not reused.
func TestReadyReusesAPassedCheckBriefly(t *testing.T) {
	dir := t.TempDir()
	clock := NewFakeClock(testStart)
	s := newDevService(t, dir, clock, nil)
	start := time.Now()
	if err := s.Ready(); err != nil {
		t.Fatal(err)
	}
	ts := filepath.Join(dir, PublishedDir, "timestamp.json")
	saved, err := os.ReadFile(ts)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(ts); err != nil {
		t.Fatal(err)
	}
	// Reused only within readyCache of wall time too: judged only if the
	// machine got here in time.
	if err := s.Ready(); err != nil && time.Since(start) < readyCache {
		t.Fatalf("within readyCache: %v", err)
	}
	clock.Advance(readyCache + time.Millisecond)
	if err := s.Ready(); err == nil {
		t.Fatal("Ready passed without timestamp.json after readyCache")
	}
	if err := os.WriteFile(ts, saved, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.Ready(); err != nil {
		t.Fatalf("the failed check was reused: %v", err)
	}
}
