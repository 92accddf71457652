package tuf

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"sigil.dev/sigil/internal/fsutil"
)

// Role names (TUF specification §2.1).
const (
	RoleRoot      = metadata.ROOT
	RoleTargets   = metadata.TARGETS
	RoleSnapshot  = metadata.SNAPSHOT
	RoleTimestamp = metadata.TIMESTAMP
)

// Default metadata lifetimes. Root and targets are signed offline (in a
// ceremony, or by the dev-mode keys); snapshot and timestamp are signed by
// the online keys and re-signed when half their lifetime has passed.
const (
	DefaultRootExpiry      = 365 * 24 * time.Hour
	DefaultTargetsExpiry   = 180 * 24 * time.Hour
	DefaultSnapshotExpiry  = 14 * 24 * time.Hour
	DefaultTimestampExpiry = 7 * 24 * time.Hour
)

// Directory layout of a repository directory (Repo.Dir).
const (
	// PublishedDir holds the metadata and targets clients fetch, laid out
	// as a TUF 1.0 repository with consistent snapshots: N.root.json (every
	// version), root.json (the newest), N.targets.json, N.snapshot.json,
	// timestamp.json and targets/<sha256>.<name>. Any static web server can
	// serve it.
	PublishedDir = "repository"
	// StagedDir holds metadata being prepared and signed: root.json,
	// targets.json and targets/<name>.
	StagedDir = "staged"
)

// Sentinel errors.
var (
	// ErrNotInitialized: the repository has no committed root yet.
	ErrNotInitialized = errors.New("TUF repository not initialized")
	// ErrInvalidRepository: committed metadata does not verify.
	ErrInvalidRepository = errors.New("invalid TUF repository")
	// ErrThreshold: metadata lacks signatures to reach a threshold.
	ErrThreshold = errors.New("signature threshold not met")
	// ErrNothingStaged: no staged metadata to sign or commit.
	ErrNothingStaged = errors.New("nothing staged")
)

// Repo is a TUF repository directory: the published tree and the staging
// area where the offline roles' metadata is prepared and signed. Every
// method takes an exclusive lock on the directory for its duration and
// reads the state from disk, so the ceremony commands and a running server
// can share a directory.
type Repo struct {
	dir string
	now func() time.Time
}

// OpenRepo opens (and creates, if missing) a repository directory. now is
// the clock (nil: time.Now).
func OpenRepo(dir string, now func() time.Time) (*Repo, error) {
	if now == nil {
		now = time.Now
	}
	for _, d := range []string{dir, filepath.Join(dir, PublishedDir), filepath.Join(dir, PublishedDir, "targets")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("couldn't create repository directory: %w", err)
		}
	}
	return &Repo{dir: dir, now: now}, nil
}

// Dir returns the repository directory.
func (r *Repo) Dir() string { return r.dir }

// PublishedPath returns the directory clients are served from.
func (r *Repo) PublishedPath() string { return filepath.Join(r.dir, PublishedDir) }

func (r *Repo) pub(name string) string    { return filepath.Join(r.dir, PublishedDir, name) }
func (r *Repo) staged(name string) string { return filepath.Join(r.dir, StagedDir, name) }

// state is the repository as read from disk.
type state struct {
	root       *metadata.Metadata[metadata.RootType]
	rootRaw    []byte
	targets    *metadata.Metadata[metadata.TargetsType]
	targetsRaw []byte
	snapshot   *metadata.Metadata[metadata.SnapshotType] // nil if absent or not verifying
	timestamp  *metadata.Metadata[metadata.TimestampType]

	stagedRoot    *metadata.Metadata[metadata.RootType]
	stagedTargets *metadata.Metadata[metadata.TargetsType]

	// unfinished is why the committed state does not verify while a
	// Commit that stopped halfway can finish it (see loadState).
	unfinished error
}

var versionedName = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^([1-9][0-9]{0,18})\.(root|targets|snapshot)\.json$`)
}) // compiled on first use: the counted repetitions make a large program

// versions lists the versions of N.<role>.json in the published tree,
// ascending.
func (r *Repo) versions(role string) ([]int64, error) {
	ents, err := os.ReadDir(filepath.Join(r.dir, PublishedDir))
	if err != nil {
		return nil, fmt.Errorf("couldn't list repository: %w", err)
	}
	var out []int64
	for _, e := range ents {
		m := versionedName().FindStringSubmatch(e.Name())
		if m == nil || m[2] != role {
			continue
		}
		v, err := strconv.ParseInt(m[1], 10, 64)
		if err == nil {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return out, nil
}

// load reads and verifies the committed state: every root version from 1
// to the newest, each signed by a threshold of its predecessor's and its
// own root keys (TUF specification §5.3.4), and the newest targets signed
// by a threshold of the root's targets keys. Snapshot and timestamp that
// do not verify are left nil, to be re-signed. Staged metadata is read
// but not verified.
func (r *Repo) load() (*state, error) {
	st, err := r.loadState()
	if err != nil {
		return nil, err
	}
	if st.unfinished != nil {
		return nil, st.unfinished
	}
	return st, nil
}

// loadState is load for Commit: committed targets that the newest root's
// targets keys did not sign are accepted, in st.unfinished, when that root
// is still staged byte for byte (a Commit of a root that replaced the
// targets keys stopped after publishing the root and before the targets
// signed by the new keys: killed, or a full disk writing the target
// files), so that Commit can finish publishing. Refused there too, every
// command failed on the repository and nothing could finish it.
func (r *Repo) loadState() (*state, error) {
	st := &state{}
	vs, err := r.versions(RoleRoot)
	if err != nil {
		return nil, err
	}
	for i, v := range vs {
		if v != int64(i+1) {
			return nil, fmt.Errorf("%w: root versions %v are not 1..N", ErrInvalidRepository, vs)
		}
		raw, err := os.ReadFile(r.pub(fmt.Sprintf("%d.root.json", v)))
		if err != nil {
			return nil, fmt.Errorf("couldn't read root v%d: %w", v, err)
		}
		m, err := metadata.Root().FromBytes(raw)
		if err != nil {
			return nil, fmt.Errorf("%w: %d.root.json: %v", ErrInvalidRepository, v, err)
		}
		if m.Signed.Version != v {
			return nil, fmt.Errorf("%w: %d.root.json holds version %d", ErrInvalidRepository, v, m.Signed.Version)
		}
		if st.root != nil {
			if s, err := check(&st.root.Signed, RoleRoot, m); err != nil || !s.Met() {
				return nil, fmt.Errorf("%w: root v%d is not signed by a threshold of root v%d's keys (%v)", ErrInvalidRepository, v, v-1, s)
			}
		}
		if s, err := check(&m.Signed, RoleRoot, m); err != nil || !s.Met() {
			return nil, fmt.Errorf("%w: root v%d is not signed by a threshold of its own keys (%v)", ErrInvalidRepository, v, s)
		}
		st.root, st.rootRaw = m, raw
	}
	if st.root != nil {
		tvs, err := r.versions(RoleTargets)
		if err != nil {
			return nil, err
		}
		if len(tvs) > 0 {
			v := tvs[len(tvs)-1]
			raw, err := os.ReadFile(r.pub(fmt.Sprintf("%d.targets.json", v)))
			if err != nil {
				return nil, fmt.Errorf("couldn't read targets v%d: %w", v, err)
			}
			m, err := metadata.Targets().FromBytes(raw)
			if err != nil {
				return nil, fmt.Errorf("%w: %d.targets.json: %v", ErrInvalidRepository, v, err)
			}
			if m.Signed.Version != v {
				return nil, fmt.Errorf("%w: %d.targets.json holds version %d", ErrInvalidRepository, v, m.Signed.Version)
			}
			if s, err := check(&st.root.Signed, RoleTargets, m); err != nil || !s.Met() {
				err := fmt.Errorf("%w: targets v%d is not signed by a threshold of the targets keys of root v%d (%v)", ErrInvalidRepository, v, st.root.Signed.Version, s)
				if staged, rerr := os.ReadFile(r.staged("root.json")); rerr != nil || !bytes.Equal(staged, st.rootRaw) {
					return nil, err
				}
				st.unfinished = fmt.Errorf("%w; a publish stopped after root v%d: run sigil tuf publish again to finish it", err, st.root.Signed.Version)
			}
			st.targets, st.targetsRaw = m, raw
		}
		if svs, err := r.versions(RoleSnapshot); err == nil && len(svs) > 0 {
			v := svs[len(svs)-1]
			if raw, err := os.ReadFile(r.pub(fmt.Sprintf("%d.snapshot.json", v))); err == nil {
				if m, err := metadata.Snapshot().FromBytes(raw); err == nil && m.Signed.Version == v {
					if s, err := check(&st.root.Signed, RoleSnapshot, m); err == nil && s.Met() {
						st.snapshot = m
					}
				}
			}
		}
		if raw, err := os.ReadFile(r.pub("timestamp.json")); err == nil {
			if m, err := metadata.Timestamp().FromBytes(raw); err == nil {
				if s, err := check(&st.root.Signed, RoleTimestamp, m); err == nil && s.Met() {
					st.timestamp = m
				}
			}
		}
	}
	if raw, err := os.ReadFile(r.staged("root.json")); err == nil {
		if st.stagedRoot, err = metadata.Root().FromBytes(raw); err != nil {
			return nil, fmt.Errorf("%w: staged root: %v", ErrInvalidRepository, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("couldn't read staged root: %w", err)
	}
	if raw, err := os.ReadFile(r.staged("targets.json")); err == nil {
		if st.stagedTargets, err = metadata.Targets().FromBytes(raw); err != nil {
			return nil, fmt.Errorf("%w: staged targets: %v", ErrInvalidRepository, err)
		}
		if st.targets != nil && bytes.Equal(raw, st.targetsRaw) {
			// Committed already: a Commit stopped (killed) between
			// publishing it and removing the staging area. Taken as
			// staged, it made the next targets "staged version N, want
			// N+1" for good, and a dev server stopped renewing them.
			st.stagedTargets = nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("couldn't read staged targets: %w", err)
	}
	return st, nil
}

// effectiveRoot is the root that governs staged targets: the staged root
// when there is one, else the committed one.
func (st *state) effectiveRoot() *metadata.Metadata[metadata.RootType] {
	if st.stagedRoot != nil {
		return st.stagedRoot
	}
	return st.root
}

func (r *Repo) locked(fn func() error) error {
	unlock, err := fsutil.Lock(r.dir)
	if err != nil {
		return err
	}
	defer unlock()
	return fn()
}

func expiry(now time.Time, d time.Duration) time.Time {
	return now.Add(d).UTC().Truncate(time.Second)
}

func writeMeta[T metadata.Roles](path string, m *metadata.Metadata[T]) ([]byte, error) {
	b, err := m.ToBytes(true)
	if err != nil {
		return nil, fmt.Errorf("couldn't encode metadata: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("couldn't write %s: %w", path, err)
	}
	return b, fsutil.WriteFileAtomic(path, b, 0o644)
}

// InitOptions describe a new repository's first root.
type InitOptions struct {
	RootKeys         []*Key
	RootThreshold    int // default 1
	TargetsKeys      []*Key
	TargetsThreshold int // default 1
	SnapshotKeys     []*Key
	TimestampKeys    []*Key
	RootExpires      time.Time // default now + DefaultRootExpiry
	TargetsExpires   time.Time // default now + DefaultTargetsExpiry
}

// Init stages version 1 of root (consistent snapshots on) and of targets
// (no targets yet), unsigned. Sign them, add targets, then Commit.
func (r *Repo) Init(o InitOptions) error {
	return r.locked(func() error {
		st, err := r.load()
		if err != nil {
			return err
		}
		if st.root != nil || st.stagedRoot != nil {
			return errors.New("couldn't initialize repository: it already has a root (use rotate-root to change it)")
		}
		now := r.now()
		if o.RootExpires.IsZero() {
			o.RootExpires = expiry(now, DefaultRootExpiry)
		}
		if o.TargetsExpires.IsZero() {
			o.TargetsExpires = expiry(now, DefaultTargetsExpiry)
		}
		if err := checkLifetime("root", o.RootExpires, now); err != nil {
			return fmt.Errorf("couldn't initialize repository: %w", err)
		}
		if err := checkLifetime("targets", o.TargetsExpires, now); err != nil {
			return fmt.Errorf("couldn't initialize repository: %w", err)
		}
		root := metadata.Root(o.RootExpires.UTC().Truncate(time.Second))
		root.Signed.ConsistentSnapshot = true
		for role, ks := range map[string][]*Key{RoleRoot: o.RootKeys, RoleTargets: o.TargetsKeys, RoleSnapshot: o.SnapshotKeys, RoleTimestamp: o.TimestampKeys} {
			if len(ks) == 0 {
				return fmt.Errorf("couldn't initialize repository: no %s key", role)
			}
			for _, k := range ks {
				if err := root.Signed.AddKey(k.Metadata(), role); err != nil {
					return fmt.Errorf("couldn't add %s key: %w", role, err)
				}
			}
		}
		root.Signed.Roles[RoleRoot].Threshold = max(o.RootThreshold, 1)
		root.Signed.Roles[RoleTargets].Threshold = max(o.TargetsThreshold, 1)
		if err := validateRoot(&root.Signed); err != nil {
			return fmt.Errorf("couldn't initialize repository: %w", err)
		}
		targets := metadata.Targets(o.TargetsExpires.UTC().Truncate(time.Second))
		if _, err := writeMeta(r.staged("root.json"), root); err != nil {
			return err
		}
		_, err = writeMeta(r.staged("targets.json"), targets)
		return err
	})
}

// validateRoot checks that every top-level role has keys that exist and a
// threshold it can reach.
func validateRoot(root *metadata.RootType) error {
	for _, role := range []string{RoleRoot, RoleTargets, RoleSnapshot, RoleTimestamp} {
		r, ok := root.Roles[role]
		if !ok || len(r.KeyIDs) == 0 {
			return fmt.Errorf("role %s has no keys", role)
		}
		for _, id := range r.KeyIDs {
			if _, ok := root.Keys[id]; !ok {
				return fmt.Errorf("role %s names unknown key %s", role, short(id))
			}
		}
		if r.Threshold < 1 || r.Threshold > len(r.KeyIDs) {
			return fmt.Errorf("role %s has threshold %d with %d keys (want 1 to %d)", role, r.Threshold, len(r.KeyIDs), len(r.KeyIDs))
		}
	}
	if !root.ConsistentSnapshot {
		return errors.New("consistent snapshots must be on")
	}
	// The server holds the snapshot and timestamp keys: a key of root or
	// targets among them would put an offline role's key online.
	offline := map[string]string{}
	for _, role := range []string{RoleRoot, RoleTargets} {
		for _, id := range root.Roles[role].KeyIDs {
			offline[id] = role
		}
	}
	for _, role := range []string{RoleSnapshot, RoleTimestamp} {
		for _, id := range root.Roles[role].KeyIDs {
			if o, ok := offline[id]; ok {
				return fmt.Errorf("key %s is both a %s key (online: the server holds it) and a %s key (offline): give the online roles keys of their own", short(id), role, o)
			}
		}
	}
	return nil
}

// MinOfflineLifetime is the shortest lifetime a root or targets version may
// be staged with: they are signed offline, so one expiring sooner locks
// every client out before a ceremony can follow.
const MinOfflineLifetime = 24 * time.Hour

func checkLifetime(what string, exp, now time.Time) error {
	if exp.Before(now.Add(MinOfflineLifetime)) {
		return fmt.Errorf("%s would expire at %s, less than %s from now: clients would be locked out before the next ceremony; give a longer lifetime", what, exp.UTC().Format(time.RFC3339), MinOfflineLifetime)
	}
	return nil
}

// targetName is what a target may be called here: one path segment.
var targetName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,199}$`) }) // compiled on first use: the counted repetitions make a large program

// StageTargets prepares the next targets version: files are added (or
// replaced, by name), remove names are taken out, and the expiry is set
// (zero: now + DefaultTargetsExpiry). Earlier signatures of the staged
// targets are dropped. Nothing changes for clients until Commit.
func (r *Repo) StageTargets(files map[string][]byte, remove []string, expires time.Time) error {
	for name := range files {
		if !targetName().MatchString(name) {
			return fmt.Errorf("couldn't stage target %q: a name is letters, digits, '.', '_' and '-', not starting with '.' or '-'", name)
		}
	}
	return r.locked(func() error {
		st, err := r.load()
		if err != nil {
			return err
		}
		if st.effectiveRoot() == nil {
			return fmt.Errorf("couldn't stage targets: %w (run init first)", ErrNotInitialized)
		}
		t := st.stagedTargets
		if t == nil {
			if st.targets == nil {
				t = metadata.Targets()
			} else {
				if t, err = metadata.Targets().FromBytes(st.targetsRaw); err != nil {
					return err
				}
				t.Signed.Version++
			}
		}
		for _, name := range remove {
			if _, ok := t.Signed.Targets[name]; !ok {
				return fmt.Errorf("couldn't remove target %q: there is no such target", name)
			}
			delete(t.Signed.Targets, name)
			_ = os.Remove(r.staged(filepath.Join("targets", name)))
		}
		names := make([]string, 0, len(files))
		for n := range files {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, name := range names {
			data := files[name]
			tf, err := metadata.TargetFile().FromBytes(name, data, "sha256")
			if err != nil {
				return fmt.Errorf("couldn't describe target %s: %w", name, err)
			}
			if err := os.MkdirAll(r.staged("targets"), 0o755); err != nil {
				return fmt.Errorf("couldn't stage target: %w", err)
			}
			if err := fsutil.WriteFileAtomic(r.staged(filepath.Join("targets", name)), data, 0o644); err != nil {
				return err
			}
			t.Signed.Targets[name] = tf
		}
		if expires.IsZero() {
			expires = expiry(r.now(), DefaultTargetsExpiry)
		}
		if err := checkLifetime("targets", expires, r.now()); err != nil {
			return fmt.Errorf("couldn't stage targets: %w", err)
		}
		t.Signed.Expires = expires.UTC().Truncate(time.Second)
		t.ClearSignatures()
		_, err = writeMeta(r.staged("targets.json"), t)
		return err
	})
}

// RootChange is a change to the root for RotateRoot.
type RootChange struct {
	// Add and Remove keys, by role (root, targets, snapshot, timestamp);
	// Remove names key IDs.
	Add    map[string][]*Key
	Remove map[string][]string
	// Replace sets a role's keys to exactly these (applied before Add),
	// whatever keys the root being edited lists for it: the committed
	// root's, or those of a rotation already staged.
	Replace map[string][]*Key
	// Thresholds sets role thresholds.
	Thresholds map[string]int
	// Expires sets the new root's expiry (zero: now + DefaultRootExpiry).
	Expires time.Time
}

// RotateRoot stages the next root version: the committed root (or the
// staged one, if a rotation is already staged) with the change applied and
// every signature dropped. It must then be signed by a threshold of the
// previous root's root keys and of its own (TUF specification §5.3.4), so
// clients that trust the old root follow the rotation. A change of the
// targets keys needs targets re-signed by the new keys before Commit.
func (r *Repo) RotateRoot(c RootChange) error {
	return r.locked(func() error {
		st, err := r.load()
		if err != nil {
			return err
		}
		var next *metadata.Metadata[metadata.RootType]
		switch {
		case st.stagedRoot != nil && st.root == nil:
			next = st.stagedRoot // still initializing: edit version 1
		case st.stagedRoot != nil:
			next = st.stagedRoot
		case st.root != nil:
			cp, err := metadata.Root().FromBytes(st.rootRaw)
			if err != nil {
				return err
			}
			next = cp
			next.Signed.Version++
		default:
			return fmt.Errorf("couldn't rotate root: %w (run init first)", ErrNotInitialized)
		}
		for role, ids := range c.Remove {
			for _, id := range ids {
				if !slices.Contains(roleKeyIDs(&next.Signed, role), id) {
					return fmt.Errorf("couldn't remove %s key %s: the role has no such key", role, short(id))
				}
				if err := next.Signed.RevokeKey(id, role); err != nil {
					return fmt.Errorf("couldn't remove %s key %s: %w", role, short(id), err)
				}
			}
		}
		for role, ks := range c.Replace {
			if _, ok := next.Signed.Roles[role]; !ok {
				return fmt.Errorf("couldn't replace keys: unknown role %q", role)
			}
			for _, id := range slices.Clone(next.Signed.Roles[role].KeyIDs) {
				if err := next.Signed.RevokeKey(id, role); err != nil {
					return fmt.Errorf("couldn't remove %s key %s: %w", role, short(id), err)
				}
			}
			for _, k := range ks {
				if err := next.Signed.AddKey(k.Metadata(), role); err != nil {
					return fmt.Errorf("couldn't add %s key: %w", role, err)
				}
			}
		}
		for role, ks := range c.Add {
			if _, ok := next.Signed.Roles[role]; !ok {
				return fmt.Errorf("couldn't add key: unknown role %q", role)
			}
			for _, k := range ks {
				if err := next.Signed.AddKey(k.Metadata(), role); err != nil {
					return fmt.Errorf("couldn't add %s key: %w", role, err)
				}
			}
		}
		for role, t := range c.Thresholds {
			rr, ok := next.Signed.Roles[role]
			if !ok {
				return fmt.Errorf("couldn't set threshold: unknown role %q", role)
			}
			rr.Threshold = t
		}
		if c.Expires.IsZero() {
			c.Expires = expiry(r.now(), DefaultRootExpiry)
		}
		if err := checkLifetime("the new root", c.Expires, r.now()); err != nil {
			return fmt.Errorf("couldn't rotate root: %w", err)
		}
		next.Signed.Expires = c.Expires.UTC().Truncate(time.Second)
		if err := validateRoot(&next.Signed); err != nil {
			return fmt.Errorf("couldn't rotate root: %w", err)
		}
		next.ClearSignatures()
		_, err = writeMeta(r.staged("root.json"), next)
		return err
	})
}

// SignResult says what a Sign call signed.
type SignResult struct {
	// Signed lists "root" and/or "targets" for each key that signed.
	Signed map[string][]string `json:"signed"` // key ID → metadata signed
}

// Sign signs the staged metadata with each key where it is a signer: the
// staged root by its own root keys and the previous root's root keys, the
// staged targets by the targets keys of the (staged or committed) root.
// A key that can sign nothing staged is an error, so a script notices a
// wrong key.
func (r *Repo) Sign(keys []*Key) (*SignResult, error) {
	res := &SignResult{Signed: map[string][]string{}}
	err := r.locked(func() error {
		st, err := r.load()
		if err != nil {
			return err
		}
		if st.stagedRoot == nil && st.stagedTargets == nil {
			return fmt.Errorf("couldn't sign: %w (stage a change with init, add-target, remove-target or rotate-root)", ErrNothingStaged)
		}
		for _, k := range keys {
			did := false
			if st.stagedRoot != nil {
				ok := slices.Contains(roleKeyIDs(&st.stagedRoot.Signed, RoleRoot), k.ID())
				if st.root != nil && slices.Contains(roleKeyIDs(&st.root.Signed, RoleRoot), k.ID()) {
					ok = true
				}
				if ok {
					if err := signWith(st.stagedRoot, k); err != nil {
						return err
					}
					res.Signed[k.ID()] = append(res.Signed[k.ID()], RoleRoot)
					did = true
				}
			}
			if st.stagedTargets != nil {
				if root := st.effectiveRoot(); root != nil && slices.Contains(roleKeyIDs(&root.Signed, RoleTargets), k.ID()) {
					if err := signWith(st.stagedTargets, k); err != nil {
						return err
					}
					res.Signed[k.ID()] = append(res.Signed[k.ID()], RoleTargets)
					did = true
				}
			}
			if !did {
				if root := st.effectiveRoot(); st.stagedTargets == nil && root != nil && slices.Contains(roleKeyIDs(&root.Signed, RoleTargets), k.ID()) {
					// The key is right, the staging area lacks what it signs.
					return fmt.Errorf("couldn't sign with key %s: it is a targets key, and no targets are staged (only a root): stage targets with add-target or remove-target, or sign the staged root with root keys", short(k.ID()))
				}
				return fmt.Errorf("couldn't sign with key %s: it is not a root or targets key of the staged metadata", short(k.ID()))
			}
		}
		if st.stagedRoot != nil {
			if _, err := writeMeta(r.staged("root.json"), st.stagedRoot); err != nil {
				return err
			}
		}
		if st.stagedTargets != nil {
			if _, err := writeMeta(r.staged("targets.json"), st.stagedTargets); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// MetaInfo describes one metadata file.
type MetaInfo struct {
	Version int64     `json:"version"`
	Expires time.Time `json:"expires"`
}

// Status describes a repository.
type Status struct {
	Initialized bool                `json:"initialized"`
	Root        *MetaInfo           `json:"root,omitempty"`
	Targets     *MetaInfo           `json:"targets,omitempty"`
	Snapshot    *MetaInfo           `json:"snapshot,omitempty"`
	Timestamp   *MetaInfo           `json:"timestamp,omitempty"`
	TargetFiles map[string]string   `json:"targetFiles,omitempty"` // name → sha256
	Keys        map[string][]string `json:"keys,omitempty"`        // role → key IDs of the committed root

	StagedRoot    *StagedStatus `json:"stagedRoot,omitempty"`
	StagedTargets *StagedStatus `json:"stagedTargets,omitempty"`
}

// StagedStatus is staged metadata and how far it is signed.
type StagedStatus struct {
	MetaInfo
	// Signatures holds one entry per threshold to meet: for a root, its
	// own root role and (from version 2) the previous root's.
	Signatures  []RoleSignatures  `json:"signatures"`
	TargetFiles map[string]string `json:"targetFiles,omitempty"`
}

// Ready reports whether every threshold is met.
func (s *StagedStatus) Ready() bool {
	for _, r := range s.Signatures {
		if !r.Met() {
			return false
		}
	}
	return true
}

// Status reports the committed and staged state.
func (r *Repo) Status() (*Status, error) {
	var out *Status
	err := r.locked(func() error {
		st, err := r.load()
		if err != nil {
			return err
		}
		out, err = st.status()
		return err
	})
	return out, err
}

func targetHashes(t *metadata.TargetsType) map[string]string {
	m := map[string]string{}
	for name, tf := range t.Targets {
		m[name] = hex.EncodeToString(tf.Hashes["sha256"])
	}
	return m
}

func (st *state) status() (*Status, error) {
	s := &Status{Initialized: st.root != nil}
	if st.root != nil {
		s.Root = &MetaInfo{st.root.Signed.Version, st.root.Signed.Expires}
		s.Keys = map[string][]string{}
		for role, rr := range st.root.Signed.Roles {
			s.Keys[role] = rr.KeyIDs
		}
	}
	if st.targets != nil {
		s.Targets = &MetaInfo{st.targets.Signed.Version, st.targets.Signed.Expires}
		s.TargetFiles = targetHashes(&st.targets.Signed)
	}
	if st.snapshot != nil {
		s.Snapshot = &MetaInfo{st.snapshot.Signed.Version, st.snapshot.Signed.Expires}
	}
	if st.timestamp != nil {
		s.Timestamp = &MetaInfo{st.timestamp.Signed.Version, st.timestamp.Signed.Expires}
	}
	if st.stagedRoot != nil {
		sr, err := st.stagedRootSignatures()
		if err != nil {
			return nil, err
		}
		s.StagedRoot = &StagedStatus{MetaInfo: MetaInfo{st.stagedRoot.Signed.Version, st.stagedRoot.Signed.Expires}, Signatures: sr}
	}
	if st.stagedTargets != nil {
		ss := &StagedStatus{MetaInfo: MetaInfo{st.stagedTargets.Signed.Version, st.stagedTargets.Signed.Expires}, TargetFiles: targetHashes(&st.stagedTargets.Signed)}
		if root := st.effectiveRoot(); root != nil {
			rs, err := check(&root.Signed, RoleTargets, st.stagedTargets)
			if err != nil {
				return nil, err
			}
			ss.Signatures = []RoleSignatures{rs}
		}
		s.StagedTargets = ss
	}
	return s, nil
}

func (st *state) stagedRootSignatures() ([]RoleSignatures, error) {
	own, err := check(&st.stagedRoot.Signed, RoleRoot, st.stagedRoot)
	if err != nil {
		return nil, err
	}
	out := []RoleSignatures{own}
	if st.root != nil {
		prev, err := check(&st.root.Signed, RoleRoot, st.stagedRoot)
		if err != nil {
			return nil, err
		}
		prev.Role = fmt.Sprintf("root (previous version %d)", st.root.Signed.Version)
		out = append(out, prev)
	}
	return out, nil
}

// CommitResult says what Commit published.
type CommitResult struct {
	Root    int64 `json:"root,omitempty"`    // new root version, or 0
	Targets int64 `json:"targets,omitempty"` // new targets version, or 0
}

// finishRootCommit completes a root commit that stopped after writing
// N.root.json (a full disk before root.json was replaced and the staging
// area removed): when the staged root is byte for byte the newest
// published one, it writes root.json again, drops the staged root from st
// and returns its version. Left as it was, every later commit failed with
// "staged version N, want N+1".
func (r *Repo) finishRootCommit(st *state) (int64, error) {
	sr := st.stagedRoot
	if sr == nil || st.root == nil || sr.Signed.Version != st.root.Signed.Version {
		return 0, nil
	}
	staged, err := os.ReadFile(r.staged("root.json"))
	if err != nil || !bytes.Equal(staged, st.rootRaw) {
		return 0, nil
	}
	if err := fsutil.WriteFileAtomic(r.pub("root.json"), st.rootRaw, 0o644); err != nil {
		return 0, err
	}
	st.stagedRoot = nil
	return sr.Signed.Version, nil
}

// DiscardStaged removes all staged metadata and target files.
func (r *Repo) DiscardStaged() error {
	return r.locked(func() error { return os.RemoveAll(filepath.Join(r.dir, StagedDir)) })
}

// Commit moves fully signed staged metadata into the published tree:
// N.root.json and root.json, the staged target files as
// targets/<sha256>.<name>, then N.targets.json. It refuses, changing
// nothing, when a threshold is not met, a version does not follow the
// committed one, metadata has expired, or the committed targets would not
// verify under a new root. Snapshot and timestamp are the online keys' to
// sign afterwards (SignOnline).
func (r *Repo) Commit() (*CommitResult, error) {
	res := &CommitResult{}
	err := r.locked(func() error {
		st, err := r.loadState()
		if err != nil {
			return err
		}
		if st.stagedRoot == nil && st.stagedTargets == nil {
			return fmt.Errorf("couldn't commit: %w", ErrNothingStaged)
		}
		now := r.now()
		res.Root, err = r.finishRootCommit(st)
		if err != nil {
			return err
		}
		root := st.root
		if sr := st.stagedRoot; sr != nil {
			want := int64(1)
			if st.root != nil {
				want = st.root.Signed.Version + 1
			}
			if sr.Signed.Version != want {
				return fmt.Errorf("couldn't commit root: staged version %d, want %d", sr.Signed.Version, want)
			}
			if !sr.Signed.Expires.After(now) {
				return fmt.Errorf("couldn't commit root: it expired at %s", sr.Signed.Expires.Format(time.RFC3339))
			}
			if err := validateRoot(&sr.Signed); err != nil {
				return fmt.Errorf("couldn't commit root: %w", err)
			}
			sigs, err := st.stagedRootSignatures()
			if err != nil {
				return err
			}
			for _, s := range sigs {
				if !s.Met() {
					return fmt.Errorf("couldn't commit root v%d: %w: %s (missing %s)", sr.Signed.Version, ErrThreshold, s, shortList(s.Missing))
				}
			}
			root = sr
		}
		if root == nil {
			return fmt.Errorf("couldn't commit: %w", ErrNotInitialized)
		}
		targets := st.targets
		if tm := st.stagedTargets; tm != nil {
			want := int64(1)
			if st.targets != nil {
				want = st.targets.Signed.Version + 1
			}
			if tm.Signed.Version != want {
				return fmt.Errorf("couldn't commit targets: staged version %d, want %d", tm.Signed.Version, want)
			}
			if !tm.Signed.Expires.After(now) {
				return fmt.Errorf("couldn't commit targets: they expired at %s", tm.Signed.Expires.Format(time.RFC3339))
			}
			for name, tf := range tm.Signed.Targets {
				if _, err := os.Stat(r.stagedOrPublishedTarget(name, tf)); err != nil {
					return fmt.Errorf("couldn't commit targets: file of target %s is missing: %w", name, err)
				}
			}
			targets = tm
		}
		if targets == nil {
			return errors.New("couldn't commit: the first root needs targets staged with it (run add-target, then sign)")
		}
		if s, err := check(&root.Signed, RoleTargets, targets); err != nil || !s.Met() {
			what := "the staged targets"
			if st.stagedTargets == nil {
				what = fmt.Sprintf("targets v%d (the new root changes the targets keys: stage and sign targets again)", targets.Signed.Version)
			}
			return fmt.Errorf("couldn't commit: %w: %s (%s, missing %s)", ErrThreshold, what, s, shortList(s.Missing))
		}

		// Publish: root, target files, targets. Clients look for a new
		// root first, and only follow snapshot → targets once the online
		// keys have signed a snapshot naming the new targets version.
		if st.stagedRoot != nil {
			b, err := writeMeta(r.pub(fmt.Sprintf("%d.root.json", root.Signed.Version)), root)
			if err != nil {
				return err
			}
			if err := fsutil.WriteFileAtomic(r.pub("root.json"), b, 0o644); err != nil {
				return err
			}
			res.Root = root.Signed.Version
		}
		if tm := st.stagedTargets; tm != nil {
			for name, tf := range tm.Signed.Targets {
				dst := r.pub(filepath.Join("targets", hex.EncodeToString(tf.Hashes["sha256"])+"."+name))
				if _, err := os.Stat(dst); err == nil {
					continue
				}
				data, err := os.ReadFile(r.staged(filepath.Join("targets", name)))
				if err != nil {
					return fmt.Errorf("couldn't read staged target %s: %w", name, err)
				}
				if err := tf.VerifyLengthHashes(data); err != nil {
					return fmt.Errorf("couldn't commit target %s: the staged file changed after add-target: %w", name, err)
				}
				if err := fsutil.WriteFileAtomic(dst, data, 0o644); err != nil {
					return err
				}
			}
			if _, err := writeMeta(r.pub(fmt.Sprintf("%d.targets.json", tm.Signed.Version)), tm); err != nil {
				return err
			}
			res.Targets = tm.Signed.Version
		}
		return os.RemoveAll(filepath.Join(r.dir, StagedDir))
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

func (r *Repo) stagedOrPublishedTarget(name string, tf *metadata.TargetFiles) string {
	p := r.pub(filepath.Join("targets", hex.EncodeToString(tf.Hashes["sha256"])+"."+name))
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return r.staged(filepath.Join("targets", name))
}

func shortList(ids []string) string {
	if len(ids) == 0 {
		return "none"
	}
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = short(id)
	}
	return strings.Join(s, ", ")
}

// OnlineOptions configure SignOnline.
type OnlineOptions struct {
	SnapshotKeys, TimestampKeys     []*Key
	SnapshotExpiry, TimestampExpiry time.Duration // default DefaultSnapshotExpiry, DefaultTimestampExpiry
	// Force re-signs both even when nothing requires it.
	Force bool
}

// OnlineResult says what SignOnline did.
type OnlineResult struct {
	Snapshot  int64 `json:"snapshot,omitempty"`  // new snapshot version, or 0
	Timestamp int64 `json:"timestamp,omitempty"` // new timestamp version, or 0
	// Next is when SignOnline next has work: half the lifetime of the
	// sooner-expiring of snapshot and timestamp.
	Next time.Time `json:"next"`
}

// keepSnapshots is how many snapshot versions stay published, so a client
// that read an older timestamp.json can still fetch the snapshot it names.
const keepSnapshots = 8

// SignOnline signs a new snapshot when there is none that verifies, it
// names an older targets version, or less than half its lifetime is left;
// and a new timestamp when the snapshot changed, none verifies, or less
// than half its lifetime is left. It writes N.snapshot.json before
// timestamp.json, which is replaced atomically.
func (r *Repo) SignOnline(o OnlineOptions) (*OnlineResult, error) {
	if o.SnapshotExpiry <= 0 {
		o.SnapshotExpiry = DefaultSnapshotExpiry
	}
	if o.TimestampExpiry <= 0 {
		o.TimestampExpiry = DefaultTimestampExpiry
	}
	res := &OnlineResult{}
	err := r.locked(func() error {
		st, err := r.load()
		if err != nil {
			return err
		}
		if st.root == nil {
			return fmt.Errorf("couldn't sign snapshot: %w", ErrNotInitialized)
		}
		if st.targets == nil {
			return errors.New("couldn't sign snapshot: no targets committed")
		}
		now := r.now()
		hw := r.highWater()
		// A repository copied over this one must not take clients
		// backwards or point them at files that are not here: refuse to
		// sign for it (the service then reports not ready).
		if st.targets.Signed.Version < hw.Targets || st.root.Signed.Version < hw.Root {
			return fmt.Errorf("couldn't sign snapshot: the repository went back to root v%d and targets v%d after v%d and v%d were published here; clients would refuse it as a rollback (copy the newest ceremony repository)",
				st.root.Signed.Version, st.targets.Signed.Version, hw.Root, hw.Targets)
		}
		if err := r.checkTargetFiles(st.targets); err != nil {
			return fmt.Errorf("couldn't sign snapshot: %w", err)
		}
		hw.Targets, hw.Root = st.targets.Signed.Version, st.root.Signed.Version
		snap := st.snapshot
		if o.Force || snap == nil || snap.Signed.Version < hw.Snapshot || snap.Signed.Meta["targets.json"] == nil ||
			snap.Signed.Meta["targets.json"].Version != st.targets.Signed.Version ||
			snap.Signed.Meta["targets.json"].VerifyLengthHashes(st.targetsRaw) != nil ||
			snap.Signed.Expires.Sub(now) < o.SnapshotExpiry/2 {
			next := metadata.Snapshot(expiry(now, o.SnapshotExpiry))
			next.Signed.Version = hw.Snapshot + 1
			if vs, err := r.versions(RoleSnapshot); err == nil && len(vs) > 0 {
				next.Signed.Version = max(next.Signed.Version, vs[len(vs)-1]+1)
			}
			mf := metadata.MetaFile(st.targets.Signed.Version)
			mf.Length = int64(len(st.targetsRaw))
			h := sha256.Sum256(st.targetsRaw)
			mf.Hashes = metadata.Hashes{"sha256": h[:]}
			next.Signed.Meta = map[string]*metadata.MetaFiles{"targets.json": mf}
			if err := signRole(&st.root.Signed, RoleSnapshot, next, o.SnapshotKeys); err != nil {
				return err
			}
			if _, err := writeMeta(r.pub(fmt.Sprintf("%d.snapshot.json", next.Signed.Version)), next); err != nil {
				return err
			}
			snap = next
			res.Snapshot = next.Signed.Version
			hw.Snapshot = next.Signed.Version
			if err := r.setHighWater(hw); err != nil {
				return err
			}
		}
		ts := st.timestamp
		raw, err := os.ReadFile(r.pub(fmt.Sprintf("%d.snapshot.json", snap.Signed.Version)))
		if err != nil {
			return fmt.Errorf("couldn't read snapshot: %w", err)
		}
		// Length and hash too: metadata whose file changed under the
		// same version (reformatted by hand, copied from another
		// repository) fails every client until it is named anew.
		if o.Force || res.Snapshot != 0 || ts == nil || ts.Signed.Version < hw.Timestamp || ts.Signed.Meta["snapshot.json"] == nil ||
			ts.Signed.Meta["snapshot.json"].Version != snap.Signed.Version ||
			ts.Signed.Meta["snapshot.json"].VerifyLengthHashes(raw) != nil ||
			ts.Signed.Expires.Sub(now) < o.TimestampExpiry/2 {
			next := metadata.Timestamp(expiry(now, o.TimestampExpiry))
			next.Signed.Version = hw.Timestamp + 1
			if old, err := metadata.Timestamp().FromFile(r.pub("timestamp.json")); err == nil {
				// Also when signed by keys the root no longer lists.
				next.Signed.Version = max(next.Signed.Version, old.Signed.Version+1)
			}
			mf := metadata.MetaFile(snap.Signed.Version)
			mf.Length = int64(len(raw))
			h := sha256.Sum256(raw)
			mf.Hashes = metadata.Hashes{"sha256": h[:]}
			next.Signed.Meta = map[string]*metadata.MetaFiles{"snapshot.json": mf}
			if err := signRole(&st.root.Signed, RoleTimestamp, next, o.TimestampKeys); err != nil {
				return err
			}
			if _, err := writeMeta(r.pub("timestamp.json"), next); err != nil {
				return err
			}
			ts = next
			res.Timestamp = next.Signed.Version
			hw.Timestamp = next.Signed.Version
			if err := r.setHighWater(hw); err != nil {
				return err
			}
		}
		res.Next = snap.Signed.Expires.Add(-o.SnapshotExpiry / 2)
		if t := ts.Signed.Expires.Add(-o.TimestampExpiry / 2); t.Before(res.Next) {
			res.Next = t
		}
		r.pruneSnapshots(snap.Signed.Version)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// highWater records the newest snapshot and timestamp versions this
// directory's online keys signed, in Dir/online.json, outside the
// published tree: copying a ceremony's repository/ over the published one
// (with an older timestamp.json) must not make the next timestamp's
// version go back, which clients refuse as a rollback (TUF specification
// §5.4.3).
type highWater struct {
	Snapshot  int64 `json:"snapshot"`
	Timestamp int64 `json:"timestamp"`
	// Targets and Root are the newest versions a snapshot here was
	// signed for.
	Targets int64 `json:"targets,omitempty"`
	Root    int64 `json:"root,omitempty"`
}

// checkTargetFiles checks that every target of t is published, with its
// length and hash (a repository copied without its targets/ directory
// would otherwise be signed and served, and fail every client).
func (r *Repo) checkTargetFiles(t *metadata.Metadata[metadata.TargetsType]) error {
	for name, tf := range t.Signed.Targets {
		p := r.pub(filepath.Join("targets", hex.EncodeToString(tf.Hashes["sha256"])+"."+name))
		data, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("target %s of targets v%d is not published (%w)", name, t.Signed.Version, err)
		}
		if err := tf.VerifyLengthHashes(data); err != nil {
			return fmt.Errorf("target %s of targets v%d does not match its file %s: %w", name, t.Signed.Version, p, err)
		}
	}
	return nil
}

func (r *Repo) highWater() highWater {
	var hw highWater
	if b, err := os.ReadFile(filepath.Join(r.dir, "online.json")); err == nil {
		_ = json.Unmarshal(b, &hw)
	}
	return hw
}

func (r *Repo) setHighWater(hw highWater) error {
	b, err := json.Marshal(hw)
	if err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(filepath.Join(r.dir, "online.json"), b, 0o644)
}

// signRole signs m with those of keys that root assigns to role, and
// checks the threshold is met.
func signRole[T metadata.Roles](root *metadata.RootType, role string, m *metadata.Metadata[T], keys []*Key) error {
	ids := roleKeyIDs(root, role)
	for _, k := range keys {
		if slices.Contains(ids, k.ID()) {
			if err := signWith(m, k); err != nil {
				return err
			}
		}
	}
	s, err := check(root, role, m)
	if err != nil {
		return err
	}
	if !s.Met() {
		have := make([]string, len(keys))
		for i, k := range keys {
			have[i] = short(k.ID())
		}
		return fmt.Errorf("couldn't sign %s: %w: %s; the root lists %s keys %s, the keys given are %s",
			role, ErrThreshold, s, role, shortList(ids), strings.Join(have, ", "))
	}
	return nil
}

func (r *Repo) pruneSnapshots(latest int64) {
	vs, err := r.versions(RoleSnapshot)
	if err != nil {
		return
	}
	for _, v := range vs {
		if v <= latest-keepSnapshots {
			_ = os.Remove(r.pub(fmt.Sprintf("%d.snapshot.json", v)))
		}
	}
}

// Export copies the published tree into dir, creating it, so that any
// static web server can serve it (an air-gapped mirror). Files already
// there with the same content are left alone; timestamp.json is written
// last, so a client reading the mirror during the copy sees the old
// repository or the new one.
func (r *Repo) Export(dir string) error {
	return r.locked(func() error {
		st, err := r.load()
		if err != nil {
			return err
		}
		if st.root == nil {
			return fmt.Errorf("couldn't publish: %w", ErrNotInitialized)
		}
		if st.timestamp == nil || st.snapshot == nil {
			return errors.New("couldn't publish: no valid snapshot and timestamp; sign them with the online keys first")
		}
		now := r.now()
		for _, m := range []struct {
			role    string
			expires time.Time
		}{{RoleRoot, st.root.Signed.Expires}, {RoleTargets, st.targets.Signed.Expires}, {RoleSnapshot, st.snapshot.Signed.Expires}, {RoleTimestamp, st.timestamp.Signed.Expires}} {
			if !now.Before(m.expires) {
				return fmt.Errorf("couldn't publish: %s.json expired at %s; clients refuse it (sign a new version first)", m.role, m.expires.UTC().Format(time.RFC3339))
			}
		}
		// A mirror that clients already read must not go back: they
		// refuse a lower version as a rollback and stay broken.
		if old, err := metadata.Timestamp().FromFile(filepath.Join(dir, "timestamp.json")); err == nil && old.Signed.Version > st.timestamp.Signed.Version {
			return fmt.Errorf("couldn't publish to %s: it holds timestamp v%d, newer than this repository's v%d (an older copy of the ceremony?)", dir, old.Signed.Version, st.timestamp.Signed.Version)
		}
		if old, err := metadata.Root().FromFile(filepath.Join(dir, "root.json")); err == nil && old.Signed.Version > st.root.Signed.Version {
			return fmt.Errorf("couldn't publish to %s: it holds root v%d, newer than this repository's v%d (an older copy of the ceremony?)", dir, old.Signed.Version, st.root.Signed.Version)
		}
		src := r.PublishedPath()
		var files []string
		err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type().IsRegular() && !strings.HasPrefix(d.Name(), ".") {
				rel, _ := filepath.Rel(src, p)
				files = append(files, rel)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("couldn't list repository: %w", err)
		}
		// timestamp.json last; root.json just before it.
		rank := func(f string) int {
			switch f {
			case "timestamp.json":
				return 2
			case "root.json":
				return 1
			}
			return 0
		}
		sort.SliceStable(files, func(i, j int) bool { return rank(files[i]) < rank(files[j]) })
		for _, f := range files {
			data, err := os.ReadFile(filepath.Join(src, f))
			if err != nil {
				return fmt.Errorf("couldn't read %s: %w", f, err)
			}
			dst := filepath.Join(dir, f)
			if old, err := os.ReadFile(dst); err == nil && bytes.Equal(old, data) {
				continue
			}
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return fmt.Errorf("couldn't publish: %w", err)
			}
			if err := fsutil.WriteFileAtomic(dst, data, 0o644); err != nil {
				return err
			}
		}
		return nil
	})
}

// ErrNoTarget is returned by Target for a target that is not committed.
var ErrNoTarget = errors.New("no such target")

// Target returns the bytes of a committed target.
func (r *Repo) Target(name string) ([]byte, error) {
	var out []byte
	err := r.locked(func() error {
		st, err := r.load()
		if err != nil {
			return err
		}
		if st.targets == nil {
			return fmt.Errorf("couldn't read target %s: %w: no targets committed", name, ErrNoTarget)
		}
		tf, ok := st.targets.Signed.Targets[name]
		if !ok {
			return fmt.Errorf("couldn't read target %s: %w", name, ErrNoTarget)
		}
		data, err := os.ReadFile(r.pub(filepath.Join("targets", hex.EncodeToString(tf.Hashes["sha256"])+"."+name)))
		if err != nil {
			return fmt.Errorf("couldn't read target %s: %w", name, err)
		}
		if err := tf.VerifyLengthHashes(data); err != nil {
			return fmt.Errorf("couldn't read target %s: %w", name, err)
		}
		out = data
		return nil
	})
	return out, err
}

// RootJSON returns the newest committed root.json, the trust anchor to
// hand to clients (sigil trust init --root, cosign initialize --root).
func (r *Repo) RootJSON() ([]byte, error) {
	var out []byte
	err := r.locked(func() error {
		st, err := r.load()
		if err != nil {
			return err
		}
		if st.root == nil {
			return fmt.Errorf("couldn't read root: %w", ErrNotInitialized)
		}
		out = st.rootRaw
		return nil
	})
	return out, err
}

// OnlineKeyWarnings compares the online keys a sigil server keeps beside
// this repository (Dir/keys/snapshot.pem.pub and timestamp.pem.pub, when
// Dir is a server's DATA/tuf) with the roles of the staged root, or of
// the committed one: a rotation that replaced them leaves the server
// unable to sign, and every client then stuck, until the server has the
// new private keys. It returns one warning per role that does not match.
func (r *Repo) OnlineKeyWarnings() ([]string, error) {
	var warnings []string
	err := r.locked(func() error {
		st, err := r.load()
		if err != nil {
			return err
		}
		root := st.effectiveRoot()
		if root == nil {
			return nil
		}
		for role, file := range map[string]string{RoleSnapshot: snapshotKeyFile, RoleTimestamp: timestampKeyFile} {
			raw, err := os.ReadFile(filepath.Join(r.dir, keysDir, file+".pub"))
			if err != nil {
				continue // not a server's directory, or no key of its own
			}
			k, err := ParseKey(raw, nil)
			if err != nil {
				continue
			}
			if ids := roleKeyIDs(&root.Signed, role); !slices.Contains(ids, k.ID()) {
				warnings = append(warnings, fmt.Sprintf("the server of this directory signs %s with key %s, which root v%d does not list (it lists %s): put the new %s private key in %s before publishing, or the server stops signing and clients stay on the old state",
					role, short(k.ID()), root.Signed.Version, shortList(ids), role, filepath.Join(r.dir, keysDir, file)))
			}
		}
		sort.Strings(warnings)
		return nil
	})
	return warnings, err
}
