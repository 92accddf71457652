package client

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"sigil.dev/sigil/checkpoint"
	"sigil.dev/sigil/rekor"
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

// What a misbehaving log (or a tampered bundle) can say and the client
// must not accept: an empty tree with a root other than SHA-256 of
// nothing, a v2 entry at an index its proof does not prove, a SET dating
// an entry outside the log key's validity, a checkpoint of another origin.
func TestClientRefusesFalseAnswers(t *testing.T) {
	c, logs, write := startLog(t)
	ctx := context.Background()
	write("x")
	raw := write("y")
	signed, _ := c.V2Checkpoint(ctx)
	cp, err := OpenCheckpoint(signed, logs[0])
	if err != nil {
		t.Fatal(err)
	}

	empty := &checkpoint.Checkpoint{Origin: cp.Origin, Size: 0, Hash: make([]byte, 32)}
	if err := c.ProveConsistency(ctx, false, empty, cp); !errors.Is(err, ErrVerification) || !strings.Contains(err.Error(), "empty tree") {
		t.Errorf("a false empty checkpoint: %v", err)
	}
	e0 := sha256.Sum256(nil)
	if err := c.ProveConsistency(ctx, false, &checkpoint.Checkpoint{Origin: cp.Origin, Hash: e0[:]}, cp); err != nil {
		t.Errorf("the true empty checkpoint: %v", err)
	}

	var e protorekor.TransparencyLogEntry
	if err := protojson.Unmarshal(raw, &e); err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyEntry(&e, logs[0]); err != nil {
		t.Fatal(err)
	}
	moved := proto.Clone(&e).(*protorekor.TransparencyLogEntry)
	moved.LogIndex = 9
	if _, err := VerifyEntry(moved, logs[0]); !errors.Is(err, ErrVerification) || !strings.Contains(err.Error(), "beyond the tree") {
		t.Errorf("a v2 entry moved to index 9: %v", err)
	}
	moved.LogIndex = 0 // inside the tree, but not where the leaf is
	if _, err := VerifyEntry(moved, logs[0]); !errors.Is(err, ErrVerification) || !strings.Contains(err.Error(), "leads to root") {
		t.Errorf("a v2 entry moved to index 0: %v", err)
	}

	// A v1 entry whose SET is genuine, against a key valid only later.
	v1, _, err := c.V1Entry(ctx, 0, "")
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("v1 log should be empty: %v %v", v1, err)
	}
	later := *logs[1]
	later.Valid = trust.Window{Start: time.Now().Add(time.Hour)}
	if e1 := v1Entry(t, c, logs[1]); e1 != nil {
		if _, err := VerifyEntry(e1, &later); !errors.Is(err, ErrVerification) || !strings.Contains(err.Error(), "outside the validity") {
			t.Errorf("SET outside the key's validity: %v", err)
		}
	}

	// A v2 checkpoint under a key named for another host.
	other := *logs[0]
	other.Origin = "localhost"
	if _, err := OpenCheckpoint(signed, &other); !errors.Is(err, ErrVerification) || !strings.Contains(err.Error(), `is of origin "127.0.0.1"`) {
		t.Errorf("origin mismatch: %v", err)
	}
}

// v1Entry logs one hashedrekord through the v1 API and reads it back.
func v1Entry(t *testing.T, c *Client, l *trust.Log) *protorekor.TransparencyLogEntry {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	d := sha256.Sum256([]byte("v1"))
	sig, _ := ecdsa.SignASN1(rand.Reader, key, d[:])
	der, _ := x509.MarshalPKIXPublicKey(key.Public())
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	req, _ := json.Marshal(map[string]any{"kind": "hashedrekord", "apiVersion": "0.0.1", "spec": map[string]any{
		"signature": map[string]any{"content": sig, "publicKey": map[string]any{"content": pemKey}},
		"data":      map[string]any{"hash": map[string]any{"algorithm": "sha256", "value": hex.EncodeToString(d[:])}}}})
	resp, err := http.Post(c.BaseURL+"/api/v1/log/entries", "application/json", bytes.NewReader(req))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("v1 add: %d", resp.StatusCode)
	}
	e, _, err := c.V1Entry(context.Background(), 0, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyEntry(e, l); err != nil {
		t.Fatalf("the genuine v1 entry: %v", err)
	}
	return e
}

// A hostile tile server answering endless tiles and entry bundles: the
// client stops reading at maxAnswer, as it does for the other answers,
// rather than holding whatever the log sends in memory.
func TestTileAnswersAreBounded(t *testing.T) {
	defer func(m int64) { maxAnswer = m }(maxAnswer)
	maxAnswer = 1 << 20
	var served int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := make([]byte, 32<<10)
		for i := 0; i < 256; i++ { // 8 MiB
			n, err := w.Write(chunk)
			served += int64(n)
			if err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	c := New(srv.URL)
	ctx := context.Background()
	h := sha256.Sum256([]byte("x"))
	old := &checkpoint.Checkpoint{Origin: "o", Size: 1, Hash: h[:]}
	cp := &checkpoint.Checkpoint{Origin: "o", Size: 3, Hash: h[:]}
	if err := c.ProveConsistency(ctx, false, old, cp); err == nil || errors.Is(err, ErrVerification) || !strings.Contains(err.Error(), "larger than 1 MiB") {
		t.Errorf("an 8 MiB tile: %v", err)
	}
	if _, err := c.V2Entry(ctx, 0, nil, cp, nil); err == nil || !strings.Contains(err.Error(), "larger than 1 MiB") {
		t.Errorf("an 8 MiB entry bundle: %v", err)
	}
}

// A log's error answer is quoted in the error, which goes to a terminal:
// without its control characters, and cut short.
func TestErrorAnswerIsQuotedSafely(t *testing.T) {
	for _, body := range []string{
		"\x1b]0;pwned\x07\x1b[2J\u009b31m" + strings.Repeat("A", 1<<20),
		`{"code":500,"message":"\u001b[2Jbad\u202e"}`,
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, body) //nolint:errcheck
		}))
		_, err := New(srv.URL).V1LogInfo(context.Background())
		srv.Close()
		if err == nil || strings.ContainsAny(err.Error(), "\x1b\x07\u009b\u202e") || len(err.Error()) > 1000 || !strings.Contains(err.Error(), "answered 500") {
			t.Errorf("%.200q", err)
		}
	}
}
