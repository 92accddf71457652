package gitsign_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sigil.dev/sigil/gitsign"
	"sigil.dev/sigil/internal/fakesvc"
	"sigil.dev/sigil/sign"
)

func TestIsGPGInvocation(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{[]string{"--status-fd=2", "-bsau", "Alice <alice@sigil.test>"}, true},
		{[]string{"--status-fd=1", "--verify", "/tmp/x", "-"}, true},
		{[]string{"--status-fd", "1", "--verify", "/tmp/x", "-"}, true},
		{[]string{"-bsau", "key"}, true},
		{[]string{"--keyid-format=long", "--status-fd=1", "--verify", "f", "-"}, true},
		{[]string{"-s"}, true},
		{[]string{"-v"}, false},
		{[]string{"-h"}, false},
		{[]string{"--help"}, false},
		{[]string{"git", "verify"}, false},
		{[]string{"verify-blob", "--bundle", "x"}, false},
		{nil, false},
	} {
		if got := gitsign.IsGPGInvocation(tc.args); got != tc.want {
			t.Errorf("%q: %v, want %v", tc.args, got, tc.want)
		}
	}
}

// program runs the program against f with a verifier requiring alice.
func program(t *testing.T, f *fakesvc.Services, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var o, e bytes.Buffer
	p := &gitsign.Program{
		Name: "sigil", Stdin: strings.NewReader(stdin), Stdout: &o, Stderr: &e,
		Signer: func() (*gitsign.Signer, error) { return newSigner(f, "alice@sigil.test", nil), nil },
		Verifier: func() (*gitsign.Verifier, error) {
			return &gitsign.Verifier{TrustedRoot: f.TrustedRoot, Identities: identity(t, "alice@sigil.test"), Logs: []*sign.RekorV1{{BaseURL: f.URL}}}, nil
		},
	}
	code := p.Run(context.Background(), args)
	return code, o.String(), e.String()
}

// What git runs, and the status lines it needs (git/git gpg-interface.c).
func TestProgramSignVerify(t *testing.T) {
	f := fakesvc.New(t)
	code, sig, status := program(t, f, commit, "--status-fd=2", "-bsau", "Alice <alice@sigil.test>")
	if code != 0 {
		t.Fatalf("sign: exit %d: %s", code, status)
	}
	if !strings.HasPrefix(sig, "-----BEGIN SIGNED MESSAGE-----\n") || !strings.HasSuffix(sig, "-----END SIGNED MESSAGE-----\n") {
		t.Fatalf("signature %q", sig)
	}
	if !regexp.MustCompile(`\n\[GNUPG:\] SIG_CREATED D 19 8 00 \d+ [0-9A-F]{40}\n`).MatchString(status) || !strings.HasPrefix(status, "[GNUPG:] BEGIN_SIGNING\n") {
		t.Fatalf("sign status:\n%s", status)
	}

	sigFile := filepath.Join(t.TempDir(), "sig")
	os.WriteFile(sigFile, []byte(sig), 0o600)
	code, status, msgs := program(t, f, commit, "--status-fd=1", "--verify", sigFile, "-")
	if code != 0 {
		t.Fatalf("verify: exit %d: %s", code, msgs)
	}
	lines := strings.Split(strings.TrimSpace(status), "\n")
	want := []string{`^\[GNUPG:\] NEWSIG$`, `^\[GNUPG:\] GOODSIG [0-9A-F]{40} alice@sigil.test$`,
		`^\[GNUPG:\] VALIDSIG [0-9A-F]{40} \d{4}-\d\d-\d\d \d+ 0 0 0 19 8 00 [0-9A-F]{40}$`, `^\[GNUPG:\] TRUST_FULLY 0 shell$`}
	if len(lines) != len(want) {
		t.Fatalf("verify status:\n%s", status)
	}
	for i, re := range want {
		if !regexp.MustCompile(re).MatchString(lines[i]) {
			t.Fatalf("status line %d %q does not match %s", i, lines[i], re)
		}
	}
	if !strings.Contains(msgs, "sigil: Good signature from alice@sigil.test (issuer "+fakesvc.Issuer+")") {
		t.Fatalf("messages:\n%s", msgs)
	}

	// A changed commit: one BADSIG, exit 1, the reason on stderr.
	code, status, msgs = program(t, f, commit+"tampered\n", "--status-fd=1", "--verify", sigFile, "-")
	if code != 1 || !regexp.MustCompile(`^\[GNUPG:\] NEWSIG\n\[GNUPG:\] BADSIG [0-9A-F]{40} alice@sigil.test\n$`).MatchString(status) || !strings.Contains(msgs, "changed after it was signed") {
		t.Fatalf("tampered: exit %d\n%s%s", code, status, msgs)
	}
	// Not a signature at all: ERRSIG.
	os.WriteFile(sigFile, []byte("garbage"), 0o600)
	code, status, _ = program(t, f, commit, "--status-fd=1", "--verify", sigFile, "-")
	if code != 1 || !strings.Contains(status, "\n[GNUPG:] ERRSIG ") || strings.Contains(status, "GOODSIG") {
		t.Fatalf("garbage: exit %d\n%s", code, status)
	}
}

func TestProgramUsage(t *testing.T) {
	f := fakesvc.New(t)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--status-fd=2", "-sau", "k"}, 2, "only detached signatures"},
		{[]string{"--status-fd=2", "-bsau"}, 2, "-bsau needs a value"},
		{[]string{"--verify", "--sign", "x", "-"}, 2, "not both"},
		{[]string{"--status-fd=1", "--verify", "x"}, 2, "attached signatures are not supported"},
		{[]string{"--status-fd=1", "--verify", "/nonexistent", "-"}, 1, "couldn't read the signature"},
		{[]string{"-bsax"}, 2, "unknown option -x"},
		{[]string{"--armor"}, 2, "nothing to do"},
		{[]string{"-bsa", "--", "/nonexistent"}, 1, "couldn't open the file to sign"},
	} {
		code, _, msgs := program(t, f, "", tc.args...)
		if code != tc.code || !strings.Contains(msgs, tc.want) {
			t.Errorf("%q: exit %d, %q; want %d, %q", tc.args, code, msgs, tc.code, tc.want)
		}
	}
}

// A failing signer is reported on standard error, to Alert and to Log.
func TestProgramSignFailure(t *testing.T) {
	var o, e, alert, log bytes.Buffer
	p := &gitsign.Program{Name: "sigil", Stdin: strings.NewReader(commit), Stdout: &o, Stderr: &e, Alert: &alert, Log: &log,
		Signer: func() (*gitsign.Signer, error) { return nil, errors.New("no token") }}
	if code := p.Run(context.Background(), []string{"--status-fd=2", "-bsau", "k"}); code != 1 || o.Len() != 0 {
		t.Fatalf("exit %d, output %q", code, o.String())
	}
	for _, w := range []*bytes.Buffer{&e, &alert, &log} {
		if !strings.Contains(w.String(), "sigil: couldn't sign: no token") {
			t.Fatalf("%q", w.String())
		}
	}
	if strings.Contains(e.String(), "SIG_CREATED") {
		t.Fatal("SIG_CREATED after a failure")
	}
}
