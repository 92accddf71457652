// Package client is sigil's TUF client: it keeps a per-user cache of a TUF
// repository's metadata and targets, updated with go-tuf's updater
// (theupdateframework/go-tuf metadata/updater: root rotations followed
// version by version, then timestamp, snapshot, targets, each verified by
// signatures, versions, expiry, lengths and hashes), and hands the sigil
// commands their trusted root and signing config.
//
// # Cache
//
// The cache directory (DefaultCacheDir: $SIGIL_TUF_CACHE, else the user
// cache directory + /sigil/tuf) holds config.json, which names the
// mirror, and per mirror a directory named as sigstore-go names it
// (sigstore/sigstore-go pkg/tuf/client.go URLToPath: the URL without
// scheme, '/' and ':' as '-'), holding root.json, timestamp.json,
// snapshot.json, targets.json and targets/<name>. `sigil trust init`
// creates it from a root.json obtained out of band; every later use
// starts from the newest root.json in the cache.
//
// # Offline
//
// Online (the default), every load updates from the mirror and fails if the
// mirror cannot be reached: a stale view of trust is not used silently.
// Offline, the cache is used without the network, still verified against
// the cached root, including expiry: expired metadata must be refreshed
// online (or a trusted root given as a file).
//
// # Cache validity
//
// With Options.CacheValidity > 0, a load within that long of the last
// successful online update uses the cache without contacting the mirror
// (sigstore/sigstore-go pkg/tuf/options.go CacheValidity, there in days;
// sigstore/sigstore pkg/tuf/client.go, behind cosign v2, skips the update
// for as long as the cached timestamp.json is unexpired, up to a week on
// the public instance). Every online update records in config.json the
// view it verified: the earliest expiry of root, timestamp, snapshot and
// targets, and the length and SHA-256 of each top-level target. Within
// the validity a target is served from the cache only if its bytes still
// have the recorded length and digest and that expiry has not passed;
// anything else (no record, a changed or missing file, expired metadata)
// falls back to the full update. Offline loads use the record the same
// way, whatever its age, and fall back to verifying the cached metadata.
//
// Not re-verifying the cached metadata's signatures on this path costs no
// security: config.json already names the mirror and root.json is the
// trust anchor, both in the same directory, so whoever can rewrite the
// record can already make the client trust a repository of their own.
// What the validity does cost is freshness: a change published on the
// mirror (a new signing config, a log key withdrawn from the trusted root)
// reaches the client up to CacheValidity later. An attacker who controls
// the network can delay it up to the timestamp's expiry in any case (that
// is TUF's freeze-attack bound), so a validity well below that expiry
// (sigil tuf: DefaultTimestampExpiry, seven days) does not weaken it.
// Zero, the default of Options, updates on every load; `sigil trust show`
// and `sigil trust init` always update.
package client

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/config"
	"github.com/theupdateframework/go-tuf/v2/metadata/fetcher"
	"github.com/theupdateframework/go-tuf/v2/metadata/updater"

	"sigil.dev/sigil/internal/fsutil"
	"sigil.dev/sigil/trust"
)

// Target names (sigstore/sigstore-go pkg/root: GetTrustedRoot,
// GetSigningConfig).
const (
	TargetTrustedRoot   = "trusted_root.json"
	TargetSigningConfig = "signing_config.v0.2.json"
)

// Sentinel errors.
var (
	// ErrNotInitialized: no mirror was set up with Init (sigil trust init).
	ErrNotInitialized = errors.New("no TUF mirror configured")
	// ErrNotCached: offline, and the cache lacks what is needed.
	ErrNotCached = errors.New("not in the TUF cache")
)

// Options configure the client and LoadTrust.
type Options struct {
	// CacheDir is the cache directory; default DefaultCacheDir().
	CacheDir string
	// TrustedRootFile and SigningConfigFile, when set, are used instead of
	// the TUF targets (the --trusted-root and --signing-config flags).
	TrustedRootFile, SigningConfigFile string
	// Offline uses the cache only.
	Offline bool
	// CacheValidity, when positive, is how long after the last successful
	// online update the verified cache is used without contacting the
	// mirror (see the package comment). Zero updates on every load.
	CacheValidity time.Duration
	// HTTPClient fetches from the mirror; default a client with a 30 s
	// timeout.
	HTTPClient *http.Client
	// UserAgent is sent to the mirror.
	UserAgent string
	// Now is the reference time for expiry; default time.Now. Tests only.
	Now func() time.Time
}

// DefaultCacheValidity is the CacheValidity the sigil commands use unless
// told otherwise (--tuf-cache-validity, $SIGIL_TUF_CACHE_VALIDITY): ten
// minutes, the lifetime of the certificates the trust is used with. A
// burst of commands (a release signing many files, a CI job, git signing
// a rebase) then updates once, while whatever the repository's operator
// publishes reaches every client within ten minutes, far inside the
// timestamp expiry that bounds a freeze attack anyway (see the package
// comment).
const DefaultCacheValidity = 10 * time.Minute

// CacheValidityEnv names the environment variable that overrides
// DefaultCacheValidity for the sigil commands (a Go duration; 0 updates on
// every command).
const CacheValidityEnv = "SIGIL_TUF_CACHE_VALIDITY"

// DefaultCacheDir returns $SIGIL_TUF_CACHE, or <user cache dir>/sigil/tuf.
func DefaultCacheDir() (string, error) {
	if d := os.Getenv("SIGIL_TUF_CACHE"); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("couldn't find a cache directory (set SIGIL_TUF_CACHE): %w", err)
	}
	return filepath.Join(d, "sigil", "tuf"), nil
}

func (o *Options) cacheDir() (string, error) {
	if o.CacheDir != "" {
		return o.CacheDir, nil
	}
	return DefaultCacheDir()
}

// URLToPath names a mirror's cache directory as sigstore-go does.
func URLToPath(u string) string {
	u = strings.TrimPrefix(strings.TrimPrefix(u, "https://"), "http://")
	u = strings.ReplaceAll(u, "/", "-")
	u = strings.ReplaceAll(u, ":", "-")
	return strings.ToLower(u)
}

// mirrorDir returns the cache directory of a mirror: URLToPath's name,
// which must be one plain entry of cacheDir. A name such as ".." (from
// the mirror http://..) would make Init replace cacheDir's parent, and
// "config.json" or a dot name would collide with the cache's own files.
func mirrorDir(cacheDir, mirror string) (string, error) {
	name := URLToPath(mirror)
	if name == "" || strings.HasPrefix(name, ".") || name == "config.json" || name != filepath.Base(name) {
		return "", fmt.Errorf("couldn't use mirror %q: it names no usable cache directory (%q)", mirror, name)
	}
	return filepath.Join(cacheDir, name), nil
}

// settings is config.json in the cache directory.
type settings struct {
	Mirror      string    `json:"mirror"`
	LastRefresh time.Time `json:"lastRefresh,omitzero"`
	// Verified is what the update at LastRefresh verified; nil before the
	// first update that recorded it.
	Verified *verifiedView `json:"verified,omitempty"`
}

// verifiedView records a verified TUF state: the earliest expiry of the
// top-level metadata, and the length and SHA-256 of each top-level target.
type verifiedView struct {
	Expires time.Time                 `json:"expires"`
	Targets map[string]verifiedTarget `json:"targets"`
}

type verifiedTarget struct {
	Length int64  `json:"length"`
	SHA256 string `json:"sha256"`
}

// Client reads one mirror through the cache.
type Client struct {
	opts     Options
	cacheDir string
	set      settings
	dir      string // the mirror's metadata directory
	up       *updater.Updater
	offline  bool
	// initializing: Init is running (no cache to fall back on yet).
	initializing bool
	// full is set once a target could not be served from the verified
	// view: from then on this Client goes through go-tuf.
	full bool
	// fetched is the last URL fetched from the mirror.
	fetched string
}

// Init sets up the cache for mirror, trusting rootJSON (a TUF root.json
// obtained out of band, e.g. printed by `sigil server` or copied from the
// repository's publisher), then updates from the mirror and fetches the
// trusted root and signing config, so that a wrong mirror or root fails
// here. An earlier setup is replaced only when this one succeeds.
func Init(opts Options, mirror string, rootJSON []byte) (*Status, error) {
	u, err := url.Parse(mirror)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("couldn't use mirror %q: want an http(s) URL", mirror)
	}
	mirror = strings.TrimRight(mirror, "/")
	if _, err := mirrorDir("", mirror); err != nil {
		return nil, err
	}
	if _, err := metadata.Root().FromBytes(rootJSON); err != nil {
		if looksLikeTrustedRoot(rootJSON) {
			return nil, errors.New("couldn't parse TUF root: this is a Sigstore trusted root (trusted_root.json), not a TUF root.json; pass the TUF repository's root.json (sigil server prints its path), or use the trusted root directly with --trusted-root")
		}
		return nil, fmt.Errorf("couldn't parse TUF root: %w", err)
	}
	cacheDir, err := opts.cacheDir()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cacheDir, 0o700); err != nil {
		return nil, fmt.Errorf("couldn't create TUF cache: %w", err)
	}
	c := &Client{opts: opts, cacheDir: cacheDir, set: settings{Mirror: mirror}, initializing: true}
	if err := c.initLocked(rootJSON); err != nil {
		return nil, err
	}
	return c.localStatus()
}

// initLocked fetches into a temporary directory and moves it into place.
func (c *Client) initLocked(rootJSON []byte) error {
	unlock, err := fsutil.Lock(c.cacheDir)
	if err != nil {
		return err
	}
	defer unlock()
	sweep(c.cacheDir, "")
	tmp, err := os.MkdirTemp(c.cacheDir, ".init-")
	if err != nil {
		return fmt.Errorf("couldn't create TUF cache: %w", err)
	}
	defer os.RemoveAll(tmp)
	c.dir = tmp
	if err := c.update(rootJSON); err != nil {
		return err
	}
	if _, err := c.target(TargetTrustedRoot); err != nil {
		return err
	}
	if _, err := c.target(TargetSigningConfig); err != nil && !errors.Is(err, errNoSuchTarget) {
		return err
	}
	final, err := mirrorDir(c.cacheDir, c.set.Mirror)
	if err != nil {
		return err
	}
	if err := os.RemoveAll(final); err != nil {
		return fmt.Errorf("couldn't replace TUF cache: %w", err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("couldn't replace TUF cache: %w", err)
	}
	c.dir = final
	c.set.LastRefresh = c.now()
	c.set.Verified = c.view()
	c.up = nil // its paths pointed at the temporary directory
	return c.saveSettings(true)
}

// Open opens the configured mirror's cache. It fails with
// ErrNotInitialized when Init was never run.
func Open(opts Options) (*Client, error) {
	cacheDir, err := opts.cacheDir()
	if err != nil {
		return nil, err
	}
	raw, err := os.ReadFile(filepath.Join(cacheDir, "config.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w in %s: run `sigil trust init --mirror URL --root root.json` once", ErrNotInitialized, cacheDir)
	}
	if err != nil {
		return nil, fmt.Errorf("couldn't read TUF settings: %w", err)
	}
	c := &Client{opts: opts, cacheDir: cacheDir, offline: opts.Offline}
	if err := json.Unmarshal(raw, &c.set); err != nil || c.set.Mirror == "" {
		return nil, fmt.Errorf("couldn't read TUF settings %s: invalid (run sigil trust init again): %v", filepath.Join(cacheDir, "config.json"), err)
	}
	if c.dir, err = mirrorDir(cacheDir, c.set.Mirror); err != nil {
		return nil, fmt.Errorf("%w (run sigil trust init again)", err)
	}
	return c, nil
}

func (c *Client) now() time.Time {
	if c.opts.Now != nil {
		return c.opts.Now()
	}
	return time.Now()
}

// Mirror returns the mirror URL.
func (c *Client) Mirror() string { return c.set.Mirror }

// saveSettings writes config.json; durable when it names a new mirror,
// not when it only records the refresh time.
func (c *Client) saveSettings(durable bool) error {
	b, err := json.MarshalIndent(c.set, "", "  ")
	if err != nil {
		return err
	}
	if durable {
		return fsutil.WriteFileAtomic(filepath.Join(c.cacheDir, "config.json"), b, 0o600)
	}
	return fsutil.ReplaceFile(filepath.Join(c.cacheDir, "config.json"), b, 0o600)
}

func (c *Client) updaterConfig(root []byte) (*config.UpdaterConfig, error) {
	cfg, err := config.New(c.set.Mirror, root)
	if err != nil {
		return nil, fmt.Errorf("couldn't configure TUF client: %w", err)
	}
	cfg.LocalMetadataDir = c.dir
	cfg.LocalTargetsDir = filepath.Join(c.dir, "targets")
	cfg.PrefixTargetsWithHash = true
	cfg.UnsafeLocalMode = c.offline
	hc := &http.Client{Timeout: 30 * time.Second}
	if c.opts.HTTPClient != nil {
		*hc = *c.opts.HTTPClient
	}
	hc.Transport = drainErrors{hc.Transport}
	f := fetcher.NewDefaultFetcher()
	f.SetHTTPClient(hc)
	if c.opts.UserAgent != "" {
		f.SetHTTPUserAgent(c.opts.UserAgent)
	}
	cfg.Fetcher = boundedFetcher{f, cfg, &c.fetched}
	return cfg, nil
}

// boundedFetcher caps every metadata download at go-tuf's bound for its
// role (RootMaxLength, TimestampMaxLength, SnapshotMaxLength, else
// TargetsMaxLength). go-tuf reads a snapshot or targets metadata up to the
// length the timestamp or snapshot states (updater.go loadSnapshot,
// loadTargets; so does python-tuf), so a mirror holding a compromised
// online key could state a length of terabytes and serve endless data,
// all of it read into memory until the HTTP timeout. Target files are
// left to the length the targets metadata (signed offline) states.
type boundedFetcher struct {
	fetcher.Fetcher
	cfg *config.UpdaterConfig
	// last is set to each URL fetched, for errors that do not name it.
	last *string
}

func (b boundedFetcher) DownloadFile(u string, maxLength int64, timeout time.Duration) ([]byte, error) {
	*b.last = u
	if !strings.HasPrefix(u, strings.TrimSuffix(b.cfg.RemoteTargetsURL, "/")+"/") {
		// <version>.<role>.json or <role>.json
		name := u[strings.LastIndex(u, "/")+1:]
		if i := strings.IndexByte(name, '.'); i > 0 && strings.Trim(name[:i], "0123456789") == "" {
			name = name[i+1:]
		}
		limit := b.cfg.TargetsMaxLength
		switch name {
		case metadata.ROOT + ".json":
			limit = b.cfg.RootMaxLength
		case metadata.TIMESTAMP + ".json":
			limit = b.cfg.TimestampMaxLength
		case metadata.SNAPSHOT + ".json":
			limit = b.cfg.SnapshotMaxLength
		}
		maxLength = min(maxLength, limit)
	}
	return b.Fetcher.DownloadFile(u, maxLength, timeout)
}

// drainErrors reads the body of a response other than 200 OK (up to 64
// KiB) before handing it on. go-tuf's fetcher closes such a body unread
// (theupdateframework/go-tuf metadata/fetcher DownloadFile), which makes
// net/http close the connection, and every update gets one: the 404 that
// ends the probe for a newer root. The next request, for timestamp.json,
// then needs a new connection (and TLS handshake) instead of reusing it.
type drainErrors struct{ base http.RoundTripper }

func (d drainErrors) RoundTrip(r *http.Request) (*http.Response, error) {
	rt := d.base
	if rt == nil {
		rt = http.DefaultTransport
	}
	resp, err := rt.RoundTrip(r)
	if err != nil || resp.StatusCode == http.StatusOK {
		return resp, err
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

// update runs the TUF client workflow from root (online), or loads and
// verifies the cache (offline).
func (c *Client) update(root []byte) error {
	cfg, err := c.updaterConfig(root)
	if err != nil {
		return err
	}
	up, err := updater.New(cfg)
	if err != nil {
		return fmt.Errorf("couldn't load TUF root: %w", err)
	}
	up.UnsafeSetRefTime(c.now())
	if err := up.Refresh(); err != nil {
		if c.offline {
			return fmt.Errorf("couldn't use the TUF cache offline: %w (update it online with `sigil trust show`, or pass --trusted-root)", err)
		}
		if strings.Contains(err.Error(), "certificate signed by unknown authority") {
			return fmt.Errorf("couldn't update TUF metadata from %s: %w (the mirror's TLS certificate comes from a CA this machine does not trust: for a private CA, set SSL_CERT_FILE to its PEM certificate)", c.set.Mirror, err)
		}
		if refused(err) {
			// Not a network problem: what the mirror served failed
			// verification (rollback, expiry, signatures, hashes,
			// lengths) or does not even parse.
			if !errors.Is(err, &metadata.ErrRepository{}) && !errors.Is(err, &metadata.ErrDownload{}) {
				// Not TUF metadata: say which file.
				err = fmt.Errorf("%s: %w", c.fetched, err)
				if c.initializing {
					return fmt.Errorf("couldn't update TUF metadata from %s: %w (check that --mirror is the repository's URL, where root.json and timestamp.json are)", c.set.Mirror, err)
				}
			}
			if c.initializing {
				return fmt.Errorf("couldn't update TUF metadata from %s: the mirror served metadata that does not verify against the given root: %w (is --root this repository's root.json?)", c.set.Mirror, err)
			}
			return fmt.Errorf("couldn't update TUF metadata from %s: the mirror served metadata that does not verify, which was refused (the cache keeps the last verified state): %w (a repository that was rebuilt needs `sigil trust init` with its new root; otherwise tell its operator)", c.set.Mirror, err)
		}
		if c.initializing {
			return fmt.Errorf("couldn't update TUF metadata from %s: %w (check that the mirror is reachable and that --mirror is the repository's URL, where root.json and timestamp.json are)", c.set.Mirror, err)
		}
		return fmt.Errorf("couldn't update TUF metadata from %s: %w (check that the mirror is reachable; --offline uses the cached trust, --trusted-root a given one)", c.set.Mirror, err)
	}
	c.up = up
	return nil
}

// refused reports whether an update failed on what the mirror served, as
// opposed to reaching it: metadata that fails verification
// (metadata.ErrRepository), is longer than its bound, or is not TUF
// metadata at all (JSON or value errors, e.g. an HTML page).
func refused(err error) bool {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	return errors.Is(err, &metadata.ErrRepository{}) || errors.Is(err, &metadata.ErrDownloadLengthMismatch{}) ||
		errors.Is(err, &metadata.ErrValue{}) || errors.As(err, &syntax) || errors.As(err, &typ)
}

// Update loads the metadata: online, from the mirror starting at the
// newest cached root; offline, from the cache. It is done at most once
// per Client, before the first target is read.
func (c *Client) Update() error {
	if c.up != nil {
		return nil
	}
	unlock, err := fsutil.Lock(c.cacheDir)
	if err != nil {
		return err
	}
	defer unlock()
	return c.updateLocked()
}

// updateLocked is Update with the cache lock held.
func (c *Client) updateLocked() error {
	if c.up != nil {
		return nil
	}
	sweep(c.cacheDir, c.dir)
	root, err := os.ReadFile(filepath.Join(c.dir, "root.json"))
	if err != nil {
		return fmt.Errorf("couldn't read cached TUF root (run sigil trust init again): %w", err)
	}
	if err := c.update(root); err != nil {
		return err
	}
	if !c.offline && c.sameMirror() {
		c.set.LastRefresh = c.now()
		c.set.Verified = c.view()
		_ = c.saveSettings(false) // a lost record only costs a full update
	}
	return nil
}

// sweep removes what a process killed while it held the cache lock (a
// cancelled CI job) left behind, once older than an hour: trust init's
// temporary directories and the temporary files of config.json
// (fsutil.ReplaceFile) and of the metadata in the mirror's directory dir
// (go-tuf's persistMetadata). Without it each killed trust init left a
// copy of the metadata and targets in the cache for good. The age spares
// a process still writing where the lock does not exclude processes.
func sweep(cacheDir, dir string) {
	old := time.Now().Add(-time.Hour)
	remove := func(dir string, prefixes ...string) {
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			for _, p := range prefixes {
				if fi, err := e.Info(); err == nil && strings.HasPrefix(e.Name(), p) && fi.ModTime().Before(old) {
					_ = os.RemoveAll(filepath.Join(dir, e.Name()))
				}
			}
		}
	}
	remove(cacheDir, ".init-", ".config.json.tmp")
	if dir != "" {
		remove(dir, "tuf_tmp")
	}
}

// sameMirror reports whether config.json still names the mirror c was
// opened with: a trust init to another mirror since Open must not be
// overwritten by this client's record. Called with the lock held.
func (c *Client) sameMirror() bool {
	_, ok := c.currentSettings()
	return ok
}

// currentSettings reads config.json again; ok is false unless it still
// names the mirror c was opened with.
func (c *Client) currentSettings() (now settings, ok bool) {
	raw, err := os.ReadFile(filepath.Join(c.cacheDir, "config.json"))
	if err != nil {
		return now, false
	}
	return now, json.Unmarshal(raw, &now) == nil && now.Mirror == c.set.Mirror
}

// view describes the state c.up verified.
func (c *Client) view() *verifiedView {
	tm := c.up.GetTrustedMetadataSet()
	targets := tm.Targets[metadata.TARGETS]
	if tm.Timestamp == nil || tm.Snapshot == nil || targets == nil {
		return nil
	}
	v := &verifiedView{Expires: tm.Root.Signed.Expires, Targets: map[string]verifiedTarget{}}
	for _, t := range []time.Time{tm.Timestamp.Signed.Expires, tm.Snapshot.Signed.Expires, targets.Signed.Expires} {
		if t.Before(v.Expires) {
			v.Expires = t
		}
	}
	for name, tf := range targets.Signed.Targets {
		if h, ok := tf.Hashes["sha256"]; ok {
			v.Targets[name] = verifiedTarget{Length: tf.Length, SHA256: hex.EncodeToString(h)}
		}
	}
	return v
}

// verifiedTarget returns a target from the cache without go-tuf when the
// recorded view allows it (see the package comment): offline, or online
// within CacheValidity of the last update; the view unexpired; the file's
// length and digest as recorded. Otherwise it returns false.
func (c *Client) verifiedTarget(name string) ([]byte, bool) {
	v := c.set.Verified
	if c.full || c.up != nil || v == nil {
		return nil, false
	}
	now := c.now()
	if !c.offline {
		last := c.set.LastRefresh
		if c.opts.CacheValidity <= 0 || now.Before(last) || !now.Before(last.Add(c.opts.CacheValidity)) {
			return nil, false
		}
	}
	want, ok := v.Targets[name]
	if !ok || !now.Before(v.Expires) {
		return nil, false
	}
	// The file go-tuf keeps (updater.generateTargetFilePath).
	data, err := os.ReadFile(filepath.Join(c.dir, "targets", url.PathEscape(name)))
	if err != nil || int64(len(data)) != want.Length {
		return nil, false
	}
	if d := sha256.Sum256(data); hex.EncodeToString(d[:]) != want.SHA256 {
		return nil, false
	}
	return data, true
}

var errNoSuchTarget = errors.New("no such target")

// Target returns a target's bytes, verified against the targets metadata:
// from the verified view in the cache when CacheValidity (or Offline)
// allows, else after an update, from the cache when it holds the current
// version, else downloaded (online) and cached.
func (c *Client) Target(name string) ([]byte, error) {
	if data, ok := c.verifiedTarget(name); ok {
		return data, nil
	}
	unlock, err := fsutil.Lock(c.cacheDir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	// Another process may have updated while this one waited for the
	// lock (commands started together, make -j): the view it recorded
	// serves this one too, as it would a command started after it.
	if c.up == nil && !c.full {
		if now, ok := c.currentSettings(); ok && now.LastRefresh.After(c.set.LastRefresh) {
			c.set = now
			if data, ok := c.verifiedTarget(name); ok {
				return data, nil
			}
		}
	}
	c.full = true
	if err := c.updateLocked(); err != nil {
		return nil, err
	}
	return c.target(name)
}

func (c *Client) target(name string) ([]byte, error) {
	if _, ok := c.up.GetTopLevelTargets()[name]; !ok {
		return nil, fmt.Errorf("couldn't get TUF target %s from %s: %w", name, c.set.Mirror, errNoSuchTarget)
	}
	ti, err := c.up.GetTargetInfo(name)
	if err != nil {
		return nil, fmt.Errorf("couldn't get TUF target %s: %w", name, err)
	}
	if _, data, err := c.up.FindCachedTarget(ti, ""); err == nil && data != nil {
		return data, nil
	}
	if c.offline {
		return nil, fmt.Errorf("couldn't get TUF target %s: %w (fetch it online first)", name, ErrNotCached)
	}
	_, data, err := c.up.DownloadTarget(ti, "", "")
	if err != nil {
		return nil, fmt.Errorf("couldn't download TUF target %s from %s: %w", name, c.set.Mirror, err)
	}
	return data, nil
}

// TrustedRoot returns the trusted_root.json target, parsed.
func (c *Client) TrustedRoot() (*trust.TrustedRoot, error) {
	raw, err := c.Target(TargetTrustedRoot)
	if err != nil {
		return nil, err
	}
	tr, err := trust.ParseTrustedRoot(raw)
	if err != nil {
		return nil, fmt.Errorf("couldn't parse %s from %s: %w", TargetTrustedRoot, c.set.Mirror, err)
	}
	return tr, nil
}

// SigningConfig returns the signing_config.v0.2.json target, parsed.
func (c *Client) SigningConfig() (*trust.SigningConfig, error) {
	raw, err := c.Target(TargetSigningConfig)
	if err != nil {
		return nil, err
	}
	sc, err := trust.ParseSigningConfig(raw)
	if err != nil {
		return nil, fmt.Errorf("couldn't parse %s from %s: %w", TargetSigningConfig, c.set.Mirror, err)
	}
	return sc, nil
}

// RoleInfo describes one role's trusted metadata.
type RoleInfo struct {
	Version int64     `json:"version"`
	Expires time.Time `json:"expires"`
}

// TargetInfo describes one target.
type TargetInfo struct {
	Name   string `json:"name"`
	Length int64  `json:"length"`
	SHA256 string `json:"sha256"`
	Cached bool   `json:"cached"`
}

// Status describes what the client trusts.
type Status struct {
	Mirror      string              `json:"mirror"`
	CacheDir    string              `json:"cacheDir"`
	LastRefresh time.Time           `json:"lastRefresh,omitzero"`
	Roles       map[string]RoleInfo `json:"roles"`
	// RootKeys holds, per role, the threshold and key IDs the root states.
	RootKeys map[string]RoleKeys `json:"rootKeys"`
	Targets  []TargetInfo        `json:"targets"`
}

// RoleKeys are a role's keys in the root.
type RoleKeys struct {
	Threshold int      `json:"threshold"`
	KeyIDs    []string `json:"keyids"`
}

// Status updates (see Update) and describes the trusted metadata.
func (c *Client) Status() (*Status, error) {
	if err := c.Update(); err != nil {
		return nil, err
	}
	return c.status(), nil
}

func (c *Client) localStatus() (*Status, error) {
	c.offline = true
	defer func() { c.offline = c.opts.Offline }()
	c.up = nil
	if err := c.Update(); err != nil {
		return nil, err
	}
	return c.status(), nil
}

func (c *Client) status() *Status {
	tm := c.up.GetTrustedMetadataSet()
	s := &Status{Mirror: c.set.Mirror, CacheDir: c.dir, LastRefresh: c.set.LastRefresh, Roles: map[string]RoleInfo{}, RootKeys: map[string]RoleKeys{}}
	s.Roles[metadata.ROOT] = RoleInfo{tm.Root.Signed.Version, tm.Root.Signed.Expires}
	for name, r := range tm.Root.Signed.Roles {
		s.RootKeys[name] = RoleKeys{Threshold: r.Threshold, KeyIDs: r.KeyIDs}
	}
	if tm.Timestamp != nil {
		s.Roles[metadata.TIMESTAMP] = RoleInfo{tm.Timestamp.Signed.Version, tm.Timestamp.Signed.Expires}
	}
	if tm.Snapshot != nil {
		s.Roles[metadata.SNAPSHOT] = RoleInfo{tm.Snapshot.Signed.Version, tm.Snapshot.Signed.Expires}
	}
	if t := tm.Targets[metadata.TARGETS]; t != nil {
		s.Roles[metadata.TARGETS] = RoleInfo{t.Signed.Version, t.Signed.Expires}
		for name, tf := range t.Signed.Targets {
			ti := TargetInfo{Name: name, Length: tf.Length}
			if h, ok := tf.Hashes["sha256"]; ok {
				ti.SHA256 = fmt.Sprintf("%x", []byte(h))
			}
			if p, _, err := c.up.FindCachedTarget(tf, ""); err == nil && p != "" {
				ti.Cached = true
			}
			s.Targets = append(s.Targets, ti)
		}
		slices.SortFunc(s.Targets, func(a, b TargetInfo) int { return strings.Compare(a.Name, b.Name) })
	}
	return s
}

// LoadTrust returns the trusted root and signing config a sigil command
// uses: each from its file when Options names one, else from the TUF
// mirror set up with `sigil trust init` (updated online, or from the
// cache with Offline). Without a file and without a mirror it fails with
// ErrNotInitialized, saying what to do.
func LoadTrust(opts Options) (*trust.TrustedRoot, *trust.SigningConfig, error) {
	d, err := LoadDocuments(opts, true)
	if err != nil {
		return nil, nil, err
	}
	tr, err := d.ParseTrustedRoot()
	if err != nil {
		return nil, nil, err
	}
	sc, err := d.ParseSigningConfig()
	if err != nil {
		return nil, nil, err
	}
	return tr, sc, nil
}

// LoadTrustedRoot is LoadTrust for commands that only verify.
func LoadTrustedRoot(opts Options) (*trust.TrustedRoot, error) {
	d, err := LoadDocuments(opts, false)
	if err != nil {
		return nil, err
	}
	return d.ParseTrustedRoot()
}

// LoadSigningConfig is LoadTrust for the signing config alone.
func LoadSigningConfig(opts Options) (*trust.SigningConfig, error) {
	l := loader{opts: opts}
	raw, from, err := l.signingConfig()
	if err != nil {
		return nil, err
	}
	return (&Documents{SigningConfig: raw, signingConfigFrom: from}).ParseSigningConfig()
}

// Documents are the trusted root and signing config as LoadTrust reads
// them, not yet parsed, so that a command can parse the trusted root (a
// millisecond of certificate and key parsing) while it already uses the
// signing config, e.g. asks the CA for a certificate.
type Documents struct {
	TrustedRoot   []byte
	SigningConfig []byte // nil unless asked for

	trustedRootFrom, signingConfigFrom string // for errors: a file or a mirror
}

// LoadDocuments reads the trusted root, and the signing config when
// signingConfig is set, as LoadTrust does.
func LoadDocuments(opts Options, signingConfig bool) (*Documents, error) {
	l := loader{opts: opts}
	d := &Documents{}
	var err error
	if d.TrustedRoot, d.trustedRootFrom, err = l.trustedRoot(); err != nil {
		return nil, err
	}
	if signingConfig {
		if d.SigningConfig, d.signingConfigFrom, err = l.signingConfig(); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// ParseTrustedRoot parses the trusted root.
func (d *Documents) ParseTrustedRoot() (*trust.TrustedRoot, error) {
	tr, err := trust.ParseTrustedRoot(d.TrustedRoot)
	if err != nil {
		return nil, fmt.Errorf("couldn't load trusted root %s: %w", d.trustedRootFrom, err)
	}
	return tr, nil
}

// ParseSigningConfig parses the signing config.
func (d *Documents) ParseSigningConfig() (*trust.SigningConfig, error) {
	if d.SigningConfig == nil {
		return nil, errors.New("couldn't load signing config: not loaded")
	}
	sc, err := trust.ParseSigningConfig(d.SigningConfig)
	if err != nil {
		return nil, fmt.Errorf("couldn't load signing config %s: %w", d.signingConfigFrom, err)
	}
	return sc, nil
}

// loader opens the TUF client at most once for both documents.
type loader struct {
	opts Options
	c    *Client
}

func (l *loader) client(what, flag string) (*Client, error) {
	if l.c != nil {
		return l.c, nil
	}
	c, err := Open(l.opts)
	if errors.Is(err, ErrNotInitialized) {
		return nil, fmt.Errorf("couldn't load the %s: %w; pass %s FILE, or set up TUF once with `sigil trust init --mirror URL --root root.json`", what, ErrNotInitialized, flag)
	}
	if err != nil {
		return nil, err
	}
	l.c = c
	return c, nil
}

// trustedRoot returns the trusted root's bytes and where they came from.
func (l *loader) trustedRoot() ([]byte, string, error) {
	if f := l.opts.TrustedRootFile; f != "" {
		raw, err := os.ReadFile(f)
		if err != nil {
			return nil, "", fmt.Errorf("couldn't read trusted root: %w", err)
		}
		return raw, f, nil
	}
	c, err := l.client("trusted root", "--trusted-root")
	if err != nil {
		return nil, "", err
	}
	raw, err := c.Target(TargetTrustedRoot)
	return raw, TargetTrustedRoot + " from " + c.set.Mirror, err
}

// signingConfig returns the signing config's bytes and where they came
// from.
func (l *loader) signingConfig() ([]byte, string, error) {
	if f := l.opts.SigningConfigFile; f != "" {
		raw, err := os.ReadFile(f)
		if err != nil {
			return nil, "", fmt.Errorf("couldn't read signing config: %w", err)
		}
		return raw, f, nil
	}
	c, err := l.client("signing config", "--signing-config")
	if err != nil {
		return nil, "", err
	}
	raw, err := c.Target(TargetSigningConfig)
	return raw, TargetSigningConfig + " from " + c.set.Mirror, err
}

// looksLikeTrustedRoot reports whether data is a Sigstore trusted root (an
// easy mix-up with the TUF root.json that trust init wants).
func looksLikeTrustedRoot(data []byte) bool {
	var v struct {
		MediaType string `json:"mediaType"`
	}
	return json.Unmarshal(data, &v) == nil && strings.HasPrefix(v.MediaType, "application/vnd.dev.sigstore.trustedroot")
}
