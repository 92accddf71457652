// Package cli is the sigil command line: flag parsing and wiring to the
// library packages. cmd/sigil only calls Main.
package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"sigil.dev/sigil/internal/fsutil"
	"sigil.dev/sigil/internal/printable"
)

// Version is set at build time with -ldflags "-X sigil.dev/sigil/internal/cli.Version=…".
var Version = "devel"

// exitError carries an exit status without printing anything more.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// Main runs the command line with args (without the program name) and
// returns the process exit status.
func Main(args []string, stdout, stderr io.Writer) int {
	for _, h := range argvHandlers {
		if code, ok := h(args, stdout, stderr); ok {
			return code
		}
	}
	root := newRootFor(stdout, stderr, args)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return 0
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	fmt.Fprintf(stderr, "Error: %s\n", errorText(err))
	return 1
}

// errorText is err's message made safe for a terminal: errors quote what
// a bundle, a log entry, a certificate or a service said, which another
// party chose, so every line goes through printable.Text. The line breaks
// sigil's own hints use are kept, and every line after the first starts
// with white space (two spaces are added where it has none), so that a
// line break inside quoted text cannot print a line of its own
// ("Verified OK: …") after the error.
func errorText(err error) string {
	lines := strings.Split(err.Error(), "\n")
	for i, l := range lines {
		lines[i] = printable.Text(l)
		if i > 0 && !strings.HasPrefix(lines[i], " ") {
			lines[i] = "  " + lines[i]
		}
	}
	return strings.Join(lines, "\n")
}

// newRoot builds the whole command tree.
func newRoot(stdout, stderr io.Writer) *cobra.Command { return newRootFor(stdout, stderr, nil) }

// newRootFor builds the command tree to run args: when args[0] names a
// command registered with registerCommand, the root holds that command
// alone, since building every command's flags costs more than the rest
// of a short command's start-up (half a millisecond, most of it in
// pflag's defaults for slice flags); else the whole tree, which help,
// completion and suggestions need.
func newRootFor(stdout, stderr io.Writer, args []string) *cobra.Command {
	root := &cobra.Command{
		Use:   "sigil",
		Short: "Keyless software signing, wire-compatible with Sigstore",
		Long: `sigil is keyless software signing in one binary, wire-compatible with Sigstore.

  sigil server                 a complete private instance: CA, CT log, Rekor v1/v2 logs, TSA, TUF, dev OIDC issuer
  sigil sign-blob / attest-blob sign files keyless (or with --key) into Sigstore bundles
  sigil verify-blob / ...      verify bundles offline against a trusted root and an identity policy
  sigil sign / verify / ...    the same for container images in a registry
  sigil git setup              sign git commits and tags keyless

Start with "sigil server", then follow what it prints.`,
		SilenceErrors: true,
		SilenceUsage:  true,
		Version:       Version,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	if len(args) > 0 {
		if f, ok := named[args[0]]; ok {
			root.AddCommand(f())
			refuseUnknownSubcommands(root)
			return root
		}
	}
	for _, f := range registered {
		root.AddCommand(f())
	}
	refuseUnknownSubcommands(root)
	return root
}

// refuseUnknownSubcommands makes every command group below root (sigil
// tuf, trust, ca, …) fail on an argument that names none of its commands.
// Cobra checks that only for the root: "sigil tuf pubilsh --repo DIR" or
// "sigil trust update" printed the group's help and exited 0, so a
// ceremony script went on as if the step had run.
func refuseUnknownSubcommands(c *cobra.Command) {
	for _, sub := range c.Commands() {
		if !sub.Runnable() && sub.HasSubCommands() {
			sub.Args = cobra.ArbitraryArgs
			sub.RunE = func(cmd *cobra.Command, args []string) error {
				if len(args) == 0 {
					return cmd.Help()
				}
				msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
				cmd.SuggestionsMinimumDistance = 2 // as cobra suggests for the root
				if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
					msg += fmt.Sprintf(" (did you mean %s?)", strings.Join(s, ", "))
				}
				return errors.New(msg + "; run '" + cmd.CommandPath() + " --help' for its commands")
			}
		}
		refuseUnknownSubcommands(sub)
	}
}

func init() {
	registerCommand("verify-blob", newVerifyBlob)
	registerCommand("verify-blob-attestation", newVerifyBlobAttestation)
	registerCommand("version", newVersion)
}

// registered holds the constructors of commands that files of this package
// add with register from an init function, so that each command group
// (log, ca, server, tuf, …) lives in its own file.
var registered []func() *cobra.Command

// named holds the constructors registered with registerCommand, by the
// name of the command they build.
var named = map[string]func() *cobra.Command{}

func register(f func() *cobra.Command) { registered = append(registered, f) }

// registerCommand is register for a constructor of the command name
// (which MUST be the Name() of what f builds), so that running that
// command builds no other.
func registerCommand(name string, f func() *cobra.Command) {
	named[name] = f
	register(f)
}

// argvHandlers see the arguments before the command line is parsed. A
// handler that recognises them (another program's calling convention, such
// as git running sigil as its gpg.x509.program with gpg's options) runs
// them and returns the exit status and true.
var argvHandlers []func(args []string, stdout, stderr io.Writer) (int, bool)

func registerArgv(h func(args []string, stdout, stderr io.Writer) (int, bool)) {
	argvHandlers = append(argvHandlers, h)
}

func newVersion() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the sigil version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(cmd.OutOrStdout(), "sigil %s\n", Version)
			return nil
		},
	}
}

// readSmallFile is readFile for files that are small by nature (a
// signature, a certificate): more than max bytes is an error, so /dev/zero
// or a wrong path to a huge file does not exhaust memory.
func readSmallFile(what, path string, max int64) ([]byte, error) {
	if path == "" {
		return nil, fmt.Errorf("no %s given", what)
	}
	b, err := fsutil.ReadFileMax(path, max)
	if errors.Is(err, fsutil.ErrTooLarge) {
		return nil, fmt.Errorf("couldn't read %s %s: larger than %d bytes", what, path, max)
	}
	if err != nil {
		return nil, fmt.Errorf("couldn't read %s: %w", what, err)
	}
	return b, nil
}

// readFile reads a file that is small by nature (a key, a certificate, a
// TUF root, a checkpoint): at most maxSmallFile bytes.
func readFile(what, path string) ([]byte, error) {
	return readSmallFile(what, path, maxSmallFile)
}

const (
	// maxSmallFile bounds keys, certificates, roots and other
	// documents that are a few kilobytes by nature.
	maxSmallFile = 1 << 20
	// maxBundleFile bounds a bundle read for verification: its DSSE
	// payload is at most a statement (maxPredicate), base64-encoded.
	maxBundleFile = 128 << 20
)
