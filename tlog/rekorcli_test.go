package tlog

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"sigil.dev/sigil/internal/oracle"
	"sigil.dev/sigil/internal/testpki"
)

// The real rekor-cli (sigstore/rekor v1.5.4, installed by
// .ci/install-rekor-cli.sh) uploads, gets, searches and verifies against
// the v1 API, and checks the log's consistency with loginfo and logproof.
func TestRekorCLI(t *testing.T) {
	bin := oracle.Find(t, "rekor-cli", ".ci/install-rekor-cli.sh")
	l := startLog(t, "", nil)
	home, dir := t.TempDir(), t.TempDir()
	try := func(args ...string) (string, error) {
		cmd := exec.Command(bin, append(args, "--rekor_server", l.url)...)
		cmd.Env = append(os.Environ(), "HOME="+home)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	cli := func(args ...string) string {
		t.Helper()
		out, err := try(args...)
		if err != nil {
			t.Fatalf("rekor-cli %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	p, _ := testpki.New(testpki.Options{})
	for _, withCert := range []bool{false, true} {
		s := newSigner(t, p, nil, withCert)
		art := make([]byte, 64)
		rand.Read(art) //nolint:errcheck
		artPath := write("artifact", art)
		d := sha256.Sum256(art)
		sig, err := s.key.Sign(rand.Reader, d[:], crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		sigPath := write("artifact.sig", sig)
		pubPath := write("key.pem", s.pem())

		out := cli("upload", "--type", "hashedrekord", "--pki-format", "x509", "--artifact", artPath, "--signature", sigPath, "--public-key", pubPath)
		m := regexp.MustCompile(`Created entry at index (\d+), available at: \S*/api/v1/log/entries/([0-9a-f]{80})`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("upload: %s", out)
		}
		index, entryID := m[1], m[2]
		out = cli("upload", "--type", "hashedrekord", "--pki-format", "x509", "--artifact", artPath, "--signature", sigPath, "--public-key", pubPath)
		if !strings.Contains(out, "Entry already exists") || !strings.Contains(out, entryID) {
			t.Errorf("second upload: %s", out)
		}
		for _, args := range [][]string{{"--uuid", entryID}, {"--uuid", entryID[16:]}, {"--log-index", index}} {
			out = cli(append([]string{"get", "--format", "json"}, args...)...)
			var g struct {
				LogIndex int
				UUID     string
				Body     map[string]any
			}
			if err := json.Unmarshal([]byte(out), &g); err != nil {
				t.Fatalf("get %v: %v\n%s", args, err, out)
			}
			if strconv.Itoa(g.LogIndex) != index || !strings.HasSuffix(entryID, g.UUID[len(g.UUID)-64:]) || g.Body["HashedRekordObj"] == nil {
				t.Errorf("get %v: %s", args, out)
			}
		}
		for _, args := range [][]string{
			{"--artifact", artPath},
			{"--sha", "sha256:" + hex.EncodeToString(d[:])},
			{"--public-key", pubPath, "--pki-format", "x509"},
		} {
			if out = cli(append([]string{"search"}, args...)...); !strings.Contains(out, entryID) {
				t.Errorf("search %v: %s", args, out)
			}
		}
		out = cli("verify", "--type", "hashedrekord", "--pki-format", "x509", "--artifact", artPath, "--signature", sigPath, "--public-key", pubPath)
		if !strings.Contains(out, "Current Root Hash") || !strings.Contains(out, "Entry Hash") {
			t.Errorf("verify: %s", out)
		}
		if out = cli("verify", "--uuid", entryID); !strings.Contains(out, "Inclusion Proof") {
			t.Errorf("verify --uuid: %s", out)
		}
	}
	if out, err := try("search", "--email", "nobody@example.com"); err == nil || !strings.Contains(out, "no matching entries") {
		t.Errorf("search by an unknown email: %v %s", err, out)
	}

	// DSSE and in-toto entries.
	s := newSigner(t, p, nil, false)
	env := s.envelope(t, []byte("attested"))
	ej, _ := json.Marshal(env)
	envPath := write("envelope.json", ej)
	pubPath := write("dsse.pem", s.pem())
	for _, typ := range []string{"dsse", "intoto:0.0.2"} {
		out := cli("upload", "--type", typ, "--artifact", envPath, "--public-key", pubPath, "--pki-format", "x509")
		if !strings.Contains(out, "Created entry at index") {
			t.Errorf("upload %s: %s", typ, out)
		}
	}

	// loginfo keeps the checkpoint, and proves consistency on the next
	// call.
	if out := cli("loginfo"); !strings.Contains(out, "Verification Successful") {
		t.Errorf("loginfo: %s", out)
	}
	req, _, _ := s.v1HashedRekord(t, []byte("one more"))
	if resp, body := l.post("/api/v1/log/entries", req); resp.StatusCode != 201 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	out := cli("loginfo")
	if !strings.Contains(out, "Verification Successful") || !regexp.MustCompile(`Total Tree Size:\s+5\n`).MatchString(out) {
		t.Errorf("loginfo after growth: %s", out)
	}
	if out := cli("logproof", "--first-size", "2", "--last-size", "5"); !strings.Contains(out, "Current Root Hash") {
		t.Errorf("logproof: %s", out)
	}
}
