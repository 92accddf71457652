package tsa

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigil.dev/sigil/internal/testpki"
)

// TestFirstStartGeneratesThenReuses: the first start with a data directory
// writes key.pem (0600) and chain.pem; the second start loads the same key
// and chain.
func TestFirstStartGeneratesThenReuses(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tsa")
	s1, err := New(Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	for name, perm := range map[string]os.FileMode{KeyFileName: 0o600, ChainFileName: 0o644} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != perm {
			t.Errorf("%s mode %v, want %v", name, fi.Mode().Perm(), perm)
		}
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("data dir mode %v, want 0700", fi.Mode().Perm())
	}
	s2, err := New(Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	c1, c2 := s1.Chain(), s2.Chain()
	if len(c1) != 2 || len(c2) != 2 || !c1[0].Equal(c2[0]) || !c1[1].Equal(c2[1]) {
		t.Fatal("second start did not reuse the chain")
	}
	leaf := c1[0]
	if leaf.IsCA || len(leaf.ExtKeyUsage) != 1 || leaf.ExtKeyUsage[0] != x509.ExtKeyUsageTimeStamping {
		t.Errorf("leaf profile: IsCA %v, EKU %v", leaf.IsCA, leaf.ExtKeyUsage)
	}
	critical := false
	for _, e := range leaf.Extensions {
		if e.Id.Equal(oidExtKeyUsage) {
			critical = e.Critical
		}
	}
	if !critical {
		t.Error("timeStamping EKU is not critical")
	}
	if pub, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
		t.Errorf("leaf key %T, want P-256", leaf.PublicKey)
	}
	if err := leaf.CheckSignatureFrom(c1[1]); err != nil {
		t.Errorf("leaf not issued by root: %v", err)
	}
	// A subject key identifier (RFC 5280 §4.2.1.2), RFC 7093 method 1,
	// and the authority key identifier naming the root's.
	point, _ := leaf.PublicKey.(*ecdsa.PublicKey).Bytes()
	if h := sha256.Sum256(point); !bytes.Equal(leaf.SubjectKeyId, h[:20]) {
		t.Errorf("leaf SKID %x, want %x", leaf.SubjectKeyId, h[:20])
	}
	if len(c1[1].SubjectKeyId) == 0 || !bytes.Equal(leaf.AuthorityKeyId, c1[1].SubjectKeyId) {
		t.Errorf("leaf AKID %x, root SKID %x", leaf.AuthorityKeyId, c1[1].SubjectKeyId)
	}
}

// TestHalfWrittenStateIsReported: one of the two files without the other
// stops the TSA, which never overwrites a key.
func TestHalfWrittenStateIsReported(t *testing.T) {
	for _, keep := range []string{KeyFileName, ChainFileName} {
		t.Run(keep, func(t *testing.T) {
			dir := t.TempDir()
			if _, err := New(Config{DataDir: dir}); err != nil {
				t.Fatal(err)
			}
			other := map[string]string{KeyFileName: ChainFileName, ChainFileName: KeyFileName}[keep]
			if err := os.Remove(filepath.Join(dir, other)); err != nil {
				t.Fatal(err)
			}
			before, _ := os.ReadFile(filepath.Join(dir, keep))
			_, err := New(Config{DataDir: dir})
			if err == nil || !strings.Contains(err.Error(), "remove") {
				t.Fatalf("New = %v, want an error saying what to remove", err)
			}
			after, _ := os.ReadFile(filepath.Join(dir, keep))
			if string(before) != string(after) {
				t.Error("the remaining file was changed")
			}
		})
	}
}

func writePEM(t *testing.T, path, typ string, ders ...[]byte) {
	t.Helper()
	var out []byte
	for _, d := range ders {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: d})...)
	}
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestConfiguredKeys: keys and chains from files or a Signer are checked
// before the TSA serves: the leaf must match the key, carry the critical
// timeStamping EKU, chain to the last certificate and be valid now.
func TestConfiguredKeys(t *testing.T) {
	p, err := testpki.New(testpki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keyDER, _ := x509.MarshalPKCS8PrivateKey(p.TSAKey)
	sec1, _ := x509.MarshalECPrivateKey(p.TSAKey)
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherDER, _ := x509.MarshalPKCS8PrivateKey(otherKey)

	path := func(name string) string { return filepath.Join(dir, name) }
	writePEM(t, path("pkcs8.pem"), "PRIVATE KEY", keyDER)
	writePEM(t, path("sec1.pem"), "EC PRIVATE KEY", sec1)
	// What openssl ecparam -genkey writes: the curve, then the key.
	ecParams := append(pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS", Bytes: []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1})...)
	if err := os.WriteFile(path("ecparam.pem"), ecParams, 0o600); err != nil {
		t.Fatal(err)
	}
	writePEM(t, path("other.pem"), "PRIVATE KEY", otherDER)
	writePEM(t, path("encrypted.pem"), "ENCRYPTED PRIVATE KEY", []byte{1, 2, 3})
	writePEM(t, path("chain.pem"), "CERTIFICATE", p.TSACrt.Raw, p.TSARoot.Raw)
	writePEM(t, path("leafonly.pem"), "CERTIFICATE", p.TSACrt.Raw)
	writePEM(t, path("rootfirst.pem"), "CERTIFICATE", p.TSARoot.Raw, p.TSACrt.Raw)
	writePEM(t, path("wrongroot.pem"), "CERTIFICATE", p.TSACrt.Raw, p.Root.Raw)
	writePEM(t, path("notcert.pem"), "PUBLIC KEY", []byte{1})

	tests := []struct {
		name string
		cfg  Config
		want error  // sentinel, or nil
		msg  string // part of the message, when want is nil and an error is expected
	}{
		{name: "PKCS #8 key and chain", cfg: Config{KeyFile: path("pkcs8.pem"), ChainFile: path("chain.pem")}},
		{name: "SEC 1 key", cfg: Config{KeyFile: path("sec1.pem"), ChainFile: path("chain.pem")}},
		{name: "SEC 1 key after EC PARAMETERS", cfg: Config{KeyFile: path("ecparam.pem"), ChainFile: path("chain.pem")}},
		{name: "Signer and chain", cfg: Config{Signer: p.TSAKey, ChainFile: path("chain.pem")}},
		{name: "nothing", cfg: Config{}, want: ErrNoKey},
		{name: "Signer without chain", cfg: Config{Signer: p.TSAKey}, msg: "needs a ChainFile"},
		{name: "key without chain", cfg: Config{KeyFile: path("pkcs8.pem")}, msg: "both KeyFile and ChainFile"},
		{name: "key of another certificate", cfg: Config{KeyFile: path("other.pem"), ChainFile: path("chain.pem")}, want: ErrBadChain},
		{name: "key of no certificate in the chain", cfg: Config{KeyFile: path("other.pem"), ChainFile: path("chain.pem")}, msg: "does not match the first certificate of the chain"},
		{name: "chain with the root first", cfg: Config{KeyFile: path("pkcs8.pem"), ChainFile: path("rootfirst.pem")}, msg: "is certificate 2 of the chain; put it first"},
		{name: "leaf alone is not its own anchor", cfg: Config{KeyFile: path("pkcs8.pem"), ChainFile: path("leafonly.pem")}, want: ErrBadChain},
		{name: "chain to another root", cfg: Config{KeyFile: path("pkcs8.pem"), ChainFile: path("wrongroot.pem")}, want: ErrBadChain},
		{name: "not certificates", cfg: Config{KeyFile: path("pkcs8.pem"), ChainFile: path("notcert.pem")}, want: ErrBadChain},
		{name: "encrypted key", cfg: Config{KeyFile: path("encrypted.pem"), ChainFile: path("chain.pem")}, msg: "encrypted"},
		{name: "missing file", cfg: Config{KeyFile: path("nope.pem"), ChainFile: path("chain.pem")}, msg: "couldn't read TSA key"},
		{name: "before the leaf's validity", cfg: Config{Signer: p.TSAKey, ChainFile: path("chain.pem"), Now: func() time.Time { return p.Start.Add(-time.Hour) }}, want: ErrBadChain},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(tt.cfg)
			switch {
			case tt.want != nil:
				if !errors.Is(err, tt.want) {
					t.Fatalf("New = %v, want %v", err, tt.want)
				}
			case tt.msg != "":
				if err == nil || !strings.Contains(err.Error(), tt.msg) {
					t.Fatalf("New = %v, want an error containing %q", err, tt.msg)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				if !s.Chain()[0].Equal(p.TSACrt) {
					t.Error("wrong leaf")
				}
			}
		})
	}
}

// TestNonCriticalEKURefused: RFC 3161 §2.3 wants the timeStamping EKU
// critical; a chain whose leaf breaks that is refused at start.
func TestNonCriticalEKURefused(t *testing.T) {
	root, rootKey := testRoot(t)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for _, critical := range []bool{true, false} {
		leaf, err := testpki.CreateTSALeaf(root, rootKey, key.Public(), root.NotBefore, root.NotAfter, critical)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "chain.pem")
		writePEM(t, path, "CERTIFICATE", leaf.Raw, root.Raw)
		_, err = New(Config{Signer: key, ChainFile: path})
		if critical && err != nil {
			t.Errorf("critical EKU: %v", err)
		}
		if !critical && !errors.Is(err, ErrBadChain) {
			t.Errorf("non-critical EKU: New = %v, want ErrBadChain", err)
		}
	}
}

// TestPKCS1RSAKey: an RSA TSA key in PKCS #1 PEM ("RSA PRIVATE KEY", what
// openssl genrsa -traditional and older tools write, and what the CA's key
// files accept) loads, and the TSA it makes issues tokens that verify.
func TestPKCS1RSAKey(t *testing.T) {
	root, rootKey := testRoot(t)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := testpki.CreateTSALeaf(root, rootKey, key.Public(), root.NotBefore, root.NotAfter, true)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keyPath, chainPath := filepath.Join(dir, "key.pem"), filepath.Join(dir, "chain.pem")
	writePEM(t, keyPath, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(key))
	writePEM(t, chainPath, "CERTIFICATE", leaf.Raw, root.Raw)
	s, err := New(Config{KeyFile: keyPath, ChainFile: chainPath})
	if err != nil {
		t.Fatalf("New with a PKCS #1 RSA key: %v", err)
	}
	if _, ok := s.Signer().Key.(*rsa.PrivateKey); !ok {
		t.Errorf("key %T, want *rsa.PrivateKey", s.Signer().Key)
	}
}

// testRoot returns a self-signed P-256 root for test TSA chains, valid
// from an hour ago for two hours.
func testRoot(t *testing.T) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	rootKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test TSA root"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, rootKey.Public(), rootKey)
	if err != nil {
		t.Fatal(err)
	}
	root, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return root, rootKey
}
