package cli

import (
	"bytes"
	"testing"
)

// TestRegisteredCommandNames: a constructor registered by name builds the
// command of that name, which the whole tree also finds under that name,
// so newRootFor's one-command root runs what the whole tree would.
func TestRegisteredCommandNames(t *testing.T) {
	if len(named) == 0 {
		t.Fatal("no command registered by name")
	}
	var out bytes.Buffer
	all := newRoot(&out, &out)
	for name, f := range named {
		if got := f().Name(); got != name {
			t.Errorf("registerCommand(%q, …) builds %q", name, got)
		}
		if c, _, err := all.Find([]string{name}); err != nil || c.Name() != name {
			t.Errorf("the whole tree finds %v (%v) for %q", c, err, name)
		}
	}
}

// TestOneCommandRootSameOutput: for a command registered by name, what the
// user sees (help, errors) is the same from the one-command root as from
// the whole tree.
func TestOneCommandRootSameOutput(t *testing.T) {
	tests := [][]string{
		{"sign-blob", "--help"},
		{"verify-blob", "--help"},
		{"trust", "init", "--help"},
		{"sign-blob"},
		{"sign-blob", "--no-such-flag"},
		{"version"},
	}
	for _, args := range tests {
		if _, ok := named[args[0]]; !ok {
			t.Fatalf("%s is not registered by name", args[0])
		}
		var want, got bytes.Buffer
		full := newRoot(&want, &want)
		full.SetArgs(args)
		wantErr := full.Execute()
		one := newRootFor(&got, &got, args)
		if n := len(one.Commands()); n != 1 {
			t.Errorf("%v: the root holds %d commands, want 1", args, n)
		}
		one.SetArgs(args)
		gotErr := one.Execute()
		if got.String() != want.String() || (gotErr == nil) != (wantErr == nil) || gotErr != nil && gotErr.Error() != wantErr.Error() {
			t.Errorf("%v: one-command root printed %q (error %v); the whole tree %q (error %v)", args, got.String(), gotErr, want.String(), wantErr)
		}
	}
	// Anything else builds the whole tree: root help, help, completion.
	for _, args := range [][]string{nil, {"--help"}, {"help", "sign-blob"}, {"completion", "bash"}, {"server"}} {
		if n, all := len(newRootFor(&bytes.Buffer{}, &bytes.Buffer{}, args).Commands()), len(newRoot(&bytes.Buffer{}, &bytes.Buffer{}).Commands()); n != all {
			t.Errorf("%v: root holds %d commands, want all %d", args, n, all)
		}
	}
}
