// Package fsutil holds file-system primitives the services share: atomic
// file replacement (keys, state, TUF metadata) and a directory lock.
package fsutil

import (
	"errors"
	"fmt"
	"io"
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
	tmp, err := WriteTemp(path, data, perm, sync)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
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

// WriteTemp writes data (mode perm, whatever the umask) to a new temporary
// file beside path, synced if sync, and returns its name, for the caller
// to move into place. On an error it leaves no file.
func WriteTemp(path string, data []byte, perm os.FileMode, sync bool) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return "", fmt.Errorf("couldn't write %s: %w", path, err)
	}
	name := f.Name()
	err = f.Chmod(perm)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil && sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
		return "", fmt.Errorf("couldn't write %s: %w", path, err)
	}
	return name, nil
}

// ErrTooLarge is returned by ReadFileMax for a file over its bound.
var ErrTooLarge = errors.New("file too large")

// ReadFileMax reads a file of at most max bytes: a wrong path to an
// endless or huge file (/dev/zero, a disk image) fails with ErrTooLarge
// instead of exhausting memory.
func ReadFileMax(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s: %w (larger than %d bytes)", path, ErrTooLarge, max)
	}
	return b, nil
}
