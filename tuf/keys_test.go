package tuf

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"sigil.dev/sigil/ca/keys"
	"sigil.dev/sigil/internal/oracle"
)

func init() {
	// Tests encrypt many keys; the work factor is not what they test.
	keys.PBKDF2Iterations = 1000
}

func password(pw string) Password { return func() ([]byte, error) { return []byte(pw), nil } }

// TestKeyRoundTrip: keys of each type survive writing and reading, plain
// and encrypted, and keep their TUF key ID.
func TestKeyRoundTrip(t *testing.T) {
	for _, typ := range []string{KeyEd25519, KeyECDSAP256} {
		for _, encrypted := range []bool{false, true} {
			name := typ
			if encrypted {
				name += "/encrypted"
			}
			t.Run(name, func(t *testing.T) {
				k, err := GenerateKey(typ)
				if err != nil {
					t.Fatal(err)
				}
				if k.Type() != typ {
					t.Errorf("Type() = %s", k.Type())
				}
				var pw []byte
				if encrypted {
					pw = []byte("correct horse")
				}
				path := filepath.Join(t.TempDir(), "k.pem")
				if err := WriteKey(path, k, pw); err != nil {
					t.Fatal(err)
				}
				if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
					t.Errorf("key file mode %v", fi.Mode().Perm())
				}
				if err := WriteKey(path, k, pw); err == nil {
					t.Error("WriteKey overwrote an existing key")
				}
				got, err := LoadKey(path, password("correct horse"))
				if err != nil {
					t.Fatal(err)
				}
				if got.ID() != k.ID() || !got.Private() {
					t.Errorf("loaded key %s (private %v), want %s", got.ID(), got.Private(), k.ID())
				}
				pub, err := LoadKey(path+".pub", nil)
				if err != nil {
					t.Fatal(err)
				}
				if pub.ID() != k.ID() || pub.Private() {
					t.Errorf("public key %s (private %v), want %s", pub.ID(), pub.Private(), k.ID())
				}
				raw, _ := os.ReadFile(path)
				blk, _ := pem.Decode(raw)
				want := map[bool]string{false: "PRIVATE KEY", true: "ENCRYPTED PRIVATE KEY"}[encrypted]
				if blk.Type != want {
					t.Errorf("PEM type %q, want %q", blk.Type, want)
				}
			})
		}
	}
}

// TestKeyErrors: what ParseKey refuses.
func TestKeyErrors(t *testing.T) {
	k, _ := GenerateKey(KeyEd25519)
	enc, err := k.MarshalPrivateKey([]byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p384DER, _ := x509.MarshalPKCS8PrivateKey(p384)
	tests := []struct {
		name string
		pem  []byte
		pw   Password
		want error
	}{
		{"wrong password", enc, password("nope"), ErrWrongPassword},
		{"no password", enc, nil, ErrKey},
		{"not PEM", []byte("hello"), nil, ErrKey},
		{"certificate", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}}), nil, ErrKey},
		{"P-384", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p384DER}), nil, ErrKey},
		{"garbage PKCS #8", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{0x30, 0}}), nil, ErrKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseKey(tt.pem, tt.pw)
			if !errors.Is(err, tt.want) {
				t.Fatalf("ParseKey = %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := k.MarshalPrivateKey([]byte{}); err == nil {
		t.Error("encrypted with an empty password")
	}
}

// TestOpenSSLInterop: keys this package encrypts decrypt with OpenSSL,
// and keys OpenSSL encrypts (PBKDF2 and scrypt) decrypt here.
func TestOpenSSLInterop(t *testing.T) {
	openssl := oracle.Find(t, "openssl", ".ci/install-openssl.sh")
	dir := t.TempDir()
	k, _ := GenerateKey(KeyECDSAP256)
	enc, _ := k.MarshalPrivateKey([]byte("s3cret"))
	in := filepath.Join(dir, "ours.pem")
	os.WriteFile(in, enc, 0o600)
	out, err := exec.Command(openssl, "pkcs8", "-in", in, "-passin", "pass:s3cret", "-nocrypt", "-topk8").Output()
	if err != nil {
		t.Fatalf("openssl could not decrypt our key: %v", err)
	}
	plain, err := ParseKey(out, nil)
	if err != nil || plain.ID() != k.ID() {
		t.Fatalf("openssl decrypted another key: %v", err)
	}
	plainPEM, _ := k.MarshalPrivateKey(nil)
	pin := filepath.Join(dir, "plain.pem")
	os.WriteFile(pin, plainPEM, 0o600)
	for name, args := range map[string][]string{
		"pbkdf2-sha256-aes256": {"-v2", "aes-256-cbc", "-v2prf", "hmacWithSHA256"},
		"pbkdf2-sha1-aes128":   {"-v2", "aes-128-cbc", "-v2prf", "hmacWithSHA1"},
		"scrypt-aes256":        {"-v2", "aes-256-cbc", "-scrypt"},
	} {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(openssl, append([]string{"pkcs8", "-topk8", "-in", pin, "-passout", "pass:s3cret"}, args...)...)
			out, err := cmd.Output()
			if err != nil {
				t.Skipf("openssl cannot write this form: %v", err)
			}
			got, err := ParseKey(out, password("s3cret"))
			if err != nil {
				t.Fatal(err)
			}
			if got.ID() != k.ID() {
				t.Error("decrypted another key")
			}
			if _, err := ParseKey(out, password("wrong")); !errors.Is(err, ErrWrongPassword) {
				t.Errorf("wrong password: %v", err)
			}
		})
	}
}
