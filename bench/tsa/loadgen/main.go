// Command loadgen sends RFC 3161 timestamp requests to a TSA on this
// machine and prints throughput and latency. Requests are what sigstore-go
// sends (SHA-256 of fresh random bytes, no nonce, no certificates; DER
// form) unless -json. Every answer must be a granted TimeStampResp that
// parses. The run is bounded by -n requests and -max-duration.
package main

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"sigil.dev/sigil/timestamp"
)

func main() {
	target := flag.String("url", "http://127.0.0.1:3001/api/v1/timestamp", "timestamp endpoint (loopback only)")
	n := flag.Int("n", 2000, "requests to send")
	c := flag.Int("c", 8, "concurrent clients")
	warmup := flag.Int("warmup", 200, "requests sent first and not measured")
	asJSON := flag.Bool("json", false, "send the JSON request form instead of DER")
	maxDur := flag.Duration("max-duration", 60*time.Second, "stop after this long even if -n is not reached")
	label := flag.String("label", "", "name printed in the result line")
	flag.Parse()

	u, err := url.Parse(*target)
	if err != nil {
		log.Fatal(err)
	}
	host, _, _ := net.SplitHostPort(u.Host)
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		log.Fatalf("refusing to load %s: loopback addresses only", u.Host)
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: *c, MaxConnsPerHost: *c}}

	one := func() (time.Duration, error) {
		var msg [32]byte
		_, _ = rand.Read(msg[:])
		d := sha256.Sum256(msg[:])
		var body []byte
		ct := "application/timestamp-query"
		if *asJSON {
			body, _ = json.Marshal(map[string]any{"artifactHash": base64.StdEncoding.EncodeToString(d[:]), "hashAlgorithm": "sha256"})
			ct = "application/json"
		} else {
			body, _ = (&timestamp.Request{HashAlgorithm: crypto.SHA256, HashedMessage: d[:]}).Marshal()
		}
		start := time.Now()
		resp, err := client.Post(*target, ct, bytes.NewReader(body))
		if err != nil {
			return 0, err
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		elapsed := time.Since(start)
		if err != nil {
			return 0, err
		}
		if resp.StatusCode != 200 && resp.StatusCode != 201 {
			return 0, fmt.Errorf("status %d: %s", resp.StatusCode, b)
		}
		if _, err := timestamp.ParseResponse(b); err != nil {
			return 0, err
		}
		return elapsed, nil
	}

	run := func(total int, record bool) ([]time.Duration, time.Duration) {
		var next atomic.Int64
		lat := make([][]time.Duration, *c)
		deadline := time.Now().Add(*maxDur)
		start := time.Now()
		var wg sync.WaitGroup
		for w := range *c {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for next.Add(1) <= int64(total) && time.Now().Before(deadline) {
					d, err := one()
					if err != nil {
						log.Fatalf("request failed: %v", err)
					}
					if record {
						lat[w] = append(lat[w], d)
					}
				}
			}()
		}
		wg.Wait()
		return slices.Concat(lat...), time.Since(start)
	}
	run(*warmup, false)
	lat, wall := run(*n, true)
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	// One tab-separated line: label, requests, req/s, p50, p90, p99 (ms).
	fmt.Printf("%s\t%d\t%.0f\t%.2f\t%.2f\t%.2f\n", *label, len(lat), float64(len(lat))/wall.Seconds(), ms(pct(0.50)), ms(pct(0.90)), ms(pct(0.99)))
}
