package cli

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// TestBundleWriteFailureLeavesNoPart: a bundle whose write fails half way
// (a full disk; here a file size limit, ulimit -f) used to leave the part
// written at the --bundle path, replacing an earlier whole bundle there: a
// truncated bundle that make took as up to date. Now the path keeps what
// it held before (nothing, or the earlier bundle) and no temporary file
// is left.
func TestBundleWriteFailureLeavesNoPart(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs sh and ulimit -f")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	_, dir, root, sc := signFixture(t, 2)
	art := filepath.Join(dir, "a.txt")
	os.WriteFile(art, []byte("artifact"), 0o644)
	earlier := filepath.Join(dir, "earlier.sigstore.json")
	os.WriteFile(earlier, []byte("{\"earlier\": true}\n"), 0o644)
	for _, out := range []string{filepath.Join(dir, "new.sigstore.json"), earlier} {
		before, _ := os.ReadFile(out)
		// 2 blocks of 512 bytes: less than a bundle.
		cmd := exec.Command("sh", "-c", `ulimit -f 2 && exec "$@"`, "sh", exe,
			"sign-blob", art, "--bundle", out, "--identity-token", testToken(), "--trusted-root", root, "--signing-config", sc)
		cmd.Env = append(os.Environ(), "SIGIL_TEST_MAIN=1")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err == nil {
			t.Fatalf("%s: sign-blob succeeded under ulimit -f 2: %s", out, stderr.String())
		}
		if !strings.Contains(stderr.String(), "couldn't write bundle") || !strings.Contains(stderr.String(), "sign again") {
			t.Errorf("%s: stderr %q", out, stderr.String())
		}
		after, err := os.ReadFile(out)
		switch {
		case before == nil && err == nil:
			t.Errorf("a failed write left %d bytes at %s: %.60q", len(after), out, after)
		case before != nil && !bytes.Equal(after, before):
			t.Errorf("a failed write replaced the earlier bundle %s with %.60q", out, after)
		}
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

// TestConcurrentBundleWrites: processes writing the same --bundle path at
// once (make -j, CI jobs sharing a directory) each truncated the file and
// wrote into it, so a longer bundle's tail could remain after a shorter
// one: a bundle that did not parse. Now the path always holds one whole
// bundle.
func TestConcurrentBundleWrites(t *testing.T) {
	out := filepath.Join(t.TempDir(), "a.sigstore.json")
	const writers = 8
	contents := make([][]byte, writers)
	for i := range contents {
		contents[i] = []byte(fmt.Sprintf("{%q: %q}\n", "w", strings.Repeat("x", 4000+i*300)))
	}
	for round := range 100 {
		var wg sync.WaitGroup
		for i := range writers {
			wg.Go(func() {
				if err := writeOutput(out, contents[i], 0o644); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		got, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		whole := false
		for _, c := range contents {
			whole = whole || bytes.Equal(got, c)
		}
		if !whole {
			t.Fatalf("round %d: the bundle is no writer's whole bundle (%d bytes, ends %q)", round, len(got), got[max(0, len(got)-20):])
		}
	}
}

// TestWriteOutputKeeps: writing a bundle through a symbolic link writes
// the file it names (the link stays), a replaced file keeps its mode, and
// what is not a regular file is written directly.
func TestWriteOutputKeeps(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symbolic links and modes")
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "file.json")
	os.WriteFile(file, []byte("old"), 0o600)
	link := filepath.Join(dir, "link.json")
	if err := os.Symlink("file.json", link); err != nil {
		t.Fatal(err)
	}
	if err := writeOutput(link, []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link was replaced: %v", err)
	}
	if b, _ := os.ReadFile(file); string(b) != "new" {
		t.Errorf("the linked file holds %q", b)
	}
	if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600 kept", fi.Mode().Perm())
	}
	if err := writeOutput(os.DevNull, []byte("x"), 0o644); err != nil {
		t.Errorf("%s: %v", os.DevNull, err)
	}
}

// TestBundleInReadOnlyDirectory: a --bundle in a directory the user cannot
// write was found out after signing, with the signature in the log and the
// bundle lost. Now it is refused first; a writable file already there is
// still written.
func TestBundleInReadOnlyDirectory(t *testing.T) {
	if runtime.GOOS == "windows" || os.Geteuid() == 0 {
		t.Skip("needs directory permissions that apply (not root)")
	}
	f, dir, root, sc := signFixture(t, 1)
	art := filepath.Join(dir, "a.txt")
	os.WriteFile(art, []byte("artifact"), 0o644)
	ro := filepath.Join(dir, "ro")
	os.Mkdir(ro, 0o755)
	existing := filepath.Join(ro, "existing.sigstore.json")
	os.WriteFile(existing, []byte("{}\n"), 0o644)
	if err := os.Chmod(ro, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(ro, 0o755) })
	common := []string{"--identity-token", testToken(), "--trusted-root", root, "--signing-config", sc}
	code, _, stderr := run(append([]string{"sign-blob", art, "--bundle", filepath.Join(ro, "new.sigstore.json")}, common...)...)
	if code == 0 || !strings.Contains(stderr, "is not writable") || !strings.Contains(stderr, "nothing was signed") {
		t.Errorf("bundle in a read-only directory: exit %d, %q", code, stderr)
	}
	if n := f.Seen("/api/v1/log/entries"); n != 0 {
		t.Errorf("the log got %d entries", n)
	}
	if code, _, stderr := run(append([]string{"sign-blob", art, "--bundle", existing}, common...)...); code != 0 {
		t.Errorf("a writable bundle in a read-only directory: %s", stderr)
	}
	if b, _ := os.ReadFile(existing); !bytes.Contains(b, []byte("application/vnd.dev.sigstore.bundle")) {
		t.Errorf("the existing bundle holds %.60q", b)
	}
}
