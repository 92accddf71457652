package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"sigil.dev/sigil/server"
)

// writePair writes a self-signed certificate with the serial and its key,
// with the modification time at.
func writePair(t *testing.T, certFile, keyFile string, serial int64, at time.Time) {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalPKCS8PrivateKey(k)
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644) //nolint:errcheck
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}), 0o600)   //nolint:errcheck
	os.Chtimes(certFile, at, at)                                                                   //nolint:errcheck
}

// A renewed TLS certificate is served without a restart; a broken
// renewal keeps the certificate in use.
func TestTLSCertificateReload(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	writePair(t, certFile, keyFile, 1, time.Now().Add(-time.Hour))
	s, err := server.New(context.Background(), server.Config{DataDir: filepath.Join(dir, "data"), Listen: "127.0.0.1:0", PublicURL: "https://127.0.0.1:1",
		Services: []string{"tsa"}, Dev: true, TLSCert: certFile, TLSKey: keyFile}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.Listen()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, l) }()
	defer func() { cancel(); <-done }()
	serial := func() int64 {
		t.Helper()
		c, err := tls.Dial("tcp", l.Addr().String(), &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // the test reads the served certificate
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
	}
	if got := serial(); got != 1 {
		t.Fatalf("serving serial %d, want 1", got)
	}
	writePair(t, certFile, keyFile, 2, time.Now())
	time.Sleep(1100 * time.Millisecond)
	if got := serial(); got != 2 {
		t.Fatalf("after renewal: serving serial %d, want 2", got)
	}
	// A certificate whose key is not (yet) beside it: the old pair stays.
	writePair(t, certFile, filepath.Join(dir, "other.key"), 3, time.Now().Add(time.Minute))
	time.Sleep(1100 * time.Millisecond)
	if got := serial(); got != 2 {
		t.Fatalf("after a broken renewal: serving serial %d, want 2", got)
	}
}

// A TLS pair that does not load stops the start in New, before the data
// directory is created and before the command announces a started server.
func TestTLSPairCheckedBeforeStart(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	writePair(t, certFile, keyFile, 1, time.Now())
	writePair(t, filepath.Join(dir, "other.crt"), filepath.Join(dir, "other.key"), 2, time.Now())
	for name, pair := range map[string][2]string{
		"missing certificate": {filepath.Join(dir, "none.crt"), keyFile},
		"missing key":         {certFile, filepath.Join(dir, "none.key")},
		"key of another":      {certFile, filepath.Join(dir, "other.key")},
	} {
		t.Run(name, func(t *testing.T) {
			data := filepath.Join(dir, "data-"+filepath.Base(pair[0])+filepath.Base(pair[1]))
			s, err := server.New(context.Background(), server.Config{DataDir: data, Listen: "127.0.0.1:0", PublicURL: "https://127.0.0.1:1",
				Services: []string{"tsa"}, Dev: true, TLSCert: pair[0], TLSKey: pair[1]}, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err == nil {
				s.Close()
				t.Fatal("New started with a TLS pair that does not load")
			}
			if _, err := os.Stat(data); !os.IsNotExist(err) {
				t.Errorf("the refused start created %s (%v)", data, err)
			}
		})
	}
}
