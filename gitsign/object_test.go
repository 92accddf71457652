package gitsign_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigil.dev/sigil/gitsign"
	"sigil.dev/sigil/internal/oracle"
)

// fakeProgram is a signing program that signs with a fixed block and, when
// verifying, saves what git hands it, so the tests can compare the object
// code with git's own.
const fakeProgram = `#!/bin/sh
case " $* " in
*" --verify "*)
  cat > "$SAVE/payload"; cp "$3" "$SAVE/sig"
  printf '[GNUPG:] NEWSIG\n[GNUPG:] GOODSIG F test\n' ;;
*)
  cat > /dev/null
  printf -- '-----BEGIN SIGNED MESSAGE-----\nMIIBfake+line/one==\nline2\n-----END SIGNED MESSAGE-----\n'
  printf '[GNUPG:] BEGIN_SIGNING\n[GNUPG:] SIG_CREATED D 19 8 00 0 F\n' >&2 ;;
esac
`

func gitWith(t *testing.T, format string) func(args ...string) string {
	t.Helper()
	git := oracle.Find(t, "git", ".ci/install-git.sh")
	dir := t.TempDir()
	prog := filepath.Join(dir, "fake-gpg")
	if err := os.WriteFile(prog, []byte(fakeProgram), 0o755); err != nil {
		t.Fatal(err)
	}
	repo := filepath.Join(dir, "repo")
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "GIT_CONFIG_NOSYSTEM=1", "SAVE=" + dir,
		"GIT_AUTHOR_NAME=A", "GIT_AUTHOR_EMAIL=a@x", "GIT_COMMITTER_NAME=A", "GIT_COMMITTER_EMAIL=a@x"}
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(git, args...)
		cmd.Dir, cmd.Env = repo, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	os.Mkdir(repo, 0o755)
	run("init", "-q", "--object-format="+format)
	run("config", "gpg.format", "x509")
	run("config", "gpg.x509.program", prog)
	return func(args ...string) string {
		if len(args) == 1 && args[0] == "saved" {
			p, _ := os.ReadFile(filepath.Join(dir, "payload"))
			s, _ := os.ReadFile(filepath.Join(dir, "sig"))
			return string(p) + "\x00" + string(s)
		}
		return run(args...)
	}
}

// SplitCommit, SplitTag and ObjectID agree with git: the payload and
// signature are what git hands the program, and the rebuilt object has
// the ID git gave it, for SHA-1 and SHA-256 repositories.
func TestObjectsAgreeWithGit(t *testing.T) {
	for _, format := range []string{"sha1", "sha256"} {
		t.Run(format, func(t *testing.T) {
			git := gitWith(t, format)
			git("commit", "-q", "-S", "--allow-empty", "-m", "subject\n\nbody with\n-----BEGIN SIGNED MESSAGE-----\nlookalike")
			git("commit", "-q", "-S", "--allow-empty", "-m", "second")
			git("tag", "-s", "v1", "-m", "tag message\n-----BEGIN SIGNED MESSAGE-----\nin the message")
			for _, obj := range []struct{ kind, rev string }{{"commit", "HEAD"}, {"commit", "HEAD~1"}, {"tag", "v1"}} {
				raw := []byte(git("cat-file", obj.kind, obj.rev))
				var payload, sig []byte
				var err error
				verify := "verify-commit"
				if obj.kind == "tag" {
					payload, sig, err = gitsign.SplitTag(raw)
					verify = "verify-tag"
				} else {
					payload, sig, err = gitsign.SplitCommit(raw)
				}
				if err != nil {
					t.Fatal(err)
				}
				git(verify, obj.rev)
				p, s, _ := strings.Cut(git("saved"), "\x00")
				if string(payload) != p || string(sig) != s {
					t.Fatalf("%s: split\n%q\n%q\ngit\n%q\n%q", obj.rev, payload, sig, p, s)
				}
				id, err := gitsign.ObjectID(payload, sig)
				if err != nil {
					t.Fatal(err)
				}
				want := strings.TrimSpace(git("rev-parse", obj.rev))
				if id != want {
					t.Fatalf("%s: ObjectID %s, git %s", obj.rev, id, want)
				}
			}
			git("-c", "commit.gpgsign=false", "commit", "-q", "--allow-empty", "-m", "unsigned")
			if _, _, err := gitsign.SplitCommit([]byte(git("cat-file", "commit", "HEAD"))); !errors.Is(err, gitsign.ErrNotSigned) {
				t.Fatalf("unsigned commit: %v", err)
			}
		})
	}
}

func TestSplitCommitOtherSignatures(t *testing.T) {
	// A SHA-1 commit with a gpgsig-sha256 header too (the hash transition's
	// compatibility signature): both are left out of the payload.
	raw := "tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nauthor A <a@x> 1 +0000\ncommitter A <a@x> 1 +0000\n" +
		"gpgsig-sha256 -----BEGIN SIGNED MESSAGE-----\n other\n -----END SIGNED MESSAGE-----\n" +
		"gpgsig -----BEGIN SIGNED MESSAGE-----\n mine\n -----END SIGNED MESSAGE-----\n\nmsg\n gpgsig in the body\n"
	payload, sig, err := gitsign.SplitCommit([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if want := "tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nauthor A <a@x> 1 +0000\ncommitter A <a@x> 1 +0000\n\nmsg\n gpgsig in the body\n"; string(payload) != want {
		t.Fatalf("payload %q", payload)
	}
	if string(sig) != "-----BEGIN SIGNED MESSAGE-----\nmine\n-----END SIGNED MESSAGE-----\n" {
		t.Fatalf("signature %q", sig)
	}
	for _, bad := range []string{"", "tree xyz\n", "object 12\n", "parent 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n"} {
		if _, _, err := gitsign.SplitCommit([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
		if _, err := gitsign.ObjectID([]byte(bad), []byte("x")); err == nil {
			t.Errorf("ObjectID %q: no error", bad)
		}
	}
}

func FuzzSplitCommit(f *testing.F) {
	f.Add([]byte("tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\ngpgsig a\n b\n\nmsg\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		payload, sig, err := gitsign.SplitCommit(raw)
		if err != nil {
			return
		}
		if len(payload)+len(sig) > len(raw) {
			t.Fatal("split grew the object")
		}
		if hdr, _, _ := bytes.Cut(payload, []byte("\n\n")); bytes.Contains(hdr, []byte("\ngpgsig")) {
			t.Fatal("a signature header left in the payload's header")
		}
		gitsign.ObjectID(payload, sig)
	})
}

func FuzzSplitTag(f *testing.F) {
	f.Add([]byte("object 4b825dc642cb6eb9a060e54bf8d69288fbee4904\ntype commit\n\nmsg\n-----BEGIN SIGNED MESSAGE-----\nx\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		payload, sig, err := gitsign.SplitTag(raw)
		if err != nil {
			return
		}
		if !bytes.Equal(append(append([]byte{}, payload...), sig...), raw) {
			t.Fatal("payload and signature are not the object")
		}
		gitsign.ObjectID(payload, sig)
	})
}
