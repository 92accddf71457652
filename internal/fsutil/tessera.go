package fsutil

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
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

// tesseraTreeState is the driver's record of the integrated tree (its
// size and root); tesseraPublished are what it publishes from it.
const tesseraTreeState = ".state/treeState"

var tesseraPublished = []string{"checkpoint", "tile"}

// CheckTesseraPOSIXOpen is CheckTesseraPOSIX for a log about to be
// opened: a log the driver has not created yet passes (the driver reports
// a directory it cannot create as an error). A log directory that holds a
// published checkpoint or tiles but no tree state is refused: the driver
// takes a missing tree state for a new log, so it would start the log
// over at size 0, publish an empty checkpoint over the log's and hand out
// indices already in use, a fork of the log.
func CheckTesseraPOSIXOpen(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, tesseraTreeState)); errors.Is(err, fs.ErrNotExist) {
		for _, name := range tesseraPublished {
			if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
				return fmt.Errorf("the log in %s has a %s but no %s, the state of its tree: restore the log's .state directory from the backup of this data directory (a copy without hidden files misses it); without it the log would start over at index 0 and fork", dir, name, tesseraTreeState)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, filepath.Dir(tesseraBatchLock))); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return CheckTesseraPOSIX(dir)
}

// probeSize is what ProbeTesseraPOSIX writes: about what a batch of a
// few hundred entries takes (entry bundle, tiles, tree state).
const probeSize = 256 << 10

// ProbeTesseraPOSIX is CheckTesseraPOSIX and a write of probeSize bytes
// in the log's state directory (ProbeWrite): a full disk fails it too.
func ProbeTesseraPOSIX(dir string) error {
	if err := CheckTesseraPOSIX(dir); err != nil {
		return err
	}
	return ProbeWrite(filepath.Join(dir, filepath.Dir(tesseraBatchLock)), probeSize)
}

// ProbeWrite checks that dir takes writes: it writes size bytes to a new
// file in dir, syncs it and removes it.
func ProbeWrite(dir string, size int) error {
	f, err := os.CreateTemp(dir, ".probe.tmp*")
	if err != nil {
		return fmt.Errorf("couldn't write in %s: %w", dir, err)
	}
	defer os.Remove(f.Name())
	_, err = f.Write(make([]byte, size))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("couldn't write in %s: %w", dir, err)
	}
	return nil
}

// Recovery tells a service whose storage writes failed whether the
// storage takes writes again, without a write of its own: a service that
// reports itself unready until its next successful write would never get
// one once a load balancer stops sending it writes.
type Recovery struct {
	// Probe checks the storage (e.g. ProbeTesseraPOSIX); nil: no probe.
	Probe func() error

	mu  sync.Mutex
	at  time.Time // when Probe last ran
	err error     // its outcome
}

// probeEvery bounds how often Recovery probes.
const probeEvery = time.Second

// Since reports whether a probe run after failed, the time of the newest
// failed write, succeeded. It probes again when the newest probe is
// older than failed or a second old.
func (r *Recovery) Since(failed time.Time) bool {
	if r == nil || r.Probe == nil {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if now := time.Now(); r.at.Before(failed) || now.Sub(r.at) >= probeEvery {
		r.at, r.err = now, r.Probe()
	}
	return r.err == nil
}
