//go:build unix

package server_test

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestConnectionFloodLeavesFilesForTheLogs: connections that use up the
// open-file limit must not leave the logs without a file to open (Tessera
// panics when it cannot open its lock file, taking the server down): the
// server holds at most the limit less a reserve, and a write still
// succeeds while a client floods it with connections.
func TestConnectionFloodLeavesFilesForTheLogs(t *testing.T) {
	if addr := os.Getenv("SIGIL_TEST_FLOOD"); addr != "" {
		flood(addr)
		return
	}
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		t.Skip(err)
	}
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("needs /proc/self/fd")
	}
	lim := old
	lim.Cur = uint64(len(ents)) + 300
	if lim.Cur > old.Max {
		t.Skipf("open-file limit %d too low", old.Max)
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Skip(err)
	}
	t.Cleanup(func() { syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old) })

	s, _ := start(t, filepath.Join(t.TempDir(), "data"), "127.0.0.1:0")
	// The flood comes from another process, whose files do not count here.
	cmd := exec.Command(os.Args[0], "-test.run=^TestConnectionFloodLeavesFilesForTheLogs$")
	cmd.Env = append(os.Environ(), "SIGIL_TEST_FLOOD="+strings.TrimPrefix(s.PublicURL(), "http://"))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, _ := bufio.NewReader(out).ReadString('\n')
	if !strings.HasPrefix(line, "flooding") {
		t.Fatalf("flooder: %q", line)
	}
	time.Sleep(time.Second) // the server accepts what it will

	// A write, straight to the handler: the log must still open its files.
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	d := sha256.Sum256([]byte("during a flood"))
	sig, _ := ecdsa.SignASN1(rand.Reader, k, d[:])
	body := fmt.Sprintf(`{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{"signature":{"content":%q,"publicKey":{"content":%q}},"data":{"hash":{"algorithm":"sha256","value":%q}}}}`,
		base64.StdEncoding.EncodeToString(sig), base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), hex.EncodeToString(d[:]))
	req := httptest.NewRequest(http.MethodPost, "/api/v1/log/entries", bytes.NewReader([]byte(body)))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusCreated {
		t.Fatalf("write during a connection flood: %d %s", rec.Code, rec.Body)
	}
}

// flood opens connections to addr and holds them.
func flood(addr string) {
	var conns []net.Conn
	for range 1000 {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			break
		}
		conns = append(conns, c)
	}
	fmt.Println("flooding", len(conns))
	time.Sleep(time.Minute)
}
