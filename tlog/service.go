package tlog

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/mod/sumdb/note"

	"sigil.dev/sigil/checkpoint"
	"sigil.dev/sigil/internal/fsutil"
	"sigil.dev/sigil/tlog/index"
	"sigil.dev/sigil/trust"
)

// Service is the transparency log service: a Rekor v2 log and a Rekor
// v1-compatible log, each its own tree, origin and key, behind one HTTP
// handler. Create it with New, mount Handler, and Close it to shut down.
type Service struct {
	cfg Config
	log *slog.Logger
	m   *metrics
	reg *prometheus.Registry // private registry, when none was configured
	val *validator

	v1, v2 *tree

	v2Key    crypto.Signer
	v2Host   string
	v2LogID  []byte // C2SP key ID: the log ID in trusted roots
	v2Signer note.Signer

	v1Key    crypto.Signer
	v1KeyPEM []byte
	v1Host   string
	v1TreeID int64
	v1Origin string // "<host> - <tree ID>"
	v1LogID  []byte // SHA-256 of the DER key
	v1Prefix string // 16-hex tree ID that prefixes entry IDs
	v1Signer note.Signer
	v1CP     atomic.Pointer[signedV1] // newest v1 checkpoint
	index    index.Store
	leaves   leafFilter // leaf hashes in the index (possibly more)
	pending  sync.Map   // [32]byte leaf hash → *pendingV1: v1 adds in flight

	state *state
	mux   *http.ServeMux

	writes  gate // writes in flight
	closeMu sync.Mutex
	closed  bool
	unlock  func() // releases DataDir's lock (writable logs)
}

// New opens (creating on first start) the two logs in cfg.DataDir and
// returns the service. The context bounds start-up only.
func New(ctx context.Context, cfg Config) (_ *Service, err error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, log: cfg.Logger.With("service", "tlog"), val: newValidator(cfg.AllowedAlgorithms), unlock: func() {}}
	if cfg.ReadOnly {
		if _, err := os.Stat(cfg.DataDir); err != nil {
			return nil, fmt.Errorf("couldn't open read-only log: %w", err)
		}
	} else {
		if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
			return nil, fmt.Errorf("couldn't create data directory: %w", err)
		}
		// One writer per data directory: the duplicate filter and the
		// adds in flight are in memory, so a second process would log
		// entries this one already holds.
		if s.unlock, err = fsutil.TryLock(cfg.DataDir); err != nil {
			return nil, err
		}
		defer func() {
			if err != nil {
				s.unlock()
			}
		}()
	}
	reg := cfg.Registerer
	if reg == nil {
		s.reg = prometheus.NewRegistry()
		reg = s.reg
	}
	if s.m, err = newMetrics(reg); err != nil {
		return nil, err
	}
	if err := s.loadIdentity(); err != nil {
		return nil, err
	}
	if s.index = cfg.Index; s.index == nil {
		if s.index, err = index.OpenSQLite(filepath.Join(cfg.DataDir, "index.db")); err != nil {
			return nil, err
		}
	}
	if err := s.openTrees(ctx); err != nil {
		s.index.Close()
		return nil, err
	}
	if !cfg.ReadOnly {
		if err := s.reconcile(ctx); err != nil {
			s.abort()
			return nil, err
		}
		start := time.Now()
		n := 0
		if err := s.index.EachLeaf(ctx, func(l [32]byte) { s.leaves.add(l); n++ }); err != nil {
			s.abort()
			return nil, err
		}
		s.log.Debug("loaded the v1 duplicate filter", "entries", n, "took", time.Since(start))
	}
	s.mux = s.routes()
	s.log.Info("transparency log started",
		"v2_origin", s.v2Host, "v2_size", s.v2.latest().size, "v2_log_id", fmt.Sprintf("%x", s.v2LogID),
		"v1_origin", s.v1Origin, "v1_size", s.v1.latest().size, "v1_log_id", fmt.Sprintf("%x", s.v1LogID),
		"read_only", cfg.ReadOnly, "data_dir", cfg.DataDir)
	return s, nil
}

// createdSkew backdates a new log's validity start.
const createdSkew = 5 * time.Minute

// loadIdentity loads or creates the keys, the v1 tree ID and the state
// that pins them.
func (s *Service) loadIdentity() error {
	cfg := &s.cfg
	st, existed, err := loadState(cfg.DataDir)
	if err != nil {
		return err
	}
	if cfg.ReadOnly && !existed {
		return fmt.Errorf("couldn't open read-only log: no %s in %s", stateFile, cfg.DataDir)
	}
	if !existed {
		// state.json is written before the trees are first opened, so
		// trees without it were restored or copied without it. A new
		// state would pick a new v1 tree ID (part of every v1 entry ID
		// and checkpoint origin): refuse before writing anything.
		for _, name := range []string{"v1", "v2"} {
			if r, err := cfg.Storage.Reader(context.Background(), name); err == nil {
				if _, err := r.ReadCheckpoint(context.Background()); err == nil {
					return fmt.Errorf("%w: the %s log in %s has a checkpoint but %s is missing: restore %s from the backup of this data directory (it holds the v1 tree ID and the logs' key fingerprints); without it the logs would start over under another identity", ErrConfig, name, cfg.DataDir, stateFile, stateFile)
				}
			}
		}
	}
	if s.v2Key, err = loadOrCreateKey(cfg.DataDir, cfg.V2KeyFile, v2KeyName, cfg.ReadOnly, genEd25519); err != nil {
		return fmt.Errorf("couldn't load the Rekor v2 key: %w", err)
	}
	if err := checkV2Key(s.v2Key); err != nil {
		return err
	}
	if s.v1Key, err = loadOrCreateKey(cfg.DataDir, cfg.V1KeyFile, v1KeyName, cfg.ReadOnly, genP256); err != nil {
		return fmt.Errorf("couldn't load the Rekor v1 key: %w", err)
	}
	if err := checkV1Key(s.v1Key); err != nil {
		return err
	}
	changed := !existed
	// A new log's key is valid in the trusted root (and the log in the
	// signing config) from a little before its creation, as the CA's
	// intermediate is: a client whose clock runs a few seconds or minutes
	// behind would otherwise find no valid log on a just-created instance.
	// No entry is older than the log, so nothing more verifies for it.
	now := time.Now().UTC().Truncate(time.Second).Add(-createdSkew)
	for _, k := range []struct {
		name string
		key  crypto.Signer
		id   *string
		at   *time.Time
	}{{"v2", s.v2Key, &st.V2KeyID, &st.V2Created}, {"v1", s.v1Key, &st.V1KeyID, &st.V1Created}} {
		fp, err := keyFingerprint(k.key.Public())
		if err != nil {
			return err
		}
		switch {
		case *k.id == "":
			*k.id, changed = fp, true
		case *k.id != fp:
			return fmt.Errorf("%w: the Rekor %s key (%s) is not the key this log was created with (%s); a log's key never changes: start a new log in a new data directory", ErrKey, k.name, fp, *k.id)
		}
		if k.at.IsZero() {
			*k.at, changed = now, true
		}
	}
	switch {
	case st.V1TreeID == 0 && cfg.V1TreeID != 0:
		st.V1TreeID, changed = cfg.V1TreeID, true
	case st.V1TreeID == 0:
		if st.V1TreeID, err = randomTreeID(); err != nil {
			return err
		}
		changed = true
	case cfg.V1TreeID != 0 && cfg.V1TreeID != st.V1TreeID:
		return fmt.Errorf("%w: V1TreeID %d differs from the tree ID %d this log was created with", ErrConfig, cfg.V1TreeID, st.V1TreeID)
	}
	if changed {
		if cfg.ReadOnly {
			return fmt.Errorf("couldn't open read-only log: its state in %s is incomplete", cfg.DataDir)
		}
		if err := st.save(cfg.DataDir); err != nil {
			return err
		}
	}
	s.state = st

	u2, _ := url.Parse(cfg.V2PublicURL)
	u1, _ := url.Parse(cfg.V1PublicURL)
	s.v2Host, s.v1Host = u2.Hostname(), u1.Hostname()
	if s.v2LogID, err = checkpoint.KeyID(s.v2Host, s.v2Key.Public()); err != nil {
		return err
	}
	if s.v2Signer, err = checkpoint.NewSigner(s.v2Host, s.v2Key); err != nil {
		return fmt.Errorf("%w: %v", ErrConfig, err)
	}
	s.v1TreeID = st.V1TreeID
	s.v1Origin = fmt.Sprintf("%s - %d", s.v1Host, s.v1TreeID)
	s.v1Prefix = entryIDPrefix(s.v1TreeID)
	der, err := x509.MarshalPKIXPublicKey(s.v1Key.Public())
	if err != nil {
		return fmt.Errorf("couldn't encode the Rekor v1 key: %w", err)
	}
	sum := sha256Sum(der)
	s.v1LogID = sum[:]
	s.v1KeyPEM = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	if s.v1Signer, err = checkpoint.NewSigner(s.v1Host, s.v1Key); err != nil {
		return fmt.Errorf("%w: %v", ErrConfig, err)
	}
	return nil
}

// v1InternalOrigin names the checkpoints Tessera publishes for the v1 tree
// in its storage. They are signed with the v1 key but are never served:
// the v1 API signs Rekor v1 checkpoints ("<host> - <tree ID>", which no
// C2SP key name can be) over the same size and root. The origin matches
// neither form a client accepts for the v1 log.
func (s *Service) v1InternalOrigin() string {
	return fmt.Sprintf("%s/rekor-v1/%d", s.v1Host, s.v1TreeID)
}

func (s *Service) openTrees(ctx context.Context) error {
	var err error
	s.v2, err = openTree(ctx, &s.cfg, treeOptions{
		name: "v2", signer: s.v2Signer, verifier: mustVerifier(s.v2Host, s.v2Key.Public()), readOnly: s.cfg.ReadOnly,
		onPublish: func(sn *snapshot) { s.m.treeSize.WithLabelValues("v2").Set(float64(sn.size)) },
		onStage:   func(stage string, d time.Duration) { s.m.stage.WithLabelValues("v2", stage).Observe(d.Seconds()) },
	})
	if err != nil {
		return err
	}
	internal := s.v1InternalOrigin()
	v1s, err := checkpoint.NewSigner(internal, s.v1Key)
	if err != nil {
		s.v2.close(ctx)
		return fmt.Errorf("%w: %v", ErrConfig, err)
	}
	s.v1, err = openTree(ctx, &s.cfg, treeOptions{
		name: "v1", signer: v1s, verifier: mustVerifier(internal, s.v1Key.Public()), readOnly: s.cfg.ReadOnly,
		onPublish: func(sn *snapshot) { s.m.treeSize.WithLabelValues("v1").Set(float64(sn.size)) },
		onStage:   func(stage string, d time.Duration) { s.m.stage.WithLabelValues("v1", stage).Observe(d.Seconds()) },
		onDurable: s.recordV1,
	})
	if err != nil {
		s.v2.close(ctx)
		return err
	}
	return nil
}

func mustVerifier(name string, pub crypto.PublicKey) note.Verifier {
	v, err := checkpoint.NewVerifier(name, pub)
	if err != nil {
		panic(err) // names and keys were checked by NewSigner
	}
	return v
}

// abort releases what New opened.
func (s *Service) abort() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.v2.close(ctx)
	s.v1.close(ctx)
	s.index.Close()
}

// Handler returns the HTTP handler of both APIs:
//
//	POST /api/v2/log/entries                 Rekor v2 write (protojson)
//	GET  /api/v2/checkpoint                  C2SP tlog-tiles reads
//	GET  /api/v2/tile/<L>/<N>[.p/<W>]
//	GET  /api/v2/tile/entries/<N>[.p/<W>]
//	GET  /checkpoint, /tile/…                the same reads at the root
//	POST /api/v1/log/entries                 Rekor v1 (sigstore/rekor openapi.yaml)
//	GET  /api/v1/log/entries?logIndex=N
//	GET  /api/v1/log/entries/{uuid or entryID}
//	POST /api/v1/log/entries/retrieve
//	POST /api/v1/index/retrieve
//	GET  /api/v1/log
//	GET  /api/v1/log/proof?firstSize=&lastSize=
//	GET  /api/v1/log/publicKey
//	GET  /metrics                            only when Config.Registerer is nil
func (s *Service) Handler() http.Handler { return s.mux }

func (s *Service) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v2/log/entries", s.v2Create)
	mux.HandleFunc("GET /api/v2/checkpoint", s.v2Checkpoint)
	mux.HandleFunc("GET /api/v2/tile/entries/{n...}", s.v2EntryBundle)
	mux.HandleFunc("GET /api/v2/tile/{l}/{n...}", s.v2Tile)
	// The same reads at the root: rekor-monitor's tile reader takes the
	// signing config's log URL as the tlog-tiles prefix as is, while
	// clients and witnesses read under /api/v2/ (log.md §3.3).
	mux.HandleFunc("GET /checkpoint", s.v2Checkpoint)
	mux.HandleFunc("GET /tile/entries/{n...}", s.v2EntryBundle)
	mux.HandleFunc("GET /tile/{l}/{n...}", s.v2Tile)
	mux.HandleFunc("/api/v2/", func(w http.ResponseWriter, r *http.Request) {
		writeV2Error(w, &requestError{http.StatusNotFound, "no such Rekor v2 endpoint: " + r.Method + " " + r.URL.Path})
	})

	mux.HandleFunc("POST /api/v1/log/entries", s.v1Create)
	mux.HandleFunc("GET /api/v1/log/entries", s.v1GetByIndex)
	mux.HandleFunc("GET /api/v1/log/entries/{id}", s.v1GetByUUID)
	mux.HandleFunc("POST /api/v1/log/entries/retrieve", s.v1Retrieve)
	mux.HandleFunc("POST /api/v1/index/retrieve", s.v1SearchIndex)
	mux.HandleFunc("GET /api/v1/log", s.v1LogInfo)
	mux.HandleFunc("GET /api/v1/log/proof", s.v1Proof)
	mux.HandleFunc("GET /api/v1/log/publicKey", s.v1PublicKey)
	mux.HandleFunc("/api/v1/", func(w http.ResponseWriter, r *http.Request) {
		writeV1Error(w, &requestError{http.StatusNotFound, "no such Rekor v1 endpoint: " + r.Method + " " + r.URL.Path})
	})
	// The known paths with another method get 405 with an error body.
	for path, allow := range map[string]string{
		"/api/v2/log/entries": "POST", "/api/v2/checkpoint": "GET", "/api/v1/log/entries": "GET, POST",
		"/api/v1/index/retrieve": "POST", "/api/v1/log": "GET",
		"/api/v1/log/proof": "GET", "/api/v1/log/publicKey": "GET",
	} {
		write := writeV1Error
		if strings.HasPrefix(path, "/api/v2/") {
			write = writeV2Error
		}
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			write(w, &requestError{http.StatusMethodNotAllowed, r.Method + " is not allowed on " + path + "; use " + allow})
		})
	}
	if s.reg != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	}
	return mux
}

// TrustedLogs returns the two log instances as a trusted root lists them:
// the v2 log (base URL V2PublicURL, log ID = C2SP key ID) and the v1 log
// (base URL V1PublicURL, log ID = SHA-256 of the DER key), each valid from
// the log's creation.
func (s *Service) TrustedLogs() ([]*trust.Log, error) {
	v2, err := trust.NewLog(s.cfg.V2PublicURL, s.v2Key.Public(), s.v2LogID, trust.Window{Start: s.state.V2Created})
	if err != nil {
		return nil, fmt.Errorf("couldn't describe the Rekor v2 log: %w", err)
	}
	v1, err := trust.NewLog(s.cfg.V1PublicURL, s.v1Key.Public(), nil, trust.Window{Start: s.state.V1Created})
	if err != nil {
		return nil, fmt.Errorf("couldn't describe the Rekor v1 log: %w", err)
	}
	return []*trust.Log{v2, v1}, nil
}

// V1TreeID returns the v1 tree ID (the decimal part of the v1 origin).
func (s *Service) V1TreeID() int64 { return s.v1TreeID }

// enter registers a write in flight; it fails once Close has begun.
func (s *Service) enter() bool { return s.writes.enter() }

func (s *Service) leave() { s.writes.leave() }

// gate counts writes in flight and, once closed, lets none in.
type gate struct {
	mu      sync.Mutex
	n       int
	closing bool
	idle    chan struct{} // closed once closing with none in flight
}

func (g *gate) enter() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closing {
		return false
	}
	g.n++
	return true
}

func (g *gate) leave() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.n--
	if g.closing && g.n == 0 {
		close(g.idle)
	}
}

// close stops new writes and returns a channel closed when none is in
// flight.
func (g *gate) close() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.closing {
		g.closing = true
		g.idle = make(chan struct{})
		if g.n == 0 {
			close(g.idle)
		}
	}
	return g.idle
}

// Close shuts the service down gracefully: new writes get 503, writes in
// flight finish (each is answered once a checkpoint covers it), Tessera
// publishes a checkpoint covering every index it assigned (at its next
// publication: Close may take a CheckpointInterval), and the index is
// flushed. Nothing acknowledged is lost, and nothing durable is lost either.
// The HTTP server should stop accepting requests first (http.Server
// Shutdown), then call Close. Close is idempotent.
// Ready reports why the service cannot take writes now: a log's storage
// failed an integrity check, or its newest writes failed, none has
// succeeded since and the storage still fails a probe write (a full or
// unwritable disk; it is probed at most once a second, so Ready clears
// without a write once space is back). A frozen (read-only) service is
// ready: it serves reads.
func (s *Service) Ready() error {
	for _, t := range []*tree{s.v2, s.v1} {
		if t == nil {
			continue
		}
		if err := t.health(); err != nil {
			return fmt.Errorf("%s log: %w", t.name, err)
		}
	}
	return nil
}

func (s *Service) Close() error {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	select {
	case <-s.writes.close():
	case <-time.After(s.cfg.AddTimeout + 5*time.Second):
		s.log.Warn("closing with writes still in flight")
	}
	// Tessera publishes every CheckpointInterval; the two trees wait for
	// their publications side by side.
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.CheckpointInterval+closeTimeout)
	defer cancel()
	var v2Err error
	var wg sync.WaitGroup
	wg.Go(func() { v2Err = s.v2.close(ctx) })
	errs := []error{s.v1.close(ctx)}
	wg.Wait()
	errs = append([]error{v2Err}, errs...)
	if !s.cfg.ReadOnly {
		// Advance the index watermark past the entries of this run that
		// all have records, so the next start need not scan them.
		size := s.v1.latest().size
		if w, err := s.index.Watermark(ctx); err == nil && size > w {
			if missing, err := s.index.Missing(ctx, w, size); err == nil && len(missing) == 0 {
				errs = append(errs, s.index.SetWatermark(ctx, size))
			}
		}
	}
	errs = append(errs, s.index.Close())
	s.unlock()
	err := errors.Join(errs...)
	if err != nil {
		s.log.Error("transparency log closed with errors", "err", err)
		return err
	}
	s.log.Info("transparency log closed")
	return nil
}

// closeTimeout bounds how long Close waits, beyond one CheckpointInterval,
// for Tessera to publish a checkpoint covering every entry. A variable for
// tests.
var closeTimeout = time.Minute

// retryAfter is the Retry-After value of 503 answers, in seconds.
const retryAfter = 1

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }
