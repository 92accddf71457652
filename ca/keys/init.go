package keys

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Files are the paths of a CA directory made by Init.
type Files struct {
	Root            string // root certificate (PEM)
	RootKey         string // encrypted root key
	Intermediate    string // issuing certificate (PEM)
	IntermediateKey string // encrypted issuing key; empty when it is on a PKCS#11 token
	Chain           string // issuing certificate then root (PEM)
}

// DirFiles returns the standard file names in dir.
func DirFiles(dir string) Files {
	return Files{
		Root: filepath.Join(dir, "root.pem"), RootKey: filepath.Join(dir, "root-key.pem"),
		Intermediate: filepath.Join(dir, "intermediate.pem"), IntermediateKey: filepath.Join(dir, "intermediate-key.pem"),
		Chain: filepath.Join(dir, "chain.pem"),
	}
}

// InitOptions say what Init makes.
type InitOptions struct {
	// Dir receives the files (created 0700 if missing).
	Dir string
	// KeyType of both keys; default ECDSA P-256.
	KeyType KeyType
	Chain   ChainOptions
	// Password encrypts the key files. Required.
	Password []byte
	// RootKey is where the root key goes; default Dir/root-key.pem. Point
	// it at removable media to keep the root offline.
	RootKey string
	// PKCS11 generates the issuing key on this token instead of a file.
	PKCS11 string
	// Force overwrites existing files.
	Force bool
}

// CA is a loaded CA chain and issuing key.
type CA struct {
	Files
	Root, Intermediate *x509.Certificate
	// Signer is the issuing key; Close releases it.
	Signer crypto.Signer
	closer io.Closer
}

// Chain returns the chain for ca.Config: issuing certificate, then root.
func (c *CA) Chain() []*x509.Certificate { return []*x509.Certificate{c.Intermediate, c.Root} }

// Close releases the issuing key (a PKCS#11 session).
func (c *CA) Close() error {
	if c.closer == nil {
		return nil
	}
	return c.closer.Close()
}

// ErrExists is returned by Init when the directory already holds a CA.
var ErrExists = errors.New("a CA already exists there")

// Init creates a root and an intermediate with their keys and writes them
// to o.Dir (see Files). It refuses to overwrite unless o.Force is set.
func Init(o InitOptions) (*CA, error) {
	if len(o.Password) == 0 {
		return nil, errors.New("couldn't create CA: no password for the key files")
	}
	if _, err := o.KeyType.Curve(); err != nil {
		return nil, fmt.Errorf("couldn't create CA: %w", err)
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("couldn't create CA directory: %w", err)
	}
	f := DirFiles(o.Dir)
	if o.RootKey != "" {
		f.RootKey = o.RootKey
	}
	if o.PKCS11 != "" {
		f.IntermediateKey = ""
	}
	if !o.Force {
		for _, p := range []string{f.Root, f.RootKey, f.Intermediate, f.IntermediateKey, f.Chain} {
			if p == "" {
				continue
			}
			if _, err := os.Stat(p); err == nil {
				return nil, fmt.Errorf("couldn't create CA: %s: %w (use force to replace it)", p, ErrExists)
			}
		}
	}
	rootKey, err := GenerateKey(o.KeyType)
	if err != nil {
		return nil, err
	}
	root, err := NewRoot(rootKey, o.Chain)
	if err != nil {
		return nil, err
	}
	ca := &CA{Files: f, Root: root}
	if o.PKCS11 != "" {
		if ca.Signer, ca.closer, err = GeneratePKCS11(o.PKCS11, o.KeyType); err != nil {
			return nil, err
		}
	} else if ca.Signer, err = GenerateKey(o.KeyType); err != nil {
		return nil, err
	}
	// A failure from here on leaves no CA: remove a key pair just
	// generated on a token, or the next attempt finds it there and
	// refuses to generate it again.
	fail := func(err error) (*CA, error) {
		if o.PKCS11 != "" {
			if derr := DeletePKCS11Key(ca.Signer); derr != nil {
				err = fmt.Errorf("%w (and couldn't remove the key pair just generated on the PKCS#11 token: %v)", err, derr)
			}
		}
		ca.Close()
		return nil, err
	}
	if ca.Intermediate, err = NewIntermediate(root, rootKey, ca.Signer.Public(), o.Chain); err != nil {
		return fail(err)
	}
	if err := writeKey(f.RootKey, rootKey, o.Password, o.Force); err != nil {
		return fail(err)
	}
	if f.IntermediateKey != "" {
		if err := writeKey(f.IntermediateKey, ca.Signer, o.Password, o.Force); err != nil {
			return fail(err)
		}
	}
	for path, certs := range map[string][]*x509.Certificate{f.Root: {root}, f.Intermediate: {ca.Intermediate}, f.Chain: {ca.Intermediate, root}} {
		if err := WriteCertificates(path, certs...); err != nil {
			return fail(err)
		}
	}
	return ca, nil
}

// Open loads a CA made by Init: the chain from Dir/chain.pem, and the
// issuing key from src (default Dir/intermediate-key.pem with password).
func Open(dir string, src Source) (*CA, error) {
	f := DirFiles(dir)
	if src.File == "" && src.PKCS11 == "" {
		src.File = f.IntermediateKey
	}
	chain, err := ReadCertificates(f.Chain)
	if err != nil {
		return nil, err
	}
	if len(chain) != 2 {
		return nil, fmt.Errorf("couldn't open CA: %s holds %d certificates, want intermediate and root", f.Chain, len(chain))
	}
	s, closer, err := Load(src)
	if err != nil {
		return nil, err
	}
	return &CA{Files: f, Intermediate: chain[0], Root: chain[1], Signer: s, closer: closer}, nil
}

// WriteKey writes key encrypted with password (mode 0600), replacing path
// atomically if it exists.
func WriteKey(path string, key crypto.Signer, password []byte) error {
	return writeKey(path, key, password, true)
}

// writeKey writes key encrypted with password to a file created 0600
// whatever the umask. Without replace it fails if path exists (also as a
// symbolic link, which it does not follow). With replace it writes a new
// file beside path and renames it over path (over the file a symbolic link
// names): an existing file, whatever its mode, is never written in place,
// so a key never lands in a file others can read, and a failure leaves
// the old key whole. No chmod is made: a FAT-formatted stick refuses one,
// and a file created 0600 needs none.
func writeKey(path string, key crypto.Signer, password []byte, replace bool) error {
	b, err := MarshalEncryptedPKCS8(key, password)
	if err != nil {
		return err
	}
	if !replace {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return fmt.Errorf("couldn't write key: %w", err)
		}
		if _, err := f.Write(b); err != nil {
			f.Close()
			os.Remove(path)
			return fmt.Errorf("couldn't write key: %w", err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			os.Remove(path)
			return fmt.Errorf("couldn't write key: %w", err)
		}
		if err := f.Close(); err != nil {
			os.Remove(path)
			return fmt.Errorf("couldn't write key: %w", err)
		}
		return nil
	}
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*") // mode 0600
	if err != nil {
		return fmt.Errorf("couldn't write key: %w", err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("couldn't write key: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("couldn't write key: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("couldn't write key: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("couldn't write key: %w", err)
	}
	return nil
}

// WriteCertificates writes certificates as PEM (mode 0644).
func WriteCertificates(path string, certs ...*x509.Certificate) error {
	var b []byte
	for _, c := range certs {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("couldn't write certificate: %w", err)
	}
	return nil
}

// ReadCertificates reads every CERTIFICATE block of a PEM file.
func ReadCertificates(path string) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("couldn't read certificates: %w", err)
	}
	var out []*x509.Certificate
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("couldn't read certificates from %s: %w", path, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("couldn't read certificates: %s holds none", path)
	}
	return out, nil
}
