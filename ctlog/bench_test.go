package ctlog

import (
	"context"
	"flag"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// benchConcurrency is how many submitters BenchmarkAddPreChain runs: a
// group-committing log's throughput is its concurrency divided by one
// fsync round, so a CA serving thousands of certificates per second keeps
// hundreds of submissions in flight.
var benchConcurrency = flag.Int("concurrency", 256, "concurrent submitters in BenchmarkAddPreChain")

// BenchmarkAddPreChain measures add-pre-chain from submission to SCT,
// durable sequencing included, with -concurrency submitters: in process
// (the sigil server's CA) and over loopback HTTP with Client (a CA in
// another process). Besides ns/op it reports adds/s, the latency
// percentiles and the process CPU time per add. Run it with a fixed count,
// e.g. -benchtime=20000x: each run opens a new log.
func BenchmarkAddPreChain(b *testing.B) {
	b.Run("inprocess", func(b *testing.B) {
		reg := prometheus.NewRegistry()
		e := newEnv(b, Config{Registerer: reg})
		benchAdds(b, e, e.svc)
		reportBatches(b, reg)
	})
	b.Run("http", func(b *testing.B) {
		reg := prometheus.NewRegistry()
		e := newEnv(b, Config{Registerer: reg})
		defer reportBatches(b, reg)
		srv := newServer(b, e)
		hc := srv.Client()
		hc.Transport.(*http.Transport).MaxIdleConnsPerHost = 256
		benchAdds(b, e, &Client{URL: srv.URL + "/ct", HTTPClient: hc})
	})
}

func benchAdds(b *testing.B, e *env, sub Submitter) {
	chains := make([][][]byte, b.N)
	for i := range chains {
		pre, _ := e.leaf(b, leafOpts{precert: true})
		chains[i] = e.chain(pre)
	}
	var next atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	b.SetParallelism(max(1, *benchConcurrency/runtime.GOMAXPROCS(0)))
	cpu0 := cpuTime()
	start := time.Now()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			i := next.Add(1) - 1
			t0 := time.Now()
			if _, err := sub.AddPreChain(context.Background(), chains[i]); err != nil {
				b.Error(err)
				return
			}
			mine = append(mine, time.Since(t0))
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	b.StopTimer()
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	slices.Sort(lat)
	if len(lat) == 0 {
		return
	}
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "adds/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(cpu.Microseconds())/float64(len(lat)), "cpu-µs/add")
	b.ReportMetric(float64(runtime.GOMAXPROCS(0)), "procs")
}

// reportBatches reports the mean group-committed batch size.
func reportBatches(b *testing.B, reg *prometheus.Registry) {
	mfs, err := reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "sigil_ctlog_batch_entries" {
			h := mf.GetMetric()[0].GetHistogram()
			if h.GetSampleCount() > 0 {
				b.ReportMetric(h.GetSampleSum()/float64(h.GetSampleCount()), "entries/batch")
			}
		}
	}
}

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkValidate is the CPU cost of checking one precertificate chain
// (one ECDSA P-256 verification with the issuer chain cached).
func BenchmarkValidate(b *testing.B) {
	e := newEnv(b, Config{})
	pre, _ := e.leaf(b, leafOpts{precert: true})
	chain := e.chain(pre)
	now := time.Now()
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		if _, err := e.svc.validator.validate(chain, true, false, now); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
}
