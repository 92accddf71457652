package client

import "testing"

// BenchmarkLoadTrustedRoot is what every sigil command pays for its
// trusted root through TUF: online with a warm cache (probe for the next
// root, fetch timestamp.json, find snapshot, targets and the target
// unchanged in the cache, parse the trusted root), and offline (verify
// the cached metadata, read the target). numbers.md §1.5 measured a cold
// go-tuf update at 2.45 ms on this kind of machine.
func BenchmarkLoadTrustedRoot(b *testing.B) {
	w := newWorld(b)
	if _, err := Init(w.opts, w.mirror, w.rootJSON()); err != nil {
		b.Fatal(err)
	}
	for _, offline := range []bool{false, true} {
		name := map[bool]string{false: "online-warm-cache", true: "offline"}[offline]
		b.Run(name, func(b *testing.B) {
			opts := w.opts
			opts.Offline = offline
			b.ReportAllocs()
			for b.Loop() {
				if _, err := LoadTrustedRoot(opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
