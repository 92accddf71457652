package server_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"sigil.dev/sigil/sign"
	"sigil.dev/sigil/tlog"
	"sigil.dev/sigil/trust"
	"sigil.dev/sigil/verify"
)

// TestTwoRekorV2Logs: a signature logged in two Rekor v2 logs (a signing
// config's ALL selector over two logs) gives a bundle with both entries,
// which verifies with a threshold of two logs against a trusted root that
// lists both, and not against one that lists only one of them.
func TestTwoRekorV2Logs(t *testing.T) {
	s, _ := start(t, filepath.Join(t.TempDir(), "data"), "127.0.0.1:0")
	srv := httptest.NewUnstartedServer(nil)
	u := "http://" + srv.Listener.Addr().String()
	second, err := tlog.New(context.Background(), tlog.Config{DataDir: t.TempDir(), V2PublicURL: u, V1PublicURL: u, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = second.Handler()
	srv.Start()
	defer func() {
		srv.Close()
		second.Close()
	}()
	logs, err := second.TrustedLogs()
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := s.TrustedRoot().Marshal()
	both, err := trust.ParseTrustedRoot(raw)
	if err != nil {
		t.Fatal(err)
	}
	both.TLogs[logs[0].HexID()] = logs[0]

	sg := signer(t, s, []uint32{2})
	sg.TrustedRoot = both
	sg.Logs = append(sg.Logs, &sign.RekorV2{BaseURL: u})
	artifact := []byte("two logs\n")
	res, err := sg.SignBlob(context.Background(), bytes.NewReader(artifact))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(res.Bundle.TlogEntries); n != 2 {
		t.Fatalf("%d log entries, want 2", n)
	}
	d := sha256.Sum256(artifact)
	art := verify.Artifact{DigestAlgorithm: crypto.SHA256, Digest: d[:]}
	if _, err := verify.New(both, verify.Options{TlogThreshold: 2}).Verify(res.Bundle, art, policyFor(s)); err != nil {
		t.Fatalf("two logs, threshold 2: %v", err)
	}
	if _, err := verify.New(s.TrustedRoot(), verify.Options{TlogThreshold: 2}).Verify(res.Bundle, art, policyFor(s)); verify.CheckOf(err) != verify.CheckTlog {
		t.Fatalf("one trusted log, threshold 2: %v", err)
	}
}
