// Package index is what the Rekor v1 personality of the transparency log
// keeps beside the Merkle tree: for every entry its tree index, its leaf hash
// (the v1 entry UUID) and its integrated time, and the search keys behind
// POST /api/v1/index/retrieve (sigstore/rekor openapi.yaml searchIndex).
//
// The tree itself (entries, tiles, checkpoints) lives in Tessera storage;
// nothing here is needed to verify the log, and all of it but the integrated
// times can be rebuilt from the tree. Integrated times are signed into SETs
// handed to clients, so a Store MUST make a Put durable before it returns.
//
// SQLite (modernc.org/sqlite, no cgo) is the embedded implementation; the
// Store interface is small enough for PostgreSQL to implement with the same
// schema.
package index

import (
	"context"
	"errors"
)

// ErrNotFound is returned when no record matches.
var ErrNotFound = errors.New("index: not found")

// Record is what the index keeps about one log entry.
type Record struct {
	// Index is the entry's index in the tree.
	Index uint64
	// LeafHash is the RFC 6962 leaf hash of the canonical body; its hex
	// encoding is the Rekor v1 entry UUID.
	LeafHash [32]byte
	// IntegratedTime is the Unix time the log assigned the index; it is
	// signed into the entry's SET.
	IntegratedTime int64
	// Keys are the search keys (lower-case): key hashes, subjects,
	// "<alg>:<hex digest>" (sigstore/rekor pkg/types/*/IndexKeys).
	Keys []string
}

// Store is the v1 personality's index. Implementations are safe for
// concurrent use.
type Store interface {
	// Put records entries. When it returns nil every record is durable.
	// Putting a record whose index is already recorded is a no-op.
	Put(ctx context.Context, recs []Record) error
	// ByLeafHash returns the record of the lowest index with this leaf
	// hash, or ErrNotFound.
	ByLeafHash(ctx context.Context, leaf [32]byte) (Record, error)
	// ByIndex returns the record of a tree index, or ErrNotFound.
	ByIndex(ctx context.Context, index uint64) (Record, error)
	// Search returns the records matching any (all=false) or every
	// (all=true) key, newest (highest index) first, at most limit of
	// them: the newest limit, as Rekor's index answers newest first
	// (sigstore/rekor pkg/indexstorage/redis: WriteIndex LPUSHes each
	// entry onto its keys' lists, LookupIndices reads them with LRANGE 0
	// -1). Keys are matched exactly; callers lower-case them.
	Search(ctx context.Context, keys []string, all bool, limit int) ([]Record, error)
	// EachLeaf calls fn with the leaf hash of every record, in no
	// particular order (to build an in-memory filter at start-up).
	EachLeaf(ctx context.Context, fn func(leaf [32]byte)) error
	// Missing returns the indices in [from, to) that have no record, in
	// increasing order (to rebuild records after a crash).
	Missing(ctx context.Context, from, to uint64) ([]uint64, error)
	// Watermark returns the index below which every entry is known to
	// have a record, as last set by SetWatermark.
	Watermark(ctx context.Context) (uint64, error)
	// SetWatermark records that every index below w has a record.
	SetWatermark(ctx context.Context, w uint64) error
	// Close flushes and releases the store.
	Close() error
}

// AsyncPutter is implemented by a Store that can report the end of a Put
// by calling back instead of blocking its caller (the log answers a group
// of writes from that callback, sparing a goroutine switch per group).
type AsyncPutter interface {
	// PutAsync is Put: it calls done exactly once, with nil when every
	// record is durable. done runs on a goroutine of the store and must
	// not block. PutAsync may wait while the store's queue is full.
	PutAsync(recs []Record, done func(error))
}
