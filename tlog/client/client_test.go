package client

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sigil.dev/sigil/rekor"
	"testing"

	"sigil.dev/sigil/checkpoint"
	"sigil.dev/sigil/tlog"
	"sigil.dev/sigil/trust"
)

func startLog(t *testing.T) (*Client, []*trust.Log, func(art string) []byte) {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	u := "http://" + srv.Listener.Addr().String()
	svc, err := tlog.New(context.Background(), tlog.Config{DataDir: t.TempDir(), V2PublicURL: u, V1PublicURL: u, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = svc.Handler()
	srv.Start()
	t.Cleanup(func() { srv.Close(); svc.Close() })
	logs, _ := svc.TrustedLogs()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(key.Public())
	write := func(art string) []byte {
		d := sha256.Sum256([]byte(art))
		sig, _ := ecdsa.SignASN1(rand.Reader, key, d[:])
		req, _ := json.Marshal(map[string]any{"hashedRekordRequestV002": map[string]any{"digest": d[:], "signature": map[string]any{"content": sig,
			"verifier": map[string]any{"publicKey": map[string]any{"rawBytes": der}, "keyDetails": "PKIX_ECDSA_P256_SHA_256"}}}})
		resp, err := http.Post(u+"/api/v2/log/entries", "application/json", bytes.NewReader(req))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 201 {
			t.Fatalf("%d %s", resp.StatusCode, b)
		}
		return b
	}
	return New(u), logs, write
}

// Reading a v2 log from its tiles: the newest checkpoint verifies, every
// entry is proven, and consistency is proven between checkpoints; a fork
// or a shrink is refused.
func TestV2ReadAndConsistency(t *testing.T) {
	c, logs, write := startLog(t)
	ctx := context.Background()
	write("a")
	signed1, err := c.V2Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cp1, err := OpenCheckpoint(signed1, logs[0])
	if err != nil {
		t.Fatal(err)
	}
	if FindKey(&trust.TrustedRoot{TLogs: map[string]*trust.Log{logs[0].HexID(): logs[0], logs[1].HexID(): logs[1]}}, signed1) != logs[0] {
		t.Error("FindKey did not find the v2 log by its checkpoint signature")
	}
	for i := 0; i < 5; i++ {
		write(string(rune('b' + i)))
	}
	signed2, _ := c.V2Checkpoint(ctx)
	cp2, err := OpenCheckpoint(signed2, logs[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ProveConsistency(ctx, false, cp1, cp2); err != nil {
		t.Errorf("consistent checkpoints: %v", err)
	}
	for i := uint64(0); i < cp2.Size; i++ {
		e, err := c.V2Entry(ctx, i, signed2, cp2, logs[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := VerifyEntry(e, logs[0]); err != nil {
			t.Errorf("entry %d: %v", i, err)
		}
	}
	if _, err := c.V2Entry(ctx, cp2.Size, signed2, cp2, logs[0].ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("entry beyond the tree: %v", err)
	}
	forked := &checkpoint.Checkpoint{Origin: cp2.Origin, Size: cp2.Size, Hash: make([]byte, 32)}
	if err := c.ProveConsistency(ctx, false, forked, cp2); !errors.Is(err, ErrVerification) {
		t.Errorf("fork: %v", err)
	}
	if err := c.ProveConsistency(ctx, false, cp2, cp1); !errors.Is(err, ErrVerification) {
		t.Errorf("shrink: %v", err)
	}
	if _, err := OpenCheckpoint(signed2, logs[1]); !errors.Is(err, ErrVerification) {
		t.Errorf("wrong key: %v", err)
	}
}

// Reading a v1 log: entries with SETs, consistency proofs from the API.
func TestV1Read(t *testing.T) {
	c, logs, _ := startLog(t)
	ctx := context.Background()
	if _, _, err := c.V1Entry(ctx, 0, ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("entry of an empty log: %v", err)
	}
	li, err := c.V1LogInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := OpenCheckpoint([]byte(li.SignedTreeHead), logs[1])
	if err != nil || cp.Size != 0 || !checkpoint.IsV1Origin(cp.Origin) {
		t.Fatalf("v1 checkpoint %+v, %v", cp, err)
	}
	if _, _, err := rekor.ParseV1LogEntry([]byte(`{"a":{},"b":{}}`)); err == nil {
		t.Error("a LogEntry with two keys parsed")
	}
}
