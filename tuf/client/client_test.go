package client

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sigil.dev/sigil/internal/testpki"
	"sigil.dev/sigil/trust"
	"sigil.dev/sigil/tuf"
)

// world is a dev-mode TUF service publishing a real trusted root and
// signing config, served over HTTP, and a client cache.
type world struct {
	t      testing.TB
	clock  *tuf.FakeClock
	svc    *tuf.Service
	srv    *httptest.Server
	mirror string
	opts   Options
	root   *trust.TrustedRoot
	sc     *trust.SigningConfig
	// requests counts the requests the mirror served; conns the
	// connections it accepted.
	requests, conns atomic.Int64
	// hook, when set, may answer a mirror request itself (a hostile
	// mirror): it returns true when it did.
	hook atomic.Pointer[func(http.ResponseWriter, *http.Request) bool]
}

func newWorld(t testing.TB) *world {
	t.Helper()
	w := &world{t: t, clock: tuf.NewFakeClock(time.Now().UTC().Truncate(time.Second))}
	var err error
	if w.svc, err = tuf.New(tuf.Config{Dir: t.TempDir(), Dev: true, Clock: w.clock}); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h := http.StripPrefix("/tuf", w.svc.Handler())
	mux.HandleFunc("/tuf/", func(rw http.ResponseWriter, r *http.Request) {
		w.requests.Add(1)
		if f := w.hook.Load(); f != nil && (*f)(rw, r) {
			return
		}
		h.ServeHTTP(rw, r)
	})
	w.srv = httptest.NewUnstartedServer(mux)
	w.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			w.conns.Add(1)
		}
	}
	w.srv.Start()
	t.Cleanup(w.srv.Close)
	w.mirror = w.srv.URL + "/tuf"
	w.opts = Options{CacheDir: t.TempDir(), Now: w.clock.Now}
	p, err := testpki.New(testpki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if w.root, err = p.TrustedRoot(); err != nil {
		t.Fatal(err)
	}
	w.sc = &trust.SigningConfig{
		CAs:         []trust.Service{{URL: "https://ca.example", MajorAPIVersion: 1, Valid: trust.Window{Start: p.Start}}},
		Rekors:      []trust.Service{{URL: "https://log.example", MajorAPIVersion: 2, Valid: trust.Window{Start: p.Start}}},
		TSAs:        []trust.Service{{URL: "https://tsa.example/api/v1/timestamp", MajorAPIVersion: 1, Valid: trust.Window{Start: p.Start}}},
		RekorConfig: trust.ServiceConfig{Selector: trust.SelectAny}, TSAConfig: trust.ServiceConfig{Selector: trust.SelectAny},
	}
	w.publish(w.root, w.sc)
	return w
}

func (w *world) publish(tr *trust.TrustedRoot, sc *trust.SigningConfig) {
	w.t.Helper()
	rb, err := tr.Marshal()
	if err != nil {
		w.t.Fatal(err)
	}
	sb, err := sc.Marshal()
	if err != nil {
		w.t.Fatal(err)
	}
	if err := w.svc.SetTargets(map[string][]byte{TargetTrustedRoot: rb, TargetSigningConfig: sb}); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) rootJSON() []byte {
	w.t.Helper()
	b, err := w.svc.RootJSON()
	if err != nil {
		w.t.Fatal(err)
	}
	return b
}

func (w *world) init() *Status {
	w.t.Helper()
	st, err := Init(w.opts, w.mirror, w.rootJSON())
	if err != nil {
		w.t.Fatal(err)
	}
	return st
}

// TestInitAndLoadTrust: trust init stores the mirror and root, fetches
// both targets, and LoadTrust then returns them.
func TestInitAndLoadTrust(t *testing.T) {
	w := newWorld(t)
	st := w.init()
	if st.Mirror != w.mirror || len(st.Targets) != 2 || !st.Targets[0].Cached || !st.Targets[1].Cached {
		t.Fatalf("status %+v", st)
	}
	tr, sc, err := LoadTrust(w.opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.TLogs) != len(w.root.TLogs) || len(tr.TSAs) != 1 {
		t.Errorf("trusted root %+v", tr)
	}
	if len(sc.Rekors) != 1 || sc.Rekors[0].URL != "https://log.example" {
		t.Errorf("signing config %+v", sc)
	}
	if _, err := os.Stat(filepath.Join(w.opts.CacheDir, URLToPath(w.mirror), "root.json")); err != nil {
		t.Errorf("cache layout: %v", err)
	}
}

// TestInitFailureKeepsOldSetup: a wrong root or an unreachable mirror
// fails init and leaves the earlier setup in place.
func TestInitFailureKeepsOldSetup(t *testing.T) {
	w := newWorld(t)
	w.init()
	other := newWorld(t)
	if _, err := Init(w.opts, w.mirror, other.rootJSON()); err == nil {
		t.Fatal("init with another repository's root succeeded")
	}
	// The advice fits init: no --offline (there is no cache to use yet).
	if _, err := Init(w.opts, "http://127.0.0.1:1/tuf", w.rootJSON()); err == nil || strings.Contains(err.Error(), "--offline") || !strings.Contains(err.Error(), "--mirror is the repository's URL") {
		t.Fatalf("init with an unreachable mirror: %v", err)
	}
	// A mirror whose TLS certificate is from an unknown CA: the hint says
	// how to trust a private CA.
	tlsSrv := httptest.NewTLSServer(http.NotFoundHandler())
	defer tlsSrv.Close()
	if _, err := Init(w.opts, tlsSrv.URL+"/tuf", w.rootJSON()); err == nil || !strings.Contains(err.Error(), "set SSL_CERT_FILE") {
		t.Fatalf("init with an untrusted TLS mirror: %v", err)
	}
	// A Sigstore trusted root given for the TUF root is named as such.
	if _, err := Init(w.opts, w.mirror, []byte(`{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1","tlogs":[]}`)); err == nil || !strings.Contains(err.Error(), "not a TUF root.json") {
		t.Fatalf("init with a trusted root: %v", err)
	}
	if _, err := Init(w.opts, "ftp://example", w.rootJSON()); err == nil {
		t.Fatal("init with an ftp mirror succeeded")
	}
	if _, err := Init(w.opts, w.mirror, []byte("{}")); err == nil {
		t.Fatal("init with a non-root succeeded")
	}
	if _, _, err := LoadTrust(w.opts); err != nil {
		t.Fatalf("earlier setup lost: %v", err)
	}
}

// TestOfflineUsesCache: with the mirror gone, online loads fail (no silent
// fallback) and offline loads work from the cache.
func TestOfflineUsesCache(t *testing.T) {
	w := newWorld(t)
	w.init()
	w.srv.Close()
	if _, _, err := LoadTrust(w.opts); err == nil {
		t.Fatal("online load without the mirror succeeded")
	}
	off := w.opts
	off.Offline = true
	tr, sc, err := LoadTrust(off)
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.TSAs) != 1 || len(sc.TSAs) != 1 {
		t.Error("offline load returned other documents")
	}
	// Offline honours expiry.
	later := off
	later.Now = func() time.Time { return w.clock.Now().Add(tuf.DefaultTimestampExpiry + time.Hour) }
	if _, _, err := LoadTrust(later); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("offline load of expired metadata: %v", err)
	}
}

// TestOfflineWithoutCache: offline with nothing cached says so.
func TestOfflineWithoutCache(t *testing.T) {
	w := newWorld(t)
	w.opts.Offline = true
	if _, _, err := LoadTrust(w.opts); !errors.Is(err, ErrNotInitialized) || !strings.Contains(err.Error(), "--trusted-root") {
		t.Fatalf("LoadTrust = %v, want ErrNotInitialized naming --trusted-root", err)
	}
}

// TestUpdateFollowsChanges: a new trusted root published on the mirror
// reaches the client at its next load; the cache then serves it offline.
func TestUpdateFollowsChanges(t *testing.T) {
	w := newWorld(t)
	w.init()
	sc := *w.sc
	sc.TSAs = append(sc.TSAs, trust.Service{URL: "https://tsa2.example/api/v1/timestamp", MajorAPIVersion: 1, Valid: sc.TSAs[0].Valid, Operator: "two"})
	w.publish(w.root, &sc)
	got, err := LoadSigningConfig(w.opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.TSAs) != 2 {
		t.Fatalf("signing config has %d TSAs, want 2", len(got.TSAs))
	}
	off := w.opts
	off.Offline = true
	if got, err = LoadSigningConfig(off); err != nil || len(got.TSAs) != 2 {
		t.Fatalf("offline after update: %d TSAs, %v", len(got.TSAs), err)
	}
}

// TestExpiredTimestampRefreshed: a client whose clock is past the
// timestamp's expiry fails until the server's refresher re-signs it.
func TestExpiredTimestampRefreshed(t *testing.T) {
	w := newWorld(t)
	w.init()
	w.clock.Advance(tuf.DefaultTimestampExpiry + time.Hour)
	if _, err := LoadTrustedRoot(w.opts); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("load with an expired timestamp: %v", err)
	}
	if _, err := w.svc.Refresh(); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadTrustedRoot(w.opts); err != nil {
		t.Fatalf("after the refresher ran: %v", err)
	}
}

// TestTamperedTargetRefused: a target changed on the server is refused,
// and the cached good copy is not replaced.
func TestTamperedTargetRefused(t *testing.T) {
	w := newWorld(t)
	// Publish, then tamper before the client has ever fetched.
	matches, _ := filepath.Glob(filepath.Join(w.svc.Repo().PublishedPath(), "targets", "*."+TargetTrustedRoot))
	if len(matches) != 1 {
		t.Fatalf("target files %v", matches)
	}
	good := mustRead(t, matches[0])
	if err := os.WriteFile(matches[0], []byte(strings.Replace(string(good), "sigil", "evil!", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Init(w.opts, w.mirror, w.rootJSON()); err == nil {
		t.Fatal("init accepted a tampered target")
	}
	if err := os.WriteFile(matches[0], good, 0o644); err != nil {
		t.Fatal(err)
	}
	w.init()
	if err := os.WriteFile(matches[0], append(good, ' '), 0o644); err != nil {
		t.Fatal(err)
	}
	// The cached copy still matches the metadata, so it is used.
	if _, err := LoadTrustedRoot(w.opts); err != nil {
		t.Fatal(err)
	}
	// Remove the cached copy: the tampered download is refused.
	if err := os.Remove(filepath.Join(w.opts.CacheDir, URLToPath(w.mirror), "targets", TargetTrustedRoot)); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadTrustedRoot(w.opts); err == nil {
		t.Fatal("tampered target accepted")
	}
}

// TestRootRotationFollowed: the client follows root versions signed
// with sigil tuf's rotation (here: the dev root key replaced by a new one,
// signed by both).
func TestRootRotationFollowed(t *testing.T) {
	w := newWorld(t)
	w.init()
	repo := w.svc.Repo()
	oldKey, err := tuf.LoadKey(filepath.Join(repo.Dir(), "keys", "root.pem"), nil)
	if err != nil {
		t.Fatal(err)
	}
	newKey, _ := tuf.GenerateKey(tuf.KeyECDSAP256)
	if err := repo.RotateRoot(tuf.RootChange{Remove: map[string][]string{tuf.RoleRoot: {oldKey.ID()}}, Add: map[string][]*tuf.Key{tuf.RoleRoot: {newKey}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.Sign([]*tuf.Key{oldKey, newKey}); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadTrustedRoot(w.opts); err != nil {
		t.Fatal(err)
	}
	c, err := Open(w.opts)
	if err != nil {
		t.Fatal(err)
	}
	st, err := c.Status()
	if err != nil {
		t.Fatal(err)
	}
	if st.Roles["root"].Version != 2 || st.RootKeys["root"].KeyIDs[0] != newKey.ID() {
		t.Errorf("client trusts root %+v with keys %v", st.Roles["root"], st.RootKeys["root"])
	}
}

// TestFileOverrides: --trusted-root and --signing-config files are used
// without TUF, even when none is configured.
func TestFileOverrides(t *testing.T) {
	w := newWorld(t)
	dir := t.TempDir()
	rb, _ := w.root.Marshal()
	sb, _ := w.sc.Marshal()
	rp, sp := filepath.Join(dir, "tr.json"), filepath.Join(dir, "sc.json")
	os.WriteFile(rp, rb, 0o644)
	os.WriteFile(sp, sb, 0o644)
	opts := Options{CacheDir: t.TempDir(), TrustedRootFile: rp, SigningConfigFile: sp}
	if _, _, err := LoadTrust(opts); err != nil {
		t.Fatal(err)
	}
	opts.SigningConfigFile = ""
	if _, err := LoadTrustedRoot(opts); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadTrust(opts); !errors.Is(err, ErrNotInitialized) || !strings.Contains(err.Error(), "--signing-config") {
		t.Fatalf("LoadTrust without a signing config = %v", err)
	}
	opts.TrustedRootFile = sp // a signing config is not a trusted root
	if _, err := LoadTrustedRoot(opts); !errors.Is(err, trust.ErrTrustedRoot) {
		t.Fatalf("LoadTrustedRoot(signing config) = %v", err)
	}
}

// TestCacheValidity: within CacheValidity of the last update, loads use
// the verified view in the cache without contacting the mirror; after it,
// or with a cached target changed, or with the view expired, they update.
func TestCacheValidity(t *testing.T) {
	const validity = 10 * time.Minute
	newSC := func(w *world) *trust.SigningConfig {
		sc := *w.sc
		sc.TSAs = append(sc.TSAs, trust.Service{URL: "https://tsa2.example/api/v1/timestamp", MajorAPIVersion: 1, Valid: sc.TSAs[0].Valid, Operator: "two"})
		return &sc
	}
	tests := []struct {
		name string
		// change acts after trust init, before the load.
		change       func(t *testing.T, w *world, opts *Options)
		wantRequests bool
		wantTSAs     int // in the loaded signing config
		wantErr      string
	}{
		{
			name:     "within validity: cache only",
			change:   func(t *testing.T, w *world, opts *Options) { w.clock.Advance(validity - time.Second) },
			wantTSAs: 1,
		},
		{
			name: "within validity: a change on the mirror is not seen yet",
			change: func(t *testing.T, w *world, opts *Options) {
				w.publish(w.root, newSC(w))
				w.clock.Advance(time.Minute)
			},
			wantTSAs: 1,
		},
		{
			name: "validity over: update, and see the change",
			change: func(t *testing.T, w *world, opts *Options) {
				w.publish(w.root, newSC(w))
				w.clock.Advance(validity)
			},
			wantRequests: true,
			wantTSAs:     2,
		},
		{
			name: "zero validity: always update",
			change: func(t *testing.T, w *world, opts *Options) {
				opts.CacheValidity = 0
				w.publish(w.root, newSC(w))
			},
			wantRequests: true,
			wantTSAs:     2,
		},
		{
			name: "cached target changed: update, and the good copy is used",
			change: func(t *testing.T, w *world, opts *Options) {
				p := filepath.Join(opts.CacheDir, URLToPath(w.mirror), "targets", TargetSigningConfig)
				good := mustRead(t, p)
				bad := strings.Replace(string(good), "https://tsa.example", "https://tsa.exampl3", 1) // same length
				if bad == string(good) {
					t.Fatal("nothing to tamper with")
				}
				if err := os.WriteFile(p, []byte(bad), 0o600); err != nil {
					t.Fatal(err)
				}
			},
			wantRequests: true,
			wantTSAs:     1,
		},
		{
			name: "clock before the last update: update",
			change: func(t *testing.T, w *world, opts *Options) {
				now := w.clock.Now()
				opts.Now = func() time.Time { return now.Add(-time.Hour) }
			},
			wantRequests: true,
			wantTSAs:     1,
		},
		{
			name: "view expired within a long validity: update, which fails on the expired timestamp",
			change: func(t *testing.T, w *world, opts *Options) {
				opts.CacheValidity = 30 * 24 * time.Hour
				w.clock.Advance(tuf.DefaultTimestampExpiry + time.Hour)
			},
			wantRequests: true,
			wantErr:      "expired",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			w.init()
			opts := w.opts
			opts.CacheValidity = validity
			tt.change(t, w, &opts)
			before := w.requests.Load()
			tr, sc, err := LoadTrust(opts)
			if got := w.requests.Load() > before; got != tt.wantRequests {
				t.Errorf("mirror contacted: %v, want %v", got, tt.wantRequests)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("LoadTrust = %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(tr.TSAs) != 1 || len(sc.TSAs) != tt.wantTSAs || sc.TSAs[0].URL != w.sc.TSAs[0].URL {
				t.Errorf("loaded %d TSAs in the root, signing config TSAs %+v; want %d", len(tr.TSAs), sc.TSAs, tt.wantTSAs)
			}
		})
	}
}

// TestCacheValidityRecord: an update records the view it verified, the
// next fast load needs no request, and trust show (Status) always updates.
func TestCacheValidityRecord(t *testing.T) {
	w := newWorld(t)
	w.init()
	w.opts.CacheValidity = time.Hour
	raw := mustRead(t, filepath.Join(w.opts.CacheDir, "config.json"))
	var set settings
	if err := json.Unmarshal(raw, &set); err != nil || set.Verified == nil {
		t.Fatalf("config.json after init: %s (%v)", raw, err)
	}
	if len(set.Verified.Targets) != 2 || set.Verified.Targets[TargetTrustedRoot].Length == 0 || !set.Verified.Expires.After(w.clock.Now()) {
		t.Errorf("recorded view %+v", set.Verified)
	}
	before := w.requests.Load()
	for range 3 {
		if _, _, err := LoadTrust(w.opts); err != nil {
			t.Fatal(err)
		}
	}
	if n := w.requests.Load() - before; n != 0 {
		t.Errorf("%d requests within the validity", n)
	}
	c, err := Open(w.opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Status(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.TrustedRoot(); err != nil {
		t.Fatal(err)
	}
	if w.requests.Load() == before {
		t.Error("Status did not update from the mirror")
	}
}

// TestUpdateOneConnection: an update (the 404 probe for the next root, then
// timestamp.json) goes over one connection.
func TestUpdateOneConnection(t *testing.T) {
	w := newWorld(t)
	w.init()
	hc := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(hc.CloseIdleConnections)
	w.opts.HTTPClient = hc
	requests, conns := w.requests.Load(), w.conns.Load()
	if _, err := LoadTrustedRoot(w.opts); err != nil {
		t.Fatal(err)
	}
	if r, c := w.requests.Load()-requests, w.conns.Load()-conns; r < 2 || c != 1 {
		t.Errorf("%d requests over %d connections, want 2 or more over 1", r, c)
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A mirror URL whose cache name is not a plain entry of the cache
// directory ("http://.." names "..") is refused before anything is
// fetched or removed: init used to replace the cache's parent directory.
func TestMirrorNamesStayInCache(t *testing.T) {
	w := newWorld(t)
	parent := t.TempDir()
	precious := filepath.Join(parent, "precious.txt")
	os.WriteFile(precious, []byte("keep"), 0o644) //nolint:errcheck
	opts := w.opts
	opts.CacheDir = filepath.Join(parent, "cache")
	for _, m := range []string{"http://..", "http://.", "http://./", "https://config.json", "http://.lock"} {
		if _, err := Init(opts, m, w.rootJSON()); err == nil || !strings.Contains(err.Error(), "no usable cache directory") {
			t.Errorf("mirror %q: %v", m, err)
		}
	}
	if _, err := os.Stat(precious); err != nil {
		t.Fatalf("a file beside the cache is gone: %v", err)
	}
	if _, err := mirrorDir(opts.CacheDir, w.mirror); err != nil {
		t.Errorf("the test mirror: %v", err)
	}
}

// A mirror that serves metadata failing verification is reported as such,
// not as a network problem.
func TestRefusedMetadataSaysSo(t *testing.T) {
	w := newWorld(t)
	w.init()
	ts := filepath.Join(w.svc.Repo().PublishedPath(), "timestamp.json")
	good := mustRead(t, ts)
	bad := strings.Replace(string(good), `"version": `, `"version": 9`, 1)
	if bad == string(good) {
		t.Fatalf("no version in %s", good)
	}
	if err := os.WriteFile(ts, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadTrustedRoot(w.opts)
	if err == nil || !strings.Contains(err.Error(), "does not verify, which was refused") || strings.Contains(err.Error(), "reachable") {
		t.Fatalf("a timestamp with a forged version: %v", err)
	}
}

// TestBurstUpdatesOnce: commands started together once the cache validity
// is over (make -j signing or verifying many files, CI jobs sharing a
// cache) each found the record stale and then, one after the other under
// the cache lock, each updated from the mirror again. Now the first one
// updates and the others, having waited for the lock, use the view it
// just recorded, as a burst of commands one after the other does.
func TestBurstUpdatesOnce(t *testing.T) {
	w := newWorld(t)
	w.init()
	var timestamps atomic.Int64
	hook := func(_ http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, "/timestamp.json") {
			timestamps.Add(1)
		}
		return false
	}
	w.hook.Store(&hook)
	opts := w.opts
	opts.CacheValidity = 10 * time.Minute
	w.clock.Advance(opts.CacheValidity + time.Minute)
	// Every command has read the cache's record before the first updates.
	clients := make([]*Client, 6)
	for i := range clients {
		c, err := Open(opts)
		if err != nil {
			t.Fatal(err)
		}
		clients[i] = c
	}
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Go(func() {
			if _, err := c.TrustedRoot(); err != nil {
				t.Error(err)
			}
			if _, err := c.SigningConfig(); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := timestamps.Load(); n != 1 {
		t.Errorf("%d commands started together updated from the mirror, want 1", n)
	}
}

// TestKilledLeftoversSwept: a trust init killed while it fetched (a CI job
// cancelled, kill -9) left its temporary directory in the cache for good,
// one more with every such job, and a killed update its temporary files.
// Updates now remove those older than an hour.
func TestKilledLeftoversSwept(t *testing.T) {
	w := newWorld(t)
	w.init()
	dir := filepath.Join(w.opts.CacheDir, URLToPath(w.mirror))
	old := time.Now().Add(-2 * time.Hour)
	var stale []string
	for _, p := range []string{
		filepath.Join(w.opts.CacheDir, ".init-1234"),
		filepath.Join(w.opts.CacheDir, ".config.json.tmp5678"),
		filepath.Join(dir, "tuf_tmp9012"),
	} {
		if strings.Contains(p, ".init-") {
			if err := os.MkdirAll(filepath.Join(p, "targets"), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(p, "root.json"), w.rootJSON(), 0o644); err != nil {
				t.Fatal(err)
			}
		} else if err := os.WriteFile(p, []byte("{"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
		stale = append(stale, p)
	}
	recent := filepath.Join(w.opts.CacheDir, ".init-3456")
	if err := os.Mkdir(recent, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadTrust(w.opts); err != nil {
		t.Fatal(err)
	}
	for _, p := range stale {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s is still there after an update", p)
		}
	}
	if _, err := os.Lstat(recent); err != nil {
		t.Errorf("a recent temporary directory was removed: %v", err)
	}
}
