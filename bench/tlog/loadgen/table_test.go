package main

import (
	"strings"
	"testing"
)

// A reference run with failed requests (rekor-tiles with its defaults timing
// out on a loaded machine) has a throughput of its successes alone: the
// ratio against it would credit sigil with the reference's failures.
func TestTableRatiosSkipFailedRuns(t *testing.T) {
	g := "closed loop, 256 clients"
	byGroup := map[string][]Result{g: {
		{Label: "sigil", Role: "sigil", API: "v2", Throughput: 5000, P50: 40},
		{Label: "rekor-tiles --checkpoint-interval=100ms", Role: "reference", API: "v2", Throughput: 250, P50: 1000},
		{Label: "rekor-tiles (defaults)", Role: "reference", API: "v2", Throughput: 0.4, P50: 14893, Errors: map[string]int{"transport": 16}},
		{Label: "rekor-tiles (out of requests)", Role: "reference", API: "v2", Throughput: 20, P50: 11000, Exhausted: true},
	}}
	var b strings.Builder
	writeTable(&b, []string{g}, byGroup)
	out := b.String()
	if !strings.Contains(out, "sigil v2 vs rekor-tiles --checkpoint-interval=100ms: throughput ×20.0, p50 latency ×25.0 lower") {
		t.Errorf("the clean pair lost its ratio:\n%s", out)
	}
	for _, ref := range []string{"rekor-tiles (defaults)", "rekor-tiles (out of requests)"} {
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, "vs "+ref+":") && !strings.Contains(line, "not compared") {
				t.Errorf("ratio against a failed run: %q", line)
			}
		}
		if !strings.Contains(out, "vs "+ref+": not compared") {
			t.Errorf("no 'not compared' line for %s:\n%s", ref, out)
		}
	}
}
