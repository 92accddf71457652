package cli

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigil.dev/sigil/server"
	"sigil.dev/sigil/server/servertest"
)

// What the server prints after start: the trust init command in dev mode;
// before the ceremony in production, that the ceremony comes first (there
// is no root.json to give trust init yet).
func TestPrintBootstrap(t *testing.T) {
	var dev bytes.Buffer
	printBootstrap(&dev, servertest.Start(t, "", "").Server, 0)
	if !strings.Contains(dev.String(), "trust init --mirror") || !strings.Contains(dev.String(), "TUF root:") || strings.Contains(dev.String(), "not initialized") {
		t.Fatalf("dev:\n%s", dev.String())
	}

	dir := t.TempDir()
	issuers := filepath.Join(dir, "issuers.json")
	os.WriteFile(issuers, []byte(`{"OIDCIssuers":{"https://issuer.example":{"IssuerURL":"https://issuer.example","ClientID":"sigstore","Type":"email"}}}`), 0o644)
	t.Setenv("SIGIL_TEST_CA_PW", "secret")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := server.New(ctx, server.Config{DataDir: filepath.Join(dir, "data"), Listen: "127.0.0.1:0",
		CA: server.CAConfig{Issuers: issuers, PasswordEnv: "SIGIL_TEST_CA_PW"}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var prod bytes.Buffer
	printBootstrap(&prod, s, 0)
	if !strings.Contains(prod.String(), "The TUF repository is not initialized") || strings.Contains(prod.String(), "TUF root:") {
		t.Fatalf("production before the ceremony:\n%s", prod.String())
	}
}

// TestServerRefusesPortZeroWithoutPublicURL: the public URL defaults to
// http://<listen>, so listening on port 0 without one published port 0 in
// the trusted root and the logs' identities (and printed it as the URL to
// use); it is refused before anything is created.
func TestServerRefusesPortZeroWithoutPublicURL(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	type result struct {
		code   int
		errOut string
	}
	done := make(chan result, 1)
	go func() {
		code, _, errOut := run("server", "--data", data, "--listen", "127.0.0.1:0")
		done <- result{code, errOut}
	}()
	select {
	case r := <-done:
		if r.code == 0 || !strings.Contains(r.errOut, "picks a free port") {
			t.Fatalf("exit %d: %s", r.code, r.errOut)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("sigil server --listen 127.0.0.1:0 started (serving http://127.0.0.1:0)")
	}
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Fatalf("the refused start created %s (%v)", data, err)
	}
}

// TestServerWarnsOfAReadablePIN: a configuration file that others can read
// and that holds the HSM PIN (pin-value in ca.pkcs11) is warned of, as a
// readable ca.passwordFile is; a 0600 one is not.
func TestServerWarnsOfAReadablePIN(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "server.yaml")
	// listen does not parse: the start fails after the warning, before
	// anything is created or served.
	body := "dataDir: " + filepath.Join(dir, "data") + "\nlisten: nowhere\nca:\n  pkcs11: pkcs11:token=sigil;object=ca?module-path=/nonexistent.so&pin-value=1234\n"
	for _, tc := range []struct {
		mode os.FileMode
		warn bool
	}{{0o644, true}, {0o640, true}, {0o600, false}} {
		if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(cfg, tc.mode); err != nil {
			t.Fatal(err)
		}
		code, _, errOut := run("server", "--config", cfg)
		if code == 0 || !strings.Contains(errOut, "listen:") {
			t.Fatalf("mode %04o: exit %d: %s", tc.mode, code, errOut)
		}
		if got := strings.Contains(errOut, "holds the HSM PIN"); got != tc.warn {
			t.Errorf("mode %04o: warned %v, want %v: %s", tc.mode, got, tc.warn, errOut)
		}
		if strings.Contains(errOut, "1234") {
			t.Errorf("mode %04o: the PIN is printed: %s", tc.mode, errOut)
		}
		// A start that failed is no shutdown (the line was logged when
		// the start returned, racing with the error's output).
		if strings.Contains(errOut, "shutting down") {
			t.Errorf("mode %04o: a failed start says it is shutting down: %s", tc.mode, errOut)
		}
	}
}
