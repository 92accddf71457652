//go:build !unix

package gitsign

import (
	"fmt"
	"os"
)

// checkPrivate refuses a path that is a symbolic link or of the wrong
// kind; other systems' permissions are left to the user cache directory.
func checkPrivate(path string, dir bool) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if dir && !fi.IsDir() || !dir && !fi.Mode().IsRegular() {
		return fmt.Errorf("%w: %s is not a plain file or directory", ErrCacheUnsafe, path)
	}
	return nil
}
