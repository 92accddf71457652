//go:build unix

package connlimit

import "syscall"

// openFileLimit returns the soft RLIMIT_NOFILE, or 0 when unknown or
// unlimited.
func openFileLimit() int {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil || r.Cur > 1<<30 {
		return 0
	}
	return int(r.Cur)
}
