package tuf

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

var testStart = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func newDevService(t *testing.T, dir string, clock Clock, reg prometheus.Registerer) *Service {
	t.Helper()
	s, err := New(Config{Dir: dir, Dev: true, Clock: clock, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func serve(t *testing.T, s *Service) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/tuf/", http.StripPrefix("/tuf", s.Handler()))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

var testTargets = map[string][]byte{
	TargetTrustedRoot:   []byte(`{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`),
	TargetSigningConfig: []byte(`{"mediaType":"application/vnd.dev.sigstore.signingconfig.v0.2+json"}`),
}

// TestDevFirstStartAndRestart: the first dev start creates keys (0600)
// and a complete repository; SetTargets publishes; a restart reuses the
// state and publishes no new versions for unchanged targets.
func TestDevFirstStartAndRestart(t *testing.T) {
	dir := t.TempDir()
	clock := NewFakeClock(testStart)
	s := newDevService(t, dir, clock, nil)
	for _, f := range []string{rootKeyFile, targetsKeyFile, snapshotKeyFile, timestampKeyFile} {
		fi, err := os.Stat(filepath.Join(dir, keysDir, f))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v", f, fi.Mode().Perm())
		}
	}
	if err := s.Ready(); err != nil {
		t.Fatalf("not ready after first start: %v", err)
	}
	if err := s.SetTargets(testTargets); err != nil {
		t.Fatal(err)
	}
	st, _ := s.Repo().Status()
	if st.Targets.Version != 2 || len(st.TargetFiles) != 2 {
		t.Fatalf("after SetTargets: targets v%d with %v", st.Targets.Version, st.TargetFiles)
	}
	root1, _ := s.RootJSON()

	s2 := newDevService(t, dir, clock, nil)
	if err := s2.SetTargets(testTargets); err != nil {
		t.Fatal(err)
	}
	st2, _ := s2.Repo().Status()
	if st2.Targets.Version != 2 || st2.Snapshot.Version != st.Snapshot.Version || st2.Timestamp.Version != st.Timestamp.Version {
		t.Errorf("restart changed versions: %+v %+v %+v", st2.Targets, st2.Snapshot, st2.Timestamp)
	}
	root2, _ := s2.RootJSON()
	if string(root1) != string(root2) {
		t.Error("restart made a new root")
	}

	// A changed target makes a new targets version, snapshot and timestamp.
	changed := map[string][]byte{TargetTrustedRoot: []byte(`{"changed":true}`)}
	if err := s2.SetTargets(changed); err != nil {
		t.Fatal(err)
	}
	st3, _ := s2.Repo().Status()
	if st3.Targets.Version != 3 || st3.Snapshot.Version != st2.Snapshot.Version+1 || st3.Timestamp.Version != st2.Timestamp.Version+1 {
		t.Errorf("after a change: %+v %+v %+v", st3.Targets, st3.Snapshot, st3.Timestamp)
	}
	if len(st3.TargetFiles) != 2 {
		t.Errorf("other targets dropped: %v", st3.TargetFiles)
	}
	if err := s2.SetTargets(map[string][]byte{"../evil": {1}}); err == nil {
		t.Error("accepted a target name with a path")
	}
}

// respaced returns JSON targets with the spacing protojson uses in some
// builds (two spaces after a colon).
func respaced(targets map[string][]byte) map[string][]byte {
	out := map[string][]byte{}
	for name, data := range targets {
		out[name] = bytes.ReplaceAll(data, []byte(`":`), []byte(`":  `))
	}
	return out
}

// TestSetTargetsSameJSONRespaced: an upgraded binary whose protojson
// spaces the trusted root and signing config differently publishes no new
// targets version for the same documents; a real change still publishes.
func TestSetTargetsSameJSONRespaced(t *testing.T) {
	dir := t.TempDir()
	s := newDevService(t, dir, NewFakeClock(testStart), nil)
	if err := s.SetTargets(testTargets); err != nil {
		t.Fatal(err)
	}
	s2 := newDevService(t, dir, NewFakeClock(testStart), nil)
	if err := s2.SetTargets(respaced(testTargets)); err != nil {
		t.Fatal(err)
	}
	if st, _ := s2.Repo().Status(); st.Targets.Version != 2 {
		t.Errorf("the same JSON spaced differently published targets v%d, want v2 kept", st.Targets.Version)
	}
	if err := s2.SetTargets(map[string][]byte{TargetTrustedRoot: []byte(`{"mediaType":  "other"}`)}); err != nil {
		t.Fatal(err)
	}
	if st, _ := s2.Repo().Status(); st.Targets.Version != 3 {
		t.Errorf("a changed target published targets v%d, want v3", st.Targets.Version)
	}
}

// TestHandler: what the HTTP handler serves, and how.
func TestHandler(t *testing.T) {
	s := newDevService(t, t.TempDir(), NewFakeClock(testStart), nil)
	if err := s.SetTargets(testTargets); err != nil {
		t.Fatal(err)
	}
	srv := serve(t, s)
	st, _ := s.Repo().Status()
	tests := []struct {
		method, path string
		code         int
		cache        string
	}{
		{"GET", "/tuf/root.json", 200, "no-cache"},
		{"GET", "/tuf/1.root.json", 200, "public, max-age=31536000, immutable"},
		{"HEAD", "/tuf/1.root.json", 200, "public, max-age=31536000, immutable"},
		{"GET", "/tuf/timestamp.json", 200, "no-cache"},
		{"GET", "/tuf/2.targets.json", 200, "public, max-age=31536000, immutable"},
		{"GET", "/tuf/targets/" + st.TargetFiles[TargetTrustedRoot] + "." + TargetTrustedRoot, 200, "public, max-age=31536000, immutable"},
		// The next root's 404 must not be cached: it would hide a
		// rotation from clients behind the cache.
		{"GET", "/tuf/2.root.json", 404, "no-store"},
		{"GET", "/tuf/targets/" + strings.Repeat("0", 64) + ".trusted_root.json", 404, "no-store"},
		{"GET", "/tuf/.lock", 404, "no-store"},
		{"GET", "/tuf/../keys/root.pem", 404, ""},
		{"GET", "/tuf/targets/../../keys/root.pem", 404, ""},
		{"GET", "/tuf/", 404, ""},
		{"POST", "/tuf/root.json", 405, ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.code {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.code)
			}
			if tt.cache != "" && resp.Header.Get("Cache-Control") != tt.cache {
				t.Errorf("Cache-Control %q, want %q", resp.Header.Get("Cache-Control"), tt.cache)
			}
			if strings.Contains(string(body), "PRIVATE KEY") {
				t.Fatal("served a private key")
			}
		})
	}
}

// TestRefresherKeepsTimestampFresh: with a fake clock, Run re-signs the
// timestamp when half its lifetime has passed, without being asked, and
// returns when its context ends.
func TestRefresherKeepsTimestampFresh(t *testing.T) {
	clock := NewFakeClock(testStart)
	s := newDevService(t, t.TempDir(), clock, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()

	st, _ := s.Repo().Status()
	first := st.Timestamp
	// Run sleeps at most ScanInterval (1 min) at a time; step through
	// half a timestamp lifetime an hour at a time.
	for clock.Now().Before(testStart.Add(DefaultTimestampExpiry/2 + time.Hour)) {
		clock.BlockUntil(1)
		clock.Advance(time.Hour)
	}
	clock.BlockUntil(1) // the refresh after the last step is done
	st, _ = s.Repo().Status()
	if st.Timestamp.Version <= first.Version || !st.Timestamp.Expires.After(first.Expires) {
		t.Errorf("timestamp %+v not renewed (was %+v)", st.Timestamp, first)
	}
	if err := s.Ready(); err != nil {
		t.Error(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
}

// TestDevRenewsRootAndTargets: in dev mode root and targets are renewed
// (new versions signed by the dev keys) when half their lifetime is gone,
// and clients following from the first root accept the renewed root.
func TestDevRenewsRootAndTargets(t *testing.T) {
	clock := NewFakeClock(testStart)
	s := newDevService(t, t.TempDir(), clock, nil)
	if err := s.SetTargets(testTargets); err != nil {
		t.Fatal(err)
	}
	root1, _ := s.RootJSON()
	clock.Advance(DefaultRootExpiry/2 + time.Hour)
	if _, err := s.Refresh(); err != nil {
		t.Fatal(err)
	}
	st, _ := s.Repo().Status()
	if st.Root.Version != 2 || !st.Root.Expires.After(clock.Now().Add(DefaultRootExpiry/2)) {
		t.Errorf("root %+v not renewed", st.Root)
	}
	if !st.Targets.Expires.After(clock.Now()) {
		t.Errorf("targets %+v not renewed", st.Targets)
	}
	srv := serve(t, s)
	got, err := newGoTUF(t, srv.URL+"/tuf", root1).fetch(TargetTrustedRoot, clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(testTargets[TargetTrustedRoot]) {
		t.Errorf("target %q", got)
	}
}

// TestProductionMode: without dev keys the service waits for a ceremony
// (503 meanwhile), signs snapshot and timestamp once root and targets are
// committed in its directory, and hands changed targets to the ceremony.
func TestProductionMode(t *testing.T) {
	dir := t.TempDir()
	clock := NewFakeClock(testStart)
	s, err := New(Config{Dir: dir, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ready(); !errors.Is(err, ErrNotInitialized) {
		t.Fatalf("Ready = %v, want ErrNotInitialized", err)
	}
	srv := serve(t, s)
	if resp, err := http.Get(srv.URL + "/tuf/root.json"); err != nil || resp.StatusCode != 503 {
		t.Fatalf("GET before the ceremony: %v %v", resp.StatusCode, err)
	}
	if _, err := os.Stat(filepath.Join(dir, keysDir, rootKeyFile)); err == nil {
		t.Fatal("production mode generated a root key")
	}

	// The ceremony, on the same directory, using the online public keys
	// the service wrote.
	snap, err := LoadKey(filepath.Join(dir, keysDir, snapshotKeyFile+".pub"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := LoadKey(filepath.Join(dir, keysDir, timestampKeyFile+".pub"), nil)
	if err != nil {
		t.Fatal(err)
	}
	rootKey, targetsKey := mustKey(t), mustKey(t)
	repo, _ := OpenRepo(dir, clock.Now)
	if err := repo.Init(InitOptions{RootKeys: []*Key{rootKey}, TargetsKeys: []*Key{targetsKey}, SnapshotKeys: []*Key{snap}, TimestampKeys: []*Key{ts}}); err != nil {
		t.Fatal(err)
	}
	if err := repo.StageTargets(testTargets, nil, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.Sign([]*Key{rootKey, targetsKey}); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Refresh(); err != nil {
		t.Fatal(err)
	}
	if err := s.Ready(); err != nil {
		t.Fatal(err)
	}
	root, _ := s.RootJSON()
	if _, err := newGoTUF(t, srv.URL+"/tuf", root).fetch(TargetSigningConfig, clock.Now()); err != nil {
		t.Fatal(err)
	}

	// Unchanged targets: nothing to do, also when only their JSON spacing
	// differs (another build's protojson). Changed: handed to the ceremony.
	if err := s.SetTargets(testTargets); err != nil {
		t.Fatal(err)
	}
	if err := s.SetTargets(respaced(testTargets)); err != nil {
		t.Fatalf("SetTargets of the same JSON spaced differently = %v, want nothing to do", err)
	}
	if _, err := os.Stat(filepath.Join(dir, incomingDir)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the same JSON spaced differently was handed to the ceremony (%v)", err)
	}
	err = s.SetTargets(map[string][]byte{TargetTrustedRoot: []byte(`{"new":1}`)})
	if !errors.Is(err, ErrTargetsOffline) || !strings.Contains(err.Error(), "sigil tuf add-target") {
		t.Fatalf("SetTargets = %v, want ErrTargetsOffline with the commands", err)
	}
	if b := mustRead(t, filepath.Join(dir, incomingDir, TargetTrustedRoot)); string(b) != `{"new":1}` {
		t.Errorf("incoming target %q", b)
	}
}

// TestMetrics: versions, expiries and signatures are exported.
func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := newDevService(t, t.TempDir(), NewFakeClock(testStart), reg)
	if err := s.SetTargets(testTargets); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			role := ""
			for _, l := range m.GetLabel() {
				role = l.GetValue()
			}
			v := m.GetGauge().GetValue() + m.GetCounter().GetValue()
			got[mf.GetName()+"/"+role] = v
		}
	}
	for k, want := range map[string]float64{
		"sigil_tuf_metadata_version/targets":                     2,
		"sigil_tuf_metadata_version/root":                        1,
		"sigil_tuf_metadata_expires_timestamp_seconds/timestamp": float64(testStart.Add(DefaultTimestampExpiry).Unix()),
		"sigil_tuf_signatures_total/targets":                     2,
		"sigil_tuf_signatures_total/timestamp":                   2,
	} {
		if got[k] != want {
			t.Errorf("%s = %v, want %v", k, got[k], want)
		}
	}
}

// TestDevModeOnCeremonyRepository: dev mode refuses a repository whose
// root does not list the dev keys, rather than sign with keys no client
// trusts.
func TestDevModeOnCeremonyRepository(t *testing.T) {
	c := newCeremony(t)
	if _, err := New(Config{Dir: c.repo.Dir(), Dev: true}); err == nil || !strings.Contains(err.Error(), "without dev mode") {
		t.Fatalf("New(dev) on a ceremony repository = %v", err)
	}
	if st, _ := c.repo.Status(); st.StagedRoot != nil || st.StagedTargets != nil {
		t.Error("dev mode left staged metadata behind")
	}
	if _, err := os.Stat(filepath.Join(c.repo.Dir(), keysDir, rootKeyFile)); err == nil {
		t.Error("dev mode made a root key in a ceremony's repository")
	}
}

// TestProductionOnDevRepository: production refuses a repository signed
// with the dev-mode root or targets key kept in its keys directory (a data
// directory first started in dev mode); it served it, its root key online.
func TestProductionOnDevRepository(t *testing.T) {
	dir := t.TempDir()
	newDevService(t, dir, NewFakeClock(testStart), nil)
	if _, err := New(Config{Dir: dir, Clock: NewFakeClock(testStart)}); err == nil || !strings.Contains(err.Error(), "dev-mode") {
		t.Fatalf("New(production) on a dev repository = %v", err)
	}
	// The ceremony's repository in a directory that still holds the old
	// dev keys (not in its root) starts.
	c := newCeremony(t)
	os.MkdirAll(filepath.Join(c.repo.Dir(), keysDir), 0o700) //nolint:errcheck
	for _, name := range []string{rootKeyFile, targetsKeyFile} {
		b, err := os.ReadFile(filepath.Join(dir, keysDir, name))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(c.repo.Dir(), keysDir, name), b, 0o600) //nolint:errcheck
	}
	if _, err := New(Config{Dir: c.repo.Dir()}); err != nil {
		t.Fatalf("New(production) on a ceremony repository beside old dev keys = %v", err)
	}
}

// TestDevRenewalRecoversFromAFailedCommit: a renewal that fails after
// staging (a full disk) leaves nothing staged, so the next refresh renews;
// left staged, it made every later refresh skip renewal for good.
func TestDevRenewalRecoversFromAFailedCommit(t *testing.T) {
	clock := NewFakeClock(testStart)
	dir := t.TempDir()
	s := newDevService(t, dir, clock, nil)
	if err := s.SetTargets(testTargets); err != nil {
		t.Fatal(err)
	}
	// The commit fails half-way: a published target file it checks for
	// is gone (and was not staged again), as a full disk would fail it.
	files, _ := filepath.Glob(filepath.Join(s.Repo().PublishedPath(), "targets", "*"))
	if len(files) == 0 {
		t.Fatal("no published target files")
	}
	saved, _ := os.ReadFile(files[0])
	os.Remove(files[0]) //nolint:errcheck
	clock.Advance(DefaultTargetsExpiry/2 + time.Hour)
	if _, err := s.Refresh(); err == nil {
		t.Fatal("refresh with the commit failing: no error")
	}
	st, err := s.Repo().Status()
	if err != nil {
		t.Fatal(err)
	}
	if st.StagedTargets != nil || st.StagedRoot != nil {
		t.Fatalf("a failed renewal left staged metadata: %+v %+v", st.StagedRoot, st.StagedTargets)
	}
	os.WriteFile(files[0], saved, 0o644) //nolint:errcheck
	if _, err := s.Refresh(); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.Repo().Status(); !st.Targets.Expires.After(clock.Now().Add(DefaultTargetsExpiry / 2)) {
		t.Errorf("targets %+v not renewed after the failure", st.Targets)
	}
}

// TestOnlineKeyRotationWithoutRestart: a ceremony on a running production
// service's directory replaces the timestamp key, and the operator puts
// the new private key in the service's key file (as OnlineKeyWarnings
// asks); the next refresh signs with it, and go-tuf clients update.
func TestOnlineKeyRotationWithoutRestart(t *testing.T) {
	dir := t.TempDir()
	clock := NewFakeClock(testStart)
	s, err := New(Config{Dir: dir, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	srv := serve(t, s)
	snap, err := LoadKey(filepath.Join(dir, keysDir, snapshotKeyFile+".pub"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := LoadKey(filepath.Join(dir, keysDir, timestampKeyFile+".pub"), nil)
	if err != nil {
		t.Fatal(err)
	}
	rootKey, targetsKey := mustKey(t), mustKey(t)
	repo, _ := OpenRepo(dir, clock.Now)
	if err := repo.Init(InitOptions{RootKeys: []*Key{rootKey}, TargetsKeys: []*Key{targetsKey}, SnapshotKeys: []*Key{snap}, TimestampKeys: []*Key{ts}}); err != nil {
		t.Fatal(err)
	}
	if err := repo.StageTargets(testTargets, nil, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.Sign([]*Key{rootKey, targetsKey}); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Refresh(); err != nil {
		t.Fatal(err)
	}
	root1, _ := s.RootJSON()

	// Rotate the timestamp key; the new private key replaces the file.
	ts2 := mustKey(t)
	if err := repo.RotateRoot(RootChange{Add: map[string][]*Key{RoleTimestamp: {pubOnly(t, ts2)}}, Remove: map[string][]string{RoleTimestamp: {ts.ID()}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.Sign([]*Key{rootKey}); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.Commit(); err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, keysDir, timestampKeyFile)
	for _, f := range []string{keyFile, keyFile + ".pub"} {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	if err := WriteKey(keyFile, ts2, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Refresh(); err != nil {
		t.Fatalf("refresh after the timestamp key rotation: %v", err)
	}
	if err := s.Ready(); err != nil {
		t.Fatal(err)
	}
	if _, err := newGoTUF(t, srv.URL+"/tuf", root1).fetch(TargetTrustedRoot, clock.Now()); err != nil {
		t.Fatalf("a client of root v1 after the rotation: %v", err)
	}
}

// TestDevFirstStartInterrupted: a dev first start that staged version 1
// and stopped before committing it (killed, a full disk) does not keep the
// directory from starting; a ceremony's staged root in it is left alone.
func TestDevFirstStartInterrupted(t *testing.T) {
	dir := t.TempDir()
	clock := NewFakeClock(testStart)
	rootKey, targetsKey, snap, ts := mustKey(t), mustKey(t), mustKey(t), mustKey(t)
	for f, k := range map[string]*Key{rootKeyFile: rootKey, targetsKeyFile: targetsKey, snapshotKeyFile: snap, timestampKeyFile: ts} {
		if err := WriteKey(filepath.Join(dir, keysDir, f), k, nil); err != nil {
			t.Fatal(err)
		}
	}
	repo, _ := OpenRepo(dir, clock.Now)
	if err := repo.Init(InitOptions{RootKeys: []*Key{rootKey}, TargetsKeys: []*Key{targetsKey}, SnapshotKeys: []*Key{snap}, TimestampKeys: []*Key{ts}}); err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Dir: dir, Dev: true, Clock: clock})
	if err != nil {
		t.Fatalf("start after an interrupted first start: %v", err)
	}
	if err := s.Ready(); err != nil {
		t.Fatal(err)
	}

	// A ceremony's version 1, staged with other keys, is not discarded.
	other := t.TempDir()
	crepo, _ := OpenRepo(other, clock.Now)
	if err := crepo.Init(InitOptions{RootKeys: []*Key{mustKey(t)}, TargetsKeys: []*Key{mustKey(t)}, SnapshotKeys: []*Key{mustKey(t)}, TimestampKeys: []*Key{mustKey(t)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{Dir: other, Dev: true, Clock: clock}); err == nil {
		t.Fatal("dev mode started over a ceremony's staged root")
	}
	if st, _ := crepo.Status(); st.StagedRoot == nil {
		t.Fatal("dev mode discarded a ceremony's staged root")
	}
}
