// Package oracle finds the outside programs (cosign, rekor-cli, git, …)
// that interop tests run as oracles. CI installs them with the scripts in
// .ci/; a test that cannot find one fails when CI is set and skips
// otherwise, naming the script that installs it.
package oracle

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Find returns the path of the program name, looked up on PATH and in
// $(go env GOPATH)/bin, or ends the test: a failure under CI, a skip
// elsewhere that names installScript.
func Find(t testing.TB, name, installScript string) string {
	t.Helper()
	if p := Lookup(name); p != "" {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s not found in CI: %s should have installed it", name, installScript)
	}
	t.Skipf("%s not found: run %s (or put %s on PATH) to run this test", name, installScript, name)
	return ""
}

// Lookup returns the path of the program name, or "".
func Lookup(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
			gopath = strings.TrimSpace(string(out))
		}
	}
	for _, dir := range filepath.SplitList(gopath) {
		p := filepath.Join(dir, "bin", name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	return ""
}
