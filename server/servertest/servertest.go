// Package servertest runs a complete dev sigil server for the duration of
// a test: every service on a loopback port, state in a temporary (or
// given) directory. End-to-end and interop tests use it.
package servertest

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"

	"sigil.dev/sigil/server"
)

// Server is a running test server.
type Server struct {
	*server.Server
	// Dir is the data directory.
	Dir string
	// TrustedRootFile and SigningConfigFile hold the published documents.
	TrustedRootFile, SigningConfigFile string

	stop func()
}

// Start runs a dev server with its data in dir (a new temporary directory
// when empty) on addr ("127.0.0.1:0" when empty) until the test ends.
func Start(t testing.TB, dir, addr string) *Server {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return StartConfig(t, server.Config{DataDir: dir, Dev: true}, l)
}

// StartConfig runs a server with cfg on l until the test ends (Listen is
// l's address; DataDir a new temporary directory when empty). Tests of
// split deployments open every host's listener first, so that each
// host's configuration can name the others.
func StartConfig(t testing.TB, cfg server.Config, l net.Listener) *Server {
	t.Helper()
	if cfg.DataDir == "" {
		cfg.DataDir = filepath.Join(t.TempDir(), "data")
	}
	dir := cfg.DataDir
	cfg.Listen = l.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	s, err := server.New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		cancel()
		l.Close()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, l) }()
	out := &Server{Server: s, Dir: dir}
	stopped := false
	out.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}
	t.Cleanup(out.stop)
	tmp := t.TempDir()
	out.TrustedRootFile = filepath.Join(tmp, "trusted_root.json")
	out.SigningConfigFile = filepath.Join(tmp, "signing_config.json")
	tr, err := s.TrustedRoot().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	sc, err := s.SigningConfig().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out.TrustedRootFile, tr, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out.SigningConfigFile, sc, 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

// Stop shuts the server down (gracefully) before the test ends.
func (s *Server) Stop() { s.stop() }

// Token returns a fresh identity token from the dev issuer for
// dev@sigil.test.
func (s *Server) Token(t testing.TB) string {
	t.Helper()
	tok, err := s.DevIssuer().Mint(nil)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
