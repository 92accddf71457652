package keyfile

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigil.dev/sigil/internal/oracle"
)

func TestRoundTrip(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	for name, key := range map[string]crypto.Signer{"p256": ec, "p384": p384, "ed25519": ed} {
		pemBytes, err := Encrypt(key, []byte("hunter2"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(pemBytes), "ENCRYPTED SIGSTORE PRIVATE KEY") {
			t.Fatalf("%s: block type", name)
		}
		got, err := Decrypt(pemBytes, []byte("hunter2"))
		if err != nil {
			t.Fatal(err)
		}
		a, _ := PublicPEM(got.Public())
		b, _ := PublicPEM(key.Public())
		if string(a) != string(b) {
			t.Fatalf("%s: different key after round trip", name)
		}
		if _, err := Decrypt(pemBytes, []byte("wrong")); !errors.Is(err, ErrPassword) {
			t.Fatalf("%s: wrong password: %v", name, err)
		}
	}
	// Empty passwords are allowed, as in cosign.
	pemBytes, err := Encrypt(ec, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decrypt(pemBytes, nil); err != nil {
		t.Fatal(err)
	}
}

// TestCosignInterop checks both directions with the real cosign binary:
// cosign signs with a key sigil wrote, and sigil reads a key cosign made.
func TestCosignInterop(t *testing.T) {
	cosign := oracle.Find(t, "cosign", ".ci/install-cosign.sh")
	dir := t.TempDir()
	env := append(os.Environ(), "COSIGN_PASSWORD=s3cret", "TUF_ROOT="+dir)

	// cosign generates, sigil reads.
	cmd := exec.Command(cosign, "generate-key-pair", "--output-key-prefix", filepath.Join(dir, "c"))
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cosign generate-key-pair: %v\n%s", err, out)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "c.key"))
	k, err := Decrypt(raw, []byte("s3cret"))
	if err != nil {
		t.Fatalf("reading cosign's key: %v", err)
	}
	pubRaw, _ := os.ReadFile(filepath.Join(dir, "c.pub"))
	pub, err := ParsePublic(pubRaw)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := PublicPEM(pub)
	b, _ := PublicPEM(k.Public())
	if string(a) != string(b) {
		t.Fatal("cosign's public key does not match its private key as sigil reads it")
	}

	// sigil generates, cosign signs and verifies with it.
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	enc, _ := Encrypt(ec, []byte("s3cret"))
	os.WriteFile(filepath.Join(dir, "s.key"), enc, 0o600)
	p, _ := PublicPEM(ec.Public())
	os.WriteFile(filepath.Join(dir, "s.pub"), p, 0o644)
	os.WriteFile(filepath.Join(dir, "blob"), []byte("blob"), 0o644)
	cmd = exec.Command(cosign, "sign-blob", "--key", filepath.Join(dir, "s.key"), "--tlog-upload=false", "--output-signature", filepath.Join(dir, "blob.sig"), "--yes", filepath.Join(dir, "blob"))
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cosign sign-blob with sigil's key: %v\n%s", err, out)
	}
	cmd = exec.Command(cosign, "verify-blob", "--key", filepath.Join(dir, "s.pub"), "--signature", filepath.Join(dir, "blob.sig"), "--insecure-ignore-tlog", filepath.Join(dir, "blob"))
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cosign verify-blob: %v\n%s", err, out)
	}
}

func FuzzDecrypt(f *testing.F) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	enc, _ := Encrypt(ec, nil)
	f.Add(enc)
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = Decrypt(b, nil)
		_, _ = ParsePublic(b)
	})
}
