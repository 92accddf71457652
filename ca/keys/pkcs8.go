package keys

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
	"golang.org/x/crypto/scrypt"
)

// Encrypted PKCS#8 (RFC 5958 EncryptedPrivateKeyInfo with PBES2, RFC 8018
// §6.2), the "ENCRYPTED PRIVATE KEY" PEM block that OpenSSL writes
// (openssl pkcs8 -topk8 -v2 aes-256-cbc) and Fulcio's file CA reads
// (sigstore/sigstore pkg/cryptoutils/privatekey.go):
//
//	EncryptedPrivateKeyInfo ::= SEQUENCE {
//	  encryptionAlgorithm  AlgorithmIdentifier {PBES2, PBES2-params},
//	  encryptedData        OCTET STRING }
//	PBES2-params ::= SEQUENCE {
//	  keyDerivationFunc  AlgorithmIdentifier {PBKDF2 | scrypt (RFC 7914)},
//	  encryptionScheme   AlgorithmIdentifier {aes{128,192,256}-CBC, IV} }
//	PBKDF2-params ::= SEQUENCE { salt OCTET STRING, iterationCount INTEGER,
//	  keyLength INTEGER OPTIONAL, prf AlgorithmIdentifier DEFAULT hmacWithSHA1 }
//
// Written: PBKDF2 with HMAC-SHA-256, 600,000 iterations (OWASP 2023), a
// 16-byte salt, AES-256-CBC. Read: PBKDF2 with HMAC-SHA-1/224/256/384/512
// or scrypt, AES-128/192/256-CBC.

var (
	oidPBES2      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidScrypt     = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11591, 4, 11}
	oidHMACSHA1   = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 7}
	oidHMACSHA224 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 8}
	oidHMACSHA256 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}
	oidHMACSHA384 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 10}
	oidHMACSHA512 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 11}
	oidAES128CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}
	oidAES192CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 22}
	oidAES256CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
)

// PBKDF2Iterations is the iteration count MarshalEncryptedPKCS8 writes.
var PBKDF2Iterations = 600_000

// maxIterations bounds what a file may ask for, so a hostile key file
// cannot pin a CPU for hours.
const maxIterations = 10_000_000

// Errors callers branch on.
var (
	// ErrPassword: the password does not decrypt the key (or the file is
	// corrupt; PBES2 cannot tell the two apart).
	ErrPassword = errors.New("wrong password or corrupt encrypted key")
	// ErrNoPassword: the key is encrypted and no password was given.
	ErrNoPassword = errors.New("the key is encrypted and no password was given")
)

// MarshalEncryptedPKCS8 returns key as an "ENCRYPTED PRIVATE KEY" PEM block.
func MarshalEncryptedPKCS8(key crypto.PrivateKey, password []byte) ([]byte, error) {
	if len(password) == 0 {
		return nil, errors.New("couldn't encrypt private key: empty password")
	}
	plain, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("couldn't encode private key: %w", err)
	}
	salt := make([]byte, 16)
	iv := make([]byte, aes.BlockSize)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	if _, err := rand.Read(iv); err != nil {
		return nil, err
	}
	dk, err := pbkdf2.Key(sha256.New, string(password), salt, PBKDF2Iterations, 32)
	if err != nil {
		return nil, fmt.Errorf("couldn't derive key: %w", err)
	}
	block, err := aes.NewCipher(dk)
	if err != nil {
		return nil, err
	}
	pad := aes.BlockSize - len(plain)%aes.BlockSize
	data := append(plain, bytes.Repeat([]byte{byte(pad)}, pad)...)
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(data, data)

	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(oidPBES2)
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1ObjectIdentifier(oidPBKDF2)
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1OctetString(salt)
						b.AddASN1Int64(int64(PBKDF2Iterations))
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
							b.AddASN1ObjectIdentifier(oidHMACSHA256)
							b.AddASN1NULL()
						})
					})
				})
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1ObjectIdentifier(oidAES256CBC)
					b.AddASN1OctetString(iv)
				})
			})
		})
		b.AddASN1OctetString(data)
	})
	der, err := b.Bytes()
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: der}), nil
}

// DecryptPKCS8 decrypts the DER of an EncryptedPrivateKeyInfo and returns
// the DER PKCS#8 PrivateKeyInfo inside.
func DecryptPKCS8(der, password []byte) ([]byte, error) {
	in := cryptobyte.String(der)
	var epki, algID, params, kdf, enc, data cryptobyte.String
	var oid asn1.ObjectIdentifier
	if !in.ReadASN1(&epki, cbasn1.SEQUENCE) || !in.Empty() ||
		!epki.ReadASN1(&algID, cbasn1.SEQUENCE) || !epki.ReadASN1(&data, cbasn1.OCTET_STRING) || !epki.Empty() ||
		!algID.ReadASN1ObjectIdentifier(&oid) {
		return nil, errors.New("couldn't parse encrypted private key: malformed EncryptedPrivateKeyInfo")
	}
	if !oid.Equal(oidPBES2) {
		return nil, fmt.Errorf("couldn't parse encrypted private key: unsupported encryption %s (only PBES2)", oid)
	}
	if !algID.ReadASN1(&params, cbasn1.SEQUENCE) || !algID.Empty() ||
		!params.ReadASN1(&kdf, cbasn1.SEQUENCE) || !params.ReadASN1(&enc, cbasn1.SEQUENCE) || !params.Empty() {
		return nil, errors.New("couldn't parse encrypted private key: malformed PBES2 parameters")
	}
	var encOID asn1.ObjectIdentifier
	var iv []byte
	if !enc.ReadASN1ObjectIdentifier(&encOID) || !enc.ReadASN1Bytes(&iv, cbasn1.OCTET_STRING) || !enc.Empty() {
		return nil, errors.New("couldn't parse encrypted private key: malformed encryption scheme")
	}
	var keyLen int
	switch {
	case encOID.Equal(oidAES128CBC):
		keyLen = 16
	case encOID.Equal(oidAES192CBC):
		keyLen = 24
	case encOID.Equal(oidAES256CBC):
		keyLen = 32
	default:
		return nil, fmt.Errorf("couldn't parse encrypted private key: unsupported cipher %s (AES-CBC only)", encOID)
	}
	if len(iv) != aes.BlockSize {
		return nil, errors.New("couldn't parse encrypted private key: IV is not 16 bytes")
	}
	if len(data) == 0 || len(data)%aes.BlockSize != 0 {
		return nil, errors.New("couldn't parse encrypted private key: ciphertext is not whole AES blocks")
	}
	dk, err := deriveKey(kdf, password, keyLen)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(dk)
	if err != nil {
		return nil, err
	}
	plain := make([]byte, len(data))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(plain, data)
	pad := int(plain[len(plain)-1])
	if pad == 0 || pad > aes.BlockSize || subtle.ConstantTimeCompare(plain[len(plain)-pad:], bytes.Repeat([]byte{byte(pad)}, pad)) != 1 {
		return nil, fmt.Errorf("couldn't decrypt private key: %w", ErrPassword)
	}
	return plain[:len(plain)-pad], nil
}

func deriveKey(kdf cryptobyte.String, password []byte, keyLen int) ([]byte, error) {
	var oid asn1.ObjectIdentifier
	var p cryptobyte.String
	if !kdf.ReadASN1ObjectIdentifier(&oid) || !kdf.ReadASN1(&p, cbasn1.SEQUENCE) || !kdf.Empty() {
		return nil, errors.New("couldn't parse encrypted private key: malformed key derivation function")
	}
	var salt []byte
	if !p.ReadASN1Bytes(&salt, cbasn1.OCTET_STRING) {
		return nil, errors.New("couldn't parse encrypted private key: malformed KDF salt")
	}
	switch {
	case oid.Equal(oidPBKDF2):
		var iter int64
		if !p.ReadASN1Int64WithTag(&iter, cbasn1.INTEGER) || iter < 1 || iter > maxIterations {
			return nil, errors.New("couldn't parse encrypted private key: bad PBKDF2 iteration count")
		}
		if p.PeekASN1Tag(cbasn1.INTEGER) {
			var kl int64
			if !p.ReadASN1Int64WithTag(&kl, cbasn1.INTEGER) || kl != int64(keyLen) {
				return nil, errors.New("couldn't parse encrypted private key: PBKDF2 key length does not fit the cipher")
			}
		}
		prf := sha1.New
		if !p.Empty() {
			var alg cryptobyte.String
			var prfOID asn1.ObjectIdentifier
			if !p.ReadASN1(&alg, cbasn1.SEQUENCE) || !alg.ReadASN1ObjectIdentifier(&prfOID) || !p.Empty() {
				return nil, errors.New("couldn't parse encrypted private key: malformed PBKDF2 PRF")
			}
			var ok bool
			if prf, ok = prfs(prfOID); !ok {
				return nil, fmt.Errorf("couldn't parse encrypted private key: unsupported PBKDF2 PRF %s", prfOID)
			}
		}
		dk, err := pbkdf2.Key(prf, string(password), salt, int(iter), keyLen)
		if err != nil {
			return nil, fmt.Errorf("couldn't derive key: %w", err)
		}
		return dk, nil
	case oid.Equal(oidScrypt):
		var n, r, par int64
		if !p.ReadASN1Int64WithTag(&n, cbasn1.INTEGER) || !p.ReadASN1Int64WithTag(&r, cbasn1.INTEGER) || !p.ReadASN1Int64WithTag(&par, cbasn1.INTEGER) {
			return nil, errors.New("couldn't parse encrypted private key: malformed scrypt parameters")
		}
		// Bound memory (128·r·N bytes) at 1 GiB.
		if n < 2 || n > 1<<22 || r < 1 || r > 32 || par < 1 || par > 16 || 128*r*n > 1<<30 {
			return nil, errors.New("couldn't parse encrypted private key: scrypt parameters out of range")
		}
		dk, err := scrypt.Key(password, salt, int(n), int(r), int(par), keyLen)
		if err != nil {
			return nil, fmt.Errorf("couldn't derive key: %w", err)
		}
		return dk, nil
	}
	return nil, fmt.Errorf("couldn't parse encrypted private key: unsupported key derivation %s", oid)
}

func prfs(oid asn1.ObjectIdentifier) (func() hash.Hash, bool) {
	switch {
	case oid.Equal(oidHMACSHA1):
		return sha1.New, true
	case oid.Equal(oidHMACSHA224):
		return sha256.New224, true
	case oid.Equal(oidHMACSHA256):
		return sha256.New, true
	case oid.Equal(oidHMACSHA384):
		return sha512.New384, true
	case oid.Equal(oidHMACSHA512):
		return sha512.New, true
	}
	return nil, false
}

// ParsePrivateKeyPEM reads the first private key PEM block of b:
// "ENCRYPTED PRIVATE KEY" (decrypted with password), "PRIVATE KEY"
// (PKCS#8), "EC PRIVATE KEY" (SEC 1) or "RSA PRIVATE KEY" (PKCS#1). Legacy
// Proc-Type encrypted PEM is refused (its MD5 key derivation is broken).
func ParsePrivateKeyPEM(b, password []byte) (crypto.Signer, error) {
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			return nil, errors.New("couldn't read private key: no private key PEM block")
		}
		if _, encrypted := block.Headers["Proc-Type"]; encrypted {
			return nil, errors.New("couldn't read private key: legacy encrypted PEM (Proc-Type) is not supported; convert it with openssl pkcs8 -topk8 -v2 aes-256-cbc")
		}
		var key any
		var err error
		switch block.Type {
		case "ENCRYPTED PRIVATE KEY":
			if len(password) == 0 {
				return nil, fmt.Errorf("couldn't read private key: %w", ErrNoPassword)
			}
			var der []byte
			if der, err = DecryptPKCS8(block.Bytes, password); err != nil {
				return nil, err
			}
			if key, err = x509.ParsePKCS8PrivateKey(der); err != nil {
				return nil, fmt.Errorf("couldn't read private key: %w", ErrPassword)
			}
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("couldn't read private key: %w", err)
		}
		switch k := key.(type) {
		case *ecdsa.PrivateKey, *rsa.PrivateKey, ed25519.PrivateKey:
			return k.(crypto.Signer), nil
		}
		return nil, fmt.Errorf("couldn't read private key: unsupported key type %T", key)
	}
}
