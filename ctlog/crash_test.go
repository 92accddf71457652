package ctlog

import (
	"bufio"
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	tclient "github.com/transparency-dev/tessera/client"

	"sigil.dev/sigil/checkpoint"
	"sigil.dev/sigil/internal/testpki"
	"sigil.dev/sigil/sct"
)

// crashChildEnv makes the test binary run a log server on the data
// directory it names (root.pem beside the data), for TestCrash.
const crashChildEnv = "SIGIL_CTLOG_CRASH_CHILD"

func crashChild(dir string) {
	raw, err := os.ReadFile(filepath.Join(dir, "root.pem"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	block, _ := pem.Decode(raw)
	root, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	svc, err := New(context.Background(), Config{DataDir: filepath.Join(dir, "data"), PublicURL: "http://ct.sigil.test/ct", Roots: []*x509.Certificate{root}, Logger: quietLogger(), CheckpointInterval: 100 * time.Millisecond})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	mux := http.NewServeMux()
	mux.Handle("/ct/", svc.Handler())
	fmt.Println(l.Addr().String())
	_ = http.Serve(l, mux)
	os.Exit(0)
}

// startChild runs the log in a child process and returns its base URL.
func startChild(t *testing.T, dir string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		t.Fatalf("child did not start: %v", err)
	}
	go io.Copy(io.Discard, out)
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd, "http://" + strings.TrimSpace(addr) + "/ct"
}

// TestCrashLosesNothingAcknowledged kills the log with SIGKILL while
// submissions are in flight, restarts it, and checks that every SCT it had
// returned names an entry the log holds and proves: the durability promise
// of the package comment.
func TestCrashLosesNothingAcknowledged(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	p := newPKI(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "root.pem"), testpki.PEM(p.Root), 0o644); err != nil {
		t.Fatal(err)
	}
	e := &env{pki: p}
	const n = 400
	pres := make([]*x509.Certificate, n)
	for i := range pres {
		pres[i], _ = e.leaf(t, leafOpts{precert: true})
	}

	child, base := startChild(t, dir)
	type ack struct {
		pre *x509.Certificate
		sct *sct.SCT
	}
	var mu sync.Mutex
	var acks []ack
	killed := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	next := make(chan int, n)
	for i := range n {
		next <- i
	}
	close(next)
	c := &Client{URL: base, HTTPClient: &http.Client{Timeout: 10 * time.Second}}
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				s, err := c.AddPreChain(context.Background(), e.chain(pres[i]))
				if err != nil {
					continue // after the kill
				}
				mu.Lock()
				acks = append(acks, ack{pres[i], s})
				if len(acks) == n/4 {
					once.Do(func() {
						child.Process.Kill() // SIGKILL, mid-batch
						close(killed)
					})
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	select {
	case <-killed:
	default:
		t.Fatal("the log was never killed")
	}
	child.Wait()
	if len(acks) < n/4 || len(acks) == n {
		t.Fatalf("%d acknowledged of %d: the kill did not land mid-run", len(acks), n)
	}

	_, base = startChild(t, dir)
	var maxIdx uint64
	for _, a := range acks {
		if i, _ := ParseLeafIndex(a.sct.Extensions); i > maxIdx {
			maxIdx = i
		}
	}
	cp := waitForCheckpoint(t, base, maxIdx+1)
	fetcher, err := tclient.NewHTTPFetcher(mustURL(base+"/"), nil)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := tclient.NewProofBuilder(context.Background(), cp.Size, fetcher.ReadTile)
	if err != nil {
		t.Fatal(err)
	}
	tiles := map[uint64][]TileLeaf{}
	for _, a := range acks {
		idx, _ := ParseLeafIndex(a.sct.Extensions)
		bundle := idx / 256
		if tiles[bundle] == nil {
			w := cp.Size - bundle*256
			path := fmt.Sprintf("%s/tile/data/%03d", base, bundle)
			if w < 256 {
				path += fmt.Sprintf(".p/%d", w)
			}
			resp, err := http.Get(path)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if tiles[bundle], err = ParseDataTile(raw); err != nil {
				t.Fatalf("data tile %d: %v", bundle, err)
			}
		}
		l := tiles[bundle][idx%256]
		if string(l.PreCertificate) != string(a.pre.Raw) || l.Timestamp != a.sct.Timestamp {
			t.Errorf("acknowledged entry %d lost or changed after the crash", idx)
			continue
		}
		pr, err := pb.InclusionProof(context.Background(), idx)
		if err != nil {
			t.Fatal(err)
		}
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, idx, cp.Size, l.LeafHash(), pr, cp.Hash); err != nil {
			t.Errorf("entry %d: no inclusion proof after the crash: %v", idx, err)
		}
	}
	t.Logf("%d of %d submissions acknowledged before SIGKILL; all in the log of size %d after restart", len(acks), n, cp.Size)
}

// waitForCheckpoint polls base's checkpoint until it commits to n entries.
func waitForCheckpoint(t *testing.T, base string, n uint64) *checkpoint.Checkpoint {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/checkpoint")
		if err == nil {
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if text, ok := checkpoint.Split(raw); ok {
				if c, err := checkpoint.Parse(text); err == nil && c.Size >= n {
					return c
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint of size %d after restart", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
