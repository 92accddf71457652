//go:build !unix

package fsutil

import "sync"

var dirLock sync.Mutex

// Lock serializes repository changes within the process; other
// processes are not excluded on this platform.
func Lock(string) (func(), error) {
	dirLock.Lock()
	return dirLock.Unlock, nil
}

// TryLock excludes nothing on this platform.
func TryLock(string) (func(), error) { return func() {}, nil }
