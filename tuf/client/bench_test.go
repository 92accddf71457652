package client

import (
	"testing"
	"time"
)

// BenchmarkLoadTrustedRoot is what every sigil command pays for its
// trusted root through TUF: online with a warm cache (probe for the next
// root, fetch timestamp.json, find snapshot, targets and the target
// unchanged in the cache, parse the trusted root), offline (the recorded
// verified view, see the package comment), within the cache validity
// (the same, online), and offline with go-tuf verifying the cached
// metadata (no record). numbers.md §1.5 measured a cold go-tuf update at
// 2.45 ms on this kind of machine.
func BenchmarkLoadTrustedRoot(b *testing.B) {
	w := newWorld(b)
	if _, err := Init(w.opts, w.mirror, w.rootJSON()); err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		offline  bool
		validity time.Duration
		noRecord bool
	}{
		{name: "online-warm-cache"},
		{name: "offline", offline: true},
		{name: "within-cache-validity", validity: time.Hour},
		{name: "offline-verify-metadata", offline: true, noRecord: true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			opts := w.opts
			opts.Offline, opts.CacheValidity = tc.offline, tc.validity
			if tc.noRecord {
				c, err := Open(opts)
				if err != nil {
					b.Fatal(err)
				}
				c.set.Verified = nil
				if err := c.saveSettings(false); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := LoadTrustedRoot(opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
