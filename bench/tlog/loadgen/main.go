// Command loadgen offers Rekor write load to a transparency log and
// reports throughput, latency of "201 with proof" and the server's CPU and
// memory, for bench/tlog/run.sh.
//
// Requests are signed before the run (unique digests signed by P-256 keys,
// each key with its own Fulcio-style certificate), so the load generator
// spends its CPU on HTTP only. Keyless signers send a new certificate with
// almost every entry, so by default the requests use 8,192 keys in turn:
// more than sigil's log keeps parsed (its LRU of 4,096 certificates), so
// that no request finds its certificate there, as a keyless one would not.
// -keys 0 gives every request a key and certificate of its own (slower to
// prepare); a few keys (-keys 64) measure a CI job logging many artifacts
// with one certificate, the case the cache is for. Two modes:
//
//   - closed loop (-rate 0): -concurrency clients send back to back;
//   - open loop (-rate R): requests are scheduled at R per second and
//     served by up to -concurrency clients; latency counts from the
//     scheduled time, so queueing is not hidden.
//
// A write succeeds when it is answered 201 with an inclusion proof in the
// body. Throughput is the successes answered within the measured window,
// divided by its length (what the log sustained: in an open-loop run that
// the log cannot keep up with, it is less than the offered rate); the
// latencies are of the successful requests due in the window, however late
// their answer. Any failed request in the window (transport error, another
// status, a 201 without a proof), or a server process (-pid) that is gone,
// makes the command exit 1 after printing its result.
//
// Example:
//
//	go run ./bench/tlog/loadgen -url http://127.0.0.1:8080 -api v2 -concurrency 256 -duration 20s -pid $(pgrep -n server)
package main

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"sigil.dev/sigil/bench/internal/rawhttp"
	"sigil.dev/sigil/internal/testpki"
	"sigil.dev/sigil/sct"
)

type options struct {
	url         string
	api         string
	concurrency int
	rate        float64
	duration    time.Duration
	warmup      time.Duration
	keys        int
	certs       bool
	requests    int
	pid         int
	label       string
	jsonOut     bool
	group, role string
	client      string
}

func main() {
	var o options
	flag.StringVar(&o.url, "url", "http://127.0.0.1:8080", "base URL of the log")
	flag.StringVar(&o.api, "api", "v2", "write API: v2 (POST /api/v2/log/entries) or v1 (POST /api/v1/log/entries)")
	flag.IntVar(&o.concurrency, "concurrency", 256, "concurrent clients (HTTP connections)")
	flag.Float64Var(&o.rate, "rate", 0, "offered writes per second (open loop); 0 = closed loop")
	flag.DurationVar(&o.duration, "duration", 20*time.Second, "measured duration")
	flag.DurationVar(&o.warmup, "warmup", 3*time.Second, "unmeasured warm-up before it")
	flag.IntVar(&o.keys, "keys", 8192, "signing keys, each with its own certificate, used in turn (0: a new key and certificate for every request)")
	flag.BoolVar(&o.certs, "certs", true, "sign with certificates (false: bare public keys)")
	flag.IntVar(&o.requests, "requests", 0, "requests to pre-sign (default: enough for the run, at most 400000)")
	flag.IntVar(&o.pid, "pid", 0, "server process ID, to report its CPU and RSS")
	flag.StringVar(&o.label, "label", "", "label of this run in the output")
	flag.BoolVar(&o.jsonOut, "json", false, "print the result as one JSON line on stdout")
	flag.StringVar(&o.group, "group", "", "scenario this run belongs to (for -table)")
	flag.StringVar(&o.role, "role", "", "sigil or reference (for -table)")
	flag.StringVar(&o.client, "client", "raw", "HTTP client: raw (one keep-alive connection per client, bench/internal/rawhttp; the least CPU) or go (net/http)")
	genkey := flag.String("genkey", "", "write a new Ed25519 PKCS#8 PEM private key to FILE and exit (the reference server's signing key)")
	table := flag.String("table", "", "print the table of the JSON results in FILE (one per line) and exit")
	flag.Parse()
	var err error
	switch {
	case *genkey != "":
		err = writeKey(*genkey)
	case *table != "":
		err = printTable(*table)
	default:
		err = run(o)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

// Result is one run's outcome.
type Result struct {
	Label       string         `json:"label"`
	Group       string         `json:"group"`
	Role        string         `json:"role"`
	API         string         `json:"api"`
	Concurrency int            `json:"concurrency"`
	Rate        float64        `json:"offeredRate"`
	Seconds     float64        `json:"seconds"`
	OK          int            `json:"ok"` // successes due in the window (the latency sample)
	Errors      map[string]int `json:"errors"`
	Throughput  float64        `json:"throughput"` // successes answered in the window ÷ its length
	P50         float64        `json:"p50ms"`
	P90         float64        `json:"p90ms"`
	P99         float64        `json:"p99ms"`
	Max         float64        `json:"maxms"`
	ServerCPU   float64        `json:"serverCPUCores"`
	ServerRSS   float64        `json:"serverMaxRSSMB"`
	LoadgenCPU  float64        `json:"loadgenCPUCores"`
	Exhausted   bool           `json:"requestsExhausted,omitempty"`
}

func run(o options) error {
	n := o.requests
	if n == 0 {
		expect := o.rate
		if expect == 0 {
			expect = 15000
		}
		n = int(expect*(o.warmup+o.duration).Seconds()*1.05) + o.concurrency
		n = min(n, 400000)
	}
	keys := "a key each"
	if o.keys > 0 {
		keys = fmt.Sprintf("%d keys", o.keys)
	}
	fmt.Fprintf(os.Stderr, "loadgen: signing %d %s requests with %s...\n", n, o.api, keys)
	reqs, err := presign(o, n)
	if err != nil {
		return err
	}
	path := "/api/v2/log/entries"
	if o.api == "v1" {
		path = "/api/v1/log/entries"
	}
	target := strings.TrimSuffix(o.url, "/") + path
	// newPoster returns one client's way of posting a request.
	var newPoster func() (func([]byte) (int, []byte, error), error)
	switch o.client {
	case "raw":
		newPoster = func() (func([]byte) (int, []byte, error), error) {
			c, err := rawhttp.New(o.url, 60*time.Second)
			if err != nil {
				return nil, err
			}
			return func(body []byte) (int, []byte, error) {
				return c.Post(path, "application/json", nil, body)
			}, nil
		}
	case "go":
		tr := &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConns:        o.concurrency,
			MaxIdleConnsPerHost: o.concurrency,
			MaxConnsPerHost:     o.concurrency,
			DisableCompression:  true,
		}
		client := &http.Client{Transport: tr, Timeout: 60 * time.Second}
		newPoster = func() (func([]byte) (int, []byte, error), error) {
			return func(body []byte) (int, []byte, error) { return post(client, target, body) }, nil
		}
	default:
		return fmt.Errorf("-client %q: want raw or go", o.client)
	}
	posters := make([]func([]byte) (int, []byte, error), o.concurrency)
	for i := range posters {
		if posters[i], err = newPoster(); err != nil {
			return err
		}
	}
	runtime.GC()

	var (
		next      atomic.Int64
		exhausted atomic.Bool
		start     = time.Now()
		measureAt = start.Add(o.warmup)
		end       = measureAt.Add(o.duration)
		mu        sync.Mutex
		lat       []time.Duration
		completed int // successes answered within [measureAt, end]
		errs      = map[string]int{}
	)
	jobs := make(chan time.Time, 1<<16)
	if o.rate > 0 {
		go schedule(jobs, start, end, o.rate)
	}
	var wg sync.WaitGroup
	for w := 0; w < o.concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			post := posters[w]
			var mine []time.Duration
			myCompleted := 0
			myErrs := map[string]int{}
			for {
				var due time.Time
				if o.rate > 0 {
					var ok bool
					if due, ok = <-jobs; !ok {
						break
					}
				} else {
					due = time.Now()
					if due.After(end) {
						break
					}
				}
				i := next.Add(1) - 1
				if int(i) >= len(reqs) {
					exhausted.Store(true)
					break
				}
				code, body, err := post(reqs[i])
				done := time.Now()
				ok := err == nil && code == http.StatusCreated && bytes.Contains(body, []byte(`"inclusionProof"`))
				if ok && !done.Before(measureAt) && !done.After(end) {
					myCompleted++
				}
				inWindow := !due.Before(measureAt) && !due.After(end)
				if !inWindow {
					continue
				}
				switch {
				case err != nil:
					myErrs["transport"]++
				case code != http.StatusCreated:
					myErrs[strconv.Itoa(code)]++
				case !ok:
					myErrs["201 without proof"]++
				default:
					mine = append(mine, done.Sub(due))
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			completed += myCompleted
			for k, v := range myErrs {
				errs[k] += v
			}
			mu.Unlock()
		}()
	}
	// Server and own CPU over the measured window.
	time.Sleep(time.Until(measureAt))
	cpu0, cpuErr0 := procCPU(o.pid)
	self0 := selfCPU()
	t0 := time.Now()
	var maxRSS float64
	stopRSS := make(chan struct{})
	rssDone := make(chan struct{})
	go func() {
		defer close(rssDone)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			if r, err := procRSS(o.pid); err == nil && r > maxRSS {
				maxRSS = r
			}
			select {
			case <-stopRSS:
				return
			case <-t.C:
			}
		}
	}()
	time.Sleep(time.Until(end))
	cpu1, cpuErr1 := procCPU(o.pid)
	self1 := selfCPU()
	window := time.Since(t0).Seconds()
	close(stopRSS)
	<-rssDone
	wg.Wait()

	slices.Sort(lat)
	r := Result{Label: o.label, Group: o.group, Role: o.role, API: o.api, Concurrency: o.concurrency, Rate: o.rate, Seconds: o.duration.Seconds(),
		OK: len(lat), Errors: errs, Throughput: float64(completed) / o.duration.Seconds(),
		P50: pct(lat, 0.50), P90: pct(lat, 0.90), P99: pct(lat, 0.99), Max: pct(lat, 1),
		LoadgenCPU: (self1 - self0) / window, Exhausted: exhausted.Load()}
	if o.pid > 0 {
		r.ServerCPU = (cpu1 - cpu0) / window
		r.ServerRSS = maxRSS
	}
	fmt.Fprintf(os.Stderr, "loadgen: %s %s c=%d rate=%g: %.0f writes/s ok=%d errors=%v p50=%.0fms p90=%.0fms p99=%.0fms max=%.0fms server=%.2f cores %.0f MB, loadgen=%.2f cores\n",
		o.label, o.api, o.concurrency, o.rate, r.Throughput, r.OK, r.Errors, r.P50, r.P90, r.P99, r.Max, r.ServerCPU, r.ServerRSS, r.LoadgenCPU)
	if r.Exhausted {
		fmt.Fprintln(os.Stderr, "loadgen: WARNING: ran out of pre-signed requests; raise -requests")
	}
	if o.jsonOut {
		if err := json.NewEncoder(os.Stdout).Encode(r); err != nil {
			return err
		}
	}
	if err := errors.Join(cpuErr0, cpuErr1); err != nil {
		return fmt.Errorf("couldn't read the server's CPU time (did it exit?): %w", err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s %s: failed requests in the measured window: %s", o.label, o.api, errString(errs))
	}
	return nil
}

// schedule sends the due times of an open-loop run, at rate per second.
func schedule(jobs chan<- time.Time, start, end time.Time, rate float64) {
	defer close(jobs)
	interval := time.Duration(float64(time.Second) / rate)
	for i := 0; ; i++ {
		due := start.Add(time.Duration(i) * interval)
		if due.After(end) {
			return
		}
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		jobs <- due
	}
}

func post(c *http.Client, url string, body []byte) (int, []byte, error) {
	resp, err := c.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, b, err
}

func pct(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p)
	return float64(sorted[i].Microseconds()) / 1000
}

// presign builds n distinct write requests: each with a new key and
// certificate when o.keys is 0, else signed in turn by o.keys keys.
func presign(o options, n int) ([][]byte, error) {
	p, err := testpki.New(testpki.Options{})
	if err != nil {
		return nil, err
	}
	// An embedded SCT would cost each certificate two more signatures:
	// give them all the SCT extension of one real leaf, so that they have
	// a Fulcio certificate's shape and size (the log does not check SCTs).
	var sctExt []pkix.Extension
	if o.certs {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		c, err := p.Leaf(testpki.DefaultIdentity, k.Public(), testpki.LeafOptions{Lifetime: 24 * time.Hour})
		if err != nil {
			return nil, err
		}
		for _, e := range c.Extensions {
			if e.Id.Equal(sct.OIDSCTList) {
				sctExt = append(sctExt, e)
			}
		}
	}
	type signer struct {
		key *ecdsa.PrivateKey
		pem []byte
		der []byte
	}
	newSigner := func() (signer, error) {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return signer{}, err
		}
		s := signer{key: k}
		if o.certs {
			// Valid for the whole run (Fulcio's are ten minutes).
			c, err := p.Leaf(testpki.DefaultIdentity, k.Public(), testpki.LeafOptions{Lifetime: 24 * time.Hour, NoSCT: true, ExtraExtensions: sctExt})
			if err != nil {
				return signer{}, err
			}
			s.pem, s.der = testpki.PEM(c), c.Raw
		} else {
			s.pem = testpki.PublicKeyPEM(k.Public())
			s.der, _ = x509.MarshalPKIXPublicKey(k.Public())
		}
		return s, nil
	}
	workers := runtime.NumCPU()
	errs := make(chan error, 2*workers)
	var wg sync.WaitGroup
	signers := make([]signer, max(o.keys, 0))
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < len(signers); i += workers {
				var err error
				if signers[i], err = newSigner(); err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	select {
	case err := <-errs:
		return nil, err
	default:
	}
	out := make([][]byte, n)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += workers {
				var s signer
				if len(signers) > 0 {
					s = signers[i%len(signers)]
				} else {
					var err error
					if s, err = newSigner(); err != nil {
						errs <- err
						return
					}
				}
				var d [32]byte
				rand.Read(d[:]) //nolint:errcheck
				sig, err := s.key.Sign(rand.Reader, d[:], crypto.SHA256)
				if err != nil {
					errs <- err
					return
				}
				out[i] = request(o.api, o.certs, s.pem, s.der, d[:], sig)
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	return out, nil
}

func request(api string, cert bool, pemKey, der, digest, sig []byte) []byte {
	if api == "v1" {
		b, _ := json.Marshal(map[string]any{"kind": "hashedrekord", "apiVersion": "0.0.1", "spec": map[string]any{
			"signature": map[string]any{"content": sig, "publicKey": map[string]any{"content": pemKey}},
			"data":      map[string]any{"hash": map[string]any{"algorithm": "sha256", "value": hex.EncodeToString(digest)}},
		}})
		return b
	}
	v := map[string]any{"keyDetails": "PKIX_ECDSA_P256_SHA_256"}
	if cert {
		v["x509Certificate"] = map[string]any{"rawBytes": der}
	} else {
		v["publicKey"] = map[string]any{"rawBytes": der}
	}
	b, _ := json.Marshal(map[string]any{"hashedRekordRequestV002": map[string]any{
		"digest": digest, "signature": map[string]any{"content": sig, "verifier": v},
	}})
	return b
}

// procCPU returns the CPU seconds (user + system) a process has used.
func procCPU(pid int) (float64, error) {
	if pid <= 0 {
		return 0, nil
	}
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the parenthesized command name.
	s := string(raw)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100, nil // USER_HZ is 100 on Linux
}

// procRSS returns a process's resident set size in MB.
func procRSS(pid int) (float64, error) {
	if pid <= 0 {
		return 0, nil
	}
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024, nil
		}
	}
	return 0, fmt.Errorf("no VmRSS for %d", pid)
}

func selfCPU() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru) //nolint:errcheck
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
