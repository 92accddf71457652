package sign

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"io"
	"strings"

	"sigil.dev/sigil/rekor"
)

// Key algorithms accepted by NewKey.
const (
	AlgECDSAP256 = "ecdsa-p256"
	AlgECDSAP384 = "ecdsa-p384"
	AlgEd25519   = "ed25519"
)

// NewKey generates an ephemeral signing key: ECDSA P-256 (the default),
// P-384 or Ed25519.
func NewKey(alg string) (crypto.Signer, error) {
	switch strings.ToLower(alg) {
	case "", AlgECDSAP256, "p256", "ecdsa":
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case AlgECDSAP384, "p384":
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case AlgEd25519:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	}
	return nil, fmt.Errorf("unknown key algorithm %q: use %s, %s or %s", alg, AlgECDSAP256, AlgECDSAP384, AlgEd25519)
}

// signDigest signs a digest computed with the key's default hash
// (rekor.KeyDetails): ECDSA and RSA sign the digest, Ed25519 signs it as
// Ed25519ph.
func signDigest(k crypto.Signer, h crypto.Hash, digest []byte) ([]byte, error) {
	switch k.Public().(type) {
	case ed25519.PublicKey:
		return k.Sign(rand.Reader, digest, &ed25519.Options{Hash: crypto.SHA512})
	case *rsa.PublicKey, *ecdsa.PublicKey:
		return k.Sign(rand.Reader, digest, h)
	}
	return nil, fmt.Errorf("unsupported signing key %T", k.Public())
}

// signMessage signs a whole message: its default-hash digest, or pure
// Ed25519 (used for DSSE PAE and the CA's proof of possession).
func signMessage(k crypto.Signer, msg []byte) ([]byte, error) {
	if _, ok := k.Public().(ed25519.PublicKey); ok {
		return k.Sign(rand.Reader, msg, crypto.Hash(0))
	}
	_, h, err := rekor.KeyDetails(k.Public())
	if err != nil {
		return nil, err
	}
	d := h.New()
	d.Write(msg)
	return k.Sign(rand.Reader, d.Sum(nil), h)
}

// hashReader hashes r with h. It reads r itself rather than with
// io.CopyBuffer, which ignores the buffer for an *os.File (a WriterTo that
// copies through 32 KiB of its own): small inputs take one 64 KiB read,
// and an input that fills it continues with 1 MiB reads, which halve the
// read calls' share of hashing a big file.
func hashReader(h crypto.Hash, r io.Reader) ([]byte, error) {
	d := h.New()
	buf := make([]byte, 64<<10)
	for {
		n, err := r.Read(buf)
		d.Write(buf[:n])
		if err == io.EOF {
			return d.Sum(nil), nil
		}
		if err != nil {
			return nil, fmt.Errorf("couldn't read artifact: %w", err)
		}
		if n == len(buf) && len(buf) < 1<<20 {
			buf = make([]byte, 1<<20)
		}
	}
}

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }
