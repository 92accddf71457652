package tlog

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/client"

	"sigil.dev/sigil/checkpoint"
	"sigil.dev/sigil/internal/testpki"
	"sigil.dev/sigil/rekor"
	"sigil.dev/sigil/trust"
)

// crashChildEnv names the data directory of a crash-test server child.
const crashChildEnv = "SIGIL_TLOG_CRASH_CHILD"

// crashPublicURL is the public URL of the crash-test logs: the origin is
// its host name, the same whatever port a child listens on.
const crashPublicURL = "http://127.0.0.1"

// runCrashChild serves a log from the directory in $SIGIL_TLOG_CRASH_CHILD
// on a loopback port it writes to <dir>/addr, until killed (or, on
// SIGTERM, shut down gracefully).
func runCrashChild() bool {
	dir := os.Getenv(crashChildEnv)
	if dir == "" {
		return false
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	fail := func(err error) bool {
		logger.Error("crash child failed", "err", err)
		os.Exit(3)
		return true
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	svc, err := New(ctx, Config{DataDir: dir, V2PublicURL: crashPublicURL, V1PublicURL: crashPublicURL, Logger: logger})
	if err != nil {
		return fail(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "addr.tmp"), []byte(ln.Addr().String()), 0o644); err != nil {
		return fail(err)
	}
	if err := os.Rename(filepath.Join(dir, "addr.tmp"), filepath.Join(dir, "addr")); err != nil {
		return fail(err)
	}
	srv := &http.Server{Handler: svc.Handler()}
	go srv.Serve(ln) //nolint:errcheck
	<-ctx.Done()
	srv.Shutdown(context.Background()) //nolint:errcheck
	if err := svc.Close(); err != nil {
		return fail(err)
	}
	os.Exit(0)
	return true
}

// crashLedger is everything the log acknowledged, across restarts.
type crashLedger struct {
	mu sync.Mutex
	// bodies by index, per log: an index is never given to two bodies.
	v2, v1 map[uint64][]byte
	// v1 SETs and integrated times as handed out.
	v1Time map[uint64]int64
	v1SET  map[uint64][]byte
	// checkpoints handed out: size → root, per log.
	cp2, cp1 map[uint64][]byte
	acks     int
}

func (l *crashLedger) record(t *testing.T, m map[uint64][]byte, idx uint64, body []byte) {
	if old, ok := m[idx]; ok && !bytes.Equal(old, body) {
		t.Errorf("index %d acknowledged for two different entries", idx)
	}
	m[idx] = body
}

func (l *crashLedger) checkpoint(t *testing.T, m map[uint64][]byte, size uint64, root []byte) {
	if old, ok := m[size]; ok && !bytes.Equal(old, root) {
		t.Errorf("two checkpoints of size %d with different roots handed out", size)
	}
	m[size] = root
}

// Under write load to both APIs, kill -9 the server at random moments; after
// every restart, each entry that got a 201 is at its index with a valid
// inclusion proof against the newest checkpoint, every checkpoint ever
// handed out is consistent with the newest, indices are contiguous and
// never reused, and v1 entries keep the integrated time their SET signs.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test skipped in -short mode")
	}
	cycles := 12
	if s := os.Getenv("SIGIL_TLOG_CRASH_CYCLES"); s != "" {
		cycles, _ = strconv.Atoi(s)
	}
	dir := t.TempDir()
	p, err := testpki.New(testpki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	signers := []*signer{newSigner(t, p, nil, true), newSigner(t, p, nil, false)}
	led := &crashLedger{v2: map[uint64][]byte{}, v1: map[uint64][]byte{}, v1Time: map[uint64]int64{}, v1SET: map[uint64][]byte{}, cp2: map[uint64][]byte{}, cp1: map[uint64][]byte{}}
	rng := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))
	var logs []*trust.Log
	for cycle := 0; cycle <= cycles; cycle++ {
		addr, child := startCrashChild(t, dir)
		base := "http://" + addr
		if logs == nil {
			logs = crashTrustedLogs(t, dir)
		}
		verifyCrashState(t, base, dir, logs, led, cycle)
		if t.Failed() {
			child.Process.Kill() //nolint:errcheck
			child.Wait()         //nolint:errcheck
			return
		}
		if cycle == cycles {
			// Last round: a graceful shutdown loses nothing either.
			child.Process.Signal(syscall.SIGTERM) //nolint:errcheck
			if err := child.Wait(); err != nil {
				t.Errorf("graceful shutdown: %v", err)
			}
			break
		}
		// Write from 16 clients until the kill.
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := 0; w < 16; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				crashWriter(t, base, signers[w%2], w%4 < 2, cycle, w, led, stop)
			}(w)
		}
		delay := time.Duration(100+rng.IntN(1400)) * time.Millisecond
		if cycle%5 == 4 {
			delay = time.Duration(rng.IntN(30)) * time.Millisecond // during start-up work
		}
		time.Sleep(delay)
		child.Process.Kill() //nolint:errcheck // SIGKILL
		child.Wait()         //nolint:errcheck
		close(stop)
		wg.Wait()
	}
	t.Logf("%d acknowledged writes over %d crashes; v2 size %d, v1 size %d", led.acks, cycles, len(led.v2), len(led.v1))
	if led.acks == 0 {
		t.Fatal("no write was acknowledged")
	}
}

func startCrashChild(t *testing.T, dir string) (string, *exec.Cmd) {
	t.Helper()
	os.Remove(filepath.Join(dir, "addr"))
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill() //nolint:errcheck
			cmd.Wait()         //nolint:errcheck
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, err := os.ReadFile(filepath.Join(dir, "addr"))
		if err == nil {
			return string(b), cmd
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill() //nolint:errcheck
			t.Fatal("the crash child did not start")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// crashTrustedLogs describes the two logs from the data directory's keys.
func crashTrustedLogs(t *testing.T, dir string) []*trust.Log {
	v2, err := loadKey(filepath.Join(dir, keysDir, v2KeyName))
	if err != nil {
		t.Fatal(err)
	}
	v1, err := loadKey(filepath.Join(dir, keysDir, v1KeyName))
	if err != nil {
		t.Fatal(err)
	}
	id, _ := checkpoint.KeyID("127.0.0.1", v2.Public())
	l2, err := trust.NewLog(crashPublicURL, v2.Public(), id, trust.Window{Start: time.Unix(0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	l1, err := trust.NewLog(crashPublicURL, v1.Public(), nil, trust.Window{Start: time.Unix(0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	return []*trust.Log{l2, l1}
}

// crashWriter writes until stop or until the server goes away.
func crashWriter(t *testing.T, base string, s *signer, v1 bool, cycle, w int, led *crashLedger, stop <-chan struct{}) {
	c := &http.Client{Timeout: 30 * time.Second}
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		art := []byte(fmt.Sprintf("crash %d %d %d", cycle, w, i))
		var req []byte
		path := "/api/v2/log/entries"
		if v1 {
			req, _, _ = s.v1HashedRekord(t, art)
			path = "/api/v1/log/entries"
		} else {
			req, _ = s.v2Request(t, art)
		}
		resp, err := c.Post(base+path, "application/json", bytes.NewReader(req))
		if err != nil {
			return // killed
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return
		}
		if resp.StatusCode != http.StatusCreated {
			if resp.StatusCode != http.StatusServiceUnavailable {
				t.Errorf("write answered %d: %s", resp.StatusCode, body)
			}
			continue
		}
		led.mu.Lock()
		led.acks++
		if v1 {
			a := parseV1(t, body)
			led.record(t, led.v1, uint64(a.LogIndex), a.Body)
			led.v1Time[uint64(a.LogIndex)] = a.IntegratedTime
			led.v1SET[uint64(a.LogIndex)] = a.Verification.SignedEntryTimestamp
			text, _ := checkpoint.Split([]byte(a.Verification.InclusionProof.Checkpoint))
			cp, err := checkpoint.Parse(text)
			if err != nil {
				t.Errorf("bad v1 checkpoint: %v", err)
			} else {
				led.checkpoint(t, led.cp1, cp.Size, cp.Hash)
			}
		} else {
			e := parseTLE(t, body)
			led.record(t, led.v2, uint64(e.GetLogIndex()), e.GetCanonicalizedBody())
			led.checkpoint(t, led.cp2, uint64(e.GetInclusionProof().GetTreeSize()), e.GetInclusionProof().GetRootHash())
		}
		led.mu.Unlock()
	}
}

// verifyCrashState checks the restarted log against everything it ever
// acknowledged, reading its tiles from storage with Tessera's client.
func verifyCrashState(t *testing.T, base, dir string, logs []*trust.Log, led *crashLedger, cycle int) {
	t.Helper()
	ctx := context.Background()
	get := func(path string) []byte {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
		}
		return b
	}
	cp2, _, err := checkpoint.Open(get("/api/v2/checkpoint"), logs[0].Origin, logs[0].CheckpointVerifier)
	if err != nil {
		t.Fatalf("cycle %d: v2 checkpoint: %v", cycle, err)
	}
	var info struct{ SignedTreeHead string }
	json.Unmarshal(get("/api/v1/log"), &info) //nolint:errcheck
	cp1, _, err := checkpoint.OpenV1([]byte(info.SignedTreeHead), logs[1].V1CheckpointVerifier)
	if err != nil {
		t.Fatalf("cycle %d: v1 checkpoint: %v", cycle, err)
	}
	led.mu.Lock()
	defer led.mu.Unlock()
	for _, lg := range []struct {
		name    string
		cp      *checkpoint.Checkpoint
		entries map[uint64][]byte
		cps     map[uint64][]byte
	}{{"v2", cp2, led.v2, led.cp2}, {"v1", cp1, led.v1, led.cp1}} {
		f := client.FileFetcher{Root: filepath.Join(dir, lg.name)}
		pb, err := client.NewProofBuilder(ctx, lg.cp.Size, f.ReadTile)
		if err != nil {
			t.Fatal(err)
		}
		// Contiguous: every entry below the size is in its bundle.
		bundles := map[uint64][][]byte{}
		for b := uint64(0); b*256 < lg.cp.Size; b++ {
			eb, err := client.GetEntryBundle(ctx, f.ReadEntryBundle, b, lg.cp.Size)
			if err != nil {
				t.Fatalf("cycle %d: %s bundle %d: %v", cycle, lg.name, b, err)
			}
			if want := min(256, lg.cp.Size-b*256); uint64(len(eb.Entries)) != want {
				t.Fatalf("cycle %d: %s bundle %d has %d entries, want %d", cycle, lg.name, b, len(eb.Entries), want)
			}
			bundles[b] = eb.Entries
		}
		for idx, body := range lg.entries {
			if idx >= lg.cp.Size {
				t.Fatalf("cycle %d: acknowledged %s entry %d is beyond the newest checkpoint (size %d)", cycle, lg.name, idx, lg.cp.Size)
			}
			if !bytes.Equal(bundles[idx/256][idx%256], body) {
				t.Fatalf("cycle %d: %s entry %d is not the acknowledged one", cycle, lg.name, idx)
			}
			hashes, err := pb.InclusionProof(ctx, idx)
			if err == nil {
				leaf := rekor.LeafHash(body)
				err = proof.VerifyInclusion(rfc6962.DefaultHasher, idx, lg.cp.Size, leaf[:], hashes, lg.cp.Hash)
			}
			if err != nil {
				t.Fatalf("cycle %d: %s entry %d: no valid inclusion proof: %v", cycle, lg.name, idx, err)
			}
		}
		for size, root := range lg.cps {
			if size > lg.cp.Size {
				t.Fatalf("cycle %d: a %s checkpoint of size %d was handed out, the log now has %d", cycle, lg.name, size, lg.cp.Size)
			}
			hashes, err := pb.ConsistencyProof(ctx, size, lg.cp.Size)
			if err == nil {
				err = proof.VerifyConsistency(rfc6962.DefaultHasher, size, lg.cp.Size, hashes, root, lg.cp.Hash)
			}
			if err != nil {
				t.Fatalf("cycle %d: %s checkpoint of size %d is not consistent with the newest (%d): %v", cycle, lg.name, size, lg.cp.Size, err)
			}
		}
	}
	// v1 entries keep the integrated time their SET signs, and are found
	// by index and by UUID (the lookup tables are filled after the
	// answer, from rows made durable before it).
	var idxs []uint64
	for idx := range led.v1 {
		idxs = append(idxs, idx)
	}
	sort.Slice(idxs, func(i, j int) bool { return idxs[i] < idxs[j] })
	key := logs[1].PublicKey.(*ecdsa.PublicKey)
	retrieve := func(q map[string]any, n int) []v1Answer {
		resp, err := http.Post(base+"/api/v1/log/entries/retrieve", "application/json", bytes.NewReader(mustJSON(q)))
		if err != nil {
			t.Fatal(err)
		}
		var got []json.RawMessage
		err = json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if err != nil || len(got) != n {
			t.Fatalf("cycle %d: retrieve %v: %d results, %v", cycle, q, len(got), err)
		}
		var out []v1Answer
		for _, raw := range got {
			out = append(out, parseV1(t, raw))
		}
		return out
	}
	for len(idxs) > 0 {
		n := min(10, len(idxs))
		batch := idxs[:n]
		idxs = idxs[n:]
		var uuids []string
		for _, idx := range batch {
			leaf := rekor.LeafHash(led.v1[idx])
			uuids = append(uuids, hex.EncodeToString(leaf[:]))
		}
		for _, a := range append(retrieve(map[string]any{"logIndexes": batch}, n), retrieve(map[string]any{"entryUUIDs": uuids}, n)...) {
			idx := uint64(a.LogIndex)
			if !bytes.Equal(a.Body, led.v1[idx]) {
				t.Fatalf("cycle %d: v1 entry %d is not the acknowledged one", cycle, idx)
			}
			if a.IntegratedTime != led.v1Time[idx] {
				t.Fatalf("cycle %d: v1 entry %d integrated at %d, its SET says %d", cycle, idx, a.IntegratedTime, led.v1Time[idx])
			}
			logID, _ := hex.DecodeString(a.LogID)
			d := sha256.Sum256(rekor.SETPayload(led.v1[idx], led.v1Time[idx], logID, int64(idx)))
			if !ecdsa.VerifyASN1(key, d[:], led.v1SET[idx]) {
				t.Fatalf("cycle %d: the SET handed out for v1 entry %d does not verify", cycle, idx)
			}
		}
	}
	// And by artifact hash (a sample: a search indexes what is pending).
	sample := 0
	for idx, body := range led.v1 {
		if sample++; sample > 20 {
			break
		}
		b, err := rekor.ParseV1Body(body)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Post(base+"/api/v1/index/retrieve", "application/json", bytes.NewReader(mustJSON(map[string]any{"hash": "sha256:" + hex.EncodeToString(b.Hash.Value)})))
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		err = json.NewDecoder(resp.Body).Decode(&ids)
		resp.Body.Close()
		leaf := rekor.LeafHash(body)
		if err != nil || len(ids) != 1 || !strings.HasSuffix(ids[0], hex.EncodeToString(leaf[:])) {
			t.Fatalf("cycle %d: search by the artifact hash of v1 entry %d: %v, %v", cycle, idx, ids, err)
		}
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		t.Fatal("canceled")
	}
}
