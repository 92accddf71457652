//go:build unix

package gitsign

import (
	"fmt"
	"os"
	"syscall"
)

// checkPrivate refuses a path that is a symbolic link, of the wrong kind,
// not owned by the user, or open to the group or others.
func checkPrivate(path string, dir bool) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	switch {
	case dir && !fi.IsDir(), !dir && !fi.Mode().IsRegular():
		return fmt.Errorf("%w: %s is not a plain %s", ErrCacheUnsafe, path, map[bool]string{true: "directory", false: "file"}[dir])
	case fi.Mode().Perm()&0o077 != 0:
		return fmt.Errorf("%w: %s has mode %04o (want no group or other access)", ErrCacheUnsafe, path, fi.Mode().Perm())
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Getuid() {
		return fmt.Errorf("%w: %s belongs to user %d", ErrCacheUnsafe, path, st.Uid)
	}
	return nil
}
