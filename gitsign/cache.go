package gitsign

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Cache keeps an ephemeral signing key and the certificate the CA issued
// for it between signatures, so that a rebase or a series of commits in a
// few minutes asks the identity provider and the CA once (gitsign solves
// the same problem with a daemon, sigstore/gitsign
// cmd/gitsign-credential-cache).
//
// The contract:
//
//   - One file per Key (a hash of what the credentials depend on: CA,
//     issuer, client ID), Dir/<hex>.pem: a PKCS #8 "PRIVATE KEY" block and
//     the chain's "CERTIFICATE" blocks, leaf first.
//   - Dir is created 0700 and the files 0600; a file that is not a regular
//     file owned by the user with no group or other permission is refused
//     (Load fails with ErrCacheUnsafe and the caller signs without it).
//   - A credential is used only while its certificate is valid for at
//     least Margin more (so the log records the signature within the
//     certificate's validity); after that Load deletes it, and so does
//     the next Store of any key. A certificate valid only from up to
//     Margin from now (a clock behind the CA's) is used too.
//   - Store writes a temporary file and renames it into place, so
//     concurrent git processes see a whole file or none.
type Cache struct {
	// Dir is the cache directory; DefaultCacheDir if empty.
	Dir string
	// Margin is how long a certificate must still be valid to be used;
	// default one minute.
	Margin time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// ErrCacheUnsafe is returned for a cache file or directory that others
// could read or replace.
var ErrCacheUnsafe = errors.New("credential cache is not private to the user")

// DefaultCacheDir returns <user cache directory>/sigil/git (on Linux
// $XDG_CACHE_HOME/sigil/git or ~/.cache/sigil/git).
func DefaultCacheDir() (string, error) {
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("couldn't find the user cache directory: %w", err)
	}
	return filepath.Join(d, "sigil", "git"), nil
}

func (c *Cache) dir() (string, error) {
	if c.Dir != "" {
		return c.Dir, nil
	}
	return DefaultCacheDir()
}

func (c *Cache) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Cache) margin() time.Duration {
	if c.Margin > 0 {
		return c.Margin
	}
	return time.Minute
}

func (c *Cache) path(key string) (string, error) {
	d, err := c.dir()
	if err != nil {
		return "", err
	}
	h := sha256.Sum256([]byte(key))
	return filepath.Join(d, hex.EncodeToString(h[:16])+".pem"), nil
}

// Load returns the cached key and chain for key, if they are usable now.
// A miss is (nil, nil, nil).
func (c *Cache) Load(key string) (crypto.Signer, []*x509.Certificate, error) {
	p, err := c.path(key)
	if err != nil {
		return nil, nil, err
	}
	if err := checkPrivate(filepath.Dir(p), true); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, nil
		}
		return nil, nil, err
	}
	if err := checkPrivate(p, false); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, nil
		}
		return nil, nil, err
	}
	raw, err := os.ReadFile(p)
	if err != nil {
		return nil, nil, fmt.Errorf("couldn't read the credential cache: %w", err)
	}
	k, chain, err := decodeCredentials(raw)
	if err != nil {
		os.Remove(p)
		return nil, nil, err
	}
	// A certificate not valid yet by this clock is one issued by a CA
	// whose clock is ahead: within the margin it is used (else every
	// signature of a series got a new certificate and a sign-in, as the
	// CA dates certificates from its own now); the log's time is what it
	// is checked against, and the signature is verified before it is
	// handed to git.
	now := c.now()
	if leaf := chain[0]; now.Add(c.margin()).Before(leaf.NotBefore) || now.Add(c.margin()).After(leaf.NotAfter) {
		os.Remove(p)
		return nil, nil, nil
	}
	return k, chain, nil
}

// Store saves key and chain for key.
func (c *Cache) Store(key string, k crypto.Signer, chain []*x509.Certificate) error {
	if len(chain) == 0 {
		return errors.New("couldn't cache the credentials: no certificate")
	}
	p, err := c.path(key)
	if err != nil {
		return err
	}
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("couldn't create the credential cache: %w", err)
	}
	if err := checkPrivate(dir, true); err != nil {
		return err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return fmt.Errorf("couldn't encode the key: %w", err)
	}
	var b bytes.Buffer
	pem.Encode(&b, &pem.Block{Type: "PRIVATE KEY", Bytes: der})
	for _, crt := range chain {
		pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: crt.Raw})
	}
	f, err := os.CreateTemp(dir, ".tmp-*") // mode 0600
	if err != nil {
		return fmt.Errorf("couldn't write the credential cache: %w", err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b.Bytes()); err != nil {
		f.Close()
		return fmt.Errorf("couldn't write the credential cache: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("couldn't write the credential cache: %w", err)
	}
	if err := os.Rename(f.Name(), p); err != nil {
		return fmt.Errorf("couldn't write the credential cache: %w", err)
	}
	c.sweep(dir, p)
	return nil
}

// sweep deletes the other credentials in dir that Load would no longer
// use. Load deletes only the file of the key it is asked for, and the key
// changes with every token from the environment (SIGSTORE_ID_TOKEN, a CI
// job's token): without a sweep each left a private key on disk for good.
//
// It also deletes temporary files (each a private key) that a Store
// interrupted before its rename left behind, once they are older than any
// Store still writing could be.
func (c *Cache) sweep(dir, keep string) {
	now := c.now()
	if tmps, err := filepath.Glob(filepath.Join(dir, ".tmp-*")); err == nil {
		for _, p := range tmps {
			if fi, err := os.Lstat(p); err == nil && fi.Mode().IsRegular() && fi.ModTime().Before(now.Add(-10*time.Minute)) {
				os.Remove(p)
			}
		}
	}
	names, err := filepath.Glob(filepath.Join(dir, "*.pem"))
	if err != nil {
		return
	}
	for _, p := range names {
		if p == keep || len(filepath.Base(p)) != 32+len(".pem") || checkPrivate(p, false) != nil {
			continue
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if _, chain, err := decodeCredentials(raw); err == nil && now.Add(c.margin()).Before(chain[0].NotAfter) {
			continue
		}
		os.Remove(p)
	}
}

// Delete removes the credentials of key.
func (c *Cache) Delete(key string) error {
	p, err := c.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("couldn't delete the cached credentials: %w", err)
	}
	return nil
}

func decodeCredentials(raw []byte) (crypto.Signer, []*x509.Certificate, error) {
	blk, rest := pem.Decode(raw)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, nil, errors.New("couldn't read the credential cache: no key")
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("couldn't read the cached key: %w", err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, nil, errors.New("couldn't read the cached key: not a signing key")
	}
	var chain []*x509.Certificate
	for {
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			return nil, nil, fmt.Errorf("couldn't read the credential cache: unexpected %s block", blk.Type)
		}
		crt, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, nil, fmt.Errorf("couldn't read the cached certificate: %w", err)
		}
		chain = append(chain, crt)
	}
	if len(chain) == 0 {
		return nil, nil, errors.New("couldn't read the credential cache: no certificate")
	}
	if !samePublicKey(chain[0].PublicKey, signer.Public()) {
		return nil, nil, errors.New("couldn't read the credential cache: the certificate is for another key")
	}
	return signer, chain, nil
}

func samePublicKey(a, b crypto.PublicKey) bool {
	da, err1 := x509.MarshalPKIXPublicKey(a)
	db, err2 := x509.MarshalPKIXPublicKey(b)
	return err1 == nil && err2 == nil && bytes.Equal(da, db)
}
