// Package fsutil holds file-system primitives the services share: atomic
// file replacement (keys, state, TUF metadata) and a directory lock.
package fsutil

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrLocked is returned by TryLock when another process holds the lock.
var ErrLocked = errors.New("another process (a running server?) is using it")

// WriteFileAtomic writes data to path through a synced temporary file in
// the same directory, renamed over path: readers (a web server, a client of
// the mirror, a concurrent sigil process) see the old file or the new one,
// never a part.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	return writeFile(path, data, perm, true)
}

// ReplaceFile is WriteFileAtomic without syncing: after a crash the file
// may be the old one or empty. For caches and other data that can be
// fetched or computed again.
func ReplaceFile(path string, data []byte, perm os.FileMode) error {
	return writeFile(path, data, perm, false)
}

func writeFile(path string, data []byte, perm os.FileMode, sync bool) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("couldn't write %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return fmt.Errorf("couldn't write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("couldn't write %s: %w", path, err)
	}
	if sync {
		if err := f.Sync(); err != nil {
			f.Close()
			return fmt.Errorf("couldn't write %s: %w", path, err)
		}
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("couldn't write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("couldn't write %s: %w", path, err)
	}
	if !sync {
		return nil
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
