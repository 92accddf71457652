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
// copies through 32 KiB of its own): small inputs take one 64 KiB read.
// An input that fills it continues in a pipeline: a goroutine reads the
// next 2 MiB while this one hashes the last, so copying from the page cache
// overlaps hashing, which alone then limits the rate (bench/sign/ab.sh
// measures it against the sequential reads: bench/README.md).
func hashReader(h crypto.Hash, r io.Reader) ([]byte, error) {
	d := h.New()
	buf := make([]byte, 64<<10)
	n, err := io.ReadFull(r, buf)
	d.Write(buf[:n])
	switch err {
	case io.EOF, io.ErrUnexpectedEOF:
		return d.Sum(nil), nil
	case nil:
	default:
		return nil, fmt.Errorf("couldn't read artifact: %w", err)
	}
	if err := hashPipelined(d, r); err != nil {
		return nil, fmt.Errorf("couldn't read artifact: %w", err)
	}
	return d.Sum(nil), nil
}

// pipelineBuffers and pipelineBufferSize: while one buffer is hashed, the
// reader fills the next; a third absorbs jitter. 6 MiB in all.
const (
	pipelineBuffers    = 3
	pipelineBufferSize = 2 << 20
)

// hashPipelined writes the rest of r to d, reading in another goroutine.
func hashPipelined(d io.Writer, r io.Reader) error {
	type chunk struct {
		b   []byte
		n   int
		err error // io.EOF at the end
	}
	free := make(chan []byte, pipelineBuffers)
	full := make(chan chunk, pipelineBuffers)
	for range pipelineBuffers {
		free <- make([]byte, pipelineBufferSize)
	}
	go func() {
		for b := range free {
			n, err := io.ReadFull(r, b)
			if err == io.ErrUnexpectedEOF {
				err = io.EOF
			}
			full <- chunk{b, n, err}
			if err != nil {
				return
			}
		}
	}()
	for c := range full {
		d.Write(c.b[:c.n])
		if c.err == io.EOF {
			return nil
		}
		if c.err != nil {
			return c.err
		}
		free <- c.b
	}
	return nil
}

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }
