package ctlog

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	fnote "github.com/transparency-dev/formats/note"
	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/api/layout"
	"github.com/transparency-dev/tessera/ctonly"
	"github.com/transparency-dev/tessera/storage/posix"
	"golang.org/x/mod/sumdb/note"

	"sigil.dev/sigil/checkpoint"
	"sigil.dev/sigil/internal/fsutil"
	"sigil.dev/sigil/sct"
	"sigil.dev/sigil/trust"
)

// Submitter submits chains to a CT log and returns the SCT it issued.
// *Service does it in process, *Client over HTTP.
type Submitter interface {
	// AddPreChain submits a precertificate (with the poison extension,
	// signed by the CA key) followed by its issuers up to the root. The SCT
	// signs the precertificate entry, so it verifies over the final
	// certificate (sct.(*SCT).Verify with the issuer's SPKI) once embedded.
	AddPreChain(ctx context.Context, chain [][]byte) (*sct.SCT, error)
	// AddChain submits a certificate followed by its issuers; the SCT
	// signs the X.509 entry (a detached SCT, sct.X509SignedData).
	AddChain(ctx context.Context, chain [][]byte) (*sct.SCT, error)
}

// Config configures a Service.
type Config struct {
	// DataDir holds the log (see the package comment). Required; created
	// if missing. Only its key.pem is secret (mode 0600), so that a static
	// file server may serve DataDir/log.
	DataDir string
	// PublicURL is the log's base URL, its RFC 6962 submission prefix and
	// static-ct-api monitoring prefix, e.g. "https://sigil.example/ct". It
	// is the base URL of the log in the trusted root, and its origin (the
	// checkpoint origin and key name) is PublicURL without scheme and
	// trailing slash, lowercased. Required; http or https.
	PublicURL string
	// KeyFile is a PEM ECDSA P-256 private key (PKCS#8 or SEC 1). When
	// empty the key is DataDir/key.pem, generated on first start (mode
	// 0600).
	KeyFile string
	// Roots are the accepted roots: the CA's root. Required.
	Roots []*x509.Certificate
	// Logger receives refusals (debug) and internal errors (error).
	// Default slog.Default().
	Logger *slog.Logger
	// Registerer receives the log's metrics (sigil_ctlog_*); none when nil.
	Registerer prometheus.Registerer

	// CheckpointInterval is how often a grown tree gets a new signed
	// checkpoint: the log's maximum merge delay. Default 1 s; at least
	// 100 ms (Tessera's POSIX minimum).
	CheckpointInterval time.Duration
}

const (
	defaultCheckpointInterval = time.Second
	// maxBatch caps one group-committed batch.
	maxBatch = 4096
	// batchPacing and batchSiblings pace batches under load (sequencer):
	// after a batch of 16 or more entries the next starts no sooner than
	// 20 ms after it. At the CA's 500 certificates/s batches hold a few
	// entries, so pacing adds nothing to its latency there.
	batchPacing   = 20 * time.Millisecond
	batchSiblings = 16
	// maxPending caps the submissions waiting for a batch.
	maxPending = 16 * maxBatch
	// tesseraBatchAge is how long Tessera's queue waits for more entries
	// of a batch the sequencer is still handing over; the sequencer
	// decides batches, so it only has to cover that hand-over (about a
	// microsecond per entry: a few hundred entries under load). Every
	// lone submission waits this long, so it is kept short; a longer
	// hand-over only splits a batch in two.
	tesseraBatchAge = time.Millisecond
	// antispamEntries is Tessera's in-memory duplicate cache: a resubmitted
	// chain gets the SCT of the first submission while it is remembered.
	antispamEntries = 1 << 16
	shutdownTimeout = 30 * time.Second
)

// Service is a CT log. It is safe for concurrent use.
type Service struct {
	publicURL string
	prefix    string // URL path of PublicURL, without trailing slash
	origin    string
	key       *ecdsa.PrivateKey
	keyDER    []byte
	logID     [32]byte
	start     time.Time
	roots     []*x509.Certificate
	logger    *slog.Logger
	metrics   *metrics

	validator *validator
	issuers   *issuerStore
	seq       *sequencer
	reader    tessera.LogReader
	// goodCheckpoint is the newest published checkpoint Ready found
	// sound, so that it parses each one once.
	goodCheckpoint atomic.Pointer[[]byte]
	// sthVerifier verifies the log's own checkpoints (RFC 6962 note
	// signatures, C2SP static-ct-api).
	sthVerifier note.Verifier
	logDir      string

	// cpu admits GOMAXPROCS submissions at a time to the signature work,
	// so that under load the runnable goroutines stay few and the
	// sequencing goroutine, back from each fsync, gets a core at once:
	// otherwise it queues behind every submission and each fsync round
	// stretches.
	cpu chan struct{}

	unlock func() // releases DataDir's lock

	shutdown  func(context.Context) error
	cancel    context.CancelFunc
	closeOnce sync.Once
	closeErr  error
	now       func() time.Time
}

var _ Submitter = (*Service)(nil)

// New opens (or creates) the log in cfg.DataDir and starts its background
// work. ctx bounds the opening only; the log runs until Close.
func New(ctx context.Context, cfg Config) (_ *Service, err error) {
	if cfg.DataDir == "" {
		return nil, errors.New("couldn't open CT log: no data directory")
	}
	if len(cfg.Roots) == 0 {
		return nil, errors.New("couldn't open CT log: no accepted roots")
	}
	u, err := url.Parse(cfg.PublicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("couldn't open CT log: public URL %q must be an http or https URL with a host and no query", cfg.PublicURL)
	}
	if cfg.CheckpointInterval == 0 {
		cfg.CheckpointInterval = defaultCheckpointInterval
	}
	if cfg.CheckpointInterval < 100*time.Millisecond {
		return nil, fmt.Errorf("couldn't open CT log: checkpoint interval %v is below 100ms", cfg.CheckpointInterval)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Service{
		publicURL: strings.TrimRight(cfg.PublicURL, "/"),
		prefix:    strings.TrimRight(u.EscapedPath(), "/"),
		origin:    strings.ToLower(strings.TrimRight(u.Host+u.EscapedPath(), "/")),
		roots:     cfg.Roots,
		logger:    cfg.Logger,
		now:       time.Now,
		cpu:       make(chan struct{}, runtime.GOMAXPROCS(0)),
	}
	// The handler's routes are the prefix plus fixed paths: a prefix
	// that is not a clean path ("//ct", "/a/../ct") names none of the
	// requests clients send, and http.ServeMux refuses to register it.
	if s.prefix != "" && path.Clean(s.prefix) != s.prefix {
		return nil, fmt.Errorf("couldn't open CT log: public URL %q has the path %q, which is not a clean path (no empty, '.' or '..' segments)", cfg.PublicURL, s.prefix)
	}
	if strings.ContainsAny(s.origin, " \t\n+") {
		return nil, fmt.Errorf("couldn't open CT log: public URL %q gives origin %q, which a checkpoint cannot name", cfg.PublicURL, s.origin)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("couldn't create data directory: %w", err)
	}
	// One writer per data directory: the dedupe of resubmissions and
	// the adds in flight are in memory, so a second process (a sigil ctlog
	// serve on a running server's ct directory) would log again what this
	// one holds.
	unlock, err := fsutil.TryLock(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("couldn't open CT log: %w", err)
	}
	defer func() {
		if err != nil {
			unlock()
		}
	}()
	s.unlock = unlock
	keyFile := cfg.KeyFile
	if keyFile == "" {
		keyFile = filepath.Join(cfg.DataDir, "key.pem")
	}
	if s.key, err = loadOrCreateKey(keyFile, cfg.KeyFile == ""); err != nil {
		return nil, err
	}
	if s.keyDER, err = x509.MarshalPKIXPublicKey(&s.key.PublicKey); err != nil {
		return nil, fmt.Errorf("couldn't encode log key: %w", err)
	}
	s.logID = sha256.Sum256(s.keyDER)
	id, err := checkIdentity(cfg.DataDir, s.origin, s.logID, s.now())
	if err != nil {
		return nil, err
	}
	s.start = id.Start
	s.validator = newValidator(cfg.Roots)
	s.logDir = filepath.Join(cfg.DataDir, "log")
	if s.issuers, err = newIssuerStore(filepath.Join(s.logDir, "issuer")); err != nil {
		return nil, err
	}
	for _, r := range cfg.Roots {
		if err := s.issuers.add([]*x509.Certificate{r}, [][32]byte{sha256.Sum256(r.Raw)}); err != nil {
			return nil, err
		}
	}
	if s.metrics, err = newMetrics(cfg.Registerer); err != nil {
		return nil, err
	}

	// The driver panics when it cannot open its lock file.
	if err := fsutil.CheckTesseraPOSIXOpen(s.logDir); err != nil {
		return nil, fmt.Errorf("couldn't open log storage: %w", err)
	}
	vkey, err := fnote.RFC6962VerifierString(s.publicURL, &s.key.PublicKey)
	if err == nil {
		s.sthVerifier, err = fnote.NewRFC6962Verifier(vkey)
	}
	if err != nil {
		return nil, fmt.Errorf("couldn't make the checkpoint verifier: %w", err)
	}
	if raw, err := os.ReadFile(filepath.Join(s.logDir, "checkpoint")); err == nil {
		if err := s.checkPublished(raw); err != nil {
			return nil, fmt.Errorf("couldn't open the CT log: %w", err)
		}
	}
	driver, err := posix.New(ctx, posix.Config{Path: s.logDir})
	if err != nil {
		return nil, fmt.Errorf("couldn't open log storage: %w", err)
	}
	opts := tessera.NewAppendOptions().
		WithCheckpointSigner(newSTHSigner(s.origin, s.key, s.logID)).
		WithCTLayout().
		WithBatching(maxBatch, tesseraBatchAge).
		WithCheckpointInterval(cfg.CheckpointInterval).
		WithCheckpointRepublishInterval(max(time.Minute, cfg.CheckpointInterval)).
		WithAntispam(antispamEntries, nil).
		WithShutdownTimeout(shutdownTimeout)
	bg, cancel := context.WithCancel(context.Background())
	appender, shutdown, reader, err := tessera.NewAppender(bg, driver, opts)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("couldn't open log storage: %w", err)
	}
	s.shutdown, s.cancel, s.reader = shutdown, cancel, reader
	s.seq = &sequencer{
		ctx:        bg,
		add:        tessera.NewCertificateTransparencyAppender(appender),
		writable:   func() error { return fsutil.CheckTesseraPOSIX(s.logDir) },
		maxBatch:   maxBatch,
		maxPending: maxPending,
		observe:    s.metrics.observeBatch,
		delay:      batchPacing,
		siblings:   batchSiblings,
		full:       make(chan struct{}, 1),
	}
	s.seq.recovery.Probe = func() error { return fsutil.ProbeTesseraPOSIX(s.logDir) }
	s.logger.Info("CT log open", "origin", s.origin, "log_id", fmt.Sprintf("%x", s.logID), "data_dir", cfg.DataDir)
	return s, nil
}

// AddPreChain logs a precertificate chain and returns its SCT.
func (s *Service) AddPreChain(ctx context.Context, chain [][]byte) (*sct.SCT, error) {
	return s.add(ctx, chain, true, false)
}

// AddIssuedPreChain is AddPreChain for a CA in the same process that has
// just signed chain[0] with the key of chain[1]: the log takes the CA's
// word for that one signature instead of verifying it again (one ECDSA
// verification, about an eighth of the CPU an embedded-SCT certificate
// costs). Everything else is checked as in AddPreChain: the leaf's
// policy, and the issuer chain up to an accepted root.
func (s *Service) AddIssuedPreChain(ctx context.Context, chain [][]byte) (*sct.SCT, error) {
	return s.add(ctx, chain, true, true)
}

// AddChain logs a certificate chain and returns its SCT.
func (s *Service) AddChain(ctx context.Context, chain [][]byte) (*sct.SCT, error) {
	return s.add(ctx, chain, false, false)
}

func (s *Service) add(ctx context.Context, chain [][]byte, precert, issued bool) (out *sct.SCT, err error) {
	start := s.now()
	dup := false
	defer func() { s.metrics.observeAdd(precert, start, dup, err) }()
	if err := s.acquire(ctx); err != nil {
		return nil, err
	}
	v, err := s.validator.validate(chain, precert, issued, start)
	<-s.cpu
	if err != nil {
		return nil, err
	}
	timestamp := uint64(start.UnixMilli())
	e, err := v.entry(chain[0], precert, timestamp)
	if err != nil {
		return nil, err
	}
	if err := s.issuers.add(v.issuers.certs, v.issuers.fingerprints); err != nil {
		return nil, err
	}
	idx, err := s.seq.submit(ctx, e)
	if err != nil {
		if errors.Is(err, tessera.ErrPushback) {
			return nil, fmt.Errorf("%w: %v", ErrPushback, err)
		}
		if errors.Is(err, ErrShutdown) || errors.Is(err, ErrPushback) || ctx.Err() != nil {
			return nil, err
		}
		return nil, fmt.Errorf("couldn't sequence entry: %w", err)
	}
	if idx.Index > maxLeafIndex {
		return nil, fmt.Errorf("couldn't issue SCT: leaf index %d does not fit the leaf_index extension", idx.Index)
	}
	if dup = idx.IsDup; dup {
		// The entry was logged before with its own timestamp: issue the SCT
		// for what the log holds.
		if timestamp, err = s.loggedTimestamp(ctx, idx.Index, e); err != nil {
			return nil, err
		}
		e.Timestamp = timestamp
	}
	ext := leafIndexExtension(idx.Index)
	data, err := signedData(e, v.issuers.certs[0].RawSubjectPublicKeyInfo, ext)
	if err != nil {
		return nil, fmt.Errorf("couldn't build SCT input: %w", err)
	}
	if err := s.acquire(ctx); err != nil {
		return nil, err
	}
	out, err = signSCT(s.key, s.logID, e.Timestamp, ext, data)
	<-s.cpu
	if err != nil {
		return nil, err
	}
	if !dup {
		s.metrics.lastIndex(idx.Index)
	}
	return out, nil
}

// acquire waits for a slot of s.cpu.
func (s *Service) acquire(ctx context.Context) error {
	select {
	case s.cpu <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// loggedTimestamp reads entry index back from the log and returns its
// timestamp, after checking it holds the entry e.
func (s *Service) loggedTimestamp(ctx context.Context, index uint64, e *ctonly.Entry) (uint64, error) {
	size, err := s.reader.IntegratedSize(ctx)
	if err != nil {
		return 0, fmt.Errorf("couldn't read tree size: %w", err)
	}
	if index >= size {
		return 0, fmt.Errorf("couldn't read duplicate entry %d: beyond the tree size %d", index, size)
	}
	bundle := index / layout.EntryBundleWidth
	raw, err := s.reader.ReadEntryBundle(ctx, bundle, layout.PartialTileSize(0, bundle, size))
	if err != nil {
		return 0, fmt.Errorf("couldn't read duplicate entry %d: %w", index, err)
	}
	leaves, err := ParseDataTile(raw)
	if err != nil {
		return 0, fmt.Errorf("couldn't read duplicate entry %d: %w", index, err)
	}
	i := int(index % layout.EntryBundleWidth)
	if i >= len(leaves) {
		return 0, fmt.Errorf("couldn't read duplicate entry %d: data tile has %d entries", index, len(leaves))
	}
	l := leaves[i]
	if got, err := l.LeafIndex(); err != nil || got != index {
		return 0, fmt.Errorf("couldn't read duplicate entry %d: it names index %d (%v)", index, got, err)
	}
	if l.IsPrecert != e.IsPrecert || !bytes.Equal(l.Certificate, e.Certificate) ||
		(e.IsPrecert && !bytes.Equal(l.IssuerKeyHash[:], e.IssuerKeyHash)) {
		return 0, fmt.Errorf("couldn't read duplicate entry %d: the log holds a different entry", index)
	}
	return l.Timestamp, nil
}

// Ready reports why the log cannot issue SCTs now: its newest batch of
// entries failed to become durable, none has since, and the storage still
// fails a probe write (a full or unwritable disk; probed at most once a
// second, so Ready clears without a submission once space is back). A
// load balancer's readiness check (sigil server's /readyz) sends
// certificate requests elsewhere meanwhile.
func (s *Service) Ready() error {
	if err := s.seq.health(); err != nil {
		return err
	}
	raw, err := s.reader.ReadCheckpoint(context.Background())
	if errors.Is(err, os.ErrNotExist) {
		return nil // not published yet: Tessera publishes one from its tree
	}
	if err != nil {
		return fmt.Errorf("couldn't read the published checkpoint: %w", err)
	}
	if last := s.goodCheckpoint.Load(); last != nil && bytes.Equal(*last, raw) {
		return nil
	}
	if err := s.checkPublished(raw); err != nil {
		return err
	}
	s.goodCheckpoint.Store(&raw)
	return nil
}

// checkPublished checks that the checkpoint Tessera published into the
// log's storage is one: a file cut short or emptied (a full disk, an
// operator's mistake) is never replaced by Tessera, which cannot parse it
// either, and the log's readers (monitors, /ct/checkpoint) would get it
// while every tile read fails.
func (s *Service) checkPublished(raw []byte) error {
	if _, _, err := checkpoint.Open(raw, s.origin, s.sthVerifier); err != nil {
		return fmt.Errorf("the published checkpoint %s is damaged, not a checkpoint signed by this log (%v): stop the log, delete the file and start the log again, which publishes a new one from its tree", filepath.Join(s.logDir, "checkpoint"), err)
	}
	return nil
}

// Close stops taking submissions, waits for those in flight, publishes a
// checkpoint covering every entry that got an SCT, and stops the log.
func (s *Service) Close() error {
	s.closeOnce.Do(func() {
		s.seq.close()
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		if err := s.shutdown(ctx); err != nil {
			s.closeErr = fmt.Errorf("couldn't publish the final checkpoint: %w", err)
		}
		s.cancel()
		s.unlock()
	})
	return s.closeErr
}

// TrustedLog returns the log as a trusted root lists it among its ctlogs:
// base URL PublicURL, the ECDSA P-256 key, log ID SHA-256 of the DER key,
// valid from the log's creation.
func (s *Service) TrustedLog() (*trust.Log, error) {
	return trust.NewLog(s.publicURL, &s.key.PublicKey, nil, trust.Window{Start: s.start})
}

// PublicKey returns the log's public key.
func (s *Service) PublicKey() crypto.PublicKey { return &s.key.PublicKey }

// LogID returns the RFC 6962 log ID, SHA-256 of the DER public key.
func (s *Service) LogID() [32]byte { return s.logID }

// Origin returns the checkpoint origin: PublicURL without scheme and
// trailing slash, lowercased.
func (s *Service) Origin() string { return s.origin }
