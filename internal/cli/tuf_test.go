package cli

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"sigil.dev/sigil/internal/testpki"
	"sigil.dev/sigil/trust"
	"sigil.dev/sigil/tuf"
)

// sigil runs the CLI and fails the test on a non-zero exit.
func sigil(t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	code, o, e := run(args...)
	if code != 0 {
		t.Fatalf("sigil %s: exit %d\n%s%s", strings.Join(args, " "), code, o, e)
	}
	return o, e
}

// sigilFails runs the CLI and fails the test on a zero exit.
func sigilFails(t *testing.T, args ...string) string {
	t.Helper()
	code, o, e := run(args...)
	if code == 0 {
		t.Fatalf("sigil %s succeeded:\n%s%s", strings.Join(args, " "), o, e)
	}
	return e
}

// TestTUFCeremonyAndTrust scripts the whole offline ceremony with the
// CLI — keys, a 2-of-3 root, targets, signatures, publishing to a static
// directory — then trusts the result with `sigil trust init`, rotates the
// root keys and checks that the client follows.
func TestTUFCeremonyAndTrust(t *testing.T) {
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	t.Setenv("TUF_PW", "correct horse battery staple")
	t.Setenv("SIGIL_TUF_CACHE", p("cache"))

	// Keys: two encrypted root keys (password from the environment), the
	// others plain.
	for _, k := range []string{"alice.pem", "bob.pem"} {
		out, _ := sigil(t, "tuf", "keygen", "--out", p(k), "--password-env", "TUF_PW")
		if len(strings.TrimSpace(out)) != 64 {
			t.Fatalf("keygen printed %q, want a key ID", out)
		}
	}
	for _, k := range []string{"carol.pem", "dave.pem", "erin.pem", "targets.pem", "snapshot.pem", "timestamp.pem"} {
		sigil(t, "tuf", "keygen", "--out", p(k), "--plain", "--type", "ecdsa-p256")
	}
	if e := sigilFails(t, "tuf", "keygen", "--out", p("alice.pem"), "--plain"); !strings.Contains(e, "exists") {
		t.Errorf("keygen over an existing key: %s", e)
	}

	repo := p("ceremony")
	sigil(t, "tuf", "init", "--repo", repo,
		"--root-key", p("alice.pem.pub"), "--root-key", p("bob.pem.pub"), "--root-key", p("carol.pem.pub"), "--root-threshold", "2",
		"--targets-key", p("targets.pem.pub"), "--snapshot-key", p("snapshot.pem.pub"), "--timestamp-key", p("timestamp.pem.pub"))

	pki, err := testpki.New(testpki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tr, _ := pki.TrustedRoot()
	trJSON, _ := tr.Marshal()
	sc := &trust.SigningConfig{TSAs: []trust.Service{{URL: "https://tsa.example/api/v1/timestamp", MajorAPIVersion: 1, Valid: trust.Window{Start: pki.Start}}}, TSAConfig: trust.ServiceConfig{Selector: trust.SelectAny}}
	scJSON, _ := sc.Marshal()
	os.WriteFile(p("trusted_root.json"), trJSON, 0o644)
	os.WriteFile(p("sc.json"), scJSON, 0o644)
	// A trusted root without CAs or logs is refused.
	os.WriteFile(p("empty_root.json"), []byte(`{"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`), 0o644)
	if e := sigilFails(t, "tuf", "add-target", "--repo", repo, p("empty_root.json")+"=trusted_root.json"); !strings.Contains(e, "lists 0 certificate authorities and 0 transparency logs") {
		t.Errorf("empty trusted root: %s", e)
	}
	sigil(t, "tuf", "add-target", "--repo", repo, p("trusted_root.json"), p("sc.json")+"=signing_config.v0.2.json")

	// One root signature of two: publishing is refused and says why.
	_, e := sigil(t, "tuf", "sign", "--repo", repo, "--key", p("alice.pem"), "--password-env", "TUF_PW")
	if !strings.Contains(e, "Not ready") {
		t.Errorf("sign output lacks progress: %s", e)
	}
	if e := sigilFails(t, "tuf", "publish", "--repo", repo); !strings.Contains(e, "threshold") {
		t.Errorf("publish below threshold: %s", e)
	}
	if e := sigilFails(t, "tuf", "sign", "--repo", repo, "--key", p("dave.pem")); !strings.Contains(e, "not a root or targets key") {
		t.Errorf("sign with a stranger key: %s", e)
	}
	if e := sigilFails(t, "tuf", "sign", "--repo", repo, "--key", p("bob.pem")); !strings.Contains(e, "password") {
		t.Errorf("encrypted key without a password: %s", e)
	}
	_, e = sigil(t, "tuf", "sign", "--repo", repo, "--key", p("bob.pem"), "--key", p("targets.pem"), "--password-env", "TUF_PW")
	if !strings.Contains(e, "Ready") {
		t.Errorf("sign output: %s", e)
	}
	www := p("www")
	sigil(t, "tuf", "publish", "--repo", repo, "--snapshot-key", p("snapshot.pem"), "--timestamp-key", p("timestamp.pem"), "--timestamp-expires", "30d", www)
	out, _ := sigil(t, "tuf", "status", "--repo", repo)
	for _, want := range []string{"root       v1", "targets    v1", "snapshot   v1", "timestamp  v1", "target trusted_root.json", "target signing_config.v0.2.json"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}

	srv := httptest.NewServer(http.FileServer(http.Dir(www)))
	defer srv.Close()
	sigil(t, "trust", "init", "--mirror", srv.URL, "--root", filepath.Join(www, "root.json"))
	out, _ = sigil(t, "trust", "show")
	if !regexp.MustCompile(`2 of 3 keys \([0-9a-f]{12}, [0-9a-f]{12}, [0-9a-f]{12}\)`).MatchString(out) {
		t.Errorf("trust show does not name the root keys:\n%s", out)
	}
	for _, want := range []string{srv.URL, "root       v1", "2 of 3 keys", "https://rekor.sigil.test", "tsa    https://tsa.sigil.test/api/v1/timestamp", "tsa    https://tsa.example/api/v1/timestamp"} {
		if !strings.Contains(out, want) {
			t.Errorf("trust show lacks %q:\n%s", want, out)
		}
	}

	// Rotate: carol and bob out, dave and erin in, threshold 2; new root
	// signed by 2 old (alice, bob) and 2 new (dave, erin).
	sigil(t, "tuf", "rotate-root", "--repo", repo, "--remove-root-key", p("carol.pem.pub"), "--remove-root-key", p("bob.pem.pub"),
		"--add-root-key", p("dave.pem.pub"), "--add-root-key", p("erin.pem.pub"))
	sigil(t, "tuf", "sign", "--repo", repo, "--key", p("dave.pem"), "--key", p("erin.pem"))
	if e := sigilFails(t, "tuf", "publish", "--repo", repo); !strings.Contains(e, "previous version 1") {
		t.Errorf("publish without the old root's threshold: %s", e)
	}
	sigil(t, "tuf", "sign", "--repo", repo, "--key", p("alice.pem"), "--key", p("bob.pem"), "--password-env", "TUF_PW")
	sigil(t, "tuf", "publish", "--repo", repo, "--snapshot-key", p("snapshot.pem"), "--timestamp-key", p("timestamp.pem"), www)

	out, _ = sigil(t, "trust", "show", "--output", "json")
	var shown struct {
		TUF struct {
			Roles map[string]struct{ Version int64 }
		}
		TrustedRoot   map[string]any
		SigningConfig map[string]any
	}
	if err := json.Unmarshal([]byte(out), &shown); err != nil {
		t.Fatalf("trust show --output json: %v\n%s", err, out)
	}
	if shown.TUF.Roles["root"].Version != 2 || shown.TrustedRoot["mediaType"] != trust.TrustedRootMediaTypeLegacy || shown.SigningConfig["mediaType"] != trust.SigningConfigMediaType {
		t.Errorf("trust show json: %+v", shown)
	}

	// Offline, from the cache, with the mirror gone.
	srv.Close()
	sigilFails(t, "trust", "show")
	out, _ = sigil(t, "trust", "show", "--offline")
	if !strings.Contains(out, "root       v2") {
		t.Errorf("offline show:\n%s", out)
	}
	f := trustFlags{offline: true}
	gotTR, gotSC, err := f.load()
	if err != nil {
		t.Fatal(err)
	}
	if len(gotTR.TSAs) != 1 || len(gotSC.TSAs) != 1 {
		t.Errorf("trustFlags.load: %d TSAs in root, %d in config", len(gotTR.TSAs), len(gotSC.TSAs))
	}
	f = trustFlags{trustedRoot: p("trusted_root.json"), offline: true}
	if _, err := f.loadTrustedRoot(); err != nil {
		t.Errorf("--trusted-root file: %v", err)
	}

	// Removing a target stages a targets version without it.
	_, e = sigil(t, "tuf", "remove-target", "--repo", repo, "signing_config.v0.2.json")
	if !strings.Contains(e, "Staged targets v2") || strings.Contains(e, "target signing_config") || !strings.Contains(e, "target trusted_root.json") {
		t.Errorf("remove-target output:\n%s", e)
	}
	if e := sigilFails(t, "tuf", "remove-target", "--repo", repo, "nope.json"); !strings.Contains(e, "no such target") {
		t.Errorf("removing a missing target: %s", e)
	}
	if !strings.Contains(e, "Warning: without signing_config.v0.2.json") {
		t.Errorf("removing the signing config gave no warning:\n%s", e)
	}
	// The trusted root only with --force: no client could use the repository.
	if e := sigilFails(t, "tuf", "remove-target", "--repo", repo, "trusted_root.json"); !strings.Contains(e, "refusing to remove trusted_root.json") {
		t.Errorf("removing the trusted root: %s", e)
	}
	if _, e := sigil(t, "tuf", "remove-target", "--repo", repo, "--force", "trusted_root.json"); strings.Contains(e, "target trusted_root.json") {
		t.Errorf("remove-target --force output:\n%s", e)
	}
	// discard drops the staged targets; the published ones stay.
	if _, e := sigil(t, "tuf", "discard", "--repo", repo); !strings.Contains(e, "Discarded the staged changes") {
		t.Errorf("discard: %s", e)
	}
	if out, _ := sigil(t, "tuf", "status", "--repo", repo, "--output", "json"); strings.Contains(out, "stagedTargets") || !strings.Contains(out, "trusted_root.json") {
		t.Errorf("status after discard:\n%s", out)
	}
	if _, e := sigil(t, "tuf", "discard", "--repo", repo); !strings.Contains(e, "Nothing was staged") {
		t.Errorf("second discard: %s", e)
	}
}

// TestTrustNotInitialized: commands explain how to set trust up.
func TestTrustNotInitialized(t *testing.T) {
	t.Setenv("SIGIL_TUF_CACHE", t.TempDir())
	if e := sigilFails(t, "trust", "show"); !strings.Contains(e, "sigil trust init --mirror URL --root root.json") {
		t.Errorf("trust show: %s", e)
	}
	f := trustFlags{}
	if _, err := f.loadTrustedRoot(); err == nil || !strings.Contains(err.Error(), "--trusted-root FILE") {
		t.Errorf("loadTrustedRoot: %v", err)
	}
	if e := sigilFails(t, "trust", "init", "--mirror", "http://127.0.0.1:1", "--root", filepath.Join(t.TempDir(), "none.json")); !strings.Contains(e, "--root") {
		t.Errorf("trust init with a missing root: %s", e)
	}
}

func TestParseExpiry(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"", time.Time{}, true},
		{"365d", now.Add(365 * 24 * time.Hour), true},
		{"26w", now.Add(26 * 7 * 24 * time.Hour), true},
		{"720h", now.Add(720 * time.Hour), true},
		{"2027-06-01T00:00:00Z", time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC), true},
		{"2025-06-01T00:00:00Z", time.Time{}, false},
		{"0d", time.Time{}, false},
		{"-5h", time.Time{}, false},
		{"soon", time.Time{}, false},
	}
	for _, tt := range tests {
		got, err := parseExpiry(tt.in, now)
		if (err == nil) != tt.ok || !got.Equal(tt.want) {
			t.Errorf("parseExpiry(%q) = %v, %v; want %v (ok %v)", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

// TestTrustFlags: the flags other commands register parse into the
// options LoadTrust uses.
func TestTrustFlags(t *testing.T) {
	var f trustFlags
	fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
	f.register(fs)
	if err := fs.Parse([]string{"--trusted-root", "tr.json", "--signing-config", "sc.json", "--offline"}); err != nil {
		t.Fatal(err)
	}
	o := f.options()
	if o.TrustedRootFile != "tr.json" || o.SigningConfigFile != "sc.json" || !o.Offline || !strings.HasPrefix(o.UserAgent, "sigil/") {
		t.Errorf("options %+v", o)
	}
}

// rotate-root's --remove-*-key takes a key file or a key ID: 64 lower-case
// hex digits, nothing else.
func TestIsHexKeyID(t *testing.T) {
	id := strings.Repeat("0123456789abcdef", 4)
	for s, want := range map[string]bool{
		id:                             true,
		id[:63]:                        false,
		id + "0":                       false,
		strings.ToUpper(id):            false,
		id[:63] + "g":                  false,
		"keys/" + id[:59]:              false,
		"":                             false,
		strings.Repeat("f", 64):        true,
		" " + id[1:]:                   false,
		strings.Repeat("0", 62) + "9a": true,
	} {
		if got := isHexKeyID(s); got != want {
			t.Errorf("isHexKeyID(%q) = %v, want %v", s, got, want)
		}
	}
}

// TestRotateRootReplacesOnlineKeyOfStagedRoot: rotate-root --timestamp-key
// replaces the timestamp key of the root being edited: again on a
// rotation that already replaced it (it failed: "couldn't remove
// timestamp key …: the role has no such key", the committed root's key),
// and on a version 1 not yet published (it added a second key).
func TestRotateRootReplacesOnlineKeyOfStagedRoot(t *testing.T) {
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	for _, k := range []string{"root.pem", "targets.pem", "snapshot.pem", "ts1.pem", "ts2.pem", "ts3.pem"} {
		sigil(t, "tuf", "keygen", "--out", p(k), "--plain")
	}
	keyID := func(name string) string {
		k, err := tuf.LoadKey(p(name), nil)
		if err != nil {
			t.Fatal(err)
		}
		return k.ID()
	}
	timestampKeys := func(repo string) []string {
		var root struct {
			Signed struct {
				Roles map[string]struct {
					KeyIDs []string `json:"keyids"`
				} `json:"roles"`
			} `json:"signed"`
		}
		raw, err := os.ReadFile(filepath.Join(repo, "staged", "root.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, &root); err != nil {
			t.Fatal(err)
		}
		return root.Signed.Roles["timestamp"].KeyIDs
	}
	repo := p("ceremony")
	sigil(t, "tuf", "init", "--repo", repo, "--root-key", p("root.pem.pub"), "--targets-key", p("targets.pem.pub"),
		"--snapshot-key", p("snapshot.pem.pub"), "--timestamp-key", p("ts1.pem.pub"))
	sigil(t, "tuf", "rotate-root", "--repo", repo, "--timestamp-key", p("ts2.pem.pub"))
	if got := timestampKeys(repo); len(got) != 1 || got[0] != keyID("ts2.pem") {
		t.Fatalf("staged version 1 timestamp keys %v, want only ts2's", got)
	}
	tr, _ := os.ReadFile(filepath.Join("..", "..", "examples", "hello", "trusted_root.json"))
	os.WriteFile(p("trusted_root.json"), tr, 0o644)
	sigil(t, "tuf", "add-target", "--repo", repo, p("trusted_root.json"))
	sigil(t, "tuf", "sign", "--repo", repo, "--key", p("root.pem"), "--key", p("targets.pem"))
	sigil(t, "tuf", "publish", "--repo", repo)

	sigil(t, "tuf", "rotate-root", "--repo", repo, "--timestamp-key", p("ts1.pem.pub"))
	sigil(t, "tuf", "rotate-root", "--repo", repo, "--timestamp-key", p("ts3.pem.pub"))
	if got := timestampKeys(repo); len(got) != 1 || got[0] != keyID("ts3.pem") {
		t.Fatalf("staged version 2 timestamp keys %v, want only ts3's", got)
	}
	sigil(t, "tuf", "sign", "--repo", repo, "--key", p("root.pem"))
	sigil(t, "tuf", "publish", "--repo", repo, "--snapshot-key", p("snapshot.pem"), "--timestamp-key", p("ts3.pem"))
}
