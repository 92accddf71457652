package fsutil

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// tesseraBatchLock is the file Tessera's POSIX driver opens (creating it)
// and locks for every batch it writes, and when it opens a log.
const tesseraBatchLock = ".state/treeState.lock"

// CheckTesseraPOSIX reports whether Tessera's POSIX driver can take a
// batch for the log in dir. It opens the driver's batch lock file as the
// driver does: the driver panics when that open fails (a file system
// remounted read-only, the file made immutable), which ends the whole
// process, so callers check first and fail the batch instead.
func CheckTesseraPOSIX(dir string) error {
	p := filepath.Join(dir, tesseraBatchLock)
	f, err := os.OpenFile(p, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("couldn't open the log's batch lock: %w", err)
	}
	f.Close()
	return nil
}

// CheckTesseraPOSIXOpen is CheckTesseraPOSIX for a log about to be
// opened: a log the driver has not created yet passes (the driver reports
// a directory it cannot create as an error).
func CheckTesseraPOSIXOpen(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, filepath.Dir(tesseraBatchLock))); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return CheckTesseraPOSIX(dir)
}
