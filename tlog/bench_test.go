package tlog

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"

	"sigil.dev/sigil/internal/testpki"
)

// benchWrites measures the service's cost per acknowledged write, in
// process (no network): requests are signed before the timer starts, and
// 256 goroutines submit them, as 256 clients would. Besides the time per
// write it reports the process's CPU time per write (every goroutine:
// handlers, Tessera, the index), which depends less than the time on what
// else the machine runs, and the entries per group commit.
func benchWrites(b *testing.B, v1 bool) {
	l := startLog(b, "", nil)
	p, _ := testpki.New(testpki.Options{})
	signers := []*signer{newSigner(b, p, nil, true), newSigner(b, p, nil, true)}
	reqs := make([][]byte, b.N)
	for i := range reqs {
		s := signers[i%len(signers)]
		if v1 {
			reqs[i], _, _ = s.v1HashedRekord(b, []byte("bench "+strconv.Itoa(i)))
		} else {
			reqs[i], _ = s.v2Request(b, []byte("bench "+strconv.Itoa(i)))
		}
	}
	path := "/api/v2/log/entries"
	if v1 {
		path = "/api/v1/log/entries"
	}
	h := l.svc.Handler()
	tr := l.svc.v2
	if v1 {
		tr = l.svc.v1
	}
	groups0 := tr.groups.Load()
	var next atomic.Int64
	runtime.GC()
	b.SetParallelism(128) // × GOMAXPROCS goroutines
	b.ResetTimer()
	cpu0 := processCPU()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1) - 1
			w := httptest.NewRecorder()
			r := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(reqs[i]))
			h.ServeHTTP(w, r)
			if w.Code != http.StatusCreated {
				b.Errorf("status %d: %s", w.Code, w.Body)
			}
		}
	})
	b.StopTimer()
	if cpu := processCPU() - cpu0; cpu > 0 {
		b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-us/op")
	}
	if g := tr.groups.Load() - groups0; g > 0 {
		b.ReportMetric(float64(b.N)/float64(g), "entries/group")
	}
}

func BenchmarkV2Write(b *testing.B) { benchWrites(b, false) }
func BenchmarkV1Write(b *testing.B) { benchWrites(b, true) }
