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
// v0.3 bundle with the services of the signing config. --staging (the
// public staging instance) is not supported: pass its trusted root and
// signing config instead.
//
// Verification is configured as sigstore-go's conformance client does:
// one SCT; one log entry when the trusted root lists logs (sigil
// verify-blob requires one by default, so the adapter passes
// --tlog-threshold -1 for a root without logs); one RFC 3161 timestamp
// when the root lists TSAs and the bundle carries timestamps.
package main

import (
	"fmt"
	"os"
	"strings"

	"sigil.dev/sigil/internal/cli"
	"sigil.dev/sigil/trust"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: sigil-conformance verify-bundle [--staging] --bundle FILE (--certificate-identity ID --certificate-oidc-issuer URL | --key PEM) [--trusted-root FILE] FILE_OR_DIGEST")
		return 2
	}
	switch args[0] {
	case "verify-bundle":
		var out []string
		rest := args[1:]
		for i := 0; i < len(rest); i++ {
			switch rest[i] {
			case "--staging":
				fmt.Fprintln(os.Stderr, "sigil-conformance: --staging needs the staging trusted root; pass --trusted-root")
				return 2
			default:
				out = append(out, rest[i])
			}
		}
		if noLogs(out) {
			out = append([]string{"--tlog-threshold", "-1"}, out...)
		}
		return cli.Main(append([]string{"verify-blob"}, out...), os.Stdout, os.Stderr)
	case "sign-bundle":
		inToto := false
		var out []string
		rest := args[1:]
		for i := 0; i < len(rest); i++ {
			switch rest[i] {
			case "--staging":
				fmt.Fprintln(os.Stderr, "sigil-conformance: --staging needs the staging trusted root and signing config; pass --trusted-root and --signing-config")
				return 2
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
		if inToto {
			return cli.Main(append(append([]string{"attest-blob"}, flags...), "--statement", file), os.Stdout, os.Stderr)
		}
		return cli.Main(append(append([]string{"sign-blob"}, flags...), file), os.Stdout, os.Stderr)
	}
	fmt.Fprintf(os.Stderr, "sigil-conformance: unknown command %q\n", args[0])
	return 2
}

// noLogs reports whether the --trusted-root among args lists no
// transparency logs (sigstore-go's conformance client then does not
// require a log entry). A root that does not load is left to verify-blob
// to report.
func noLogs(args []string) bool {
	for i, a := range args {
		path, ok := strings.CutPrefix(a, "--trusted-root=")
		if !ok && a == "--trusted-root" && i+1 < len(args) {
			path, ok = args[i+1], true
		}
		if !ok {
			continue
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return false
		}
		tr, err := trust.ParseTrustedRoot(raw)
		return err == nil && len(tr.TLogs) == 0
	}
	return false
}
