package tuf

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata/config"
	"github.com/theupdateframework/go-tuf/v2/metadata/updater"
)

// goTUF is a go-tuf client (the updater Sigstore clients use) with its own
// cache, trusting an initial root.
type goTUF struct {
	t     *testing.T
	url   string
	cache string
	root  []byte
}

func newGoTUF(t *testing.T, url string, root []byte) *goTUF {
	return &goTUF{t: t, url: url, cache: t.TempDir(), root: root}
}

// fetch runs the client workflow at time now and downloads name.
func (c *goTUF) fetch(name string, now time.Time) ([]byte, error) {
	c.t.Helper()
	root := c.root
	if b, err := os.ReadFile(filepath.Join(c.cache, "root.json")); err == nil {
		root = b // the newest root this client has verified
	}
	cfg, err := config.New(c.url, root)
	if err != nil {
		c.t.Fatal(err)
	}
	cfg.LocalMetadataDir = c.cache
	cfg.LocalTargetsDir = filepath.Join(c.cache, "targets")
	up, err := updater.New(cfg)
	if err != nil {
		return nil, err
	}
	up.UnsafeSetRefTime(now)
	if err := up.Refresh(); err != nil {
		return nil, err
	}
	ti, err := up.GetTargetInfo(name)
	if err != nil {
		return nil, err
	}
	_, data, err := up.DownloadTarget(ti, filepath.Join(c.t.TempDir(), name), "")
	return data, err
}

func (c *goTUF) rootVersion() int64 {
	b, err := os.ReadFile(filepath.Join(c.cache, "root.json"))
	if err != nil {
		return 0
	}
	var v struct {
		Signed struct{ Version int64 } `json:"signed"`
	}
	if err := jsonUnmarshal(b, &v); err != nil {
		c.t.Fatal(err)
	}
	return v.Signed.Version
}

// ceremony is a repository with its keys, served by a plain static file
// server (what an air-gapped mirror is).
type ceremony struct {
	t                   *testing.T
	repo                *Repo
	root                []*Key
	targets             []*Key
	snapshot, timestamp *Key
	srv                 *httptest.Server
	now                 time.Time
}

func mustKey(t *testing.T) *Key {
	t.Helper()
	k, err := GenerateKey(KeyEd25519)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func pubOnly(t *testing.T, k *Key) *Key {
	t.Helper()
	p, err := NewKey(k.Public, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// newCeremony runs init with 3 root keys (threshold 2), 1 targets key and
// online keys, adds a target, signs and commits and signs online.
func newCeremony(t *testing.T) *ceremony {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Second)
	c := &ceremony{t: t, now: now}
	var err error
	if c.repo, err = OpenRepo(t.TempDir(), func() time.Time { return c.now }); err != nil {
		t.Fatal(err)
	}
	c.root = []*Key{mustKey(t), mustKey(t), mustKey(t)}
	c.targets = []*Key{mustKey(t)}
	c.snapshot, c.timestamp = mustKey(t), mustKey(t)
	// The ceremony needs only public keys to init.
	var rootPubs []*Key
	for _, k := range c.root {
		rootPubs = append(rootPubs, pubOnly(t, k))
	}
	if err := c.repo.Init(InitOptions{
		RootKeys: rootPubs, RootThreshold: 2, TargetsKeys: []*Key{pubOnly(t, c.targets[0])},
		SnapshotKeys: []*Key{pubOnly(t, c.snapshot)}, TimestampKeys: []*Key{pubOnly(t, c.timestamp)},
	}); err != nil {
		t.Fatal(err)
	}
	if err := c.repo.StageTargets(map[string][]byte{"trusted_root.json": []byte(`{"v":1}`)}, nil, time.Time{}); err != nil {
		t.Fatal(err)
	}
	c.sign(c.root[0], c.root[1], c.targets[0])
	if _, err := c.repo.Commit(); err != nil {
		t.Fatal(err)
	}
	c.online()
	c.srv = httptest.NewServer(http.FileServer(http.Dir(c.repo.PublishedPath())))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *ceremony) sign(keys ...*Key) {
	c.t.Helper()
	if _, err := c.repo.Sign(keys); err != nil {
		c.t.Fatal(err)
	}
}

func (c *ceremony) online() *OnlineResult {
	c.t.Helper()
	res, err := c.repo.SignOnline(OnlineOptions{SnapshotKeys: []*Key{c.snapshot}, TimestampKeys: []*Key{c.timestamp}})
	if err != nil {
		c.t.Fatal(err)
	}
	return res
}

func (c *ceremony) rootJSON() []byte {
	c.t.Helper()
	b, err := c.repo.RootJSON()
	if err != nil {
		c.t.Fatal(err)
	}
	return b
}

// TestCeremonyPublishesWhatGoTUFAccepts: a repository made with Init,
// StageTargets, Sign, Commit and SignOnline, served by a plain file
// server, updates with go-tuf's client, which downloads the target.
func TestCeremonyPublishesWhatGoTUFAccepts(t *testing.T) {
	c := newCeremony(t)
	got, err := newGoTUF(t, c.srv.URL, c.rootJSON()).fetch("trusted_root.json", c.now)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != `{"v":1}` {
		t.Errorf("target = %q", got)
	}
	if local, err := c.repo.Target("trusted_root.json"); err != nil || string(local) != `{"v":1}` {
		t.Errorf("Repo.Target = %q, %v", local, err)
	}
	if _, err := c.repo.Target("nope.json"); err == nil {
		t.Error("Repo.Target of a missing target succeeded")
	}
	for _, f := range []string{"1.root.json", "root.json", "1.targets.json", "1.snapshot.json", "timestamp.json"} {
		if _, err := os.Stat(filepath.Join(c.repo.PublishedPath(), f)); err != nil {
			t.Errorf("published tree lacks %s", f)
		}
	}
	matches, _ := filepath.Glob(filepath.Join(c.repo.PublishedPath(), "targets", "*.trusted_root.json"))
	if len(matches) != 1 || len(filepath.Base(matches[0])) != 64+len(".trusted_root.json") {
		t.Errorf("target files %v, want one targets/<sha256>.trusted_root.json", matches)
	}
	if _, err := os.Stat(filepath.Join(c.repo.Dir(), StagedDir)); !errors.Is(err, os.ErrNotExist) {
		t.Error("staging area left after commit")
	}
}

// TestCommitRefusesBelowThreshold: staged metadata is published only when
// every threshold is met; until then nothing changes for clients.
func TestCommitRefusesBelowThreshold(t *testing.T) {
	c := newCeremony(t)
	if err := c.repo.StageTargets(map[string][]byte{"trusted_root.json": []byte(`{"v":2}`)}, nil, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.repo.Commit(); !errors.Is(err, ErrThreshold) {
		t.Fatalf("Commit of unsigned targets = %v, want ErrThreshold", err)
	}
	// A root key cannot sign targets, and a stranger key signs nothing.
	if _, err := c.repo.Sign([]*Key{mustKey(t)}); err == nil {
		t.Fatal("a key of no role signed")
	}
	st, err := c.repo.Status()
	if err != nil {
		t.Fatal(err)
	}
	if st.StagedTargets == nil || st.StagedTargets.Ready() || st.StagedTargets.Version != 2 {
		t.Fatalf("staged targets status %+v", st.StagedTargets)
	}
	c.sign(c.targets[0])
	if st, _ = c.repo.Status(); !st.StagedTargets.Ready() {
		t.Fatalf("signed targets not ready: %+v", st.StagedTargets.Signatures)
	}
	if _, err := c.repo.Commit(); err != nil {
		t.Fatal(err)
	}
	c.online()
	got, err := newGoTUF(t, c.srv.URL, c.rootJSON()).fetch("trusted_root.json", c.now)
	if err != nil || string(got) != `{"v":2}` {
		t.Fatalf("after commit: %q, %v", got, err)
	}
}

// TestRootRotation: a new root that replaces two of three root keys and
// every other role's keys, signed by a threshold of the old root keys and
// of the new ones, is followed by a go-tuf client that trusts only the
// first root. Signatures of the new keys alone are not enough.
func TestRootRotation(t *testing.T) {
	c := newCeremony(t)
	client := newGoTUF(t, c.srv.URL, c.rootJSON())
	if _, err := client.fetch("trusted_root.json", c.now); err != nil {
		t.Fatal(err)
	}
	newRoot := []*Key{mustKey(t), mustKey(t)}
	newTargets, newSnapshot, newTimestamp := mustKey(t), mustKey(t), mustKey(t)
	if err := c.repo.RotateRoot(RootChange{
		Remove: map[string][]string{
			RoleRoot:      {c.root[0].ID(), c.root[1].ID()},
			RoleTargets:   {c.targets[0].ID()},
			RoleSnapshot:  {c.snapshot.ID()},
			RoleTimestamp: {c.timestamp.ID()},
		},
		Add: map[string][]*Key{
			RoleRoot:      {pubOnly(t, newRoot[0]), pubOnly(t, newRoot[1])},
			RoleTargets:   {pubOnly(t, newTargets)},
			RoleSnapshot:  {pubOnly(t, newSnapshot)},
			RoleTimestamp: {pubOnly(t, newTimestamp)},
		},
		Thresholds: map[string]int{RoleRoot: 2},
	}); err != nil {
		t.Fatal(err)
	}
	// The targets keys change, so targets must be re-signed by the new key.
	if err := c.repo.StageTargets(map[string][]byte{"trusted_root.json": []byte(`{"v":"rotated"}`)}, nil, time.Time{}); err != nil {
		t.Fatal(err)
	}
	c.sign(newRoot[0], newRoot[1], newTargets)
	if _, err := c.repo.Commit(); !errors.Is(err, ErrThreshold) || !strings.Contains(err.Error(), "previous version 1") {
		t.Fatalf("Commit with only the new root keys = %v, want the previous root's threshold unmet", err)
	}
	c.sign(c.root[2]) // one old key: 1 of 2
	if _, err := c.repo.Commit(); !errors.Is(err, ErrThreshold) {
		t.Fatalf("Commit with 1 of 2 old root signatures = %v", err)
	}
	c.sign(c.root[0]) // a removed key may sign for the old root
	res, err := c.repo.Commit()
	if err != nil {
		t.Fatal(err)
	}
	if res.Root != 2 || res.Targets != 2 {
		t.Errorf("committed root v%d targets v%d", res.Root, res.Targets)
	}
	// The old online keys are no longer trusted.
	if _, err := c.repo.SignOnline(OnlineOptions{SnapshotKeys: []*Key{c.snapshot}, TimestampKeys: []*Key{c.timestamp}}); !errors.Is(err, ErrThreshold) {
		t.Fatalf("SignOnline with rotated-out keys = %v, want ErrThreshold", err)
	}
	c.snapshot, c.timestamp = newSnapshot, newTimestamp
	c.online()

	got, err := client.fetch("trusted_root.json", c.now)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != `{"v":"rotated"}` {
		t.Errorf("target after rotation = %q", got)
	}
	if v := client.rootVersion(); v != 2 {
		t.Errorf("client trusts root v%d, want 2", v)
	}
	// A new client that starts from root v1 walks to v2 as well.
	if _, err := newGoTUF(t, c.srv.URL, mustRead(t, filepath.Join(c.repo.PublishedPath(), "1.root.json"))).fetch("trusted_root.json", c.now); err != nil {
		t.Fatalf("client from root v1: %v", err)
	}
}

// TestRotationKeepingTargetsKeys: a rotation that leaves the targets keys
// alone needs no new targets, and one that changes them cannot be
// committed until targets are re-signed by the new keys.
func TestRotationKeepingTargetsKeys(t *testing.T) {
	c := newCeremony(t)
	if err := c.repo.RotateRoot(RootChange{Add: map[string][]*Key{RoleRoot: {pubOnly(t, mustKey(t))}}}); err != nil {
		t.Fatal(err)
	}
	c.sign(c.root[0], c.root[1])
	if _, err := c.repo.Commit(); err != nil {
		t.Fatal(err)
	}
	c.online()
	if _, err := newGoTUF(t, c.srv.URL, mustRead(t, filepath.Join(c.repo.PublishedPath(), "1.root.json"))).fetch("trusted_root.json", c.now); err != nil {
		t.Fatal(err)
	}

	nt := mustKey(t)
	if err := c.repo.RotateRoot(RootChange{Remove: map[string][]string{RoleTargets: {c.targets[0].ID()}}, Add: map[string][]*Key{RoleTargets: {nt}}}); err != nil {
		t.Fatal(err)
	}
	c.sign(c.root[0], c.root[1])
	if _, err := c.repo.Commit(); !errors.Is(err, ErrThreshold) || !strings.Contains(err.Error(), "targets keys") {
		t.Fatalf("Commit = %v, want a request to re-sign targets", err)
	}
}

// TestRotateRootValidation: a rotation must leave every role reachable.
func TestRotateRootValidation(t *testing.T) {
	c := newCeremony(t)
	tests := []struct {
		name   string
		change RootChange
	}{
		{"threshold above keys", RootChange{Thresholds: map[string]int{RoleRoot: 4}}},
		{"zero threshold", RootChange{Thresholds: map[string]int{RoleTargets: 0}}},
		{"no timestamp key", RootChange{Remove: map[string][]string{RoleTimestamp: {c.timestamp.ID()}}}},
		{"unknown key", RootChange{Remove: map[string][]string{RoleRoot: {"abcdef"}}}},
		{"unknown role", RootChange{Add: map[string][]*Key{"mirror": {mustKey(t)}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := c.repo.RotateRoot(tt.change); err == nil {
				t.Fatal("accepted")
			}
			if st, _ := c.repo.Status(); st.StagedRoot != nil {
				t.Fatal("a refused rotation was staged")
			}
		})
	}
}

// TestTamperedTargetRefused: a target file changed on the mirror is
// refused by the client (length and hash come from signed metadata).
func TestTamperedTargetRefused(t *testing.T) {
	c := newCeremony(t)
	matches, _ := filepath.Glob(filepath.Join(c.repo.PublishedPath(), "targets", "*.trusted_root.json"))
	if err := os.WriteFile(matches[0], []byte(`{"v":9}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := newGoTUF(t, c.srv.URL, c.rootJSON()).fetch("trusted_root.json", c.now); err == nil {
		t.Fatal("tampered target accepted")
	}
}

// TestOnlineRefresh: SignOnline re-signs the timestamp once half its
// lifetime has passed, the snapshot once half of its own has, and nothing
// before; a client past the timestamp's expiry fails until it is re-signed.
func TestOnlineRefresh(t *testing.T) {
	c := newCeremony(t)
	if res := c.online(); res.Snapshot != 0 || res.Timestamp != 0 {
		t.Fatalf("nothing due, yet signed %+v", res)
	}
	c.now = c.now.Add(DefaultTimestampExpiry/2 + time.Hour)
	if res := c.online(); res.Timestamp != 2 || res.Snapshot != 0 {
		t.Errorf("refresh signed %+v, want timestamp v2 only", res)
	}
	c.now = c.now.Add(DefaultTimestampExpiry + time.Hour)
	if _, err := newGoTUF(t, c.srv.URL, c.rootJSON()).fetch("trusted_root.json", c.now); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("client with an expired timestamp: %v", err)
	}
	if res := c.online(); res.Snapshot != 2 || res.Timestamp != 3 {
		t.Errorf("refresh signed %+v, want snapshot v2 and timestamp v3", res)
	}
	if _, err := newGoTUF(t, c.srv.URL, c.rootJSON()).fetch("trusted_root.json", c.now); err != nil {
		t.Fatalf("after refresh: %v", err)
	}
}

// TestExport: the published tree copied to a plain directory serves
// clients the same way (air gap).
func TestExport(t *testing.T) {
	c := newCeremony(t)
	out := t.TempDir()
	if err := c.repo.Export(out); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(out)))
	defer srv.Close()
	if _, err := newGoTUF(t, srv.URL, c.rootJSON()).fetch("trusted_root.json", c.now); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(out, ".lock")); err == nil {
		t.Error("exported the lock file")
	}
	// Exporting again changes nothing and succeeds.
	if err := c.repo.Export(out); err != nil {
		t.Fatal(err)
	}
}

// TestInitTwiceRefused: init only once.
func TestInitTwiceRefused(t *testing.T) {
	c := newCeremony(t)
	k := mustKey(t)
	if err := c.repo.Init(InitOptions{RootKeys: []*Key{k}, TargetsKeys: []*Key{k}, SnapshotKeys: []*Key{k}, TimestampKeys: []*Key{k}}); err == nil {
		t.Fatal("second init accepted")
	}
}

// TestTamperedCommittedRootRefused: a repository whose committed root no
// longer verifies is refused, not served or re-signed.
func TestTamperedCommittedRootRefused(t *testing.T) {
	c := newCeremony(t)
	p := filepath.Join(c.repo.PublishedPath(), "1.root.json")
	b := mustRead(t, p)
	b = []byte(strings.Replace(string(b), `"threshold": 2`, `"threshold": 1`, 1))
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := c.repo.Status(); !errors.Is(err, ErrInvalidRepository) {
		t.Fatalf("Status = %v, want ErrInvalidRepository", err)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// TestNoRollbackAfterCopyOver: copying a ceremony's older timestamp.json
// over the published tree (an operator syncing repository/) does not make
// the next timestamp's version go back: a client that saw the newer one
// keeps updating.
func TestNoRollbackAfterCopyOver(t *testing.T) {
	c := newCeremony(t)
	old := mustRead(t, filepath.Join(c.repo.PublishedPath(), "timestamp.json"))
	client := newGoTUF(t, c.srv.URL, c.rootJSON())
	for range 3 {
		c.now = c.now.Add(DefaultTimestampExpiry/2 + time.Hour)
		c.online()
	}
	if _, err := client.fetch("trusted_root.json", c.now); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(c.repo.PublishedPath(), "timestamp.json"), old, 0o644); err != nil {
		t.Fatal(err)
	}
	res := c.online()
	if res.Timestamp <= 4 {
		t.Fatalf("timestamp re-signed as v%d after v4 was published", res.Timestamp)
	}
	if _, err := client.fetch("trusted_root.json", c.now); err != nil {
		t.Fatalf("client after the copy-over: %v", err)
	}
}

// Unsafe ceremony operations an audit found accepted: an offline role's
// key among the online ones, lifetimes that lock clients out, exporting
// expired metadata or over a newer mirror, and signing a snapshot for a
// repository that went back or lacks its target files.
func TestCeremonyRefusesUnsafeOperations(t *testing.T) {
	k := mustKey(t)
	repo, err := OpenRepo(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	other := mustKey(t)
	for name, o := range map[string]InitOptions{
		"root key online":    {RootKeys: []*Key{k}, TargetsKeys: []*Key{other}, SnapshotKeys: []*Key{k}, TimestampKeys: []*Key{mustKey(t)}},
		"targets key online": {RootKeys: []*Key{k}, TargetsKeys: []*Key{other}, SnapshotKeys: []*Key{mustKey(t)}, TimestampKeys: []*Key{other}},
	} {
		if err := repo.Init(o); err == nil || !strings.Contains(err.Error(), "online") {
			t.Errorf("%s: %v", name, err)
		}
	}
	short := InitOptions{RootKeys: []*Key{k}, TargetsKeys: []*Key{k}, SnapshotKeys: []*Key{other}, TimestampKeys: []*Key{other}, RootExpires: time.Now().Add(time.Minute)}
	if err := repo.Init(short); err == nil || !strings.Contains(err.Error(), "locked out") {
		t.Errorf("a root expiring in a minute: %v", err)
	}

	c := newCeremony(t)
	if err := c.repo.StageTargets(map[string][]byte{"x": []byte("x")}, nil, c.now.Add(time.Hour)); err == nil || !strings.Contains(err.Error(), "locked out") {
		t.Errorf("targets expiring in an hour: %v", err)
	}
	if err := c.repo.RotateRoot(RootChange{Add: map[string][]*Key{RoleSnapshot: {pubOnly(t, c.root[0])}}}); err == nil || !strings.Contains(err.Error(), "online") {
		t.Errorf("a root key added to snapshot: %v", err)
	}

	// Export over a mirror that already has a newer timestamp.
	out := t.TempDir()
	if err := c.repo.Export(out); err != nil {
		t.Fatal(err)
	}
	if _, err := c.repo.SignOnline(OnlineOptions{SnapshotKeys: []*Key{c.snapshot}, TimestampKeys: []*Key{c.timestamp}, Force: true}); err != nil {
		t.Fatal(err)
	}
	newer := t.TempDir()
	if err := c.repo.Export(newer); err != nil {
		t.Fatal(err)
	}
	old := newCeremony(t)
	if err := old.repo.Export(newer); err == nil || !strings.Contains(err.Error(), "newer than this repository") {
		t.Errorf("export over a newer mirror: %v", err)
	}
	// Export once the timestamp has expired.
	c.now = c.now.Add(DefaultTimestampExpiry + time.Hour)
	if err := c.repo.Export(out); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("export of an expired timestamp: %v", err)
	}
	c.now = c.now.Add(-DefaultTimestampExpiry - time.Hour)

	// A published target file gone: no snapshot is signed for it.
	files, _ := filepath.Glob(filepath.Join(c.repo.PublishedPath(), "targets", "*"))
	if len(files) == 0 {
		t.Fatal("no published targets")
	}
	data, _ := os.ReadFile(files[0])
	os.Remove(files[0])
	_, err = c.repo.SignOnline(OnlineOptions{SnapshotKeys: []*Key{c.snapshot}, TimestampKeys: []*Key{c.timestamp}, Force: true})
	if err == nil || !strings.Contains(err.Error(), "not published") {
		t.Errorf("a missing target file: %v", err)
	}
	os.WriteFile(files[0], data, 0o644) //nolint:errcheck

	// Targets going back to an older version (an old copy of the
	// ceremony's repository/): no snapshot is signed for it.
	if err := c.repo.StageTargets(map[string][]byte{"y": []byte("y")}, nil, time.Time{}); err != nil {
		t.Fatal(err)
	}
	c.sign(c.targets[0])
	if _, err := c.repo.Commit(); err != nil {
		t.Fatal(err)
	}
	c.online()
	if err := os.Remove(filepath.Join(c.repo.PublishedPath(), "2.targets.json")); err != nil {
		t.Fatal(err)
	}
	_, err = c.repo.SignOnline(OnlineOptions{SnapshotKeys: []*Key{c.snapshot}, TimestampKeys: []*Key{c.timestamp}, Force: true})
	if err == nil || !strings.Contains(err.Error(), "rollback") {
		t.Errorf("targets back to v1: %v", err)
	}
}

// A rotation run in a server's DATA/tuf that replaces the online keys
// warns that the server's keys no longer match.
func TestOnlineKeyWarnings(t *testing.T) {
	c := newCeremony(t)
	keys := filepath.Join(c.repo.Dir(), keysDir)
	os.MkdirAll(keys, 0o700) //nolint:errcheck
	for file, k := range map[string]*Key{snapshotKeyFile: c.snapshot, timestampKeyFile: c.timestamp} {
		pub, _ := k.MarshalPublicKey()
		os.WriteFile(filepath.Join(keys, file+".pub"), pub, 0o644) //nolint:errcheck
	}
	if ws, err := c.repo.OnlineKeyWarnings(); err != nil || len(ws) != 0 {
		t.Fatalf("matching keys: %v %v", ws, err)
	}
	next := mustKey(t)
	if err := c.repo.RotateRoot(RootChange{Add: map[string][]*Key{RoleTimestamp: {pubOnly(t, next)}}, Remove: map[string][]string{RoleTimestamp: {c.timestamp.ID()}}}); err != nil {
		t.Fatal(err)
	}
	ws, err := c.repo.OnlineKeyWarnings()
	if err != nil || len(ws) != 1 || !strings.Contains(ws[0], "signs timestamp with key") {
		t.Fatalf("rotated timestamp key: %v %v", ws, err)
	}
}

// TestCommitFinishesAnInterruptedRootCommit: a root commit that stopped
// after writing N.root.json (a full disk before root.json and the staging
// area) is finished by the next commit, instead of failing with "staged
// version N, want N+1" for good.
func TestCommitFinishesAnInterruptedRootCommit(t *testing.T) {
	c := newCeremony(t)
	if err := c.repo.RotateRoot(RootChange{Expires: c.now.Add(400 * 24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	c.sign(c.root...)
	staged := filepath.Join(c.repo.Dir(), StagedDir, "root.json")
	// What Commit had done when the disk filled up.
	if err := os.WriteFile(filepath.Join(c.repo.PublishedPath(), "2.root.json"), mustRead(t, staged), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := c.repo.Commit()
	if err != nil {
		t.Fatalf("commit after an interrupted root commit: %v", err)
	}
	if res.Root != 2 {
		t.Errorf("committed root v%d, want 2", res.Root)
	}
	if !bytes.Equal(mustRead(t, filepath.Join(c.repo.PublishedPath(), "root.json")), mustRead(t, filepath.Join(c.repo.PublishedPath(), "2.root.json"))) {
		t.Error("root.json is not root v2")
	}
	if _, err := os.Stat(staged); err == nil {
		t.Error("the staged root is still there")
	}
	// The repository goes on as usual: the next rotation commits v3.
	if err := c.repo.RotateRoot(RootChange{Expires: c.now.Add(300 * 24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	c.sign(c.root...)
	if res, err := c.repo.Commit(); err != nil || res.Root != 3 {
		t.Fatalf("next rotation: %+v, %v", res, err)
	}
	c.online()
}

// TestOnlineResignsForRewrittenMetadata: targets and snapshot files
// rewritten under the same version (reformatted by hand: their
// signatures, over canonical JSON, still verify) no longer match the
// length and hash the snapshot and timestamp state; SignOnline names
// them anew, and clients update again.
func TestOnlineResignsForRewrittenMetadata(t *testing.T) {
	for _, role := range []string{RoleTargets, RoleSnapshot} {
		t.Run(role, func(t *testing.T) {
			c := newCeremony(t)
			vs, err := c.repo.versions(role)
			if err != nil || len(vs) == 0 {
				t.Fatal(vs, err)
			}
			p := c.repo.pub(fmt.Sprintf("%d.%s.json", vs[len(vs)-1], role))
			var buf bytes.Buffer
			if err := json.Compact(&buf, mustRead(t, p)); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			c.online()
			if _, err := newGoTUF(t, c.srv.URL, c.rootJSON()).fetch("trusted_root.json", c.now); err != nil {
				t.Fatalf("after %s.json was reformatted: %v", role, err)
			}
		})
	}
}

// TestCommitFinishesAnInterruptedTargetsKeyRotation: a Commit of a root
// that replaces the targets keys, with targets signed by the new key,
// stops after publishing the root (here: the staged target file cannot be
// read; a kill or a full disk alike). The repository then held a root
// whose targets keys did not sign the committed targets, and every
// command, publish included, failed on it for good. Now status says to
// publish again, and publishing again finishes the commit.
func TestCommitFinishesAnInterruptedTargetsKeyRotation(t *testing.T) {
	c := newCeremony(t)
	t2 := mustKey(t)
	if err := c.repo.RotateRoot(RootChange{Add: map[string][]*Key{RoleTargets: {pubOnly(t, t2)}}, Remove: map[string][]string{RoleTargets: {c.targets[0].ID()}}}); err != nil {
		t.Fatal(err)
	}
	if err := c.repo.StageTargets(map[string][]byte{"trusted_root.json": []byte(`{"v":2}`)}, nil, time.Time{}); err != nil {
		t.Fatal(err)
	}
	c.sign(c.root[0], c.root[1], t2)
	staged := c.repo.staged(filepath.Join("targets", "trusted_root.json"))
	data := mustRead(t, staged)
	if err := os.Remove(staged); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(staged, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := c.repo.Commit(); err == nil {
		t.Fatal("commit with an unreadable staged target succeeded")
	}
	if _, err := os.Stat(c.repo.pub("2.root.json")); err != nil {
		t.Fatalf("the interruption did not happen after the root was published: %v", err)
	}
	if _, err := c.repo.Status(); err == nil || !strings.Contains(err.Error(), "publish again") {
		t.Errorf("status of the interrupted commit: %v, want a hint to publish again", err)
	}
	if err := os.Remove(staged); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(staged, data, 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := c.repo.Commit()
	if err != nil {
		t.Fatalf("publishing again: %v", err)
	}
	if res.Root != 2 || res.Targets != 2 {
		t.Errorf("publishing again committed %+v, want root v2 and targets v2", res)
	}
	c.online()
	if b, err := newGoTUF(t, c.srv.URL, c.rootJSON()).fetch("trusted_root.json", c.now); err != nil || string(b) != `{"v":2}` {
		t.Fatalf("client after the finished commit: %q, %v", b, err)
	}
}

// TestStagedTargetsAlreadyCommitted: a Commit killed after publishing
// targets vN and before removing the staging area leaves staged targets
// identical to the committed ones. They are not taken as staged: the next
// add-target stages vN+1 and publishes (it was "staged version N, want
// N+1" until someone removed staged/ by hand).
func TestStagedTargetsAlreadyCommitted(t *testing.T) {
	c := newCeremony(t)
	if err := c.repo.StageTargets(map[string][]byte{"trusted_root.json": []byte(`{"v":2}`)}, nil, time.Time{}); err != nil {
		t.Fatal(err)
	}
	c.sign(c.targets[0])
	leftover := mustRead(t, c.repo.staged("targets.json"))
	if _, err := c.repo.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(c.repo.staged(""), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.repo.staged("targets.json"), leftover, 0o644); err != nil {
		t.Fatal(err)
	}
	if st, err := c.repo.Status(); err != nil || st.StagedTargets != nil {
		t.Fatalf("status: staged %+v, %v; want nothing staged", st.StagedTargets, err)
	}
	if err := c.repo.StageTargets(map[string][]byte{"trusted_root.json": []byte(`{"v":3}`)}, nil, time.Time{}); err != nil {
		t.Fatal(err)
	}
	c.sign(c.targets[0])
	res, err := c.repo.Commit()
	if err != nil || res.Targets != 3 {
		t.Fatalf("commit after the leftover: %+v, %v; want targets v3", res, err)
	}
	c.online()
	if b, err := newGoTUF(t, c.srv.URL, c.rootJSON()).fetch("trusted_root.json", c.now); err != nil || string(b) != `{"v":3}` {
		t.Fatalf("client: %q, %v", b, err)
	}
}

// TestSignTargetsKeyWithOnlyARootStaged: a targets key given while only a
// root is staged is told what is missing; the error said it was "not a
// root or targets key", which sent the operator after the wrong key.
func TestSignTargetsKeyWithOnlyARootStaged(t *testing.T) {
	c := newCeremony(t)
	if err := c.repo.RotateRoot(RootChange{Expires: c.now.Add(200 * 24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	_, err := c.repo.Sign([]*Key{c.targets[0]})
	if err == nil || !strings.Contains(err.Error(), "it is a targets key, and no targets are staged") {
		t.Fatalf("got %v", err)
	}
	other := mustKey(t)
	if _, err := c.repo.Sign([]*Key{other}); err == nil || !strings.Contains(err.Error(), "not a root or targets key") {
		t.Fatalf("a stranger's key: %v", err)
	}
}
