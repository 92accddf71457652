package index

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver
)

// Schema of the SQLite store (also the reference for a PostgreSQL one):
//
//	v1_entries(idx INTEGER PRIMARY KEY, leaf BLOB, itime INTEGER, leafp INTEGER)  -- one row per tree index
//	v1_search(k INTEGER, idx INTEGER, PRIMARY KEY(k, idx))                          -- search keys
//	meta(k TEXT PRIMARY KEY, v TEXT)                                                -- watermark
//
// Random-order indexes are kept on 64-bit integers, which SQLite inserts
// and compares several times faster than text or blobs: leafp is the first
// eight bytes of the leaf hash (lookups compare the whole hash), and a
// search key is stored as the first eight bytes of its SHA-256 (two
// different keys collide with probability 2^-64; the search API is
// best-effort). Leaf hashes are not unique: should the same body ever be
// logged twice, both indices keep a record and lookups by UUID return the
// lower one.
const schema = `
CREATE TABLE IF NOT EXISTS v1_entries (
	idx   INTEGER PRIMARY KEY,
	leaf  BLOB    NOT NULL,
	itime INTEGER NOT NULL,
	leafp INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS v1_entries_leafp ON v1_entries(leafp);
CREATE TABLE IF NOT EXISTS v1_search (
	k   INTEGER NOT NULL,
	idx INTEGER NOT NULL,
	PRIMARY KEY (k, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (
	k TEXT PRIMARY KEY,
	v TEXT NOT NULL
);
`

func leafPrefix(leaf []byte) int64 { return int64(binary.BigEndian.Uint64(leaf[:8])) }

func keyHash(key string) int64 {
	s := sha256.Sum256([]byte(key))
	return int64(binary.BigEndian.Uint64(s[:8]))
}

// ErrClosed is returned by a Store that has been closed.
var ErrClosed = errors.New("index: store closed")

// maxBatch bounds how many records one group commit writes.
const maxBatch = 4096

// SQLite is a Store in an SQLite database file, in WAL mode with
// synchronous=FULL: a Put returns after its transaction's WAL frames are
// fsync'd. Concurrent Puts are group-committed by a single writer, so the
// cost of an fsync is shared by every entry that arrived meanwhile.
type SQLite struct {
	w, r *sql.DB // the writer (one connection) and the readers

	byLeaf, byIndex *sql.Stmt // on the readers

	queue     chan *putReq
	closing   chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
}

type putReq struct {
	recs []Record
	err  chan error
}

// OpenSQLite opens (creating if needed) the store in the database file at
// path.
func OpenSQLite(path string) (*SQLite, error) {
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "synchronous(FULL)", "busy_timeout(10000)", "foreign_keys(OFF)"} {
		q.Add("_pragma", p)
	}
	dsn := "file:" + path + "?" + q.Encode()
	w, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("couldn't open index database: %w", err)
	}
	w.SetMaxOpenConns(1)
	if _, err := w.Exec(schema); err != nil {
		w.Close()
		return nil, fmt.Errorf("couldn't create index schema: %w", err)
	}
	r, err := sql.Open("sqlite", dsn)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("couldn't open index database: %w", err)
	}
	r.SetMaxOpenConns(4)
	r.SetMaxIdleConns(4)
	s := &SQLite{w: w, r: r, queue: make(chan *putReq, 1024), closing: make(chan struct{}), done: make(chan struct{})}
	if s.byLeaf, err = r.Prepare(`SELECT idx, leaf, itime FROM v1_entries WHERE leafp = ? ORDER BY idx`); err == nil {
		s.byIndex, err = r.Prepare(`SELECT idx, leaf, itime FROM v1_entries WHERE idx = ?`)
	}
	if err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("couldn't prepare index statements: %w", err)
	}
	go s.writer()
	return s, nil
}

// Put implements Store.
func (s *SQLite) Put(ctx context.Context, recs []Record) error {
	if len(recs) == 0 {
		return nil
	}
	req := &putReq{recs: recs, err: make(chan error, 1)}
	select {
	case s.queue <- req:
	case <-s.closing:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-req.err:
		return err
	case <-s.done:
		// The writer has stopped; it may have taken req before.
		select {
		case err := <-req.err:
			return err
		default:
			return ErrClosed
		}
	case <-ctx.Done():
		// The records may still be written; that is harmless.
		return ctx.Err()
	}
}

// writer commits queued Puts in batches until the store closes; queued
// Puts are still written when Close is called.
func (s *SQLite) writer() {
	defer close(s.done)
	for {
		var first *putReq
		select {
		case first = <-s.queue:
		case <-s.closing:
			// Drain what was queued before Close.
			for {
				select {
				case req := <-s.queue:
					req.err <- s.commit([]*putReq{req})
				default:
					return
				}
			}
		}
		batch := []*putReq{first}
		n := len(first.recs)
	more:
		for n < maxBatch {
			select {
			case req := <-s.queue:
				batch = append(batch, req)
				n += len(req.recs)
			default:
				break more
			}
		}
		err := s.commit(batch)
		for _, req := range batch {
			req.err <- err
		}
	}
}

// rowsPerInsert bounds the rows of one multi-row INSERT (4 or 2 bound
// variables a row, well under SQLite's limit of 32766).
const rowsPerInsert = 500

func (s *SQLite) commit(batch []*putReq) error {
	tx, err := s.w.Begin()
	if err != nil {
		return fmt.Errorf("couldn't begin index transaction: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	var entries, keys []any
	flush := func(force bool) error {
		if n := len(entries) / 4; n > 0 && (force || n >= rowsPerInsert) {
			q := `INSERT INTO v1_entries(idx, leaf, itime, leafp) VALUES (?, ?, ?, ?)` + strings.Repeat(`, (?, ?, ?, ?)`, n-1) + ` ON CONFLICT(idx) DO NOTHING`
			if _, err := tx.Exec(q, entries...); err != nil {
				return fmt.Errorf("couldn't record entries: %w", err)
			}
			entries = entries[:0]
		}
		if n := len(keys) / 2; n > 0 && (force || n >= rowsPerInsert) {
			q := `INSERT INTO v1_search(k, idx) VALUES (?, ?)` + strings.Repeat(`, (?, ?)`, n-1) + ` ON CONFLICT DO NOTHING`
			if _, err := tx.Exec(q, keys...); err != nil {
				return fmt.Errorf("couldn't record search keys: %w", err)
			}
			keys = keys[:0]
		}
		return nil
	}
	for _, req := range batch {
		for _, r := range req.recs {
			entries = append(entries, int64(r.Index), r.LeafHash[:], r.IntegratedTime, leafPrefix(r.LeafHash[:]))
			for _, k := range r.Keys {
				keys = append(keys, keyHash(k), int64(r.Index))
			}
			if err := flush(false); err != nil {
				return err
			}
		}
	}
	if err := flush(true); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("couldn't commit index transaction: %w", err)
	}
	return nil
}

func scanRecord(row interface{ Scan(...any) error }) (Record, error) {
	var (
		r    Record
		idx  int64
		leaf []byte
	)
	if err := row.Scan(&idx, &leaf, &r.IntegratedTime); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return Record{}, ErrNotFound
		}
		return Record{}, fmt.Errorf("couldn't read index record: %w", err)
	}
	if len(leaf) != len(r.LeafHash) || idx < 0 {
		return Record{}, fmt.Errorf("couldn't read index record: corrupt row for index %d", idx)
	}
	r.Index = uint64(idx)
	copy(r.LeafHash[:], leaf)
	return r, nil
}

// ByLeafHash implements Store.
func (s *SQLite) ByLeafHash(ctx context.Context, leaf [32]byte) (Record, error) {
	rows, err := s.byLeaf.QueryContext(ctx, leafPrefix(leaf[:]))
	if err != nil {
		return Record{}, fmt.Errorf("couldn't read index: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return Record{}, err
		}
		if r.LeafHash == leaf {
			return r, nil
		}
	}
	if err := rows.Err(); err != nil {
		return Record{}, fmt.Errorf("couldn't read index: %w", err)
	}
	return Record{}, ErrNotFound
}

// ByIndex implements Store.
func (s *SQLite) ByIndex(ctx context.Context, index uint64) (Record, error) {
	if index > 1<<62 {
		return Record{}, ErrNotFound
	}
	return scanRecord(s.byIndex.QueryRowContext(ctx, int64(index)))
}

// Search implements Store.
func (s *SQLite) Search(ctx context.Context, keys []string, all bool, limit int) ([]Record, error) {
	uniq := map[int64]bool{}
	args := []any{}
	for _, k := range keys {
		if h := keyHash(k); !uniq[h] {
			uniq[h] = true
			args = append(args, h)
		}
	}
	if len(args) == 0 || limit <= 0 {
		return nil, nil
	}
	in := "?" + strings.Repeat(",?", len(args)-1)
	q := `SELECT e.idx, e.leaf, e.itime FROM v1_entries e WHERE e.idx IN (SELECT idx FROM v1_search WHERE k IN (` + in + `)`
	if all {
		q += ` GROUP BY idx HAVING COUNT(*) = ` + strconv.Itoa(len(args))
	}
	q += `) ORDER BY e.idx LIMIT ` + strconv.Itoa(limit)
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("couldn't search index: %w", err)
	}
	defer rows.Close()
	var out []Record
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("couldn't search index: %w", err)
	}
	return out, nil
}

// EachLeaf implements Store.
func (s *SQLite) EachLeaf(ctx context.Context, fn func(leaf [32]byte)) error {
	rows, err := s.r.QueryContext(ctx, `SELECT leaf FROM v1_entries`)
	if err != nil {
		return fmt.Errorf("couldn't scan index: %w", err)
	}
	defer rows.Close()
	var leaf [32]byte
	var b []byte
	for rows.Next() {
		if err := rows.Scan(&b); err != nil {
			return fmt.Errorf("couldn't scan index: %w", err)
		}
		if len(b) != len(leaf) {
			return errors.New("couldn't scan index: corrupt leaf hash")
		}
		copy(leaf[:], b)
		fn(leaf)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("couldn't scan index: %w", err)
	}
	return nil
}

// Missing implements Store.
func (s *SQLite) Missing(ctx context.Context, from, to uint64) ([]uint64, error) {
	if from >= to {
		return nil, nil
	}
	rows, err := s.r.QueryContext(ctx, `SELECT idx FROM v1_entries WHERE idx >= ? AND idx < ? ORDER BY idx`, int64(from), int64(to))
	if err != nil {
		return nil, fmt.Errorf("couldn't scan index: %w", err)
	}
	defer rows.Close()
	var out []uint64
	next := from
	for rows.Next() {
		var idx int64
		if err := rows.Scan(&idx); err != nil {
			return nil, fmt.Errorf("couldn't scan index: %w", err)
		}
		for ; next < uint64(idx); next++ {
			out = append(out, next)
		}
		next = uint64(idx) + 1
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("couldn't scan index: %w", err)
	}
	for ; next < to; next++ {
		out = append(out, next)
	}
	return out, nil
}

// Watermark implements Store.
func (s *SQLite) Watermark(ctx context.Context) (uint64, error) {
	var v string
	err := s.r.QueryRowContext(ctx, `SELECT v FROM meta WHERE k = 'v1_watermark'`).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("couldn't read index watermark: %w", err)
	}
	w, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("couldn't read index watermark: %w", err)
	}
	return w, nil
}

// SetWatermark implements Store.
func (s *SQLite) SetWatermark(ctx context.Context, w uint64) error {
	if _, err := s.w.ExecContext(ctx, `INSERT INTO meta(k, v) VALUES('v1_watermark', ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v`, strconv.FormatUint(w, 10)); err != nil {
		return fmt.Errorf("couldn't write index watermark: %w", err)
	}
	return nil
}

// Close implements Store: it writes what was queued, then closes the
// database.
func (s *SQLite) Close() error {
	s.closeOnce.Do(func() {
		close(s.closing)
		<-s.done
		if err := errors.Join(s.byLeaf.Close(), s.byIndex.Close(), s.r.Close(), s.w.Close()); err != nil {
			s.closeErr = fmt.Errorf("couldn't close index database: %w", err)
		}
	})
	return s.closeErr
}
