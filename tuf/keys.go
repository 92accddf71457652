package tuf

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"sigil.dev/sigil/ca/keys"
)

// Key algorithms of TUF keys made and used here. TUF names them
// ed25519/ed25519 and ecdsa/ecdsa-sha2-nistp256 (keytype/scheme, TUF
// specification §4.2; theupdateframework/go-tuf metadata/keys.go).
const (
	KeyEd25519   = "ed25519"
	KeyECDSAP256 = "ecdsa-p256"
)

// ErrKey wraps errors about key files: unreadable, of an unsupported
// type, or public where a private key is needed.
var ErrKey = errors.New("unusable TUF key")

// ErrWrongPassword: an encrypted key did not decrypt with the password
// (the encrypted PKCS #8 format and its errors are package ca/keys').
var ErrWrongPassword = keys.ErrPassword

// Key is a TUF signing key: a public key with its TUF form and key ID, and
// the private key when it is held.
type Key struct {
	Public crypto.PublicKey
	// Signer is nil for a public key.
	Signer crypto.Signer

	meta *metadata.Key
	id   string
}

// NewKey wraps a public key and, optionally, its private key. Ed25519 and
// ECDSA P-256 keys are supported.
func NewKey(pub crypto.PublicKey, signer crypto.Signer) (*Key, error) {
	switch p := pub.(type) {
	case ed25519.PublicKey:
	case *ecdsa.PublicKey:
		if p.Curve != elliptic.P256() {
			return nil, fmt.Errorf("%w: ECDSA keys must be P-256 (TUF scheme ecdsa-sha2-nistp256)", ErrKey)
		}
	default:
		return nil, fmt.Errorf("%w: %T keys are not supported (use ed25519 or ECDSA P-256)", ErrKey, pub)
	}
	if signer != nil {
		if eq, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !eq.Equal(pub) {
			return nil, fmt.Errorf("%w: private and public key do not match", ErrKey)
		}
	}
	m, err := metadata.KeyFromPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKey, err)
	}
	id, err := m.ID()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKey, err)
	}
	return &Key{Public: pub, Signer: signer, meta: m, id: id}, nil
}

// ID returns the TUF key ID: the hex SHA-256 of the canonical JSON of the
// key's TUF form (TUF specification §4.2).
func (k *Key) ID() string { return k.id }

// Metadata returns the key in its TUF metadata form.
func (k *Key) Metadata() *metadata.Key { return k.meta }

// Private reports whether the private key is held.
func (k *Key) Private() bool { return k.Signer != nil }

// Type returns KeyEd25519 or KeyECDSAP256.
func (k *Key) Type() string {
	if _, ok := k.Public.(ed25519.PublicKey); ok {
		return KeyEd25519
	}
	return KeyECDSAP256
}

// GenerateKey makes a new key of type KeyEd25519 or KeyECDSAP256.
func GenerateKey(typ string) (*Key, error) {
	switch typ {
	case KeyEd25519, "":
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("couldn't generate key: %w", err)
		}
		return NewKey(pub, priv)
	case KeyECDSAP256:
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("couldn't generate key: %w", err)
		}
		return NewKey(priv.Public(), priv)
	}
	return nil, fmt.Errorf("couldn't generate key: unknown key type %q (use %s or %s)", typ, KeyEd25519, KeyECDSAP256)
}

// sign signs a canonical-JSON payload as TUF verifiers expect: pure
// Ed25519 over the payload, or ECDSA over its SHA-256 (ASN.1 DER
// signature), per the key's scheme.
func (k *Key) sign(payload []byte) ([]byte, error) {
	if k.Signer == nil {
		return nil, fmt.Errorf("%w: key %s is a public key; give the private key file", ErrKey, short(k.id))
	}
	switch k.Public.(type) {
	case ed25519.PublicKey:
		return k.Signer.Sign(rand.Reader, payload, crypto.Hash(0))
	default:
		d := sha256.Sum256(payload)
		return k.Signer.Sign(rand.Reader, d[:], crypto.SHA256)
	}
}

// verifySignature checks sig over payload with a TUF key (ed25519,
// ecdsa-sha2-nistp256, ecdsa-sha2-nistp384).
func verifySignature(key *metadata.Key, payload, sig []byte) bool {
	pub, err := key.ToPublicKey()
	if err != nil {
		return false
	}
	switch p := pub.(type) {
	case ed25519.PublicKey:
		// go-tuf takes keyval.public as given: ed25519.Verify panics on
		// a key of the wrong length (FuzzCheckSignatures found an empty
		// one in a root).
		return key.Scheme == metadata.KeySchemeEd25519 && len(p) == ed25519.PublicKeySize && ed25519.Verify(p, payload, sig)
	case *ecdsa.PublicKey:
		switch key.Scheme {
		case metadata.KeySchemeECDSA_SHA2_P256:
			d := sha256.Sum256(payload)
			return ecdsa.VerifyASN1(p, d[:], sig)
		case metadata.KeySchemeECDSA_SHA2_P384:
			d := sha512.Sum384(payload)
			return ecdsa.VerifyASN1(p, d[:], sig)
		}
	}
	return false
}

// MarshalPrivateKey returns the private key as PEM: PKCS #8 "PRIVATE KEY",
// or, when password is not nil, "ENCRYPTED PRIVATE KEY" (PKCS #8 with
// PBES2: PBKDF2-HMAC-SHA256 and AES-256-CBC, as OpenSSL reads it; package
// ca/keys).
func (k *Key) MarshalPrivateKey(password []byte) ([]byte, error) {
	if k.Signer == nil {
		return nil, fmt.Errorf("%w: no private key", ErrKey)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k.Signer)
	if err != nil {
		return nil, fmt.Errorf("couldn't encode private key: %w", err)
	}
	if password == nil {
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
	}
	return keys.MarshalEncryptedPKCS8(k.Signer, password)
}

// MarshalPublicKey returns the public key as PEM "PUBLIC KEY" (PKIX).
func (k *Key) MarshalPublicKey() ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(k.Public)
	if err != nil {
		return nil, fmt.Errorf("couldn't encode public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// Password supplies the password of an encrypted key; it is called only
// for encrypted keys.
type Password func() ([]byte, error)

// ParseKey parses a PEM key: "PUBLIC KEY", "PRIVATE KEY" (PKCS #8),
// "EC PRIVATE KEY" (SEC 1) or "ENCRYPTED PRIVATE KEY" (PKCS #8 PBES2,
// decrypted with password()).
func ParseKey(data []byte, password Password) (*Key, error) {
	blk, _ := pem.Decode(data)
	if blk == nil {
		return nil, fmt.Errorf("%w: no PEM block", ErrKey)
	}
	der := blk.Bytes
	switch blk.Type {
	case "PUBLIC KEY":
		pub, err := x509.ParsePKIXPublicKey(der)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrKey, err)
		}
		return NewKey(pub, nil)
	case "EC PRIVATE KEY":
		priv, err := x509.ParseECPrivateKey(der)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrKey, err)
		}
		return NewKey(priv.Public(), priv)
	case "ENCRYPTED PRIVATE KEY":
		if password == nil {
			return nil, fmt.Errorf("%w: the key is encrypted and no password was given", ErrKey)
		}
		pw, err := password()
		if err != nil {
			return nil, fmt.Errorf("couldn't get key password: %w", err)
		}
		if len(pw) == 0 {
			return nil, fmt.Errorf("%w: %w", ErrKey, keys.ErrNoPassword)
		}
		if der, err = keys.DecryptPKCS8(der, pw); err != nil {
			return nil, err
		}
		fallthrough
	case "PRIVATE KEY":
		priv, err := x509.ParsePKCS8PrivateKey(der)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrKey, err)
		}
		s, ok := priv.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("%w: %T cannot sign", ErrKey, priv)
		}
		return NewKey(s.Public(), s)
	}
	return nil, fmt.Errorf("%w: PEM block %q (want PUBLIC KEY, PRIVATE KEY or ENCRYPTED PRIVATE KEY)", ErrKey, blk.Type)
}

// LoadKey reads a key file (see ParseKey).
func LoadKey(path string, password Password) (*Key, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("couldn't read key: %w", err)
	}
	k, err := ParseKey(data, password)
	if err != nil {
		return nil, fmt.Errorf("couldn't load key %s: %w", path, err)
	}
	return k, nil
}

// WriteKey writes the private key to path (mode 0600, encrypted when
// password is not nil) and the public key to path + ".pub". It refuses to
// overwrite an existing file.
func WriteKey(path string, k *Key, password []byte) error {
	priv, err := k.MarshalPrivateKey(password)
	if err != nil {
		return err
	}
	pub, err := k.MarshalPublicKey()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("couldn't create key directory: %w", err)
	}
	for _, f := range []struct {
		path string
		data []byte
		perm os.FileMode
	}{{path, priv, 0o600}, {path + ".pub", pub, 0o644}} {
		fh, err := os.OpenFile(f.path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, f.perm)
		if err != nil {
			return fmt.Errorf("couldn't write key: %w", err)
		}
		if _, err := fh.Write(f.data); err != nil {
			fh.Close()
			return fmt.Errorf("couldn't write key: %w", err)
		}
		if err := fh.Sync(); err != nil {
			fh.Close()
			return fmt.Errorf("couldn't write key: %w", err)
		}
		if err := fh.Close(); err != nil {
			return fmt.Errorf("couldn't write key: %w", err)
		}
	}
	return nil
}

// short abbreviates a key ID for messages.
func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
