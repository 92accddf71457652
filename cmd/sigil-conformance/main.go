// Command sigil-conformance is the entry point the Sigstore conformance
// suite drives (sigstore/sigstore-conformance docs/cli_protocol.md):
//
//	sigil-conformance verify-bundle [--staging] --bundle FILE \
//	    (--certificate-identity ID --certificate-oidc-issuer URL | --key PEMFILE) \
//	    [--trusted-root FILE] FILE_OR_DIGEST
//
// The exit status is the only verdict. FILE_OR_DIGEST is a digest only when
// it is sha256:<64 hex> and not a path on disk. Signing (sign-bundle) is not
// supported yet and exits with status 2.
//
// Verification is configured as sigstore-go's conformance client does:
// one SCT; one log entry when the trusted root lists logs; one RFC 3161
// timestamp when the root lists TSAs and the bundle carries timestamps.
package main

import (
	"fmt"
	"os"

	"sigil.dev/sigil/internal/cli"
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
		return cli.Main(append([]string{"verify-blob"}, out...), os.Stdout, os.Stderr)
	case "sign-bundle":
		fmt.Fprintln(os.Stderr, "sigil-conformance: sign-bundle is not supported yet")
		return 2
	}
	fmt.Fprintf(os.Stderr, "sigil-conformance: unknown command %q\n", args[0])
	return 2
}
