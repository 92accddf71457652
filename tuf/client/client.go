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
package client

import (
	"encoding/json"
	"errors"
	"fmt"
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
	// HTTPClient fetches from the mirror; default a client with a 30 s
	// timeout.
	HTTPClient *http.Client
	// UserAgent is sent to the mirror.
	UserAgent string
	// Now is the reference time for expiry; default time.Now. Tests only.
	Now func() time.Time
}

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

// settings is config.json in the cache directory.
type settings struct {
	Mirror      string    `json:"mirror"`
	LastRefresh time.Time `json:"lastRefresh,omitzero"`
}

// Client reads one mirror through the cache.
type Client struct {
	opts     Options
	cacheDir string
	set      settings
	dir      string // the mirror's metadata directory
	up       *updater.Updater
	offline  bool
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
	mirror = strings.TrimSuffix(mirror, "/")
	if _, err := metadata.Root().FromBytes(rootJSON); err != nil {
		return nil, fmt.Errorf("couldn't parse TUF root: %w", err)
	}
	cacheDir, err := opts.cacheDir()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cacheDir, 0o700); err != nil {
		return nil, fmt.Errorf("couldn't create TUF cache: %w", err)
	}
	c := &Client{opts: opts, cacheDir: cacheDir, set: settings{Mirror: mirror}}
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
	final := filepath.Join(c.cacheDir, URLToPath(c.set.Mirror))
	if err := os.RemoveAll(final); err != nil {
		return fmt.Errorf("couldn't replace TUF cache: %w", err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("couldn't replace TUF cache: %w", err)
	}
	c.dir = final
	c.up = nil // its paths pointed at the temporary directory
	c.set.LastRefresh = c.now()
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
	c.dir = filepath.Join(cacheDir, URLToPath(c.set.Mirror))
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
	hc := c.opts.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	f := fetcher.NewDefaultFetcher()
	f.SetHTTPClient(hc)
	if c.opts.UserAgent != "" {
		f.SetHTTPUserAgent(c.opts.UserAgent)
	}
	cfg.Fetcher = f
	return cfg, nil
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
		return fmt.Errorf("couldn't update TUF metadata from %s: %w", c.set.Mirror, err)
	}
	c.up = up
	return nil
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
	root, err := os.ReadFile(filepath.Join(c.dir, "root.json"))
	if err != nil {
		return fmt.Errorf("couldn't read cached TUF root (run sigil trust init again): %w", err)
	}
	if err := c.update(root); err != nil {
		return err
	}
	if !c.offline {
		c.set.LastRefresh = c.now()
		_ = c.saveSettings(false) // only informational
	}
	return nil
}

var errNoSuchTarget = errors.New("no such target")

// Target returns a target's bytes, verified against the targets metadata:
// from the cache when it holds the current version, else downloaded
// (online) and cached.
func (c *Client) Target(name string) ([]byte, error) {
	if err := c.Update(); err != nil {
		return nil, err
	}
	unlock, err := fsutil.Lock(c.cacheDir)
	if err != nil {
		return nil, err
	}
	defer unlock()
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
	l := loader{opts: opts}
	tr, err := l.trustedRoot()
	if err != nil {
		return nil, nil, err
	}
	sc, err := l.signingConfig()
	if err != nil {
		return nil, nil, err
	}
	return tr, sc, nil
}

// LoadTrustedRoot is LoadTrust for commands that only verify.
func LoadTrustedRoot(opts Options) (*trust.TrustedRoot, error) {
	l := loader{opts: opts}
	return l.trustedRoot()
}

// LoadSigningConfig is LoadTrust for the signing config alone.
func LoadSigningConfig(opts Options) (*trust.SigningConfig, error) {
	l := loader{opts: opts}
	return l.signingConfig()
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

func (l *loader) trustedRoot() (*trust.TrustedRoot, error) {
	if f := l.opts.TrustedRootFile; f != "" {
		raw, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("couldn't read trusted root: %w", err)
		}
		tr, err := trust.ParseTrustedRoot(raw)
		if err != nil {
			return nil, fmt.Errorf("couldn't load trusted root %s: %w", f, err)
		}
		return tr, nil
	}
	c, err := l.client("trusted root", "--trusted-root")
	if err != nil {
		return nil, err
	}
	return c.TrustedRoot()
}

func (l *loader) signingConfig() (*trust.SigningConfig, error) {
	if f := l.opts.SigningConfigFile; f != "" {
		raw, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("couldn't read signing config: %w", err)
		}
		sc, err := trust.ParseSigningConfig(raw)
		if err != nil {
			return nil, fmt.Errorf("couldn't load signing config %s: %w", f, err)
		}
		return sc, nil
	}
	c, err := l.client("signing config", "--signing-config")
	if err != nil {
		return nil, err
	}
	return c.SigningConfig()
}
