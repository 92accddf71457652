// Package keyfile reads and writes signing keys in the format cosign uses,
// so that key pairs move between cosign and sigil:
//
//	-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----
//	base64 of {"kdf":{"name":"scrypt","params":{"N":65536,"r":8,"p":1},"salt":"<b64>"},
//	           "cipher":{"name":"nacl/secretbox","nonce":"<b64>"},"ciphertext":"<b64>"}
//	-----END ENCRYPTED SIGSTORE PRIVATE KEY-----
//
// The ciphertext is nacl/secretbox (XSalsa20-Poly1305) of the PKCS#8 DER key
// under scrypt(password, salt, N, r, p, 32); salt 32 bytes, nonce 24 bytes
// (sigstore/cosign pkg/cosign/keys.go; secure-systems-lab/go-securesystemslib
// encrypted/encrypted.go). The legacy block type "ENCRYPTED COSIGN PRIVATE
// KEY" is read too. An empty password is allowed, as in cosign. Public keys
// are PKIX "PUBLIC KEY" PEM blocks; PKCS#1 "RSA PUBLIC KEY" blocks are read
// too, as cosign reads them.
package keyfile

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"

	"golang.org/x/crypto/nacl/secretbox"
	"golang.org/x/crypto/scrypt"
)

// PEM block types.
const (
	TypeEncrypted       = "ENCRYPTED SIGSTORE PRIVATE KEY"
	TypeEncryptedLegacy = "ENCRYPTED COSIGN PRIVATE KEY"
	TypePublic          = "PUBLIC KEY"
	// TypePublicRSA is a PKCS#1 RSA public key, read as cosign reads it.
	TypePublicRSA = "RSA PUBLIC KEY"
)

// Scrypt parameters for new keys (go-securesystemslib standard params).
const (
	scryptN = 65536
	scryptR = 8
	scryptP = 1
)

// ErrPassword is returned when a key does not decrypt with the password.
var ErrPassword = errors.New("couldn't decrypt private key: wrong password")

type envelope struct {
	KDF struct {
		Name   string `json:"name"`
		Params struct {
			N int `json:"N"`
			R int `json:"r"`
			P int `json:"p"`
		} `json:"params"`
		Salt []byte `json:"salt"`
	} `json:"kdf"`
	Cipher struct {
		Name  string `json:"name"`
		Nonce []byte `json:"nonce"`
	} `json:"cipher"`
	Ciphertext []byte `json:"ciphertext"`
}

// Encrypt returns the PEM of an encrypted private key.
func Encrypt(key crypto.Signer, password []byte) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("couldn't encode private key: %w", err)
	}
	var e envelope
	e.KDF.Name = "scrypt"
	e.KDF.Params.N, e.KDF.Params.R, e.KDF.Params.P = scryptN, scryptR, scryptP
	e.KDF.Salt = make([]byte, 32)
	e.Cipher.Name = "nacl/secretbox"
	e.Cipher.Nonce = make([]byte, 24)
	if _, err := rand.Read(e.KDF.Salt); err != nil {
		return nil, err
	}
	if _, err := rand.Read(e.Cipher.Nonce); err != nil {
		return nil, err
	}
	k, err := scrypt.Key(password, e.KDF.Salt, scryptN, scryptR, scryptP, 32)
	if err != nil {
		return nil, fmt.Errorf("couldn't derive key: %w", err)
	}
	var kk [32]byte
	var nonce [24]byte
	copy(kk[:], k)
	copy(nonce[:], e.Cipher.Nonce)
	e.Ciphertext = secretbox.Seal(nil, der, &nonce, &kk)
	body, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: TypeEncrypted, Bytes: body}), nil
}

// Decrypt reads an encrypted private key PEM.
func Decrypt(pemBytes, password []byte) (crypto.Signer, error) {
	blk, _ := pem.Decode(pemBytes)
	if blk == nil {
		return nil, errors.New("couldn't read private key: not PEM")
	}
	if blk.Type != TypeEncrypted && blk.Type != TypeEncryptedLegacy {
		return nil, fmt.Errorf("couldn't read private key: PEM block %q, want %q", blk.Type, TypeEncrypted)
	}
	var e envelope
	if err := json.Unmarshal(blk.Bytes, &e); err != nil {
		return nil, fmt.Errorf("couldn't read private key: %w", err)
	}
	if e.KDF.Name != "scrypt" || e.Cipher.Name != "nacl/secretbox" || len(e.Cipher.Nonce) != 24 {
		return nil, fmt.Errorf("couldn't read private key: unsupported encryption %s/%s", e.KDF.Name, e.Cipher.Name)
	}
	p := e.KDF.Params
	// Bound the work an attacker-supplied file can demand.
	// (at most 256 MiB of scrypt memory: 128·r·N bytes).
	if p.N <= 1 || p.N > 1<<18 || p.N&(p.N-1) != 0 || p.R <= 0 || p.R > 8 || p.P <= 0 || p.P > 4 {
		return nil, fmt.Errorf("couldn't read private key: unreasonable scrypt parameters N=%d r=%d p=%d", p.N, p.R, p.P)
	}
	k, err := scrypt.Key(password, e.KDF.Salt, p.N, p.R, p.P, 32)
	if err != nil {
		return nil, fmt.Errorf("couldn't derive key: %w", err)
	}
	var kk [32]byte
	var nonce [24]byte
	copy(kk[:], k)
	copy(nonce[:], e.Cipher.Nonce)
	der, ok := secretbox.Open(nil, e.Ciphertext, &nonce, &kk)
	if !ok {
		return nil, ErrPassword
	}
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("couldn't parse private key: %w", err)
	}
	s, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("couldn't use private key of type %T", key)
	}
	return s, nil
}

// PublicPEM returns the PEM of a public key.
func PublicPEM(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("couldn't encode public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: TypePublic, Bytes: der}), nil
}

// ParsePublic reads a PEM public key, or the public key of a PEM
// certificate.
func ParsePublic(pemBytes []byte) (crypto.PublicKey, error) {
	blk, _ := pem.Decode(pemBytes)
	if blk == nil {
		return nil, errors.New("couldn't read public key: not PEM")
	}
	switch blk.Type {
	case TypePublic:
		k, err := x509.ParsePKIXPublicKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("couldn't parse public key: %w", err)
		}
		return k, nil
	case TypePublicRSA:
		k, err := x509.ParsePKCS1PublicKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("couldn't parse public key: %w", err)
		}
		return k, nil
	case "CERTIFICATE":
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("couldn't parse certificate: %w", err)
		}
		return c.PublicKey, nil
	}
	return nil, fmt.Errorf("couldn't read public key: PEM block %q, want %q", blk.Type, TypePublic)
}
