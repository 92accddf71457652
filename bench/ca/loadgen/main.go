// Command loadgen measures a Fulcio-compatible CA: it serves a test OIDC
// issuer, and it drives POST /api/v2/signingCert with pre-built requests
// (distinct keys, tokens and proofs of possession, so the client spends
// almost no CPU during the run), reporting throughput, latency percentiles
// and the server's CPU time per certificate (from /proc/PID/stat).
//
//	loadgen issuer -addr 127.0.0.1:5556 -key issuer.pem   # serve discovery + JWKS
//	loadgen run -url http://127.0.0.1:5555 -issuer http://127.0.0.1:5556 -key issuer.pem \
//	    -pid 1234 -c 8 -d 10s [-rate 500] [-name sigil]
//
// Every response is checked: status 200 and a chain in the body. Requests
// are bounded in count and time and go to the URL given (loopback in the
// benchmark script). Throughput and latencies are of the checked successes;
// a run with any failed request (or, open loop, one the client could not
// send for its in-flight limit) prints its row and exits 1.
package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"sigil.dev/sigil/bench/internal/rawhttp"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: loadgen issuer|run [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "issuer":
		err = issuer(os.Args[2:])
	case "run":
		err = run(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

// issuer serves discovery and a JWKS for an RSA-2048 key (RS256, like
// sigstore/scaffolding's fakeoidc), writing the key to -key if absent.
func issuer(args []string) error {
	fs := flag.NewFlagSet("issuer", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:5556", "loopback address to serve on")
	keyPath := fs.String("key", "issuer.pem", "RSA private key (created if absent)")
	fs.Parse(args)
	key, err := loadOrCreateKey(*keyPath)
	if err != nil {
		return err
	}
	host, _, err := net.SplitHostPort(*addr)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("refusing to serve on non-loopback %s", *addr)
	}
	url := "http://" + *addr
	jwks, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "bench", Algorithm: "RS256", Use: "sig"}}})
	disc, _ := json.Marshal(map[string]any{
		"issuer": url, "jwks_uri": url + "/keys", "authorization_endpoint": url + "/auth", "token_endpoint": url + "/token",
		"response_types_supported": []string{"id_token"}, "subject_types_supported": []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
	})
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(disc)
	})
	mux.HandleFunc("/keys", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(jwks)
	})
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Println("issuer", url)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		c := make(chan os.Signal, 1)
		signal.Notify(c, os.Interrupt)
		<-c
		srv.Close()
	}()
	if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func loadOrCreateKey(path string) (*rsa.PrivateKey, error) {
	if b, err := os.ReadFile(path); err == nil {
		block, _ := pem.Decode(b)
		if block == nil {
			return nil, fmt.Errorf("%s: no PEM", path)
		}
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, err
		}
		return k.(*rsa.PrivateKey), nil
	}
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	return k, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
}

func run(args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	target := fs.String("url", "http://127.0.0.1:5555", "CA base URL")
	issuerURL := fs.String("issuer", "http://127.0.0.1:5556", "issuer URL (iss of the tokens)")
	keyPath := fs.String("key", "issuer.pem", "issuer's RSA key (from loadgen issuer)")
	pid := fs.Int("pid", 0, "server process ID, for CPU accounting (0: none)")
	conc := fs.Int("c", 8, "concurrent clients (closed loop)")
	dur := fs.Duration("d", 10*time.Second, "duration of the measured run")
	warm := fs.Duration("warmup", 2*time.Second, "unmeasured warm-up")
	rate := fs.Float64("rate", 0, "open loop: offer this many requests per second instead (c bounds the requests in flight)")
	pool := fs.Int("pool", 512, "distinct pre-built requests")
	name := fs.String("name", "", "label of the result row")
	client := fs.String("client", "raw", "HTTP client: raw (keep-alive connections of bench/internal/rawhttp; the least CPU) or go (net/http)")
	fs.Parse(args)
	if *dur > 5*time.Minute {
		return errors.New("-d is capped at 5m")
	}
	key, err := loadOrCreateKey(*keyPath)
	if err != nil {
		return err
	}
	bodies, tokens, err := build(key, *issuerURL, *pool)
	if err != nil {
		return err
	}
	path := "/api/v2/signingCert"
	var one func(i int) (time.Duration, error)
	check := func(code int, b []byte) error {
		if code != 200 || !bytes.Contains(b, []byte("BEGIN CERTIFICATE")) {
			return fmt.Errorf("status %d: %.200s", code, b)
		}
		return nil
	}
	switch *client {
	case "raw":
		// Keep-alive connections, one per request in flight, the most
		// recently used first (so that a few stay warm).
		var (
			mu   sync.Mutex
			idle []*rawhttp.Conn
		)
		get := func() (*rawhttp.Conn, error) {
			mu.Lock()
			defer mu.Unlock()
			if n := len(idle); n > 0 {
				c := idle[n-1]
				idle = idle[:n-1]
				return c, nil
			}
			return rawhttp.New(*target, 30*time.Second)
		}
		put := func(c *rawhttp.Conn) {
			mu.Lock()
			idle = append(idle, c)
			mu.Unlock()
		}
		one = func(i int) (time.Duration, error) {
			c, err := get()
			if err != nil {
				return 0, err
			}
			defer put(c)
			start := time.Now()
			code, b, err := c.Post(path, "application/json", []string{"Authorization: Bearer " + tokens[i%len(tokens)]}, bodies[i%len(bodies)])
			if err != nil {
				return 0, err
			}
			if err := check(code, b); err != nil {
				return 0, err
			}
			return time.Since(start), nil
		}
	case "go":
		hc := &http.Client{Transport: &http.Transport{MaxIdleConns: 4 * *conc, MaxIdleConnsPerHost: 4 * *conc, MaxConnsPerHost: *conc}, Timeout: 30 * time.Second}
		url := strings.TrimRight(*target, "/") + path
		one = func(i int) (time.Duration, error) {
			req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(bodies[i%len(bodies)]))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+tokens[i%len(tokens)])
			start := time.Now()
			resp, err := hc.Do(req)
			if err != nil {
				return 0, err
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				return 0, err
			}
			if err := check(resp.StatusCode, b); err != nil {
				return 0, err
			}
			return time.Since(start), nil
		}
	default:
		return fmt.Errorf("-client %q: want raw or go", *client)
	}
	if _, err := one(0); err != nil {
		return fmt.Errorf("first request: %w", err)
	}
	// The first failure of the measured run, for the message.
	var firstErr atomic.Value
	measured := func(i int) (time.Duration, error) {
		d, err := one(i)
		if err != nil {
			firstErr.CompareAndSwap(nil, err.Error())
		}
		return d, err
	}
	// Warm up, then measure.
	drive(one, *conc, 0, *warm, nil)
	cpu0, _ := procCPU(*pid)
	self0, _ := procCPU(os.Getpid())
	var lat []time.Duration
	var mu sync.Mutex
	start := time.Now()
	n, fails := drive(measured, *conc, *rate, *dur, func(d time.Duration) { mu.Lock(); lat = append(lat, d); mu.Unlock() })
	elapsed := time.Since(start)
	cpu1, _ := procCPU(*pid)
	self1, _ := procCPU(os.Getpid())
	if n == 0 {
		return errors.New("no request succeeded")
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	mode := fmt.Sprintf("c=%d", *conc)
	if *rate > 0 {
		mode = fmt.Sprintf("rate=%.0f/s", *rate)
	}
	srvCPU := "-"
	if *pid != 0 {
		srvCPU = fmt.Sprintf("%.3f", (cpu1-cpu0).Seconds()*1000/float64(n))
	}
	fmt.Printf("| %-28s | %-11s | %8.0f | %7.1f | %7.1f | %7.1f | %12s | %10.3f | %5d |\n",
		*name, mode, float64(n)/elapsed.Seconds(), ms(pct(0.5)), ms(pct(0.99)), ms(lat[len(lat)-1]), srvCPU,
		(self1-self0).Seconds()*1000/float64(n), fails)
	if fails > 0 {
		first, _ := firstErr.Load().(string)
		if first == "" {
			first = "the client's in-flight limit was reached"
		}
		return fmt.Errorf("%s: %d failed requests (first: %s)", *name, fails, first)
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// drive runs one() from conc workers for d (closed loop), or offers rate
// requests per second (open loop; latency counts from the scheduled start,
// so queueing in the client is charged to the server). It returns the
// successes and failures.
func drive(one func(int) (time.Duration, error), conc int, rate float64, d time.Duration, record func(time.Duration)) (int, int) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var ok, bad, seq atomic.Int64
	var wg sync.WaitGroup
	if rate <= 0 {
		for w := 0; w < conc; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					lat, err := one(int(seq.Add(1)))
					if err != nil {
						bad.Add(1)
						continue
					}
					ok.Add(1)
					if record != nil {
						record(lat)
					}
				}
			}()
		}
		wg.Wait()
		return int(ok.Load()), int(bad.Load())
	}
	interval := time.Duration(float64(time.Second) / rate)
	sem := make(chan struct{}, conc*64)
	next := time.Now()
	for ctx.Err() == nil {
		scheduled := next
		next = next.Add(interval)
		if wait := time.Until(scheduled); wait > 0 {
			time.Sleep(wait)
		}
		select {
		case sem <- struct{}{}:
		default:
			bad.Add(1) // the client's own limit: count as a failure
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			_, err := one(int(seq.Add(1)))
			if err != nil {
				bad.Add(1)
				return
			}
			ok.Add(1)
			if record != nil {
				record(time.Since(scheduled))
			}
		}()
	}
	wg.Wait()
	return int(ok.Load()), int(bad.Load())
}

// build makes n requests: a fresh P-256 key each, an email token and a
// proof of possession over the email.
func build(key *rsa.PrivateKey, iss string, n int) (bodies [][]byte, tokens []string, err error) {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "bench"))
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	for i := 0; i < n; i++ {
		email := "user" + strconv.Itoa(i) + "@example.com"
		claims, _ := json.Marshal(map[string]any{
			"iss": iss, "aud": "sigstore", "sub": strconv.Itoa(i), "email": email, "email_verified": true,
			"iat": now.Unix(), "exp": now.Add(30 * time.Minute).Unix(),
		})
		jws, err := signer.Sign(claims)
		if err != nil {
			return nil, nil, err
		}
		tok, _ := jws.CompactSerialize()
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		der, _ := x509.MarshalPKIXPublicKey(k.Public())
		d := sha256.Sum256([]byte(email))
		proof, _ := ecdsa.SignASN1(rand.Reader, k, d[:])
		body, _ := json.Marshal(map[string]any{"publicKeyRequest": map[string]any{
			"publicKey":         map[string]any{"algorithm": "ECDSA", "content": string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))},
			"proofOfPossession": base64.StdEncoding.EncodeToString(proof),
		}})
		bodies, tokens = append(bodies, body), append(tokens, tok)
	}
	return bodies, tokens, nil
}

// procCPU returns the user+system CPU time of a process (Linux
// /proc/PID/stat fields 14 and 15, in clock ticks of 1/100 s).
func procCPU(pid int) (time.Duration, error) {
	if pid == 0 {
		return 0, nil
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}
