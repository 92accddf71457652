package tuf

import (
	"path/filepath"
	"testing"
)

// BenchmarkServiceStart is what the TUF repository adds to `sigil server`
// start-up (issue 5: first start ≤ 3 s, restart ≤ 1 s in all): a dev-mode
// first start (keys, root, targets, snapshot, timestamp, then the two
// targets published), and a restart on that state (verify the root chain
// and targets, nothing to sign, targets unchanged).
func BenchmarkServiceStart(b *testing.B) {
	b.Run("first-start", func(b *testing.B) {
		for b.Loop() {
			s, err := New(Config{Dir: filepath.Join(b.TempDir(), "tuf"), Dev: true})
			if err != nil {
				b.Fatal(err)
			}
			if err := s.SetTargets(testTargets); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("restart", func(b *testing.B) {
		dir := filepath.Join(b.TempDir(), "tuf")
		s, err := New(Config{Dir: dir, Dev: true})
		if err != nil {
			b.Fatal(err)
		}
		if err := s.SetTargets(testTargets); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			s, err := New(Config{Dir: dir, Dev: true})
			if err != nil {
				b.Fatal(err)
			}
			if err := s.SetTargets(testTargets); err != nil {
				b.Fatal(err)
			}
		}
	})
}
