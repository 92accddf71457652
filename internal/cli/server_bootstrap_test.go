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
