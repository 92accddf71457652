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

	"sigil.dev/sigil/internal/fsutil"
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
	// Every file is written and synced beside its destination first, then
	// put in place, chain.pem last (a server takes its presence for a
	// CA). A failure on the way (disk full, an I/O error) removes what
	// this call wrote: a half-written CA (a root key and no chain) would
	// make every later Init without force refuse "exists", a server's
	// first start included.
	var outs []output
	add := func(path string, b []byte, perm os.FileMode) { outs = append(outs, output{path, b, perm}) }
	for _, k := range []struct {
		path string
		key  crypto.Signer
	}{{f.RootKey, rootKey}, {f.IntermediateKey, ca.Signer}} {
		if k.path == "" {
			continue
		}
		b, err := MarshalEncryptedPKCS8(k.key, o.Password)
		if err != nil {
			return fail(err)
		}
		add(k.path, b, 0o600)
	}
	add(f.Root, certificatesPEM(root), 0o644)
	add(f.Intermediate, certificatesPEM(ca.Intermediate), 0o644)
	add(f.Chain, certificatesPEM(ca.Intermediate, root), 0o644)
	if err := writeAll(outs, o.Force); err != nil {
		return fail(fmt.Errorf("couldn't create CA: %w", err))
	}
	return ca, nil
}

// output is a file for writeAll.
type output struct {
	path string
	data []byte
	perm os.FileMode
}

// writeAll writes each output to a synced temporary file in its
// destination's directory, then puts them in place in order: with
// replace, renamed over what is there (through a symbolic link at the
// path, to its target); without, linked so that an existing file fails
// it. On an error it removes its temporary files and, without replace,
// the files it had already put in place, so that nothing it wrote stays.
// (With replace, files already replaced stay replaced: only a rename can
// fail then, after everything was written.)
func writeAll(outs []output, replace bool) (err error) {
	var tmps, placed []string
	defer func() {
		for _, t := range tmps {
			os.Remove(t)
		}
		if err != nil && !replace {
			for _, p := range placed {
				os.Remove(p)
			}
		}
	}()
	paths := make([]string, len(outs))
	for i, o := range outs {
		paths[i] = o.path
		if replace {
			if real, err := filepath.EvalSymlinks(o.path); err == nil {
				paths[i] = real
			}
		}
		t, err := fsutil.WriteTemp(paths[i], o.data, o.perm, true)
		if err != nil {
			return err
		}
		tmps = append(tmps, t)
	}
	dirs := map[string]bool{}
	for i, t := range tmps {
		p := paths[i]
		if err := place(t, p, replace); err != nil {
			return fmt.Errorf("couldn't write %s: %w", p, err)
		}
		placed = append(placed, p)
		dirs[filepath.Dir(p)] = true
	}
	for d := range dirs {
		if f, err := os.Open(d); err == nil {
			_ = f.Sync()
			f.Close()
		}
	}
	return nil
}

// place moves the temporary file tmp to path: a rename with replace;
// otherwise a hard link, which fails if path exists (even as a dangling
// symbolic link), falling back to a rename after a check where the file
// system has no hard links (FAT on removable media for the root key).
func place(tmp, path string, replace bool) error {
	if replace {
		return os.Rename(tmp, path)
	}
	err := os.Link(tmp, path)
	if err == nil {
		return nil
	}
	if _, lerr := os.Lstat(path); lerr == nil || errors.Is(err, os.ErrExist) {
		return fmt.Errorf("%w (use force to replace it)", ErrExists)
	}
	return os.Rename(tmp, path)
}

func certificatesPEM(certs ...*x509.Certificate) []byte {
	var b []byte
	for _, c := range certs {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return b
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

// WriteKey writes key encrypted with password (mode 0600 whatever the
// umask) to a synced file beside path, renamed over path (over the file a
// symbolic link at path names): readers see the old key or the new one.
func WriteKey(path string, key crypto.Signer, password []byte) error {
	b, err := MarshalEncryptedPKCS8(key, password)
	if err != nil {
		return err
	}
	if err := writeAll([]output{{path, b, 0o600}}, true); err != nil {
		return fmt.Errorf("couldn't write key: %w", err)
	}
	return nil
}

// WriteCertificates writes certificates as PEM (mode 0644), replacing
// path atomically as WriteKey does.
func WriteCertificates(path string, certs ...*x509.Certificate) error {
	if err := writeAll([]output{{path, certificatesPEM(certs...), 0o644}}, true); err != nil {
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
