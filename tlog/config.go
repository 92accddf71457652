package tlog

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/transparency-dev/tessera"

	"sigil.dev/sigil/tlog/index"
)

// Config configures a Service. Only DataDir and the two public URLs are
// required.
type Config struct {
	// DataDir holds the service's state: keys (0600), the tree of each log
	// (POSIX Tessera storage) and the SQLite index. It is created if it
	// does not exist.
	DataDir string

	// V2PublicURL is the base URL clients reach the Rekor v2 log at (for
	// example "https://log.example.com"); the log's checkpoint origin and
	// key name are its host name, as sigstore-go derives them from the
	// trusted root's baseUrl.
	V2PublicURL string
	// V1PublicURL is the base URL of the Rekor v1 API (the trusted root's
	// baseUrl for the v1 log). Its host name is the v1 checkpoint key name;
	// the v1 origin is "<host> - <V1TreeID>".
	V1PublicURL string
	// V1TreeID is the v1 tree ID. Zero means: the value stored in DataDir,
	// or a random one generated and stored on first start. A non-zero value
	// must match the stored one.
	V1TreeID int64

	// V2KeyFile and V1KeyFile are optional PEM private keys (PKCS#8, or
	// SEC 1 "EC PRIVATE KEY"). The v2 key must be Ed25519 or ECDSA, the v1
	// key ECDSA P-256. Without them, keys are generated on first start
	// into DataDir with mode 0600.
	V2KeyFile, V1KeyFile string

	// CheckpointInterval is how often Tessera publishes each log's
	// checkpoint into storage (the "checkpoint" file static readers of the
	// POSIX directory see) while the log grows. Default 1s; the POSIX
	// minimum is 100ms, the maximum 10m. Writes do not wait for it: after
	// every group commit the log signs a checkpoint of the durable tree,
	// carried in the answers and served at /api/v2/checkpoint. Close waits
	// for the next publication.
	CheckpointInterval time.Duration
	// BatchMaxAge is how long Tessera waits for more entries before
	// sequencing a group the log handed it. Default 1ms: the log already
	// hands Tessera, at once, every entry that arrived while the previous
	// group was being made durable (group commit).
	BatchMaxAge time.Duration
	// BatchMaxSize is the most entries sequenced in one batch. Default
	// 4096.
	BatchMaxSize uint
	// GroupCommitDelay paces group commits under load: once a group of
	// 16 or more entries was committed, the next starts no sooner than
	// this after it (or when BatchMaxSize entries are waiting), so that
	// the storage's fixed cost per batch is shared by more entries. A
	// write to an idle log never waits for it. Default 30ms; negative
	// turns pacing off.
	GroupCommitDelay time.Duration
	// MaxEntrySize is the largest canonical entry (log leaf) accepted, in
	// bytes. Default and maximum 65535 (C2SP tlog-tiles entry bundles).
	MaxEntrySize int
	// MaxRequestSize is the largest request body accepted. Default 4 MiB
	// (rekor-tiles' --max-request-body-size).
	MaxRequestSize int64
	// MaxInFlight is how many adds per log may wait for their checkpoint at
	// once; beyond it writes get 503 with Retry-After. It must exceed
	// write rate × latency. Default 8192.
	MaxInFlight int
	// DedupeCacheSize is how many recent entries per log Tessera's
	// in-memory antispam remembers to answer duplicates with 409. Default
	// 65536.
	DedupeCacheSize uint
	// AddTimeout bounds how long a write waits for its checkpoint before
	// failing with 503. Default 20s.
	AddTimeout time.Duration
	// AllowedAlgorithms are the PublicKeyDetails names of client signing
	// algorithms accepted in entries. Default: RSA PKCS#1 v1.5 2048/3072/4096
	// with SHA-256, ECDSA P-256/SHA-256, P-384/SHA-384, P-521/SHA-512,
	// Ed25519ph (sigstore/rekor-tiles internal/algorithmregistry).
	AllowedAlgorithms []string

	// ReadOnly freezes both logs: reads are served, writes get 405, and
	// nothing in DataDir is written.
	ReadOnly bool

	// Storage opens the Tessera storage of each log. Default: POSIX
	// directories DataDir/v2 and DataDir/v1. Tessera's AWS (MySQL + S3) or
	// GCP (Spanner + GCS) drivers plug in here.
	Storage Storage
	// Index is the v1 personality's index. Default: SQLite at
	// DataDir/index.db. The Service closes it.
	Index index.Store

	// Logger receives structured logs. Default slog.Default().
	Logger *slog.Logger
	// Registerer receives the service's metrics. Default: a private
	// registry, served by Handler at /metrics.
	Registerer prometheus.Registerer
}

// Defaults.
const (
	DefaultCheckpointInterval = time.Second
	DefaultBatchMaxAge        = time.Millisecond
	DefaultBatchMaxSize       = 4096
	DefaultGroupCommitDelay   = 30 * time.Millisecond
	DefaultMaxEntrySize       = tessera.DefaultEntrySizeLimit
	DefaultMaxRequestSize     = 4 << 20
	DefaultMaxInFlight        = 8192
	DefaultDedupeCacheSize    = 1 << 16
	DefaultAddTimeout         = 20 * time.Second
)

// DefaultAllowedAlgorithms are the client signing algorithms accepted by
// default (sigstore/rekor-tiles internal/algorithmregistry
// AllowedClientSigningAlgorithms; sigstore/rekor pkg/api/api.go).
var DefaultAllowedAlgorithms = []string{
	"PKIX_RSA_PKCS1V15_2048_SHA256",
	"PKIX_RSA_PKCS1V15_3072_SHA256",
	"PKIX_RSA_PKCS1V15_4096_SHA256",
	"PKIX_ECDSA_P256_SHA_256",
	"PKIX_ECDSA_P384_SHA_384",
	"PKIX_ECDSA_P521_SHA_512",
	"PKIX_ED25519_PH",
}

// ErrConfig wraps every configuration error.
var ErrConfig = errors.New("invalid transparency log configuration")

func (c *Config) setDefaults() error {
	if c.DataDir == "" {
		return fmt.Errorf("%w: no data directory", ErrConfig)
	}
	for _, u := range []struct{ name, v string }{{"V2PublicURL", c.V2PublicURL}, {"V1PublicURL", c.V1PublicURL}} {
		p, err := url.Parse(u.v)
		if err != nil || p.Hostname() == "" || (p.Scheme != "http" && p.Scheme != "https") {
			return fmt.Errorf("%w: %s %q is not an http(s) URL with a host", ErrConfig, u.name, u.v)
		}
	}
	if c.V1TreeID < 0 {
		return fmt.Errorf("%w: negative V1TreeID", ErrConfig)
	}
	if c.CheckpointInterval == 0 {
		c.CheckpointInterval = DefaultCheckpointInterval
	}
	if c.BatchMaxAge == 0 {
		c.BatchMaxAge = DefaultBatchMaxAge
	}
	if c.BatchMaxSize == 0 {
		c.BatchMaxSize = DefaultBatchMaxSize
	}
	if c.MaxEntrySize == 0 {
		c.MaxEntrySize = DefaultMaxEntrySize
	}
	if c.MaxEntrySize < 0 || c.MaxEntrySize > tessera.DefaultEntrySizeLimit {
		return fmt.Errorf("%w: MaxEntrySize %d is outside 1..%d", ErrConfig, c.MaxEntrySize, tessera.DefaultEntrySizeLimit)
	}
	if c.MaxRequestSize == 0 {
		c.MaxRequestSize = DefaultMaxRequestSize
	}
	if c.GroupCommitDelay == 0 {
		c.GroupCommitDelay = DefaultGroupCommitDelay
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	if c.DedupeCacheSize == 0 {
		c.DedupeCacheSize = DefaultDedupeCacheSize
	}
	if c.AddTimeout == 0 {
		c.AddTimeout = DefaultAddTimeout
	}
	if c.AllowedAlgorithms == nil {
		c.AllowedAlgorithms = DefaultAllowedAlgorithms
	}
	for _, a := range c.AllowedAlgorithms {
		if !isAllowable(a) {
			return fmt.Errorf("%w: signing algorithm %q is not one this log can verify (choose from %v)", ErrConfig, a, DefaultAllowedAlgorithms)
		}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Storage == nil {
		c.Storage = POSIX{Dir: c.DataDir}
	}
	if c.CheckpointInterval < c.Storage.MinCheckpointInterval() {
		return fmt.Errorf("%w: CheckpointInterval %v is below the storage minimum %v", ErrConfig, c.CheckpointInterval, c.Storage.MinCheckpointInterval())
	}
	// Tessera republishes an unchanged checkpoint at this interval and
	// refuses a publication interval above it.
	if c.CheckpointInterval > tessera.DefaultCheckpointRepublishInterval {
		return fmt.Errorf("%w: CheckpointInterval %v is above the maximum %v", ErrConfig, c.CheckpointInterval, tessera.DefaultCheckpointRepublishInterval)
	}
	return nil
}

func isAllowable(name string) bool {
	for _, a := range DefaultAllowedAlgorithms {
		if a == name {
			return true
		}
	}
	return false
}
