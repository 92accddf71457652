package ctlog

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// issuerStore keeps the issuer certificates the data tiles refer to, at
// DataDir/log/issuer/<lowercase hex SHA-256> (c2sp.org/static-ct-api
// "Issuers"). An issuer is durably written before any entry naming it is
// sequenced. It is safe for concurrent use.
type issuerStore struct {
	dir    string
	mu     sync.Mutex
	stored sync.Map // [32]byte → struct{}
}

func newIssuerStore(dir string) (*issuerStore, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("couldn't create issuer directory: %w", err)
	}
	s := &issuerStore{dir: dir}
	names, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("couldn't list issuer directory: %w", err)
	}
	for _, n := range names {
		b, err := hex.DecodeString(n.Name())
		if err != nil || len(b) != sha256.Size || n.IsDir() {
			continue // a temporary file or something else
		}
		s.stored.Store([32]byte(b), struct{}{})
	}
	return s, nil
}

// add stores certificates whose fingerprints are fps, unless stored.
func (s *issuerStore) add(certs []*x509.Certificate, fps [][32]byte) error {
	for i, c := range certs {
		if _, ok := s.stored.Load(fps[i]); ok {
			continue
		}
		if err := s.write(fps[i], c.Raw); err != nil {
			return err
		}
	}
	return nil
}

func (s *issuerStore) write(fp [32]byte, der []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.stored.Load(fp); ok {
		return nil
	}
	path := filepath.Join(s.dir, hex.EncodeToString(fp[:]))
	err := writeExclusive(path, der, 0o644)
	if errors.Is(err, fs.ErrExist) {
		// Written before this process knew: it must hold the same bytes.
		old, rerr := os.ReadFile(path)
		if rerr != nil {
			return fmt.Errorf("couldn't read issuer %x: %w", fp, rerr)
		}
		if !bytes.Equal(old, der) {
			return fmt.Errorf("couldn't store issuer %x: a different file is in its place", fp)
		}
		err = nil
	}
	if err != nil {
		return fmt.Errorf("couldn't store issuer %x: %w", fp, err)
	}
	s.stored.Store(fp, struct{}{})
	return nil
}
