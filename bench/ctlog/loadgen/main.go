// Command loadgen drives an RFC 6962 CT log's add-pre-chain endpoint, for
// bench/ctlog/run.sh. It speaks plain RFC 6962 JSON, so it measures sigil's
// log and a reference log (TesseraCT) the same way.
//
//	loadgen init -dir DIR -n N
//	    writes DIR/root.pem (the CA root the log must accept), DIR/log-key.pem
//	    (an ECDSA P-256 log key, SEC 1 PEM) and DIR/bodies.ndjson: N distinct
//	    add-pre-chain bodies, each a Fulcio-shaped precertificate with its
//	    intermediate and root.
//	loadgen run -url URL -bodies FILE [-concurrency C | -rate R] [-n N] [-name NAME]
//	    posts the bodies to URL/ct/v1/add-pre-chain, either closed-loop with C
//	    submitters or open-loop at R requests/s (latency counted from each
//	    request's scheduled time, so a stalled server is not hidden), and
//	    prints one line: name, requests, errors, adds/s, p50 ms, p99 ms.
//	    A request succeeds only with 200 and an SCT in the body; adds/s and
//	    the latencies are of the successes alone (a fast refusal is not an
//	    add), and any failure makes the command exit 1 after that line.
package main

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"sigil.dev/sigil/cert"
	"sigil.dev/sigil/internal/testpki"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: loadgen init|run [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "init":
		err = initCmd(os.Args[2:])
	case "run":
		err = runCmd(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func initCmd(args []string) error {
	fs := flag.NewFlagSet("init", flag.ExitOnError)
	dir := fs.String("dir", "", "output directory")
	n := fs.Int("n", 20000, "number of distinct precertificate chains")
	_ = fs.Parse(args)
	if *dir == "" {
		return fmt.Errorf("no -dir")
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return err
	}
	p, err := testpki.New(testpki.Options{})
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(*dir, "root.pem"), testpki.PEM(p.Root), 0o644); err != nil {
		return err
	}
	logKey, err := x509.MarshalECPrivateKey(p.CTKey)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(*dir, "log-key.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: logKey}), 0o600); err != nil {
		return err
	}
	exts, err := cert.Render(testpki.DefaultIdentity.Extensions)
	if err != nil {
		return err
	}
	exts = append(exts, pkix.Extension{Id: cert.OIDPrecertPoison, Critical: true, Value: []byte{0x05, 0x00}})
	u, _ := url.Parse(testpki.DefaultIdentity.URI)
	bodies := make([][]byte, *n)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, runtime.GOMAXPROCS(0))
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				errs <- err
				return
			}
			for {
				i := int(next.Add(1) - 1)
				if i >= len(bodies) {
					return
				}
				serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 159))
				now := time.Now().Add(-time.Minute).Truncate(time.Second)
				tmpl := &x509.Certificate{
					SerialNumber: serial, NotBefore: now, NotAfter: now.Add(2 * time.Hour),
					KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
					URIs: []*url.URL{u}, ExtraExtensions: exts,
				}
				der, err := x509.CreateCertificate(rand.Reader, tmpl, p.Intermediate, key.Public(), p.IntermediateKey)
				if err != nil {
					errs <- err
					return
				}
				bodies[i], _ = json.Marshal(map[string][][]byte{"chain": {der, p.Intermediate.Raw, p.Root.Raw}})
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(*dir, "bodies.ndjson"))
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for _, b := range bodies {
		w.Write(b)
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}

func runCmd(args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	base := fs.String("url", "", "the log's base URL (submission prefix)")
	bodiesFile := fs.String("bodies", "", "bodies.ndjson of loadgen init")
	concurrency := fs.Int("concurrency", 0, "closed loop: this many submitters")
	rate := fs.Float64("rate", 0, "open loop: requests per second")
	n := fs.Int("n", 0, "requests to send (default: all bodies)")
	name := fs.String("name", "log", "name printed in the result line")
	_ = fs.Parse(args)
	if *base == "" || *bodiesFile == "" || (*concurrency == 0) == (*rate == 0) {
		return fmt.Errorf("need -url, -bodies and one of -concurrency, -rate")
	}
	raw, err := os.ReadFile(*bodiesFile)
	if err != nil {
		return err
	}
	bodies := bytes.Split(bytes.TrimSpace(raw), []byte("\n"))
	if *n == 0 || *n > len(bodies) {
		*n = len(bodies)
	}
	bodies = bodies[:*n]
	endpoint := *base + "/ct/v1/add-pre-chain"
	hc := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4096, MaxConnsPerHost: 0}}
	lat := make([]time.Duration, len(bodies))
	okay := make([]bool, len(bodies))
	var failed atomic.Int64
	var firstErr atomic.Value
	post := func(i int, from time.Time) {
		resp, err := hc.Post(endpoint, "application/json", bytes.NewReader(bodies[i]))
		if err == nil {
			var b []byte
			b, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			switch {
			case err != nil:
			case resp.StatusCode != http.StatusOK:
				err = fmt.Errorf("status %s: %.200s", resp.Status, b)
			case !bytes.Contains(b, []byte(`"signature"`)):
				err = fmt.Errorf("200 without an SCT: %.200s", b)
			}
		}
		if err != nil {
			failed.Add(1)
			firstErr.CompareAndSwap(nil, err.Error())
			return
		}
		lat[i] = time.Since(from)
		okay[i] = true
	}
	start := time.Now()
	var wg sync.WaitGroup
	if *concurrency > 0 {
		var next atomic.Int64
		for range *concurrency {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1) - 1)
					if i >= len(bodies) {
						return
					}
					post(i, time.Now())
				}
			}()
		}
	} else {
		interval := time.Duration(float64(time.Second) / *rate)
		for i := range bodies {
			at := start.Add(time.Duration(i) * interval)
			if d := time.Until(at); d > 0 {
				time.Sleep(d)
			}
			wg.Add(1)
			go func() { defer wg.Done(); post(i, at) }()
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	var good []time.Duration
	for i, d := range lat {
		if okay[i] {
			good = append(good, d)
		}
	}
	slices.Sort(good)
	pct := func(p float64) float64 {
		if len(good) == 0 {
			return 0
		}
		return float64(good[int(p*float64(len(good)-1))].Microseconds()) / 1000
	}
	fmt.Printf("%s %d %d %.0f %.1f %.1f\n", *name, len(bodies), failed.Load(), float64(len(good))/elapsed.Seconds(), pct(0.5), pct(0.99))
	if e := firstErr.Load(); e != nil {
		return fmt.Errorf("%s: %d of %d requests failed (first: %v)", *name, failed.Load(), len(bodies), e)
	}
	return nil
}
