package tlog

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/transparency-dev/tessera"

	"sigil.dev/sigil/checkpoint"
	"sigil.dev/sigil/internal/fsutil"
	"sigil.dev/sigil/internal/testpki"
)

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	ok := Config{DataDir: dir, V2PublicURL: "https://log.example", V1PublicURL: "https://rekor.example", Logger: quietLogger()}
	for name, mut := range map[string]func(*Config){
		"no data dir":          func(c *Config) { c.DataDir = "" },
		"bad v2 URL":           func(c *Config) { c.V2PublicURL = "log.example" },
		"v1 URL without host":  func(c *Config) { c.V1PublicURL = "https://" },
		"ftp URL":              func(c *Config) { c.V2PublicURL = "ftp://log.example" },
		"negative tree ID":     func(c *Config) { c.V1TreeID = -1 },
		"interval too short":   func(c *Config) { c.CheckpointInterval = 10 * time.Millisecond },
		"interval too long":    func(c *Config) { c.CheckpointInterval = 11 * time.Minute },
		"entry size too large": func(c *Config) { c.MaxEntrySize = 1 << 20 },
		"unknown algorithm":    func(c *Config) { c.AllowedAlgorithms = []string{"PKIX_ED25519"} },
	} {
		c := ok
		mut(&c)
		if _, err := New(context.Background(), c); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: got %v, want ErrConfig", name, err)
		}
	}
}

// A restarted service is the same two logs: keys, log IDs, tree ID and
// entries persist; generated keys are private files.
func TestRestartKeepsIdentityAndEntries(t *testing.T) {
	dir := t.TempDir()
	l := startLog(t, dir, nil)
	p, _ := testpki.New(testpki.Options{})
	s := newSigner(t, p, nil, true)
	req, _ := s.v2Request(t, []byte("before"))
	resp, body := l.post("/api/v2/log/entries", req)
	mustStatus(t, resp, body, http.StatusCreated)
	req1, _, _ := s.v1HashedRekord(t, []byte("before"))
	resp, body = l.post("/api/v1/log/entries", req1)
	mustStatus(t, resp, body, http.StatusCreated)
	a := parseV1(t, body)
	logs1, _ := l.svc.TrustedLogs()
	tree1 := l.svc.V1TreeID()
	l.stop()

	for _, name := range []string{v1KeyName, v2KeyName} {
		fi, err := os.Stat(filepath.Join(dir, keysDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v", name, fi.Mode().Perm())
		}
	}

	l2 := startLog(t, dir, func(c *Config) { c.V2PublicURL, c.V1PublicURL = l.url, l.url })
	logs2, _ := l2.svc.TrustedLogs()
	for i := range logs1 {
		if !bytes.Equal(logs1[i].ID, logs2[i].ID) || !logs1[i].Valid.Start.Equal(logs2[i].Valid.Start) {
			t.Errorf("log %d changed: %x %v → %x %v", i, logs1[i].ID, logs1[i].Valid.Start, logs2[i].ID, logs2[i].Valid.Start)
		}
	}
	if l2.svc.V1TreeID() != tree1 {
		t.Errorf("tree ID changed from %d to %d", tree1, l2.svc.V1TreeID())
	}
	if l2.svc.v2.latest().size != 1 || l2.svc.v1.latest().size != 1 {
		t.Errorf("sizes after restart: v2 %d, v1 %d", l2.svc.v2.latest().size, l2.svc.v1.latest().size)
	}
	resp, body = l2.get("/api/v1/log/entries/" + a.ID)
	mustStatus(t, resp, body, http.StatusOK)
	if got := parseV1(t, body); got.IntegratedTime != a.IntegratedTime {
		t.Errorf("integrated time changed from %d to %d", a.IntegratedTime, got.IntegratedTime)
	}
	// After a restart, v1 duplicates are still found (in the index).
	resp, body = l2.post("/api/v1/log/entries", req1)
	mustStatus(t, resp, body, http.StatusConflict)
	// A different tree ID is refused.
	l2.stop()
	_, err := New(context.Background(), Config{DataDir: dir, V2PublicURL: l.url, V1PublicURL: l.url, V1TreeID: tree1 + 1, Logger: quietLogger()})
	if !errors.Is(err, ErrConfig) {
		t.Errorf("changed tree ID: got %v, want ErrConfig", err)
	}
}

func writeKey(t *testing.T, dir, name string, k any, sec1 bool) string {
	t.Helper()
	var blk *pem.Block
	if sec1 {
		der, err := x509.MarshalECPrivateKey(k.(*ecdsa.PrivateKey))
		if err != nil {
			t.Fatal(err)
		}
		blk = &pem.Block{Type: "EC PRIVATE KEY", Bytes: der}
	} else {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		blk = &pem.Block{Type: "PRIVATE KEY", Bytes: der}
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(blk), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Keys given as files are used; unusable ones are refused; a log's key
// cannot change.
func TestKeyFiles(t *testing.T) {
	kdir := t.TempDir()
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	v2File := writeKey(t, kdir, "v2.pem", ed, false)
	v1File := writeKey(t, kdir, "v1.pem", p256, true)
	dir := t.TempDir()
	l := startLog(t, dir, func(c *Config) { c.V2KeyFile, c.V1KeyFile = v2File, v1File })
	logs, _ := l.svc.TrustedLogs()
	if !logs[0].PublicKey.(ed25519.PublicKey).Equal(ed.Public()) || !logs[1].PublicKey.(*ecdsa.PublicKey).Equal(p256.Public()) {
		t.Fatal("the configured keys are not the logs' keys")
	}
	l.stop()

	base := Config{DataDir: t.TempDir(), V2PublicURL: "https://log.example", V1PublicURL: "https://rekor.example", Logger: quietLogger()}
	for name, mut := range map[string]func(*Config){
		"v1 key not P-256": func(c *Config) { c.V1KeyFile = writeKey(t, kdir, "p384.pem", p384, false) },
		"v1 key Ed25519":   func(c *Config) { c.V1KeyFile = v2File },
		"not a key": func(c *Config) {
			c.V2KeyFile = filepath.Join(kdir, "junk")
			os.WriteFile(c.V2KeyFile, []byte("junk"), 0o600)
		}, //nolint:errcheck
		"encrypted key": func(c *Config) {
			c.V2KeyFile = filepath.Join(kdir, "enc")
			os.WriteFile(c.V2KeyFile, pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1}}), 0o600) //nolint:errcheck
		},
	} {
		c := base
		mut(&c)
		if _, err := New(context.Background(), c); !errors.Is(err, ErrKey) {
			t.Errorf("%s: got %v, want ErrKey", name, err)
		}
	}
	// Another key for an existing log is refused.
	_, ed2, _ := ed25519.GenerateKey(rand.Reader)
	_, err := New(context.Background(), Config{DataDir: dir, V2PublicURL: l.url, V1PublicURL: l.url, V2KeyFile: writeKey(t, kdir, "v2b.pem", ed2, false), V1KeyFile: v1File, Logger: quietLogger()})
	if !errors.Is(err, ErrKey) || !strings.Contains(err.Error(), "never changes") {
		t.Errorf("changed key: got %v", err)
	}
}

// A frozen log serves reads and refuses writes with 405, without writing
// to its data directory.
// TestOneWriterPerDataDir: a second writable service on a data directory
// in use is refused (its in-memory duplicate filter would not know the
// first one's entries, so a resubmitted entry would be logged twice); a
// read-only one may open it, and a writer may once the first is closed.
func TestOneWriterPerDataDir(t *testing.T) {
	dir := t.TempDir()
	l := startLog(t, dir, nil)
	p, _ := testpki.New(testpki.Options{})
	s := newSigner(t, p, nil, true)
	req1, _, _ := s.v1HashedRekord(t, []byte("once"))
	resp, body := l.post("/api/v1/log/entries", req1)
	mustStatus(t, resp, body, http.StatusCreated)

	cfg := Config{DataDir: dir, V2PublicURL: l.url, V1PublicURL: l.url, Logger: quietLogger()}
	second, err := New(context.Background(), cfg)
	if err == nil {
		second.Close()
		t.Fatal("a second writer opened the data directory of a running log")
	}
	if !errors.Is(err, fsutil.ErrLocked) {
		t.Errorf("second writer: got %v, want ErrLocked", err)
	}
	ro := cfg
	ro.ReadOnly = true
	reader, err := New(context.Background(), ro)
	if err != nil {
		t.Fatalf("read-only beside the writer: %v", err)
	}
	reader.Close()

	l.stop()
	l2 := startLog(t, dir, func(c *Config) { c.V2PublicURL, c.V1PublicURL = l.url, l.url })
	resp, body = l2.post("/api/v1/log/entries", req1)
	mustStatus(t, resp, body, http.StatusConflict)
}

// TestReadOnlyAfterCrash freezes a log whose newest acknowledged entries
// are not yet in the checkpoint Tessera last published into storage (it
// publishes every CheckpointInterval, while writes are answered from the
// checkpoints the log signs per group): as after a kill -9 or a power cut
// between two publications. The frozen log must still serve every
// acknowledged entry and a checkpoint no smaller than those it signed.
func TestReadOnlyAfterCrash(t *testing.T) {
	dir := t.TempDir()
	// The writer stays up (as a crashed process's files stay): it
	// publishes into storage every 3s, after its first checkpoint (the
	// test is done before the next).
	l := startLog(t, dir, func(c *Config) { c.CheckpointInterval = 3 * time.Second })
	time.Sleep(200 * time.Millisecond) // the start-up publication
	p, _ := testpki.New(testpki.Options{})
	s := newSigner(t, p, nil, true)
	req, _ := s.v2Request(t, []byte("acknowledged before the crash"))
	resp, body := l.post("/api/v2/log/entries", req)
	mustStatus(t, resp, body, http.StatusCreated)
	tle := parseTLE(t, body)
	req1, _, _ := s.v1HashedRekord(t, []byte("acknowledged before the crash"))
	resp, body = l.post("/api/v1/log/entries", req1)
	mustStatus(t, resp, body, http.StatusCreated)
	a := parseV1(t, body)
	if cp, _ := os.ReadFile(filepath.Join(dir, "v2", "checkpoint")); !bytes.Contains(cp, []byte("\n0\n")) {
		t.Fatalf("the test needs an unpublished entry; storage has\n%s", cp)
	}

	ro := startLog(t, dir, func(c *Config) { c.ReadOnly = true; c.V2PublicURL, c.V1PublicURL = l.url, l.url })
	resp, body = ro.get("/api/v1/log/entries/" + a.ID)
	mustStatus(t, resp, body, http.StatusOK)
	resp, body = ro.get("/api/v1/log")
	mustStatus(t, resp, body, http.StatusOK)
	var info struct{ TreeSize uint64 }
	if err := json.Unmarshal(body, &info); err != nil || info.TreeSize != 1 {
		t.Errorf("frozen v1 log info %s: want tree size 1", body)
	}
	resp, body = ro.get("/api/v2/checkpoint")
	mustStatus(t, resp, body, http.StatusOK)
	v, _ := checkpoint.NewVerifier(ro.svc.v2Host, ro.svc.v2Key.Public())
	cp, _, err := checkpoint.Open(body, ro.svc.v2Host, v)
	if err != nil {
		t.Fatalf("frozen v2 checkpoint: %v\n%s", err, body)
	}
	if cp.Size != uint64(tle.InclusionProof.TreeSize) || !bytes.Equal(cp.Hash, tle.InclusionProof.RootHash) {
		t.Errorf("frozen v2 checkpoint is of size %d, root %x; the log signed size %d, root %x for an acknowledged entry", cp.Size, cp.Hash, tle.InclusionProof.TreeSize, tle.InclusionProof.RootHash)
	}
	resp, body = ro.get("/api/v2/tile/entries/000.p/1")
	mustStatus(t, resp, body, http.StatusOK)
}

func TestReadOnly(t *testing.T) {
	dir := t.TempDir()
	l := startLog(t, dir, nil)
	p, _ := testpki.New(testpki.Options{})
	s := newSigner(t, p, nil, true)
	req, _ := s.v2Request(t, []byte("frozen"))
	resp, body := l.post("/api/v2/log/entries", req)
	mustStatus(t, resp, body, http.StatusCreated)
	req1, _, _ := s.v1HashedRekord(t, []byte("frozen"))
	resp, body = l.post("/api/v1/log/entries", req1)
	mustStatus(t, resp, body, http.StatusCreated)
	a := parseV1(t, body)
	l.stop()
	cp2, _ := os.ReadFile(filepath.Join(dir, "v2", "checkpoint"))
	state, _ := os.ReadFile(filepath.Join(dir, stateFile))

	ro := startLog(t, dir, func(c *Config) { c.ReadOnly = true; c.V2PublicURL, c.V1PublicURL = l.url, l.url })
	req, _ = s.v2Request(t, []byte("after"))
	resp, body = ro.post("/api/v2/log/entries", req)
	mustStatus(t, resp, body, http.StatusMethodNotAllowed)
	if !strings.Contains(errMessage(body), "frozen") {
		t.Errorf("405 message %q", errMessage(body))
	}
	var grpc struct{ Code int }
	if err := json.Unmarshal(body, &grpc); err != nil || grpc.Code != 12 {
		t.Errorf("405 body %s: want gRPC code 12, which rekor-tiles' gateway answers for a frozen log", body)
	}
	resp, body = ro.post("/api/v1/log/entries", req1)
	mustStatus(t, resp, body, http.StatusMethodNotAllowed)
	resp, body = ro.get("/api/v1/log/entries/" + a.ID)
	mustStatus(t, resp, body, http.StatusOK)
	resp, body = ro.get("/api/v2/checkpoint")
	mustStatus(t, resp, body, http.StatusOK)
	if !bytes.Equal(body, cp2) {
		t.Errorf("frozen log serves another checkpoint:\n%s\nwant\n%s", body, cp2)
	}
	resp, body = ro.get("/api/v2/tile/entries/000.p/1")
	mustStatus(t, resp, body, http.StatusOK)
	ro.stop()
	if got, _ := os.ReadFile(filepath.Join(dir, "v2", "checkpoint")); !bytes.Equal(got, cp2) {
		t.Error("the frozen log rewrote its checkpoint")
	}
	if got, _ := os.ReadFile(filepath.Join(dir, stateFile)); !bytes.Equal(got, state) {
		t.Error("the frozen log rewrote its state")
	}
	if _, err := New(context.Background(), Config{DataDir: t.TempDir(), V2PublicURL: l.url, V1PublicURL: l.url, ReadOnly: true, Logger: quietLogger()}); err == nil {
		t.Error("an empty directory opened read-only")
	}
}

// Beyond MaxInFlight adds, writes get 503 with Retry-After.
func TestPushback(t *testing.T) {
	l := startLog(t, "", func(c *Config) { c.MaxInFlight = 2 })
	p, _ := testpki.New(testpki.Options{})
	s := newSigner(t, p, nil, false)
	// Hold both slots, as two adds in flight would.
	for _, tr := range []*tree{l.svc.v2, l.svc.v2, l.svc.v1, l.svc.v1} {
		tr.slots <- struct{}{}
	}
	req, _ := s.v2Request(t, []byte("busy"))
	resp, body := l.post("/api/v2/log/entries", req)
	mustStatus(t, resp, body, http.StatusServiceUnavailable)
	if resp.Header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	req1, _, _ := s.v1HashedRekord(t, []byte("busy"))
	resp, body = l.post("/api/v1/log/entries", req1)
	mustStatus(t, resp, body, http.StatusServiceUnavailable)
	for _, tr := range []*tree{l.svc.v2, l.svc.v1} {
		<-tr.slots
	}
	resp, body = l.post("/api/v2/log/entries", req)
	mustStatus(t, resp, body, http.StatusCreated)
	resp, body = l.post("/api/v1/log/entries", req1)
	mustStatus(t, resp, body, http.StatusCreated)
	_, m := l.get("/metrics")
	for _, want := range []string{
		`sigil_tlog_pushback_total{log="v2"} 1`, `sigil_tlog_pushback_total{log="v1"} 1`,
		`sigil_tlog_entries_appended_total{log="v2"} 1`, `sigil_tlog_tree_size{log="v1"} 1`,
		`sigil_tlog_add_duration_seconds_count{log="v2"} 1`,
	} {
		if !bytes.Contains(m, []byte(want)) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// Entries over MaxEntrySize are refused; algorithms outside
// AllowedAlgorithms are refused.
func TestLimits(t *testing.T) {
	l := startLog(t, "", func(c *Config) {
		c.MaxEntrySize = 1000
		c.AllowedAlgorithms = []string{"PKIX_ECDSA_P256_SHA_256"}
	})
	p, _ := testpki.New(testpki.Options{})
	withCert := newSigner(t, p, nil, true) // a certificate makes the entry > 1000 bytes
	req, _ := withCert.v2Request(t, []byte("big"))
	resp, body := l.post("/api/v2/log/entries", req)
	mustStatus(t, resp, body, http.StatusRequestEntityTooLarge)
	req1, _, _ := withCert.v1HashedRekord(t, []byte("big"))
	resp, body = l.post("/api/v1/log/entries", req1)
	mustStatus(t, resp, body, http.StatusRequestEntityTooLarge)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	req, _ = newSigner(t, p, p384, false).v2Request(t, []byte("p384"))
	resp, body = l.post("/api/v2/log/entries", req)
	mustStatus(t, resp, body, http.StatusBadRequest)
	if !strings.Contains(errMessage(body), "PKIX_ECDSA_P384_SHA_384 is not allowed") {
		t.Errorf("message %q", errMessage(body))
	}
	req, _ = newSigner(t, p, nil, false).v2Request(t, []byte("small"))
	resp, body = l.post("/api/v2/log/entries", req)
	mustStatus(t, resp, body, http.StatusCreated)
}

// Close answers every write in flight (201 with a proof, or 503), and
// after a restart every acknowledged entry is in the log.
func TestCloseDrainsWrites(t *testing.T) {
	dir := t.TempDir()
	l := startLog(t, dir, nil)
	p, _ := testpki.New(testpki.Options{})
	s := newSigner(t, p, nil, false)
	var mu sync.Mutex
	var acked [][]byte
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := s.v2Request(t, []byte("drain "+strconv.Itoa(w)+" "+strconv.Itoa(i)))
				resp, err := http.Post(l.url+"/api/v2/log/entries", "application/json", bytes.NewReader(req))
				if err != nil {
					return // the server closed
				}
				var buf bytes.Buffer
				buf.ReadFrom(resp.Body) //nolint:errcheck
				resp.Body.Close()
				switch resp.StatusCode {
				case http.StatusCreated:
					mu.Lock()
					acked = append(acked, buf.Bytes())
					mu.Unlock()
				case http.StatusServiceUnavailable:
				default:
					t.Errorf("status %d during shutdown: %s", resp.StatusCode, buf.Bytes())
				}
			}
		}(w)
	}
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 20 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := l.svc.Close(); err != nil {
		t.Fatal(err)
	}
	close(stop)
	l.srv.Close()
	wg.Wait()

	l2 := startLog(t, dir, func(c *Config) { c.V2PublicURL, c.V1PublicURL = l.url, l.url })
	size := l2.svc.v2.latest().size
	for _, b := range acked {
		e := parseTLE(t, b)
		if uint64(e.GetLogIndex()) >= size {
			t.Fatalf("acknowledged entry %d is beyond the restarted log's size %d", e.GetLogIndex(), size)
		}
		got, err := l2.svc.v2.entry(context.Background(), uint64(e.GetLogIndex()), size)
		if err != nil || !bytes.Equal(got, e.GetCanonicalizedBody()) {
			t.Fatalf("acknowledged entry %d not found after restart (%v)", e.GetLogIndex(), err)
		}
	}
}

// Two services can share one metrics registry.
func TestSharedRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := startLog(t, "", func(c *Config) { c.Registerer = reg })
	b := startLog(t, "", func(c *Config) { c.Registerer = reg })
	if a.svc.m.appended != b.svc.m.appended {
		t.Error("metrics not shared")
	}
	resp, _ := a.get("/metrics")
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("/metrics served (%d) though the caller owns the registry", resp.StatusCode)
	}
}

// While a log's writes fail (a full or unwritable disk), Ready says so,
// and it recovers once the storage takes writes again, before any write.
func TestReadyFollowsFailingWrites(t *testing.T) {
	l := startLog(t, "", nil)
	p, _ := testpki.New(testpki.Options{})
	s := newSigner(t, p, nil, true)
	if err := l.svc.Ready(); err != nil {
		t.Fatalf("a new log: %v", err)
	}
	// Storage that cannot take a batch (see TestUnwritableStorageFailsWrites).
	lock := filepath.Join(l.dir, "v2", ".state", "treeState.lock")
	if err := os.Remove(lock); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(lock, 0o755); err != nil {
		t.Fatal(err)
	}
	req, _ := s.v2Request(t, []byte("disk full"))
	if resp, body := l.post("/api/v2/log/entries", req); resp.StatusCode < 500 {
		t.Fatalf("a failing write: %d %s", resp.StatusCode, body)
	}
	if err := l.svc.Ready(); err == nil || !strings.Contains(err.Error(), "v2 log: writes failing since") || !strings.Contains(err.Error(), "treeState.lock") {
		t.Fatalf("Ready while writes fail: %v", err)
	}
	// Once the storage takes writes again the log is ready without a
	// write: a load balancer sends none to an unready server. (The
	// storage is probed at most once a second.)
	if err := os.Remove(lock); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if err := l.svc.Ready(); err != nil {
		t.Fatalf("Ready once the storage takes writes again: %v", err)
	}
	req, _ = s.v2Request(t, []byte("space again"))
	resp, body := l.post("/api/v2/log/entries", req)
	mustStatus(t, resp, body, http.StatusCreated)
	if err := l.svc.Ready(); err != nil {
		t.Fatalf("Ready after a durable write: %v", err)
	}
	// A failure the storage probe does not reproduce leaves the log ready.
	add := l.svc.v2.add
	l.svc.v2.add = func(context.Context, *tessera.Entry) tessera.IndexFuture {
		return func() (tessera.Index, error) { return tessera.Index{}, errors.New("transient") }
	}
	req, _ = s.v2Request(t, []byte("transient failure"))
	if resp, body := l.post("/api/v2/log/entries", req); resp.StatusCode < 500 {
		t.Fatalf("a failing write: %d %s", resp.StatusCode, body)
	}
	l.svc.v2.add = add
	if err := l.svc.Ready(); err != nil {
		t.Fatalf("Ready after a failure the storage probe does not see: %v", err)
	}

	// The v1 index failing to record durable entries (a full disk) fails
	// every v1 write: not ready either, while the storage probe fails.
	record := l.svc.v1.onDurable
	l.svc.v1.onDurable = func(_ context.Context, _ []durable, done func(error)) {
		done(errors.New("database or disk is full"))
	}
	req, _, _ = s.v1HashedRekord(t, []byte("index full"))
	if resp, body := l.post("/api/v1/log/entries", req); resp.StatusCode < 500 {
		t.Fatalf("a write the index cannot record: %d %s", resp.StatusCode, body)
	}
	l.svc.v1.onDurable = record
	lock = filepath.Join(l.dir, "v1", ".state", "treeState.lock")
	os.Remove(lock)       //nolint:errcheck
	os.Mkdir(lock, 0o755) //nolint:errcheck
	if err := l.svc.Ready(); err == nil || !strings.Contains(err.Error(), "v1 log: writes failing since") || !strings.Contains(err.Error(), "database or disk is full") {
		t.Fatalf("Ready while the index fails: %v", err)
	}
	os.Remove(lock) //nolint:errcheck
}

// TestUnwritableStorageFailsWrites: when Tessera's POSIX driver cannot
// open the lock file it takes for every batch (a data directory remounted
// read-only), the write fails with a 5xx and /readyz names the cause;
// the driver itself would panic and end the process. Once the file can be
// opened again, writes succeed. (A directory in the lock file's place
// stands for the read-only file system: opening it for writing fails
// for root too.)
func TestUnwritableStorageFailsWrites(t *testing.T) {
	l := startLog(t, "", nil)
	p, _ := testpki.New(testpki.Options{})
	s := newSigner(t, p, nil, true)
	for _, name := range []string{"v2", "v1"} {
		lock := filepath.Join(l.dir, name, ".state", "treeState.lock")
		if err := os.Remove(lock); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(lock, 0o755); err != nil {
			t.Fatal(err)
		}
		path, req := "/api/v2/log/entries", []byte(nil)
		if name == "v1" {
			path = "/api/v1/log/entries"
			req, _, _ = s.v1HashedRekord(t, []byte("read-only "+name))
		} else {
			req, _ = s.v2Request(t, []byte("read-only "+name))
		}
		if resp, body := l.post(path, req); resp.StatusCode < 500 {
			t.Fatalf("%s: a write the storage cannot take: %d %s", name, resp.StatusCode, body)
		}
		if err := l.svc.Ready(); err == nil || !strings.Contains(err.Error(), name+" log: writes failing since") || !strings.Contains(err.Error(), "treeState.lock") {
			t.Fatalf("%s: Ready while the storage is unwritable: %v", name, err)
		}
		if err := os.Remove(lock); err != nil {
			t.Fatal(err)
		}
		resp, body := l.post(path, req)
		mustStatus(t, resp, body, http.StatusCreated)
	}
	if err := l.svc.Ready(); err != nil {
		t.Fatalf("Ready after durable writes: %v", err)
	}
	// A start on such storage is refused (the driver would panic too).
	l.stop()
	lock := filepath.Join(l.dir, "v1", ".state", "treeState.lock")
	if err := os.Remove(lock); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(lock, 0o755); err != nil {
		t.Fatal(err)
	}
	if svc, err := New(context.Background(), l.cfg); err == nil || !strings.Contains(err.Error(), "treeState.lock") {
		if err == nil {
			svc.Close()
		}
		t.Fatalf("New on storage whose lock file cannot be opened: %v", err)
	}
}

// TestMissingStateRefused: logs whose state.json is gone (a partial
// restore) are refused with a message naming the file, and no new state
// with another tree ID is written.
func TestMissingStateRefused(t *testing.T) {
	dir := t.TempDir()
	l := startLog(t, dir, nil)
	l.stop()
	if err := os.Remove(filepath.Join(dir, stateFile)); err != nil {
		t.Fatal(err)
	}
	_, err := New(context.Background(), Config{DataDir: dir, V2PublicURL: l.url, V1PublicURL: l.url, Logger: quietLogger()})
	if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "state.json is missing") {
		t.Fatalf("got %v, want the missing state.json named", err)
	}
	if _, err := os.Stat(filepath.Join(dir, stateFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused start wrote %s: %v", stateFile, err)
	}
}

// TestNewLogValidFromBeforeCreation: a new log is valid in the trusted
// root from a little before its creation (a client whose clock runs
// behind still finds it valid at once), and keeps that start on restart.
func TestNewLogValidFromBeforeCreation(t *testing.T) {
	dir := t.TempDir()
	created := time.Now()
	l := startLog(t, dir, nil)
	logs, err := l.svc.TrustedLogs()
	if err != nil {
		t.Fatal(err)
	}
	for _, lg := range logs {
		if d := created.Sub(lg.Valid.Start); d < createdSkew-time.Second || d > createdSkew+time.Minute {
			t.Errorf("log %s valid from %s, %s before its creation; want about %s", lg.BaseURL, lg.Valid.Start, d, createdSkew)
		}
	}
	l.stop()
	again := startLog(t, dir, nil)
	logs2, _ := again.svc.TrustedLogs()
	for i := range logs {
		if !logs2[i].Valid.Start.Equal(logs[i].Valid.Start) {
			t.Errorf("restart moved the validity start from %s to %s", logs[i].Valid.Start, logs2[i].Valid.Start)
		}
	}
}
