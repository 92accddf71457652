// Command sigil is keyless software signing in one binary, wire-compatible
// with Sigstore. See the README for the commands.
package main

import (
	"os"

	"sigil.dev/sigil/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
