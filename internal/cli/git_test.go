package cli

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigil.dev/sigil/gitsign"
	"sigil.dev/sigil/internal/fakesvc"
	"sigil.dev/sigil/internal/oracle"
	"sigil.dev/sigil/server/servertest"
)

// TestMain lets git run this test binary as sigil: with SIGIL_TEST_MAIN=1
// it is the sigil command line (git's gpg.x509.program, and the sigil of
// the tests' subprocesses).
func TestMain(m *testing.M) {
	if os.Getenv("SIGIL_TEST_MAIN") == "1" {
		os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr))
	}
	if os.Getenv("SIGIL_TEST_SHUTDOWN") == "1" {
		shutdownChild()
	}
	os.Exit(m.Run())
}

// gitRepo is a temporary repository whose git runs sigil (this test
// binary) against fake services; HOME, the git configuration, the cache
// and GNUPGHOME are private to it.
type gitRepo struct {
	t         *testing.T
	dir, home string
	env       []string
	sigil     string
	f         *fakesvc.Services
	url       string // the CA and log base URL
	root      string
}

func gitToken(email string) string {
	return fakesvc.Token(map[string]any{"iss": fakesvc.Issuer, "aud": "sigstore", "sub": email, "email": email, "email_verified": true,
		"exp": time.Now().Add(time.Hour).Unix()})
}

func newGitRepo(t *testing.T, f *fakesvc.Services) *gitRepo {
	t.Helper()
	oracle.Find(t, "git", ".ci/install-git.sh")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	r := &gitRepo{t: t, dir: filepath.Join(home, "repo"), home: home, sigil: exe, f: f, url: f.URL, root: filepath.Join(home, "trusted_root.json")}
	raw, err := f.TrustedRoot.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(r.root, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	r.env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"XDG_CACHE_HOME=" + filepath.Join(home, ".cache"), "GNUPGHOME=" + filepath.Join(home, ".gnupg"),
		"GIT_CONFIG_NOSYSTEM=1", "LANG=C", "TZ=UTC", "SIGIL_TEST_MAIN=1",
		"GIT_AUTHOR_NAME=Alice", "GIT_AUTHOR_EMAIL=alice@sigil.test", "GIT_COMMITTER_NAME=Alice", "GIT_COMMITTER_EMAIL=alice@sigil.test",
		"SIGSTORE_ID_TOKEN=" + gitToken("alice@sigil.test"), "SIGIL_TUF_CACHE=" + filepath.Join(home, "tuf"),
	}
	if err := os.Mkdir(r.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	r.ok("git", "init", "-q", "-b", "main")
	return r
}

// run runs a command in the repository; extra are environment overrides.
func (r *gitRepo) run(extra []string, name string, args ...string) (code int, stdout, stderr string) {
	r.t.Helper()
	if name == "sigil" {
		name = r.sigil
	}
	cmd := exec.Command(name, args...)
	cmd.Dir = r.dir
	cmd.Env = append(append([]string{}, r.env...), extra...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), o.String(), e.String()
	}
	if err != nil {
		r.t.Fatalf("%s %v: %v", name, args, err)
	}
	return 0, o.String(), e.String()
}

func (r *gitRepo) ok(name string, args ...string) string {
	r.t.Helper()
	code, out, errOut := r.run(nil, name, args...)
	if code != 0 {
		r.t.Fatalf("%s %s: exit %d\n%s%s", name, strings.Join(args, " "), code, out, errOut)
	}
	return out + errOut
}

func (r *gitRepo) fails(extra []string, want string, name string, args ...string) {
	r.t.Helper()
	code, out, errOut := r.run(extra, name, args...)
	if code == 0 || !strings.Contains(out+errOut, want) {
		r.t.Fatalf("%s %s: exit %d, want a failure saying %q:\n%s%s", name, strings.Join(args, " "), code, want, out, errOut)
	}
}

// setup runs sigil git setup with the fake services.
func (r *gitRepo) setup(extra ...string) string {
	r.t.Helper()
	args := append([]string{"git", "setup", "--program", r.sigil, "--trusted-root", r.root, "--fulcio-url", r.url, "--rekor-url", r.url}, extra...)
	return r.ok("sigil", args...)
}

// signature returns the parsed signature of a commit.
func (r *gitRepo) signature(rev string) *gitsign.Signature {
	r.t.Helper()
	_, sig, err := gitsign.SplitCommit([]byte(r.ok("git", "cat-file", "commit", rev)))
	if err != nil {
		r.t.Fatal(err)
	}
	s, err := gitsign.Parse(sig)
	if err != nil {
		r.t.Fatal(err)
	}
	return s
}

// forge writes a commit object made from rev's by edit and returns its ID.
func (r *gitRepo) forge(rev string, edit func(raw string) string) string {
	r.t.Helper()
	raw := edit(r.ok("git", "cat-file", "commit", rev))
	cmd := exec.Command("git", "hash-object", "-t", "commit", "-w", "--stdin")
	cmd.Dir, cmd.Env, cmd.Stdin = r.dir, r.env, strings.NewReader(raw)
	out, err := cmd.Output()
	if err != nil {
		r.t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

var aliceID = []string{"--certificate-identity", "alice@sigil.test", "--certificate-oidc-issuer", fakesvc.Issuer}

func TestGitSignAndVerify(t *testing.T) {
	f := fakesvc.New(t)
	r := newGitRepo(t, f)
	out := r.setup("--certificate-identity", "alice@sigil.test", "--certificate-oidc-issuer", fakesvc.Issuer)
	for _, want := range []string{"git config --local gpg.format x509\n", "git config --local gpg.x509.program " + r.sigil, "git config --local commit.gpgsign true\n",
		"git config --local sigil.certificateIdentity alice@sigil.test\n"} {
		if !strings.Contains(out, want) {
			t.Fatalf("setup printed:\n%s\nwant %q", out, want)
		}
	}

	// Three commits in a row sign in once: the certificate is cached.
	for _, msg := range []string{"first", "second", "third"} {
		r.ok("git", "commit", "-q", "--allow-empty", "-m", msg)
	}
	if n := f.Seen("/api/v2/signingCert"); n != 1 {
		t.Fatalf("the CA was asked %d times for three commits", n)
	}
	cacheDir := filepath.Join(r.home, ".cache", "sigil", "git")
	files, _ := filepath.Glob(filepath.Join(cacheDir, "*.pem"))
	if len(files) != 1 {
		t.Fatalf("cache files %v", files)
	}
	for p, want := range map[string]os.FileMode{cacheDir: 0o700, files[0]: 0o600} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != want {
			t.Fatalf("%s: mode %v, want %04o (%v)", p, fi.Mode().Perm(), want, err)
		}
	}

	for _, rev := range []string{"HEAD", "HEAD~1", "HEAD~2"} {
		if out := r.ok("git", "verify-commit", rev); !strings.Contains(out, "Good signature from alice@sigil.test (issuer "+fakesvc.Issuer+")") {
			t.Fatalf("verify-commit %s:\n%s", rev, out)
		}
	}
	out = r.ok("git", "log", "--show-signature", "-1")
	if !strings.Contains(out, "sigil: Good signature from alice@sigil.test") || !strings.Contains(out, "logged in https://rekor.sigil.test at index") {
		t.Fatalf("log --show-signature:\n%s", out)
	}
	s := r.signature("HEAD")
	if len(s.LogEntries) != 1 {
		t.Fatalf("%d embedded log entries", len(s.LogEntries))
	}
	fpr := gitsign.Fingerprint(s.Certificates[0])
	if out := r.ok("git", "log", "-1", "--format=%G? %GS %GF %GK"); out != "G alice@sigil.test "+fpr+" "+fpr+"\n" {
		t.Fatalf("signature format fields %q", out)
	}

	// Annotated tags.
	r.ok("git", "tag", "-a", "v1.0", "-m", "release 1.0")
	if out := r.ok("git", "cat-file", "tag", "v1.0"); !strings.Contains(out, "-----BEGIN SIGNED MESSAGE-----") {
		t.Fatalf("unsigned tag:\n%s", out)
	}
	if out := r.ok("git", "verify-tag", "v1.0"); !strings.Contains(out, "Good signature from alice@sigil.test") {
		t.Fatalf("verify-tag:\n%s", out)
	}

	// sigil git verify, with the identity policy on the command line.
	if out := r.ok("sigil", append([]string{"git", "verify"}, aliceID...)...); !strings.Contains(out, "Verified OK") || !strings.Contains(out, "commit "+strings.TrimSpace(r.ok("git", "rev-parse", "HEAD"))) {
		t.Fatalf("sigil git verify:\n%s", out)
	}
	if out := r.ok("sigil", append([]string{"git", "verify", "v1.0"}, aliceID...)...); !strings.Contains(out, "tag ") || !strings.Contains(out, "Verified OK") {
		t.Fatalf("sigil git verify v1.0:\n%s", out)
	}
	code, js, _ := r.run(nil, "sigil", append([]string{"git", "verify", "HEAD~1", "--output", "json"}, aliceID...)...)
	if code != 0 || !strings.Contains(js, `"identity": "alice@sigil.test"`) || !strings.Contains(js, `"logMode": "offline"`) {
		t.Fatalf("json (exit %d):\n%s", code, js)
	}
}

// The failures the issue names, through git itself.
func TestGitVerifyFailures(t *testing.T) {
	f := fakesvc.New(t)
	r := newGitRepo(t, f)
	r.setup("--certificate-identity", "alice@sigil.test", "--certificate-oidc-issuer", fakesvc.Issuer)
	r.ok("git", "commit", "-q", "--allow-empty", "-m", "good")

	// A rewritten commit: the message changed, the signature kept.
	evil := r.forge("HEAD", func(raw string) string { return strings.Replace(raw, "\ngood\n", "\nevil\n", 1) })
	r.fails(nil, "changed after it was signed", "git", "verify-commit", evil)
	r.fails(nil, "BAD signature from alice@sigil.test", "git", "verify-commit", evil)
	r.fails(nil, "changed after it was signed", "sigil", append([]string{"git", "verify", evil}, aliceID...)...)
	// --output json reports the failure as JSON too, exit status 1.
	code, js, _ := r.run(nil, "sigil", append([]string{"git", "verify", evil, "-o", "json"}, aliceID...)...)
	var rep struct{ Object, Type, Error string }
	if err := json.Unmarshal([]byte(js), &rep); code == 0 || err != nil || rep.Object != evil || rep.Type != "commit" || !strings.Contains(rep.Error, "changed after it was signed") {
		t.Errorf("json of a failure (exit %d, %v):\n%s", code, err, js)
	}

	// A signature whose log entry is missing (and the log has none for
	// the object either).
	stripped := r.forge("HEAD", func(raw string) string {
		payload, sig, err := gitsign.SplitCommit([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		s, err := gitsign.Parse(sig)
		if err != nil {
			t.Fatal(err)
		}
		s.LogEntries = nil
		p, err := s.MarshalPEM()
		if err != nil {
			t.Fatal(err)
		}
		i := strings.Index(string(payload), "\n\n")
		return string(payload[:i+1]) + "gpgsig " + strings.ReplaceAll(strings.TrimSuffix(string(p), "\n"), "\n", "\n ") + "\n" + string(payload[i+1:])
	})
	r.fails(nil, "no transparency log entry for the signature", "git", "verify-commit", stripped)
	// git shows it as "can't check" (E), not as a BAD signature (B),
	// which would read as tampering.
	if got := strings.TrimSpace(r.ok("git", "log", "-1", "--format=%G?", stripped)); got != "E" {
		t.Errorf("%%G? of a signature without a log entry: %q, want E", got)
	}
	r.fails(nil, "none was found for object "+stripped, "sigil", append([]string{"git", "verify", stripped}, aliceID...)...)

	// Another identity: bob signs; the repository requires alice.
	code, out, errOut := r.run([]string{"SIGSTORE_ID_TOKEN=" + gitToken("bob@sigil.test")}, "git", "commit", "-q", "--allow-empty", "-m", "by bob")
	if code != 0 {
		t.Fatalf("bob's commit: %s%s", out, errOut)
	}
	r.fails(nil, `BAD signature from bob@sigil.test: identity verification failed: certificate identity mismatch: got "bob@sigil.test", want "alice@sigil.test"`, "git", "verify-commit", "HEAD")
	r.fails(nil, `got "bob@sigil.test", want "alice@sigil.test"`, "sigil", append([]string{"git", "verify"}, aliceID...)...)
	// With bob's identity on the command line, it verifies.
	r.ok("sigil", "git", "verify", "--certificate-identity", "bob@sigil.test", "--certificate-oidc-issuer", fakesvc.Issuer)

	// Without a trusted root or TUF mirror, git verify-commit names the
	// setting, not the offline mode a cache that was never filled cannot
	// serve.
	code, out, errOut = r.run(nil, "git", "-c", "sigil.trustedRoot=", "verify-commit", "HEAD")
	if code == 0 || !strings.Contains(out+errOut, "no TUF mirror configured") || !strings.Contains(out+errOut, "git config sigil.trustedRoot FILE") || strings.Contains(out+errOut, "sigil.offline=true") {
		t.Fatalf("verify-commit without trust: exit %d\n%s%s", code, out, errOut)
	}

	// Unsigned commits and missing policies say so.
	r.ok("git", "-c", "commit.gpgsign=false", "commit", "-q", "--allow-empty", "-m", "unsigned")
	r.fails(nil, "not signed", "sigil", append([]string{"git", "verify"}, aliceID...)...)
	r.ok("git", "config", "--unset", "sigil.certificateIdentity")
	r.ok("git", "config", "--unset", "sigil.certificateOIDCIssuer")
	r.fails(nil, "no identity policy", "sigil", "git", "verify", "HEAD~1")
	// Half a policy is refused, naming what git commands take (no --key).
	r.ok("git", "config", "sigil.certificateIdentity", "alice@sigil.test")
	for _, args := range [][]string{{"git", "verify-commit", "HEAD~1"}, {"sigil", "git", "verify", "HEAD~1"}, {"sigil", "git", "verify", "HEAD~1", "--certificate-oidc-issuer-regexp", ""}} {
		code, out, errOut := r.run(nil, args[0], args[1:]...)
		if code == 0 || !strings.Contains(out+errOut, "sigil.certificateOIDCIssuer") || strings.Contains(out+errOut, "--key") {
			t.Fatalf("%v with only sigil.certificateIdentity: exit %d\n%s%s", args, code, out, errOut)
		}
	}
	r.ok("git", "config", "--unset", "sigil.certificateIdentity")

	// Without a token signing fails; git (before 2.41) hides why, so the
	// reason also goes to the terminal, or to SIGIL_GIT_LOG.
	log := filepath.Join(r.home, "sigil-git.log")
	r.fails([]string{"SIGSTORE_ID_TOKEN=", "SIGIL_GIT_LOG=" + log}, "failed to sign", "git", "commit", "-q", "--allow-empty", "-m", "no token")
	if b, err := os.ReadFile(log); err != nil || !strings.Contains(string(b), "couldn't get an identity token") || !strings.Contains(string(b), "under git: set SIGSTORE_ID_TOKEN") {
		t.Fatalf("SIGIL_GIT_LOG: %s %v", b, err)
	}
}

// A range verifies every commit in it: a CI gate requiring that each
// commit of a branch was signed by an allowed identity.
func TestGitVerifyRange(t *testing.T) {
	f := fakesvc.New(t)
	r := newGitRepo(t, f)
	r.setup("--certificate-identity", "alice@sigil.test", "--certificate-oidc-issuer", fakesvc.Issuer)
	r.ok("git", "commit", "-q", "--allow-empty", "-m", "root")
	r.ok("git", "-c", "tag.gpgsign=false", "tag", "root")
	r.ok("git", "-c", "commit.gpgsign=false", "commit", "-q", "--allow-empty", "-m", "base, unsigned")
	r.ok("git", "-c", "tag.gpgsign=false", "tag", "base")
	r.ok("git", "commit", "-q", "--allow-empty", "-m", "one")
	r.ok("git", "commit", "-q", "--allow-empty", "-m", "two")
	// A merge commit is in the range and verified too.
	r.ok("git", "checkout", "-q", "-b", "side", "base")
	r.ok("git", "commit", "-q", "--allow-empty", "-m", "side")
	r.ok("git", "checkout", "-q", "main")
	r.ok("git", "merge", "-q", "--no-ff", "-m", "merge side", "side")
	ids := strings.Fields(r.ok("git", "rev-list", "base..HEAD"))
	if len(ids) != 4 {
		t.Fatalf("range holds %d commits", len(ids))
	}
	out := r.ok("sigil", append([]string{"git", "verify", "base..HEAD"}, aliceID...)...)
	for _, id := range ids {
		if !strings.Contains(out, "Good signature from alice@sigil.test (issuer "+fakesvc.Issuer+"): commit "+id+" signed at ") {
			t.Fatalf("commit %s not reported:\n%s", id, out)
		}
	}
	if !strings.Contains(out, "Verified OK: all 4 commits in base..HEAD") {
		t.Fatalf("summary:\n%s", out)
	}
	// The unsigned base commit fails when in the range.
	r.fails(nil, "1 of 5 commits in root..HEAD failed", "sigil", append([]string{"git", "verify", "root..HEAD"}, aliceID...)...)

	// Bob's commit and an unsigned one: both named, the rest still
	// reported, exit 1.
	r.ok("git", "commit", "-q", "--allow-empty", "-m", "three")
	if code, out, errOut := r.run([]string{"SIGSTORE_ID_TOKEN=" + gitToken("bob@sigil.test")}, "git", "commit", "-q", "--allow-empty", "-m", "by bob"); code != 0 {
		t.Fatalf("bob's commit: %s%s", out, errOut)
	}
	bob := strings.TrimSpace(r.ok("git", "rev-parse", "HEAD"))
	r.ok("git", "-c", "commit.gpgsign=false", "commit", "-q", "--allow-empty", "-m", "unsigned")
	unsigned := strings.TrimSpace(r.ok("git", "rev-parse", "HEAD"))
	code, stdout, stderr := r.run(nil, "sigil", append([]string{"git", "verify", "base..HEAD"}, aliceID...)...)
	for _, want := range []string{
		"FAILED commit " + bob + ": identity verification failed: certificate identity mismatch: got \"bob@sigil.test\"",
		"FAILED commit " + unsigned + ": ", "not signed",
		"2 of 7 commits in base..HEAD failed verification",
	} {
		if code == 0 || !strings.Contains(stdout+stderr, want) {
			t.Fatalf("exit %d, want %q:\n%s%s", code, want, stdout, stderr)
		}
	}
	if n := strings.Count(stderr, "Good signature from alice@sigil.test"); n != 5 {
		t.Fatalf("%d good signatures reported, want 5:\n%s", n, stderr)
	}

	// JSON: every commit, the failures with their reason, exit 1.
	code, stdout, _ = r.run(nil, "sigil", append([]string{"git", "verify", "base..HEAD", "-o", "json"}, aliceID...)...)
	var rep struct {
		Range            string
		Verified, Failed int
		Commits          []struct{ Object, Identity, Error string }
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil || code == 0 {
		t.Fatalf("exit %d, %v:\n%s", code, err, stdout)
	}
	if rep.Range != "base..HEAD" || rep.Verified != 5 || rep.Failed != 2 || len(rep.Commits) != 7 ||
		rep.Commits[0].Object != unsigned || rep.Commits[0].Error == "" || rep.Commits[1].Object != bob || !strings.Contains(rep.Commits[1].Error, "mismatch") ||
		rep.Commits[2].Identity != "alice@sigil.test" || rep.Commits[2].Error != "" {
		t.Fatalf("json report %+v", rep)
	}

	// A rewritten commit in a range fails as it does alone.
	evil := r.forge("HEAD~2", func(raw string) string { return strings.Replace(raw, "\nthree\n", "\nevil\n", 1) })
	r.fails(nil, "changed after it was signed", "sigil", append([]string{"git", "verify", "HEAD~3.." + evil}, aliceID...)...)

	// A replace ref does not lend an unsigned commit the signature of
	// the commit that replaces it.
	r.ok("git", "replace", unsigned, bob+"~1")
	r.fails(nil, "not signed", "sigil", append([]string{"git", "verify", unsigned}, aliceID...)...)
	r.fails(nil, "FAILED commit "+unsigned+": ", "sigil", append([]string{"git", "verify", "root..HEAD"}, aliceID...)...)
	r.ok("git", "replace", "-d", unsigned)

	// An empty range, an unknown revision and an option are refused.
	r.fails(nil, "the range holds no commit", "sigil", append([]string{"git", "verify", "HEAD..HEAD"}, aliceID...)...)
	r.fails(nil, "couldn't list the commits of nosuch..HEAD: git rev-list:", "sigil", append([]string{"git", "verify", "nosuch..HEAD"}, aliceID...)...)
	r.fails(nil, "not a range", "sigil", append(append([]string{"git", "verify"}, aliceID...), "--", "--all..HEAD")...)
}

// A shallow clone (a CI checkout with a fetch depth) gives its boundary
// commits no parents, so git rev-list stops there: a range that reaches
// the boundary fails instead of passing on what is left of it, and one
// whose boundary lies behind the range verifies as in a full clone.
func TestGitVerifyRangeShallow(t *testing.T) {
	f := fakesvc.New(t)
	r := newGitRepo(t, f)
	r.setup()
	for _, m := range []string{"m1", "m2", "m3", "m4"} {
		r.ok("git", "commit", "-q", "--allow-empty", "-m", m)
	}
	r.ok("git", "checkout", "-q", "-b", "pr")
	r.ok("git", "-c", "commit.gpgsign=false", "commit", "-q", "--allow-empty", "-m", "unsigned")
	unsigned := strings.TrimSpace(r.ok("git", "rev-parse", "HEAD"))
	for _, m := range []string{"p2", "p3", "p4"} {
		r.ok("git", "commit", "-q", "--allow-empty", "-m", m)
	}
	args := append([]string{"git", "verify", "origin/main..pr", "--trusted-root", r.root}, aliceID...)
	clone := func(depth string) *gitRepo {
		c := *r
		c.dir = filepath.Join(r.home, "clone-"+depth)
		r.ok("git", "clone", "-q", "--depth", depth, "--no-single-branch", "file://"+r.dir, c.dir)
		c.ok("git", "checkout", "-q", "pr")
		return &c
	}

	c := clone("3")
	c.fails(nil, "the boundary of a shallow clone", "sigil", args...)
	c.ok("git", "fetch", "-q", "--unshallow")
	c.fails(nil, "FAILED commit "+unsigned+": ", "sigil", args...)

	c = clone("6")
	c.fails(nil, "1 of 4 commits in origin/main..pr failed", "sigil", args...)
}

// The certificate extension flags of the other verify commands hold for
// commits too: a GitHub workflow matcher refuses a certificate without
// the extension; an extension it has passes.
func TestGitVerifyExtensions(t *testing.T) {
	f := fakesvc.New(t)
	r := newGitRepo(t, f)
	r.setup()
	r.ok("git", "commit", "-q", "--allow-empty", "-m", "one")
	r.ok("git", "commit", "-q", "--allow-empty", "-m", "two")
	r.fails(nil, "githubWorkflowRepository", "sigil", append([]string{"git", "verify", "--certificate-github-workflow-repository", "org/repo"}, aliceID...)...)
	r.fails(nil, "sourceRepositoryURI", "sigil", append([]string{"git", "verify", "HEAD~1..HEAD", "--certificate-extension-regexp", "sourceRepositoryURI=^https://"}, aliceID...)...)
	r.ok("sigil", append([]string{"git", "verify", "--certificate-extension", "issuer=" + fakesvc.Issuer}, aliceID...)...)
	r.fails(nil, "need an identity policy too", "sigil", "git", "verify", "--certificate-github-workflow-ref", "refs/heads/main")
}

// Verification long after the certificate expired succeeds from the log's
// time; signing after it does not reuse the expired certificate.
func TestGitAfterExpiry(t *testing.T) {
	f := fakesvc.New(t)
	r := newGitRepo(t, f)
	r.setup()
	r.ok("git", "commit", "-q", "--allow-empty", "-m", "signed now")
	leaf := r.signature("HEAD").Certificates[0]
	offset := "3h"
	if later := time.Now().Add(3 * time.Hour); !later.After(leaf.NotAfter) {
		t.Fatalf("the certificate (until %s) would still be valid at %s", leaf.NotAfter, later)
	}
	clock := []string{"SIGIL_GIT_CLOCK_OFFSET=" + offset}
	code, out, errOut := r.run(clock, "git", "verify-commit", "HEAD")
	if code != 0 || !strings.Contains(errOut, "Good signature from alice@sigil.test") {
		t.Fatalf("verify-commit 3 h later: exit %d\n%s%s", code, out, errOut)
	}
	// No identity was configured: git is told so (TRUST_UNDEFINED), and
	// the user how to pin one.
	if !strings.Contains(errOut, "identity was not checked") {
		t.Fatalf("no warning about the unchecked identity:\n%s", errOut)
	}
	if out := r.ok("git", "log", "-1", "--format=%G?"); out != "U\n" {
		t.Fatalf("%%G? = %q, want U without an identity policy", out)
	}
	code, _, errOut = r.run(clock, r.sigil, append([]string{"git", "verify"}, aliceID...)...)
	if code != 0 {
		t.Fatalf("sigil git verify 3 h later: %s", errOut)
	}
	// Signing 3 h later needs a new certificate: the cached one expired.
	asked := f.Seen("/api/v2/signingCert")
	code, out, errOut = r.run(clock, "git", "commit", "-q", "--allow-empty", "-m", "signed later")
	if code != 0 {
		t.Fatalf("commit 3 h later: %s%s", out, errOut)
	}
	if f.Seen("/api/v2/signingCert") != asked+1 {
		t.Fatal("an expired cached certificate was used")
	}
}

// gitsign's default: the log records the commit ID; verification finds it.
func TestGitOnlineMode(t *testing.T) {
	f := fakesvc.New(t)
	r := newGitRepo(t, f)
	r.setup("--rekor-mode", "online", "--certificate-identity", "alice@sigil.test", "--certificate-oidc-issuer", fakesvc.Issuer)
	r.ok("git", "commit", "-q", "--allow-empty", "-m", "online")
	r.ok("git", "tag", "-a", "v2", "-m", "online tag")
	if s := r.signature("HEAD"); len(s.LogEntries) != 0 {
		t.Fatal("online mode embedded a log entry")
	}
	head := strings.TrimSpace(r.ok("git", "rev-parse", "HEAD"))
	if out := r.ok("git", "verify-commit", "HEAD"); !strings.Contains(out, "found by search for "+head) {
		t.Fatalf("verify-commit:\n%s", out)
	}
	r.ok("git", "verify-tag", "v2")
	if out := r.ok("sigil", append([]string{"git", "verify", "v2"}, aliceID...)...); !strings.Contains(out, "(found by search)") {
		t.Fatalf("sigil git verify:\n%s", out)
	}
	// If the log cannot find the entry, nothing vouches for the time.
	f.ForgetSearchIndex()
	r.fails(nil, "no transparency log entry", "git", "verify-commit", "HEAD")
}

func TestGitProgramUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--status-fd=2", "-bsau"}, 2, "-bsau needs a value"},
		{[]string{"--status-fd=1", "--verify", "sig"}, 2, "attached signatures are not supported"},
		{[]string{"--status-fd=x", "-bsau", "k"}, 2, "wants a number"},
		{[]string{"-s", "--bogus"}, 2, "unknown option --bogus"},
	} {
		var o, e bytes.Buffer
		if code := Main(tc.args, &o, &e); code != tc.code || !strings.Contains(e.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d, %q", tc.args, code, e.String(), tc.code, tc.want)
		}
	}
	// Ordinary command lines are left to cobra.
	if code, out, _ := run("git", "--help"); code != 0 || !strings.Contains(out, "sigil git setup") {
		t.Fatalf("git --help: %d %s", code, out)
	}
}

func TestGitSetupScopes(t *testing.T) {
	f := fakesvc.New(t)
	r := newGitRepo(t, f)
	out := r.setup("--global", "--no-sign-by-default", "--rekor-mode", "online", "--oidc-device-flow")
	if strings.Contains(out, "commit.gpgsign") || !strings.Contains(out, "git config --global sigil.rekorMode online\n") || !strings.Contains(out, "git config --global sigil.oidcDeviceFlow true\n") {
		t.Fatalf("setup --global printed:\n%s", out)
	}
	if b, err := os.ReadFile(filepath.Join(r.home, ".gitconfig")); err != nil || !strings.Contains(string(b), "format = x509") {
		t.Fatalf("~/.gitconfig: %s %v", b, err)
	}
	// With --no-sign-by-default, git signs when asked (-S).
	r.ok("git", "commit", "-q", "--allow-empty", "-S", "-m", "asked")
	r.ok("git", "verify-commit", "HEAD")

	// Outside a repository, only --global makes sense; bad values are refused.
	r.dir = r.home
	r.fails(nil, "couldn't find a git repository here", "sigil", "git", "setup", "--program", r.sigil)
	r.fails(nil, `unknown log mode "sometimes"`, "sigil", "git", "setup", "--global", "--rekor-mode", "sometimes")
	r.fails(nil, "needs both a certificate identity and an OIDC issuer", "sigil", "git", "setup", "--global", "--certificate-identity", "alice@sigil.test")
	r.fails(nil, "couldn't use", "sigil", "git", "setup", "--global", "--trusted-root", filepath.Join(r.home, "missing.json"))

	// Under go run (as this test binary, built in a go-build directory),
	// the default program would be deleted on exit: refused, unless
	// --program names one.
	if !strings.Contains(r.sigil, string(filepath.Separator)+"go-build") {
		t.Skip("the test binary is not in a go-build directory")
	}
	r.fails(nil, "is a build of go run", "sigil", "git", "setup", "--global")
}

// Without an identity policy a good signature is of undefined trust, which
// git merge --verify-signatures refuses; with one that matches, it merges.
func TestGitMergeVerifySignatures(t *testing.T) {
	f := fakesvc.New(t)
	r := newGitRepo(t, f)
	// setup says what git then does, in git's words.
	if out := r.setup(); !strings.Contains(out, `merge --verify-signatures refuses them ("untrusted GPG signature")`) {
		t.Fatalf("setup without an identity:\n%s", out)
	}
	r.ok("git", "commit", "-q", "--allow-empty", "-m", "base")
	r.ok("git", "checkout", "-q", "-b", "topic")
	r.ok("git", "commit", "-q", "--allow-empty", "-m", "topic")
	r.ok("git", "checkout", "-q", "main")
	r.fails(nil, "has an untrusted GPG signature, allegedly by alice@sigil.test", "git", "merge", "--verify-signatures", "--no-edit", "topic")
	r.ok("git", "config", "sigil.certificateIdentity", "alice@sigil.test")
	r.ok("git", "config", "sigil.certificateOIDCIssuer", fakesvc.Issuer)
	if out := r.ok("git", "merge", "--verify-signatures", "--no-edit", "topic"); !strings.Contains(out, "has a good GPG signature by alice@sigil.test") {
		t.Fatalf("merge:\n%s", out)
	}
}

// TestGitAgainstServer signs and verifies commits and tags end to end
// against a real `sigil server`: its CA (with a CT log), its Rekor v1 log,
// the dev issuer's tokens; and verifies again once the certificate has
// long expired, from the log's time.
func TestGitAgainstServer(t *testing.T) {
	srv := servertest.Start(t, "", "")
	r := newGitRepo(t, fakesvc.New(t))
	r.f, r.url = nil, srv.PublicURL()
	raw, err := os.ReadFile(srv.TrustedRootFile)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(r.root, raw, 0o644)
	r.env = append(r.env, "SIGSTORE_ID_TOKEN="+srv.Token(t), "GIT_AUTHOR_EMAIL=dev@sigil.test", "GIT_COMMITTER_EMAIL=dev@sigil.test")
	id := []string{"--certificate-identity", "dev@sigil.test", "--certificate-oidc-issuer", srv.DevIssuerURL()}
	r.setup(id...)
	r.ok("git", "commit", "-q", "--allow-empty", "-m", "signed against sigil server")
	r.ok("git", "tag", "-a", "v0.1", "-m", "tagged")
	if out := r.ok("git", "verify-commit", "HEAD"); !strings.Contains(out, "Good signature from dev@sigil.test") {
		t.Fatalf("verify-commit:\n%s", out)
	}
	if out := r.ok("git", "verify-tag", "v0.1"); !strings.Contains(out, "Good signature from dev@sigil.test") {
		t.Fatalf("verify-tag:\n%s", out)
	}
	if out := r.ok("sigil", append([]string{"git", "verify", "HEAD"}, id...)...); !strings.Contains(out, "Verified OK") {
		t.Fatalf("sigil git verify:\n%s", out)
	}
	// Three hours later the certificate is long expired; the log's time
	// still proves it was valid when the commit was signed.
	if code, out, errOut := r.run([]string{"SIGIL_GIT_CLOCK_OFFSET=3h"}, "sigil", append([]string{"git", "verify", "HEAD"}, id...)...); code != 0 || !strings.Contains(out+errOut, "Verified OK") {
		t.Fatalf("verification after expiry (exit %d):\n%s%s", code, out, errOut)
	}
	// Another identity is refused.
	if code, out, errOut := r.run(nil, "sigil", "git", "verify", "HEAD", "--certificate-identity", "eve@sigil.test", "--certificate-oidc-issuer", srv.DevIssuerURL()); code == 0 || !strings.Contains(out+errOut, "identity mismatch") {
		t.Fatalf("wrong identity (exit %d):\n%s%s", code, out, errOut)
	}
}

// The certificate cache is keyed by every token source before an
// interactive sign-in: a token for another identity from a file (or from
// GitHub Actions) signs as that identity, not with the previous one's
// cached certificate (found by an audit: it signed as the previous one).
func TestGitCacheFollowsTheToken(t *testing.T) {
	f := fakesvc.New(t)
	r := newGitRepo(t, f)
	if out := r.setup(); !strings.Contains(out, "Note: no identity to verify against") {
		t.Errorf("setup without an identity says nothing about verification:\n%s", out)
	}
	for _, who := range []string{"alice", "bob"} {
		file := filepath.Join(r.home, who+".jwt")
		if err := os.WriteFile(file, []byte(gitToken(who+"@sigil.test")), 0o600); err != nil {
			t.Fatal(err)
		}
		code, out, errOut := r.run([]string{"SIGSTORE_ID_TOKEN=", "SIGSTORE_ID_TOKEN_FILE=" + file}, "git", "commit", "-q", "--allow-empty", "-m", "by "+who)
		if code != 0 {
			t.Fatalf("%s's commit: %s%s", who, out, errOut)
		}
	}
	// A warning that does not stop signing reaches SIGIL_GIT_LOG too (git
	// before 2.41 hides the program's stderr).
	if err := os.Chmod(filepath.Join(r.home, ".cache", "sigil", "git"), 0o755); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(r.home, "warnings.log")
	if code, out, errOut := r.run([]string{"SIGIL_GIT_LOG=" + log}, "git", "commit", "-q", "--allow-empty", "-m", "cache unsafe"); code != 0 {
		t.Fatalf("commit with an unsafe cache: %s%s", out, errOut)
	}
	if b, err := os.ReadFile(log); err != nil || !strings.Contains(string(b), "not using the credential cache") {
		t.Errorf("SIGIL_GIT_LOG: %q %v", b, err)
	}
	for rev, want := range map[string]string{"HEAD~2": "alice@sigil.test", "HEAD~1": "bob@sigil.test"} {
		s := r.signature(rev)
		if len(s.Certificates) == 0 || len(s.Certificates[0].EmailAddresses) != 1 || s.Certificates[0].EmailAddresses[0] != want {
			t.Errorf("%s not signed as %s", rev, want)
		}
	}
	// A token "file" that is a device is not read whole for the cache
	// key (/dev/zero never ends): no cache, the token from the
	// environment signs.
	os.Chmod(filepath.Join(r.home, ".cache", "sigil", "git"), 0o700) //nolint:errcheck
	if code, out, errOut := r.run([]string{"SIGSTORE_ID_TOKEN_FILE=/dev/zero"}, "git", "commit", "-q", "--allow-empty", "-m", "device token file"); code != 0 {
		t.Fatalf("commit with a device as token file: %s%s", out, errOut)
	}
}

// A device sign-in under git with no terminal (an IDE's git, a CI job with
// sigil.oidcDeviceFlow): git before 2.41 hides the program's standard
// error, so the code to enter also goes to SIGIL_GIT_LOG; without it the
// commit waited for a sign-in whose code nobody could see.
func TestGitDeviceSignInPromptReachesTheLog(t *testing.T) {
	if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
		tty.Close()
		t.Skip("a terminal is attached: the prompt goes there")
	}
	f := fakesvc.New(t)
	r := newGitRepo(t, f)
	_, issuer := devIssuerURL(t)
	r.setup("--oidc-issuer", issuer, "--oidc-device-flow", "--no-credential-cache")
	log := filepath.Join(r.home, "sigil-git.log")
	cmd := exec.Command("git", "commit", "-q", "--allow-empty", "-m", "device sign-in")
	cmd.Dir = r.dir
	cmd.Env = append(append([]string{}, r.env...), "SIGSTORE_ID_TOKEN=", "SIGIL_GIT_LOG="+log)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		b, _ := os.ReadFile(log)
		if u := deviceURL.FindString(string(b)); u != "" {
			// Approve, so that the commit ends (the fake CA need not
			// accept the dev issuer's token).
			if resp, err := http.Get(u); err == nil {
				resp.Body.Close()
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no device sign-in code in SIGIL_GIT_LOG after 30s:\n%s", b)
		}
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("git commit still waiting after the sign-in was approved")
	}
}
