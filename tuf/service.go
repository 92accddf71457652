package tuf

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sigil.dev/sigil/internal/fsutil"
)

// Target names the sigil server publishes (the names Sigstore clients
// fetch: sigstore/sigstore-go pkg/root GetTrustedRoot, GetSigningConfig).
const (
	TargetTrustedRoot   = "trusted_root.json"
	TargetSigningConfig = "signing_config.v0.2.json"
)

// Key files of a Service in Config.Dir/keys.
const (
	keysDir          = "keys"
	incomingDir      = "incoming"
	rootKeyFile      = "root.pem"
	targetsKeyFile   = "targets.pem"
	snapshotKeyFile  = "snapshot.pem"
	timestampKeyFile = "timestamp.pem"
)

// ErrTargetsOffline is returned by SetTargets in production mode when the
// targets differ from the published ones: the targets keys are offline, so
// the new targets were written to Dir/incoming for the ceremony to sign.
var ErrTargetsOffline = errors.New("targets need the offline targets keys")

// Lifetimes are the metadata lifetimes; zero fields take the defaults
// (DefaultRootExpiry, …). Online metadata (and, in dev mode, root and
// targets) is re-signed once half its lifetime has passed.
type Lifetimes struct {
	Root, Targets, Snapshot, Timestamp time.Duration
}

func (l Lifetimes) withDefaults() Lifetimes {
	if l.Root <= 0 {
		l.Root = DefaultRootExpiry
	}
	if l.Targets <= 0 {
		l.Targets = DefaultTargetsExpiry
	}
	if l.Snapshot <= 0 {
		l.Snapshot = DefaultSnapshotExpiry
	}
	if l.Timestamp <= 0 {
		l.Timestamp = DefaultTimestampExpiry
	}
	return l
}

// Config configures the TUF repository service.
type Config struct {
	// Dir is the repository directory (see Repo): the published tree in
	// Dir/repository, staging in Dir/staged, keys in Dir/keys. Created
	// (mode 0700) if missing.
	Dir string
	// Dev generates root and targets keys in Dir/keys on first start (one
	// each, threshold 1, unencrypted) and signs root and targets itself.
	// Otherwise root and targets come from an offline ceremony (sigil tuf)
	// and the service only signs snapshot and timestamp.
	Dev bool
	// SnapshotKeyFile and TimestampKeyFile are the online keys (PEM,
	// unencrypted); default Dir/keys/snapshot.pem and timestamp.pem,
	// generated (Ed25519) when missing, with their .pub next to them for
	// the ceremony.
	SnapshotKeyFile, TimestampKeyFile string
	Lifetimes                         Lifetimes
	// Clock drives expiry and the refresher; default the real clock.
	Clock Clock
	// ScanInterval bounds how long Run sleeps between looks at the
	// directory (for metadata a ceremony committed there); default 1 min.
	ScanInterval time.Duration

	Logger     *slog.Logger          // default: discard
	Registerer prometheus.Registerer // nil: metrics are not registered
}

// Service maintains and serves a TUF repository: it keeps snapshot and
// timestamp (and in dev mode root and targets) signed and fresh, publishes
// the targets the server gives it, and serves the published tree over HTTP.
// It is safe for concurrent use.
type Service struct {
	cfg   Config
	repo  *Repo
	clock Clock
	log   *slog.Logger
	m     *serviceMetrics

	snapshotKeys, timestampKeys []*Key
	rootKey, targetsKey         *Key // dev mode only

	mu sync.Mutex // serializes Refresh and SetTargets

	// readyMu guards the last successful readiness check: readyAt (wall
	// clock) and readyClock (the service's clock) when it passed.
	readyMu    sync.Mutex
	readyAt    time.Time
	readyClock time.Time
}

// readyCache is how long a passed readiness check is reused. The check
// loads and verifies every root version under the repository's lock
// (about 1 ms for one root here, several with a rotation history), and
// /readyz answers anyone: without it a few hundred requests a second took
// a core. A failed check is never reused.
const readyCache = time.Second

// New opens (or, in dev mode, creates) the repository and brings its online
// metadata up to date. In production mode an uninitialized repository is
// not an error: the service logs what the ceremony must do and serves 503
// until root and targets are committed to Dir.
func New(cfg Config) (*Service, error) {
	if cfg.Dir == "" {
		return nil, errors.New("couldn't start TUF repository: no Dir")
	}
	cfg.Lifetimes = cfg.Lifetimes.withDefaults()
	if cfg.Clock == nil {
		cfg.Clock = realClock{}
	}
	if cfg.ScanInterval <= 0 {
		cfg.ScanInterval = time.Minute
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("couldn't create TUF directory: %w", err)
	}
	repo, err := OpenRepo(cfg.Dir, cfg.Clock.Now)
	if err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, repo: repo, clock: cfg.Clock, log: log}
	if s.m, err = newServiceMetrics(cfg.Registerer); err != nil {
		return nil, err
	}
	if cfg.SnapshotKeyFile == "" {
		cfg.SnapshotKeyFile = filepath.Join(cfg.Dir, keysDir, snapshotKeyFile)
	}
	if cfg.TimestampKeyFile == "" {
		cfg.TimestampKeyFile = filepath.Join(cfg.Dir, keysDir, timestampKeyFile)
	}
	s.cfg = cfg
	snap, err := s.loadOrCreateKey(cfg.SnapshotKeyFile, "snapshot")
	if err != nil {
		return nil, err
	}
	ts, err := s.loadOrCreateKey(cfg.TimestampKeyFile, "timestamp")
	if err != nil {
		return nil, err
	}
	s.snapshotKeys, s.timestampKeys = []*Key{snap}, []*Key{ts}

	st, err := repo.Status()
	if err != nil {
		return nil, err
	}
	if cfg.Dev {
		rootPath, targetsPath := filepath.Join(cfg.Dir, keysDir, rootKeyFile), filepath.Join(cfg.Dir, keysDir, targetsKeyFile)
		if !st.Initialized {
			if s.rootKey, err = s.loadOrCreateKey(rootPath, "root"); err != nil {
				return nil, err
			}
			if s.targetsKey, err = s.loadOrCreateKey(targetsPath, "targets"); err != nil {
				return nil, err
			}
			if err := s.discardInterruptedInit(); err != nil {
				return nil, err
			}
			if err := s.initDev(); err != nil {
				return nil, err
			}
		} else {
			notDev := fmt.Errorf("couldn't start TUF repository in dev mode: %s is not signed by dev keys in %s (a ceremony's repository?); run it without dev mode",
				cfg.Dir, filepath.Join(cfg.Dir, keysDir))
			if s.rootKey, err = LoadKey(rootPath, nil); err != nil {
				return nil, fmt.Errorf("%w: %v", notDev, err)
			}
			if s.targetsKey, err = LoadKey(targetsPath, nil); err != nil {
				return nil, fmt.Errorf("%w: %v", notDev, err)
			}
			if !slices.Contains(st.Keys[RoleRoot], s.rootKey.ID()) || !slices.Contains(st.Keys[RoleTargets], s.targetsKey.ID()) {
				return nil, notDev
			}
		}
	} else if !st.Initialized {
		log.Warn("TUF repository not initialized: run the ceremony (sigil tuf init, add-target, sign, publish) on this directory or copy its result here",
			"dir", cfg.Dir, "snapshotKey", cfg.SnapshotKeyFile+".pub", "timestampKey", cfg.TimestampKeyFile+".pub")
		return s, nil
	} else {
		// A repository a dev-mode start made: its root and targets keys
		// are the files beside it, so whoever reads the directory can
		// publish any trusted root, which production promises not to
		// allow (the keys come from an offline ceremony).
		for role, name := range map[string]string{RoleRoot: rootKeyFile, RoleTargets: targetsKeyFile} {
			p := filepath.Join(cfg.Dir, keysDir, name)
			if k, err := LoadKey(p, nil); err == nil && slices.Contains(st.Keys[role], k.ID()) {
				return nil, fmt.Errorf("couldn't start TUF repository in production: %s is signed with the dev-mode %s key %s, kept online beside it (whoever reads it can publish any trusted root); run the ceremony (sigil tuf init …) and put its repository here instead, or run in dev mode", cfg.Dir, role, p)
			}
		}
	}
	if _, err := s.Refresh(); err != nil {
		return nil, err
	}
	if !cfg.Dev {
		s.warnExpiry()
	}
	return s, nil
}

// expiryWarning is how long before root or targets expire a production
// service starts saying so at start.
const expiryWarning = 30 * 24 * time.Hour

// warnExpiry logs when the offline roles' metadata expires soon: only a
// ceremony can renew it (sigil tuf rotate-root --expires, add-target
// --expires). The sigil_tuf_metadata_expires_timestamp_seconds metric is
// the one to alert on.
func (s *Service) warnExpiry() {
	st, err := s.repo.Status()
	if err != nil || !st.Initialized {
		return
	}
	now := s.clock.Now()
	for role, mi := range map[string]*MetaInfo{RoleRoot: st.Root, RoleTargets: st.Targets} {
		if mi != nil && mi.Expires.Sub(now) < expiryWarning {
			s.log.Warn("TUF metadata signed offline expires soon; renew it in the ceremony", "role", role, "version", mi.Version,
				"expires", mi.Expires.Format(time.RFC3339), "repo", s.cfg.Dir)
		}
	}
}

func (s *Service) loadOrCreateKey(path, role string) (*Key, error) {
	k, err := LoadKey(path, nil)
	if err == nil {
		if !k.Private() {
			return nil, fmt.Errorf("couldn't use %s key %s: it is a public key", role, path)
		}
		return k, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if k, err = GenerateKey(KeyEd25519); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("couldn't create key directory: %w", err)
	}
	if err := WriteKey(path, k, nil); err != nil {
		return nil, err
	}
	s.log.Info("generated TUF key", "role", role, "file", path, "keyid", k.ID())
	return k, nil
}

// discardInterruptedInit removes the version 1 that an earlier dev start
// staged with this directory's dev root key and did not commit (killed
// between Init and Commit, or Commit failed on a full disk). Left staged,
// Init refused it ("it already has a root (use rotate-root to change it)")
// and the data directory never started again. A staged root of other keys
// (a ceremony's) stays, and Init still refuses it.
func (s *Service) discardInterruptedInit() error {
	ours := false
	err := s.repo.locked(func() error {
		st, err := s.repo.load()
		if err != nil {
			return err
		}
		ours = st.root == nil && st.stagedRoot != nil && slices.Contains(roleKeyIDs(&st.stagedRoot.Signed, RoleRoot), s.rootKey.ID())
		return nil
	})
	if err != nil || !ours {
		return err
	}
	s.log.Info("discarding the TUF repository an interrupted first start staged", "dir", s.cfg.Dir)
	return s.repo.DiscardStaged()
}

func (s *Service) initDev() error {
	now := s.clock.Now()
	l := s.cfg.Lifetimes
	if err := s.repo.Init(InitOptions{
		RootKeys: []*Key{s.rootKey}, TargetsKeys: []*Key{s.targetsKey},
		SnapshotKeys: s.snapshotKeys, TimestampKeys: s.timestampKeys,
		RootExpires: expiry(now, l.Root), TargetsExpires: expiry(now, l.Targets),
	}); err != nil {
		return err
	}
	if _, err := s.repo.Sign([]*Key{s.rootKey, s.targetsKey}); err != nil {
		return err
	}
	if _, err := s.repo.Commit(); err != nil {
		return err
	}
	s.m.signed(RoleRoot)
	s.m.signed(RoleTargets)
	s.log.Info("created dev TUF repository", "dir", s.cfg.Dir, "root", filepath.Join(s.repo.PublishedPath(), "root.json"))
	return nil
}

// Repo returns the repository directory the service maintains.
func (s *Service) Repo() *Repo { return s.repo }

// RootPath is the file holding the newest root.json: the trust anchor to
// print in the trust bootstrap (sigil trust init --root PATH).
func (s *Service) RootPath() string { return filepath.Join(s.repo.PublishedPath(), "root.json") }

// RootJSON returns the newest root.json.
func (s *Service) RootJSON() ([]byte, error) { return s.repo.RootJSON() }

// Ready reports whether the repository has committed root and targets and
// valid snapshot and timestamp, i.e. clients can update from it.
func (s *Service) Ready() error {
	now := s.clock.Now()
	s.readyMu.Lock()
	fresh := !s.readyAt.IsZero() && time.Since(s.readyAt) < readyCache && now.Sub(s.readyClock) < readyCache && !now.Before(s.readyClock)
	s.readyMu.Unlock()
	if fresh {
		return nil
	}
	if err := s.ready(now); err != nil {
		return err
	}
	s.readyMu.Lock()
	s.readyAt, s.readyClock = time.Now(), now
	s.readyMu.Unlock()
	return nil
}

func (s *Service) ready(now time.Time) error {
	st, err := s.repo.Status()
	if err != nil {
		return err
	}
	if !st.Initialized {
		return ErrNotInitialized
	}
	if st.Timestamp == nil || st.Snapshot == nil || st.Targets == nil {
		return errors.New("TUF repository has no valid snapshot and timestamp yet")
	}
	for role, mi := range map[string]*MetaInfo{RoleRoot: st.Root, RoleTargets: st.Targets, RoleSnapshot: st.Snapshot, RoleTimestamp: st.Timestamp} {
		if !mi.Expires.After(now) {
			return fmt.Errorf("TUF %s metadata expired at %s", role, mi.Expires.Format(time.RFC3339))
		}
	}
	return nil
}

// Incoming returns the target file name that SetTargets last wrote to
// Dir/incoming for the offline targets keys (production mode), or an
// error when there is none.
func (s *Service) Incoming(name string) ([]byte, error) {
	return os.ReadFile(filepath.Join(s.cfg.Dir, incomingDir, name))
}

// SetTargets publishes the given target files (added, or replaced by
// name; other targets stay). Unchanged files change nothing, so calling it
// on every start is cheap; a JSON file that differs from the published one
// only in whitespace is unchanged (protojson, which writes the trusted root
// and signing config, varies its spacing from one build to the next, so an
// upgraded binary would otherwise publish a new targets version, or in
// production ask for the offline targets keys, for the same documents).
// In dev mode the service signs the new targets itself; otherwise it
// writes them to Dir/incoming and returns ErrTargetsOffline with the
// ceremony commands to run.
func (s *Service) SetTargets(files map[string][]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.repo.Status()
	if err != nil {
		return err
	}
	changed := map[string][]byte{}
	for name, data := range files {
		h := sha256.Sum256(data)
		published := st.TargetFiles[name]
		if published == hex.EncodeToString(h[:]) || published != "" && sameJSON(data, s.repo.pub(filepath.Join("targets", published+"."+name))) {
			continue
		}
		changed[name] = data
	}
	if len(changed) == 0 {
		return nil
	}
	names := make([]string, 0, len(changed))
	for n := range changed {
		names = append(names, n)
	}
	sort.Strings(names)
	if !s.cfg.Dev {
		var paths []string
		for _, name := range names {
			p := filepath.Join(s.cfg.Dir, incomingDir, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
				return fmt.Errorf("couldn't write incoming target: %w", err)
			}
			if err := fsutil.WriteFileAtomic(p, changed[name], 0o644); err != nil {
				return err
			}
			paths = append(paths, p)
		}
		first := ""
		if !st.Initialized {
			first = fmt.Sprintf("sigil tuf init --repo %s … --snapshot-key %s.pub --timestamp-key %s.pub, then ", s.cfg.Dir, s.cfg.SnapshotKeyFile, s.cfg.TimestampKeyFile)
		}
		return fmt.Errorf("couldn't publish %s: %w: sign them in the ceremony: %ssigil tuf add-target --repo %s %s && sigil tuf sign --repo %s --key TARGETS_KEY && sigil tuf publish --repo %s",
			strings.Join(names, ", "), ErrTargetsOffline, first, s.cfg.Dir, strings.Join(paths, " "), s.cfg.Dir, s.cfg.Dir)
	}
	if err := s.repo.StageTargets(changed, nil, expiry(s.clock.Now(), s.cfg.Lifetimes.Targets)); err != nil {
		return err
	}
	if _, err := s.repo.Sign([]*Key{s.targetsKey}); err != nil {
		return err
	}
	res, err := s.repo.Commit()
	if err != nil {
		return err
	}
	s.m.signed(RoleTargets)
	s.log.Info("published TUF targets", "targets", strings.Join(names, ","), "version", res.Targets)
	_, err = s.refreshLocked()
	return err
}

// Refresh brings the repository up to date once: in dev mode it renews
// root and targets past half their lifetime; it signs snapshot and
// timestamp as SignOnline decides. It returns when it next has work.
func (s *Service) Refresh() (time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refreshLocked()
}

func (s *Service) refreshLocked() (time.Time, error) {
	next, err := s.refresh()
	if err != nil {
		s.m.refreshErrors.Inc()
	}
	if st, err := s.repo.Status(); err == nil {
		s.m.observe(st)
	}
	return next, err
}

func (s *Service) refresh() (time.Time, error) {
	st, err := s.repo.Status()
	if err != nil {
		return time.Time{}, err
	}
	if !st.Initialized {
		return time.Time{}, ErrNotInitialized
	}
	now := s.clock.Now()
	l := s.cfg.Lifetimes
	var next time.Time
	if s.cfg.Dev && st.StagedRoot == nil && st.StagedTargets == nil {
		if st.Root.Expires.Sub(now) < l.Root/2 {
			if err := s.renewRoot(now); err != nil {
				return time.Time{}, err
			}
		}
		if st.Targets == nil || st.Targets.Expires.Sub(now) < l.Targets/2 {
			if err := s.repo.StageTargets(nil, nil, expiry(now, l.Targets)); err != nil {
				return time.Time{}, s.discardRenewal(err)
			}
			if _, err := s.repo.Sign([]*Key{s.targetsKey}); err != nil {
				return time.Time{}, s.discardRenewal(err)
			}
			if _, err := s.repo.Commit(); err != nil {
				return time.Time{}, s.discardRenewal(err)
			}
			s.m.signed(RoleTargets)
			s.log.Info("renewed TUF targets before expiry")
		}
		if st, err = s.repo.Status(); err != nil {
			return time.Time{}, err
		}
		next = earliest(st.Root.Expires.Add(-l.Root/2), st.Targets.Expires.Add(-l.Targets/2))
	}
	signOnline := func() (*OnlineResult, error) {
		return s.repo.SignOnline(OnlineOptions{
			SnapshotKeys: s.snapshotKeys, TimestampKeys: s.timestampKeys,
			SnapshotExpiry: l.Snapshot, TimestampExpiry: l.Timestamp,
		})
	}
	res, err := signOnline()
	if errors.Is(err, ErrThreshold) && s.reloadOnlineKeys() {
		// A ceremony rotated an online key and the operator put the
		// new private key in its file, as OnlineKeyWarnings asks.
		res, err = signOnline()
	}
	if err != nil {
		return time.Time{}, err
	}
	if res.Snapshot != 0 {
		s.m.signed(RoleSnapshot)
		s.log.Info("signed TUF snapshot", "version", res.Snapshot)
	}
	if res.Timestamp != 0 {
		s.m.signed(RoleTimestamp)
		s.log.Debug("signed TUF timestamp", "version", res.Timestamp)
	}
	return earliest(next, res.Next), nil
}

// reloadOnlineKeys reads the snapshot and timestamp key files again and
// reports whether either now holds another key than the one in use. It is
// called when the keys in use no longer reach the root's thresholds: the
// root a ceremony committed replaced an online key, and the operator put
// the new private key in the key file. Without it the service kept
// signing with the keys it read at start, every refresh failed, and
// clients refused the timestamp signed by the replaced key until a restart.
// A file that does not load leaves the key in use.
func (s *Service) reloadOnlineKeys() bool {
	changed := false
	for _, x := range []struct {
		role, path string
		keys       *[]*Key
	}{{RoleSnapshot, s.cfg.SnapshotKeyFile, &s.snapshotKeys}, {RoleTimestamp, s.cfg.TimestampKeyFile, &s.timestampKeys}} {
		k, err := LoadKey(x.path, nil)
		if err == nil && !k.Private() {
			err = fmt.Errorf("couldn't use %s key %s: it is a public key", x.role, x.path)
		}
		if err != nil {
			s.log.Warn("couldn't reload TUF key", "role", x.role, "err", err)
			continue
		}
		if len(*x.keys) == 1 && (*x.keys)[0].ID() == k.ID() {
			continue
		}
		*x.keys = []*Key{k}
		changed = true
		s.log.Info("loaded replaced TUF key", "role", x.role, "file", x.path, "keyid", k.ID())
	}
	return changed
}

func (s *Service) renewRoot(now time.Time) error {
	if err := s.repo.RotateRoot(RootChange{Expires: expiry(now, s.cfg.Lifetimes.Root)}); err != nil {
		return s.discardRenewal(err)
	}
	if _, err := s.repo.Sign([]*Key{s.rootKey}); err != nil {
		return s.discardRenewal(err)
	}
	res, err := s.repo.Commit()
	if err != nil {
		return s.discardRenewal(err)
	}
	s.m.signed(RoleRoot)
	s.log.Info("renewed TUF root before expiry", "version", res.Root)
	return nil
}

// discardRenewal throws away what a failed dev-mode renewal staged (it
// renews only when nothing else is staged, so all of it is its own) and
// returns err. Left staged, it made every later refresh skip renewal (a
// staged change waits for a person), so that one failure on a full disk
// let root and targets expire for good, restarts included.
func (s *Service) discardRenewal(err error) error {
	if derr := s.repo.DiscardStaged(); derr != nil {
		return fmt.Errorf("%w (and couldn't discard the staged renewal: %v)", err, derr)
	}
	return err
}

func earliest(a, b time.Time) time.Time {
	switch {
	case a.IsZero():
		return b
	case b.IsZero() || a.Before(b):
		return a
	}
	return b
}

// Run keeps the repository fresh until ctx is done: it refreshes, then
// sleeps until the next refresh is due or ScanInterval passes (to pick up
// metadata a ceremony committed to Dir), whichever is sooner. Errors are
// logged and retried after ScanInterval. It returns nil when ctx is done.
func (s *Service) Run(ctx context.Context) error {
	for {
		next, err := s.Refresh()
		wait := s.cfg.ScanInterval
		switch {
		case errors.Is(err, ErrNotInitialized):
			s.log.Debug("TUF repository not initialized yet", "dir", s.cfg.Dir)
		case err != nil:
			s.log.Error("couldn't refresh TUF metadata", "err", err)
		case !next.IsZero():
			if d := next.Sub(s.clock.Now()); d < wait {
				wait = max(d, time.Second)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.clock.After(wait):
		}
	}
}

// Publish copies the published tree to dir for a static web server
// (see Repo.Export).
func (s *Service) Publish(dir string) error { return s.repo.Export(dir) }

// servable matches the paths clients fetch (theupdateframework/go-tuf
// metadata/updater/updater.go: downloadMetadata, DownloadTarget).
var servable = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(root\.json|timestamp\.json|[1-9][0-9]{0,18}\.(root|targets|snapshot)\.json|targets/[0-9a-f]{64}\.[A-Za-z0-9_][A-Za-z0-9._-]{0,199})$`)
}) // compiled on first use: the counted repetitions make a large program

// Handler serves the published tree: GET (and HEAD) of <N>.root.json,
// root.json, timestamp.json, <N>.targets.json, <N>.snapshot.json and
// targets/<sha256>.<name>, relative to where it is mounted (use
// http.StripPrefix). Versioned and content-addressed files are immutable
// and cached for a year; root.json and timestamp.json must be revalidated.
// Before the repository is initialized it answers 503.
func (s *Service) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := strings.TrimPrefix(r.URL.Path, "/")
		if !servable().MatchString(name) {
			notFound(w, r)
			return
		}
		f, err := os.Open(filepath.Join(s.repo.PublishedPath(), filepath.FromSlash(name)))
		if err != nil {
			if _, rerr := os.Stat(s.RootPath()); rerr != nil {
				w.Header().Set("Cache-Control", "no-store")
				http.Error(w, "TUF repository not initialized", http.StatusServiceUnavailable)
				return
			}
			notFound(w, r)
			return
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil || !fi.Mode().IsRegular() {
			notFound(w, r)
			return
		}
		if strings.HasSuffix(name, ".json") {
			w.Header().Set("Content-Type", "application/json")
		} else {
			w.Header().Set("Content-Type", "application/octet-stream")
		}
		if name == "root.json" || name == "timestamp.json" {
			w.Header().Set("Cache-Control", "no-cache")
		} else {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		}
		http.ServeContent(w, r, "", fi.ModTime(), f)
	})
}

// notFound answers 404 that caches must not keep: clients probe the next
// root version (<N+1>.root.json) on every update, and a cache holding its
// 404 (RFC 9111 §4.2.2 lets caches keep a 404 heuristically) would hide a
// root rotation from every client behind it.
func notFound(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	http.NotFound(w, r)
}

// serviceMetrics are the service's Prometheus metrics:
//
//	sigil_tuf_metadata_version{role}            newest published version
//	sigil_tuf_metadata_expires_timestamp_seconds{role}  its expiry, Unix seconds
//	sigil_tuf_signatures_total{role}            metadata versions signed by this process
//	sigil_tuf_refresh_errors_total              refreshes that failed
type serviceMetrics struct {
	version, expires *prometheus.GaugeVec
	signatures       *prometheus.CounterVec
	refreshErrors    prometheus.Counter
}

func newServiceMetrics(reg prometheus.Registerer) (*serviceMetrics, error) {
	m := &serviceMetrics{
		version: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "sigil_tuf_metadata_version", Help: "Newest published version of each TUF role's metadata.",
		}, []string{"role"}),
		expires: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "sigil_tuf_metadata_expires_timestamp_seconds", Help: "Expiry of each TUF role's newest metadata, in Unix seconds.",
		}, []string{"role"}),
		signatures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sigil_tuf_signatures_total", Help: "TUF metadata versions signed by this process, by role.",
		}, []string{"role"}),
		refreshErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sigil_tuf_refresh_errors_total", Help: "TUF refreshes that failed.",
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.version, m.expires, m.signatures, m.refreshErrors} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("couldn't register TUF metrics (one repository per registry): %w", err)
			}
		}
	}
	return m, nil
}

func (m *serviceMetrics) signed(role string) { m.signatures.WithLabelValues(role).Inc() }

func (m *serviceMetrics) observe(st *Status) {
	for role, mi := range map[string]*MetaInfo{RoleRoot: st.Root, RoleTargets: st.Targets, RoleSnapshot: st.Snapshot, RoleTimestamp: st.Timestamp} {
		if mi != nil {
			m.version.WithLabelValues(role).Set(float64(mi.Version))
			m.expires.WithLabelValues(role).Set(float64(mi.Expires.Unix()))
		}
	}
}

// sameJSON reports whether data and the file at path are both JSON and
// differ at most in insignificant whitespace.
func sameJSON(data []byte, path string) bool {
	old, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	var a, b bytes.Buffer
	if json.Compact(&a, data) != nil || json.Compact(&b, old) != nil {
		return false
	}
	return bytes.Equal(a.Bytes(), b.Bytes())
}
