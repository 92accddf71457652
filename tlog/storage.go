package tlog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/client"
	"github.com/transparency-dev/tessera/storage/posix"

	"sigil.dev/sigil/checkpoint"
	"sigil.dev/sigil/internal/fsutil"
)

// Storage opens the Tessera storage of one log. The personalities only use
// tessera.Appender and tessera.LogReader, so any Tessera driver can back a
// log: POSIX (the default), or the AWS (MySQL + S3) and GCP (Spanner + GCS)
// drivers of transparency-dev/tessera/storage/{aws,gcp} for deployments
// that outgrow one machine.
type Storage interface {
	// Appender opens log name ("v1" or "v2") for appending, as
	// tessera.NewAppender does with the driver's storage.
	Appender(ctx context.Context, name string, opts *tessera.AppendOptions) (*tessera.Appender, func(context.Context) error, tessera.LogReader, error)
	// Reader opens log name for reading only (a frozen log). It must not
	// write anything.
	Reader(ctx context.Context, name string) (tessera.LogReader, error)
	// MinCheckpointInterval is the smallest checkpoint interval the
	// driver supports.
	MinCheckpointInterval() time.Duration
}

// writeChecker is a Storage that can tell, before a batch is handed to
// its appender, whether the batch can be written at all, and probe,
// after writes failed, whether it takes writes again.
type writeChecker interface {
	checkWritable(name string) error
	probeWritable(name string) error
}

// POSIX stores each log in a directory under Dir, with Tessera's POSIX
// driver: fsync'd files written by temp-file and rename, laid out as C2SP
// tlog-tiles (checkpoint, tile/, tile/entries/) so the directory can also be
// served by any static web server.
type POSIX struct{ Dir string }

// MinCheckpointInterval implements Storage (Tessera's POSIX minimum).
func (POSIX) MinCheckpointInterval() time.Duration { return 100 * time.Millisecond }

// Appender implements Storage.
func (p POSIX) Appender(ctx context.Context, name string, opts *tessera.AppendOptions) (*tessera.Appender, func(context.Context) error, tessera.LogReader, error) {
	dir := filepath.Join(p.Dir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, nil, fmt.Errorf("couldn't create log directory: %w", err)
	}
	// The driver panics when it cannot open its lock file.
	if err := fsutil.CheckTesseraPOSIXOpen(dir); err != nil {
		return nil, nil, nil, fmt.Errorf("couldn't open POSIX storage %s: %w", dir, err)
	}
	d, err := posix.New(ctx, posix.Config{Path: dir})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("couldn't open POSIX storage %s: %w", dir, err)
	}
	return tessera.NewAppender(ctx, d, opts)
}

// checkWritable implements writeChecker.
func (p POSIX) checkWritable(name string) error {
	return fsutil.CheckTesseraPOSIX(filepath.Join(p.Dir, name))
}

// probeWritable implements writeChecker.
func (p POSIX) probeWritable(name string) error {
	return fsutil.ProbeTesseraPOSIX(filepath.Join(p.Dir, name))
}

// Reader implements Storage.
func (p POSIX) Reader(_ context.Context, name string) (tessera.LogReader, error) {
	dir := filepath.Join(p.Dir, name)
	if _, err := os.Stat(filepath.Join(dir, "checkpoint")); err != nil {
		return nil, fmt.Errorf("couldn't open frozen log %s: %w", dir, err)
	}
	return fileReader{client.FileFetcher{Root: dir}}, nil
}

// fileReader is a read-only tessera.LogReader over a POSIX log directory.
type fileReader struct{ f client.FileFetcher }

func (r fileReader) ReadCheckpoint(ctx context.Context) ([]byte, error) {
	return r.f.ReadCheckpoint(ctx)
}

// ReadTile and ReadEntryBundle fall back to the full resource when a
// partial one was garbage-collected (client.FileFetcher does).
func (r fileReader) ReadTile(ctx context.Context, level, index uint64, p uint8) ([]byte, error) {
	return r.f.ReadTile(ctx, level, index, p)
}

func (r fileReader) ReadEntryBundle(ctx context.Context, index uint64, p uint8) ([]byte, error) {
	return r.f.ReadEntryBundle(ctx, index, p)
}

// IntegratedSize of a frozen log is the size of the tree Tessera
// integrated (its .state/treeState), which is ahead of the published
// checkpoint when the writer stopped without publishing: the log signs a
// checkpoint per group of writes and Tessera publishes one every
// CheckpointInterval, so after a crash acknowledged entries may lie beyond
// the published size. A directory without the state (a copy of the public
// files) has its published size.
func (r fileReader) IntegratedSize(ctx context.Context) (uint64, error) {
	raw, err := r.f.ReadCheckpoint(ctx)
	if err != nil {
		return 0, err
	}
	text, ok := checkpoint.Split(raw)
	if !ok {
		return 0, fmt.Errorf("couldn't parse checkpoint: %w", checkpoint.ErrMalformed)
	}
	c, err := checkpoint.Parse(text)
	if err != nil {
		return 0, err
	}
	st, err := os.ReadFile(filepath.Join(r.f.Root, ".state", "treeState"))
	if errors.Is(err, os.ErrNotExist) {
		return c.Size, nil
	}
	if err != nil {
		return 0, fmt.Errorf("couldn't read the tree state: %w", err)
	}
	var ts struct {
		Size *uint64 `json:"size"`
	}
	if err := json.Unmarshal(st, &ts); err != nil || ts.Size == nil {
		return 0, fmt.Errorf("couldn't read the tree state: malformed %s", filepath.Join(r.f.Root, ".state", "treeState"))
	}
	return max(*ts.Size, c.Size), nil
}

func (r fileReader) NextIndex(ctx context.Context) (uint64, error) { return r.IntegratedSize(ctx) }
