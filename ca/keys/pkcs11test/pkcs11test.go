// Package pkcs11test sets up SoftHSM2 tokens for tests of PKCS#11 keys.
// CI installs SoftHSM2 with .ci/install-softhsm.sh; elsewhere the tests
// that need it skip, naming that script.
package pkcs11test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"sigil.dev/sigil/internal/oracle"
)

// SoftHSM initialises a fresh SoftHSM2 token in a temporary directory and
// returns the module path. The token is labelled "sigil" with user PIN
// 1234.
func SoftHSM(t testing.TB) string {
	t.Helper()
	util := oracle.Find(t, "softhsm2-util", ".ci/install-softhsm.sh")
	module := ""
	for _, p := range []string{"/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so", "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so"} {
		if _, err := os.Stat(p); err == nil {
			module = p
			break
		}
	}
	if module == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("libsofthsm2.so not found; CI must run .ci/install-softhsm.sh")
		}
		t.Skip("libsofthsm2.so not found; run .ci/install-softhsm.sh")
	}
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	if err := os.WriteFile(conf, []byte("directories.tokendir = "+tokens+"\nobjectstore.backend = file\nlog.level = ERROR\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOFTHSM2_CONF", conf)
	out, err := exec.Command(util, "--init-token", "--free", "--label", "sigil", "--pin", "1234", "--so-pin", "5678").CombinedOutput()
	if err != nil {
		t.Fatalf("softhsm2-util: %v\n%s", err, out)
	}
	return module
}
