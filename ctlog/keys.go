package ctlog

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// loadOrCreateKey reads the log key from path. When the file does not
// exist and create is true it generates an ECDSA P-256 key and writes it
// there as PKCS#8 PEM with mode 0600, never replacing a file that appeared
// meanwhile.
func loadOrCreateKey(path string, create bool) (*ecdsa.PrivateKey, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && create {
		return createKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("couldn't read log key: %w", err)
	}
	return parseKey(raw)
}

// parseKey parses a PEM ECDSA P-256 private key: PKCS#8 ("PRIVATE KEY")
// or SEC 1 ("EC PRIVATE KEY").
func parseKey(raw []byte) (*ecdsa.PrivateKey, error) {
	block, _ := pem.Decode(raw)
	if block == nil {
		return nil, errors.New("couldn't parse log key: no PEM block")
	}
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("couldn't parse log key: PEM type %q, want PRIVATE KEY or EC PRIVATE KEY", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("couldn't parse log key: %w", err)
	}
	k, ok := key.(*ecdsa.PrivateKey)
	if !ok || k.Curve != elliptic.P256() {
		return nil, errors.New("couldn't parse log key: the CT log key must be ECDSA P-256")
	}
	return k, nil
}

func createKey(path string) (*ecdsa.PrivateKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("couldn't generate log key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("couldn't encode log key: %w", err)
	}
	if err := writeExclusive(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		if errors.Is(err, fs.ErrExist) {
			// Another process created it first: use that one.
			return loadOrCreateKey(path, false)
		}
		return nil, fmt.Errorf("couldn't write log key: %w", err)
	}
	return k, nil
}

// writeExclusive durably creates path with data: a synced temporary file
// linked into place (failing with fs.ErrExist when path exists), then the
// directory synced.
func writeExclusive(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// identity is DataDir/ctlog.json: what the data directory belongs to.
type identity struct {
	Origin string    `json:"origin"`
	LogID  string    `json:"log_id"` // hex SHA-256 of the DER public key
	Start  time.Time `json:"start"`  // when the log was created: the start of its validity
}

// checkIdentity reads DataDir/ctlog.json, or writes it for a new log, and
// refuses a data directory that belongs to another origin or key: its
// checkpoints would be signed under two identities.
func checkIdentity(dir, origin string, logID [32]byte, now time.Time) (*identity, error) {
	path := filepath.Join(dir, "ctlog.json")
	want := identity{Origin: origin, LogID: hex.EncodeToString(logID[:]), Start: now.UTC().Truncate(time.Second)}
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		data, err := json.MarshalIndent(want, "", "  ")
		if err != nil {
			return nil, err
		}
		if err := writeExclusive(path, append(data, '\n'), 0o644); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("couldn't write %s: %w", path, err)
		} else if err == nil {
			return &want, nil
		}
		if raw, err = os.ReadFile(path); err != nil {
			return nil, fmt.Errorf("couldn't read %s: %w", path, err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("couldn't read %s: %w", path, err)
	}
	var got identity
	if err := json.Unmarshal(raw, &got); err != nil {
		return nil, fmt.Errorf("couldn't parse %s: %w", path, err)
	}
	if got.Origin != want.Origin || got.LogID != want.LogID {
		return nil, fmt.Errorf("couldn't open CT log: data directory %s belongs to the log %q with key %s, not %q with key %s; use the key and public URL it was created with, or another data directory",
			dir, got.Origin, got.LogID, want.Origin, want.LogID)
	}
	if got.Start.IsZero() {
		return nil, fmt.Errorf("couldn't parse %s: no start time", path)
	}
	return &got, nil
}
