// Command sigil-conformance is the entry point the Sigstore conformance
// suite drives (sigstore/sigstore-conformance docs/cli_protocol.md):
//
//	sigil-conformance verify-bundle [--staging] --bundle FILE \
//	    (--certificate-identity ID --certificate-oidc-issuer URL | --key PEMFILE) \
//	    [--trusted-root FILE] FILE_OR_DIGEST
//
//	sigil-conformance sign-bundle [--staging] [--in-toto] --identity-token TOKEN \
//	    --bundle FILE [--trusted-root FILE] [--signing-config FILE] FILE
//
// The exit status is the only verdict. FILE_OR_DIGEST is a digest only when
// it is sha256:<64 hex> and not a path on disk. sign-bundle signs FILE
// (with --in-toto, FILE is an in-toto statement signed as given) into a
// v0.3 bundle with the services of the signing config. --staging means the
// public staging instance instead of the public-good one (below).
//
// Without --trusted-root (and, for sign-bundle, --signing-config) the
// protocol means the public-good instance, as the suite's verification
// vectors without a trusted_root.json of their own and its signing tests
// expect: the adapter then takes the trusted root and signing config from
// the public-good TUF repository (SIGIL_CONFORMANCE_TUF_MIRROR, default
// https://tuf-repo-cdn.sigstore.dev), cached in the user cache directory
// under sigil/conformance. Its first use needs the repository's initial
// root.json, obtained out of band as TUF requires (sigstore/root-signing
// publishes it; later versions are reached through TUF root rotation):
// SIGIL_CONFORMANCE_TUF_ROOT names that file. With --staging the staging
// instance's repository is used the same way
// (SIGIL_CONFORMANCE_STAGING_TUF_MIRROR, default
// https://tuf-repo-cdn.sigstage.dev; SIGIL_CONFORMANCE_STAGING_TUF_ROOT).
// sigil embeds no public trust. The adapter never uses the mirror set up with `sigil trust init`,
// which may be a private instance.
//
// Verification is configured as sigstore-go's conformance client does:
// one SCT; one log entry when the trusted root lists logs (sigil
// verify-blob requires one by default, so the adapter passes
// --tlog-threshold -1 for a root without logs); one RFC 3161 timestamp
// when the root lists TSAs and the bundle carries timestamps.
package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"sigil.dev/sigil/internal/cli"
	"sigil.dev/sigil/trust"
	"sigil.dev/sigil/tuf/client"
)

// tufRepo is a public Sigstore instance's TUF repository, where the
// trusted root and signing config come from when the suite passes none:
// its mirror (envMirror overrides it) and its initial root.json (root, or
// the file envRoot names).
type tufRepo struct {
	name, mirror, envRoot, envMirror string
	root                             []byte
}

// publicGood and staging are the public-good and staging instances'
// repositories. Variables for the tests.
var (
	publicGood = tufRepo{name: "public-good", mirror: "https://tuf-repo-cdn.sigstore.dev", envRoot: "SIGIL_CONFORMANCE_TUF_ROOT", envMirror: "SIGIL_CONFORMANCE_TUF_MIRROR"}
	staging    = tufRepo{name: "staging", mirror: "https://tuf-repo-cdn.sigstage.dev", envRoot: "SIGIL_CONFORMANCE_STAGING_TUF_ROOT", envMirror: "SIGIL_CONFORMANCE_STAGING_TUF_MIRROR"}
)

// where returns the repository's mirror and, for a first use, its
// initial root.json; missing names the flags the documents stand in for.
func (r tufRepo) where(missing string) (mirror string, root func() ([]byte, error)) {
	mirror = r.mirror
	if m := os.Getenv(r.envMirror); m != "" {
		mirror = m
	}
	return mirror, func() ([]byte, error) {
		if r.root != nil {
			return r.root, nil
		}
		p := os.Getenv(r.envRoot)
		if p == "" {
			return nil, fmt.Errorf("no %s given, and the %s TUF repository %s is not set up: set %s to its root.json (from sigstore/root-signing, obtained out of band), or pass --trusted-root and --signing-config", missing, r.name, mirror, r.envRoot)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("couldn't read %s: %w", r.envRoot, err)
		}
		return b, nil
	}
}

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: sigil-conformance sign-bundle [--staging] [--in-toto] --identity-token TOKEN --bundle FILE [--trusted-root FILE] [--signing-config FILE] FILE\n       sigil-conformance verify-bundle [--staging] --bundle FILE (--certificate-identity ID --certificate-oidc-issuer URL | --key PEM) [--trusted-root FILE] FILE_OR_DIGEST")
		return 2
	}
	switch args[0] {
	case "verify-bundle":
		repo := publicGood
		var out []string
		rest := args[1:]
		for i := 0; i < len(rest); i++ {
			switch rest[i] {
			case "--staging":
				repo = staging
			default:
				out = append(out, rest[i])
			}
		}
		if err := checkTrustFlags(out); err != nil {
			fmt.Fprintf(os.Stderr, "sigil-conformance: %v\n", err)
			return 2
		}
		out, cleanup, err := withDefaultTrust(repo, out, false)
		if err != nil {
			fmt.Fprintf(os.Stderr, "sigil-conformance: %v\n", err)
			return 1
		}
		defer cleanup()
		if noLogs(out) {
			out = append([]string{"--tlog-threshold", "-1"}, out...)
		}
		return cli.Main(append([]string{"verify-blob"}, out...), os.Stdout, os.Stderr)
	case "sign-bundle":
		repo := publicGood
		inToto := false
		var out []string
		rest := args[1:]
		for i := 0; i < len(rest); i++ {
			switch rest[i] {
			case "--staging":
				repo = staging
			case "--in-toto":
				inToto = true
			default:
				out = append(out, rest[i])
			}
		}
		if len(out) == 0 {
			fmt.Fprintln(os.Stderr, "sigil-conformance: sign-bundle needs a FILE")
			return 2
		}
		file, flags := out[len(out)-1], out[:len(out)-1]
		if err := checkTrustFlags(flags); err != nil {
			fmt.Fprintf(os.Stderr, "sigil-conformance: %v\n", err)
			return 2
		}
		flags, cleanup, err := withDefaultTrust(repo, flags, true)
		if err != nil {
			fmt.Fprintf(os.Stderr, "sigil-conformance: %v\n", err)
			return 1
		}
		defer cleanup()
		if inToto {
			return cli.Main(append(append([]string{"attest-blob"}, flags...), "--statement", file), os.Stdout, os.Stderr)
		}
		return cli.Main(append(append([]string{"sign-blob"}, flags...), file), os.Stdout, os.Stderr)
	}
	fmt.Fprintf(os.Stderr, "sigil-conformance: unknown command %q\n", args[0])
	return 2
}

// hasFlag reports whether args give the flag (--name VALUE or
// --name=VALUE).
func hasFlag(args []string, name string) bool {
	for _, a := range args {
		if a == name || strings.HasPrefix(a, name+"=") {
			return true
		}
	}
	return false
}

// checkTrustFlags refuses an empty --trusted-root or --signing-config (an
// unset shell variable): sign-blob and verify-blob read an empty one as
// absent and fall back to the mirror set up with `sigil trust init`, which
// the adapter must never use.
func checkTrustFlags(args []string) error {
	for i, a := range args {
		for _, name := range []string{"--trusted-root", "--signing-config"} {
			if a == name+"=" || (a == name && i+1 < len(args) && args[i+1] == "") {
				return fmt.Errorf("%s is empty: give a file", name)
			}
		}
	}
	return nil
}

// withDefaultTrust returns args with --trusted-root (and, when signing,
// --signing-config) added when they are missing: temporary files holding
// the public-good instance's documents from its TUF repository. cleanup
// removes them.
func withDefaultTrust(repo tufRepo, args []string, signing bool) (_ []string, cleanup func(), err error) {
	cleanup = func() {}
	needRoot := !hasFlag(args, "--trusted-root")
	needSC := signing && !hasFlag(args, "--signing-config")
	if !needRoot && !needSC {
		return args, cleanup, nil
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return nil, cleanup, fmt.Errorf("couldn't find a cache directory for the public-good TUF metadata: %w", err)
	}
	missing := "--trusted-root"
	switch {
	case needRoot && needSC:
		missing = "--trusted-root or --signing-config"
	case needSC:
		missing = "--signing-config"
	}
	mirror, initialRoot := repo.where(missing)
	opts := client.Options{
		CacheDir:      filepath.Join(base, "sigil", "conformance", client.URLToPath(mirror)),
		CacheValidity: client.DefaultCacheValidity,
		UserAgent:     "sigil-conformance/" + cli.Version,
	}
	docs, err := client.LoadDocuments(opts, needSC)
	if errors.Is(err, client.ErrNotInitialized) {
		root, rerr := initialRoot()
		if rerr != nil {
			return nil, cleanup, rerr
		}
		if _, err = client.Init(opts, mirror, root); err != nil {
			return nil, cleanup, fmt.Errorf("couldn't set up the %s TUF repository %s: %w", repo.name, mirror, err)
		}
		docs, err = client.LoadDocuments(opts, needSC)
	}
	if err != nil {
		return nil, cleanup, fmt.Errorf("couldn't load the %s trust from %s: %w", repo.name, mirror, err)
	}
	dir, err := os.MkdirTemp("", "sigil-conformance-")
	if err != nil {
		return nil, cleanup, fmt.Errorf("couldn't create a temporary directory: %w", err)
	}
	cleanup = func() { os.RemoveAll(dir) }
	out := args
	write := func(flag, name string, data []byte) error {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			return fmt.Errorf("couldn't write %s: %w", name, err)
		}
		out = append([]string{flag, p}, out...)
		return nil
	}
	if needRoot {
		err = write("--trusted-root", client.TargetTrustedRoot, docs.TrustedRoot)
	}
	if err == nil && needSC {
		err = write("--signing-config", client.TargetSigningConfig, docs.SigningConfig)
	}
	if err != nil {
		cleanup()
		return nil, func() {}, err
	}
	return out, cleanup, nil
}

// noLogs reports whether the --trusted-root among args lists no
// transparency logs (sigstore-go's conformance client then does not
// require a log entry). Given more than once, the last one counts, as it
// does for verify-blob (and sigstore-go's client). A root that does not
// load is left to verify-blob to report.
func noLogs(args []string) bool {
	path, found := "", false
	for i := 0; i < len(args); i++ {
		if p, ok := strings.CutPrefix(args[i], "--trusted-root="); ok {
			path, found = p, true
		} else if args[i] == "--trusted-root" && i+1 < len(args) {
			path, found = args[i+1], true
			i++
		}
	}
	if !found {
		return false
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	tr, err := trust.ParseTrustedRoot(raw)
	return err == nil && len(tr.TLogs) == 0
}
