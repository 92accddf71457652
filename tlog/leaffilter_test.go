package tlog

import (
	"crypto/sha256"
	"strconv"
	"testing"
)

// The filter never forgets a leaf, and rarely claims one it never saw.
func TestLeafFilter(t *testing.T) {
	var f leafFilter
	const n = 3 * bloomFirstCap // several layers
	for i := 0; i < n; i++ {
		f.add(sha256.Sum256([]byte(strconv.Itoa(i))))
	}
	if len(f.layers) < 2 {
		t.Fatalf("%d layers", len(f.layers))
	}
	for i := 0; i < n; i++ {
		if !f.mayContain(sha256.Sum256([]byte(strconv.Itoa(i)))) {
			t.Fatalf("leaf %d forgotten", i)
		}
	}
	fp := 0
	const probes = 100000
	for i := 0; i < probes; i++ {
		if f.mayContain(sha256.Sum256([]byte("absent " + strconv.Itoa(i)))) {
			fp++
		}
	}
	// One layer errs ~1% of the time; the layers together a few percent.
	if rate := float64(fp) / probes; rate > 0.05 {
		t.Errorf("false-positive rate %.3f", rate)
	}
}
