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
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver
)

// Schema of the SQLite store (also the reference for a PostgreSQL one):
//
//	v1_entries(idx INTEGER PRIMARY KEY, leaf BLOB, itime INTEGER, leafp INTEGER, keys TEXT)  -- one row per tree index
//	v1_pending(idx INTEGER PRIMARY KEY, leafp INTEGER)                                       -- rows not yet in v1_leaf and v1_search
//	v1_leaf(leafp INTEGER, idx INTEGER, PRIMARY KEY(leafp, idx))                              -- lookups by leaf hash
//	v1_search(k INTEGER, idx INTEGER, PRIMARY KEY(k, idx))                                    -- search keys
//	meta(k TEXT PRIMARY KEY, v TEXT)                                                         -- watermark
//
// Random-order indexes are kept on 64-bit integers, which SQLite inserts
// and compares several times faster than text or blobs: leafp is the first
// eight bytes of the leaf hash (lookups compare the whole hash), and a
// search key is stored as the first eight bytes of its SHA-256 (two
// different keys collide with probability 2^-64; the search API is
// best-effort). Leaf hashes are not unique: should the same body ever be
// logged twice, both indices keep a record and lookups by UUID return the
// lower one.
//
// A Put writes, in one transaction made durable before it returns, the
// entries' rows, with their search key hashes as a JSON array (keys), and
// by trigger their v1_pending rows: rows appended in index order, a few
// pages for a group of writes. The two lookup tables, where every entry
// lands on pages of its own, are filled later by the same writer from the
// pending rows, by chunks of entries (see indexing), which removes the
// pending rows it indexed: a crash loses nothing (the pending rows are
// indexed after the restart). Lookups by leaf hash also scan the pending
// rows (about a chunk of them at most, a few pages), so they see every Put
// that returned; a Search first indexes every pending row.
//
// Databases written before v1_pending existed had the leafp index on
// v1_entries and their search rows in place; opening one moves the leafp
// index into v1_leaf once.
const schema = `
CREATE TABLE IF NOT EXISTS v1_entries (
	idx   INTEGER PRIMARY KEY,
	leaf  BLOB    NOT NULL,
	itime INTEGER NOT NULL,
	leafp INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS v1_leaf (
	leafp INTEGER NOT NULL,
	idx   INTEGER NOT NULL,
	PRIMARY KEY (leafp, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS v1_search (
	k   INTEGER NOT NULL,
	idx INTEGER NOT NULL,
	PRIMARY KEY (k, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS v1_pending (
	idx   INTEGER PRIMARY KEY,
	leafp INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
	k TEXT PRIMARY KEY,
	v TEXT NOT NULL
);
`

// schemaKeys adds the keys column to databases created before it.
const schemaKeys = `ALTER TABLE v1_entries ADD COLUMN keys TEXT`

// schemaLeafIndex moves the leafp index of databases created before
// v1_leaf into it.
const schemaLeafIndex = `
INSERT INTO v1_leaf(leafp, idx) SELECT leafp, idx FROM v1_entries WHERE true ORDER BY 1, 2 ON CONFLICT DO NOTHING;
DROP INDEX v1_entries_leafp;
`

const schemaTrigger = `
CREATE TRIGGER IF NOT EXISTS v1_entries_pending AFTER INSERT ON v1_entries
BEGIN
	INSERT OR IGNORE INTO v1_pending(idx, leafp) VALUES (NEW.idx, NEW.leafp);
END;
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

// indexing is when the writer indexes pending rows: by chunks of chunk
// entries, once that many are pending and no Put came for delay (between
// the group commits of a busy log, whose clients are then being answered,
// so that it uses the time the log waits for its disk); at once when
// backlog are pending; and whatever is pending after idle without Puts.
// Larger chunks cost less per entry (consecutive keys share pages) but
// hold the database longer.
type indexing struct {
	chunk, backlog int
	delay, idle    time.Duration
}

var defaultIndexing = indexing{chunk: 2048, backlog: 4 * 2048, delay: 5 * time.Millisecond, idle: 200 * time.Millisecond}

// SQLite is a Store in an SQLite database file, in WAL mode with
// synchronous=FULL: a Put returns after its transaction's WAL frames are
// fsync'd. Concurrent Puts are group-committed by a single writer, so the
// cost of an fsync is shared by every entry that arrived meanwhile; the
// same writer fills the lookup tables in the background (see schema).
type SQLite struct {
	w, r *sql.DB // the writer (one connection) and the readers

	byLeaf, byIndex *sql.Stmt         // on the readers
	inserts         map[int]*sql.Stmt // on the writer: INSERTs of insertRows[i] rows

	queue     chan *putReq
	queueMu   sync.RWMutex // held to send on queue; locked to close closing
	closing   chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
	pending   int // entries that may be pending (writer only)
	indexing  indexing
}

type putReq struct {
	recs  []Record
	flush bool        // index every pending row (for Search)
	done  func(error) // called once, by the writer
}

// OpenSQLite opens (creating if needed) the store in the database file at
// path.
func OpenSQLite(path string) (*SQLite, error) { return openSQLite(path, defaultIndexing) }

func openSQLite(path string, ix indexing) (*SQLite, error) {
	dsn := func(pragmas ...string) string {
		q := url.Values{}
		for _, p := range append([]string{"journal_mode(WAL)", "synchronous(FULL)", "busy_timeout(10000)", "foreign_keys(OFF)"}, pragmas...) {
			q.Add("_pragma", p)
		}
		return "file:" + path + "?" + q.Encode()
	}
	// The writer: statement journals (multi-row INSERTs inside a
	// transaction need one) stay in memory instead of spilling to a file,
	// and 32 MiB of page cache (2 MiB by default) keep more of the lookup
	// tables it inserts into at random.
	w, err := sql.Open("sqlite", dsn("temp_store(MEMORY)", "cache_size(-32768)"))
	if err != nil {
		return nil, fmt.Errorf("couldn't open index database: %w", err)
	}
	w.SetMaxOpenConns(1)
	if err := migrate(w); err != nil {
		w.Close()
		return nil, err
	}
	r, err := sql.Open("sqlite", dsn())
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("couldn't open index database: %w", err)
	}
	r.SetMaxOpenConns(4)
	r.SetMaxIdleConns(4)
	s := &SQLite{w: w, r: r, queue: make(chan *putReq, 1024), closing: make(chan struct{}), done: make(chan struct{}), indexing: ix}
	if err := w.QueryRow(`SELECT count(*) FROM v1_pending`).Scan(&s.pending); err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("couldn't read index: %w", err)
	}
	// The pending rows are scanned (a few pages).
	s.byLeaf, err = r.Prepare(`SELECT idx, leaf, itime FROM v1_entries WHERE idx IN (
		SELECT idx FROM v1_leaf WHERE leafp = ?1
		UNION ALL
		SELECT idx FROM v1_pending WHERE leafp = ?1
	) ORDER BY idx`)
	if err == nil {
		s.byIndex, err = r.Prepare(`SELECT idx, leaf, itime FROM v1_entries WHERE idx = ?`)
	}
	s.inserts = map[int]*sql.Stmt{}
	for _, n := range insertRows {
		if err != nil {
			break
		}
		s.inserts[n], err = w.Prepare(`INSERT INTO v1_entries(idx, leaf, itime, leafp, keys) VALUES (?, ?, ?, ?, ?)` +
			strings.Repeat(`, (?, ?, ?, ?, ?)`, n-1) + ` ON CONFLICT(idx) DO NOTHING`)
	}
	if err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("couldn't prepare index statements: %w", err)
	}
	go s.writer()
	return s, nil
}

// migrate creates the schema, or brings an older one up to date.
func migrate(db *sql.DB) error {
	if _, err := db.Exec(schema); err != nil {
		return fmt.Errorf("couldn't create index schema: %w", err)
	}
	var keys, leafIndex int
	if err := db.QueryRow(`SELECT count(*) FROM pragma_table_info('v1_entries') WHERE name = 'keys'`).Scan(&keys); err != nil {
		return fmt.Errorf("couldn't read index schema: %w", err)
	}
	if err := db.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name = 'v1_entries_leafp'`).Scan(&leafIndex); err != nil {
		return fmt.Errorf("couldn't read index schema: %w", err)
	}
	tx, err := db.Begin()
	if err != nil {
		return fmt.Errorf("couldn't update index schema: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	for _, step := range []struct {
		do  bool
		sql string
	}{{keys == 0, schemaKeys}, {leafIndex > 0, schemaLeafIndex}, {true, schemaTrigger}} {
		if !step.do {
			continue
		}
		if _, err := tx.Exec(step.sql); err != nil {
			return fmt.Errorf("couldn't update index schema: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("couldn't update index schema: %w", err)
	}
	return nil
}

// Put implements Store.
func (s *SQLite) Put(ctx context.Context, recs []Record) error {
	if len(recs) == 0 {
		return nil
	}
	// On ctx's end the records may still be written; that is harmless.
	return s.do(ctx, &putReq{recs: recs})
}

// do hands req to the writer and waits for its outcome, or ctx's end.
func (s *SQLite) do(ctx context.Context, req *putReq) error {
	ch := make(chan error, 1)
	req.done = func(err error) { ch <- err }
	if !s.enqueue(ctx, req) {
		if err := ctx.Err(); err != nil {
			return err
		}
		return ErrClosed
	}
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// PutAsync implements AsyncPutter.
func (s *SQLite) PutAsync(recs []Record, done func(error)) {
	if len(recs) == 0 {
		done(nil)
		return
	}
	if !s.enqueue(context.Background(), &putReq{recs: recs, done: done}) {
		done(ErrClosed)
	}
}

// enqueue hands req to the writer, which will call req.done; it returns
// false if the store is closed or ctx ends first.
func (s *SQLite) enqueue(ctx context.Context, req *putReq) bool {
	s.queueMu.RLock()
	defer s.queueMu.RUnlock()
	select {
	case <-s.closing:
		return false
	default:
	}
	select {
	case s.queue <- req:
		return true
	case <-ctx.Done():
		return false
	}
}

// writer commits queued Puts in batches until the store closes; queued
// Puts are still written when Close is called. Between batches it indexes
// pending entries (see indexing).
func (s *SQLite) writer() {
	defer close(s.done)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		switch {
		case s.pending >= s.indexing.chunk:
			timer.Reset(s.indexing.delay)
		case s.pending > 0:
			timer.Reset(s.indexing.idle)
		default:
			timer.Stop()
		}
		var first *putReq
		select {
		case first = <-s.queue:
		case <-timer.C:
			s.indexPending(s.indexing.chunk) //nolint:errcheck // retried; Search reports errors
			continue
		case <-s.closing:
			// Drain what was queued before Close.
			for {
				select {
				case req := <-s.queue:
					s.serve([]*putReq{req})
				default:
					s.indexPending(-1) //nolint:errcheck // pending entries are indexed at the next start
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
		s.serve(batch)
		if s.pending >= s.indexing.backlog {
			s.indexPending(s.indexing.chunk) //nolint:errcheck // retried; Search reports errors
		}
	}
}

// serve commits a batch of Puts in one transaction, then answers them, and
// indexes every pending entry if one of them is a flush.
func (s *SQLite) serve(batch []*putReq) {
	var puts, flushes []*putReq
	for _, req := range batch {
		if req.flush {
			flushes = append(flushes, req)
		} else {
			puts = append(puts, req)
		}
	}
	if len(puts) > 0 {
		err := s.commit(puts)
		for _, req := range puts {
			req.done(err)
		}
	}
	if len(flushes) > 0 {
		err := s.indexPending(-1)
		for _, req := range flushes {
			req.done(err)
		}
	}
}

// indexPending indexes up to limit pending entries (all of them if
// limit < 0), one transaction per chunk.
func (s *SQLite) indexPending(limit int) error {
	for limit != 0 {
		chunk := s.indexing.chunk
		if limit > 0 && limit < chunk {
			chunk = limit
		}
		n, err := s.indexChunkOf(chunk)
		if err != nil {
			return err
		}
		if n < chunk {
			s.pending = 0
			return nil
		}
		s.pending = max(s.pending-n, 0)
		if limit > 0 {
			limit -= n
		}
	}
	return nil
}

// indexChunkOf indexes the first n pending entries, in v1_leaf and
// v1_search, and returns how many it indexed.
func (s *SQLite) indexChunkOf(n int) (int, error) {
	tx, err := s.w.Begin()
	if err != nil {
		return 0, fmt.Errorf("couldn't begin index transaction: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	var last sql.NullInt64
	err = tx.QueryRow(`SELECT max(idx) FROM (SELECT idx FROM v1_pending ORDER BY idx LIMIT ?)`, n).Scan(&last)
	if err != nil {
		return 0, fmt.Errorf("couldn't read pending entries: %w", err)
	}
	if !last.Valid {
		return 0, nil
	}
	// CROSS JOIN keeps the pending rows the outer loop; sorted, so that
	// consecutive inserts land on the same pages.
	for _, q := range []string{
		`INSERT INTO v1_leaf(leafp, idx)
		SELECT e.leafp, p.idx FROM v1_pending AS p CROSS JOIN v1_entries AS e
		WHERE p.idx <= ?1 AND e.idx = p.idx ORDER BY 1, 2
		ON CONFLICT DO NOTHING`,
		`INSERT INTO v1_search(k, idx)
		SELECT j.value, p.idx FROM v1_pending AS p CROSS JOIN v1_entries AS e CROSS JOIN json_each(e.keys) AS j
		WHERE p.idx <= ?1 AND e.idx = p.idx ORDER BY 1, 2
		ON CONFLICT DO NOTHING`,
	} {
		if _, err := tx.Exec(q, last.Int64); err != nil {
			return 0, fmt.Errorf("couldn't index entries: %w", err)
		}
	}
	res, err := tx.Exec(`DELETE FROM v1_pending WHERE idx <= ?`, last.Int64)
	if err != nil {
		return 0, fmt.Errorf("couldn't index entries: %w", err)
	}
	done, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("couldn't index entries: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("couldn't commit index transaction: %w", err)
	}
	return int(done), nil
}

// insertRows are the sizes of the prepared multi-row INSERTs a batch is
// written with, largest first (5 bound variables a row, well under
// SQLite's limit of 32766).
var insertRows = []int{256, 64, 16, 4, 1}

func (s *SQLite) commit(batch []*putReq) error {
	tx, err := s.w.Begin()
	if err != nil {
		return fmt.Errorf("couldn't begin index transaction: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	var rows []any
	for _, req := range batch {
		for _, r := range req.recs {
			rows = append(rows, int64(r.Index), r.LeafHash[:], r.IntegratedTime, leafPrefix(r.LeafHash[:]), keysJSON(r.Keys))
		}
	}
	recs := len(rows) / 5
	for len(rows) > 0 {
		for _, n := range insertRows {
			if len(rows) < 5*n {
				continue
			}
			if _, err := tx.Stmt(s.inserts[n]).Exec(rows[:5*n]...); err != nil {
				return fmt.Errorf("couldn't record entries: %w", err)
			}
			rows = rows[5*n:]
			break
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("couldn't commit index transaction: %w", err)
	}
	s.pending += recs
	return nil
}

// keysJSON returns the hashes of search keys as a JSON array of integers,
// or nil (NULL) for none.
func keysJSON(keys []string) any {
	if len(keys) == 0 {
		return nil
	}
	b := make([]byte, 0, 2+21*len(keys))
	b = append(b, '[')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, keyHash(k), 10)
	}
	return string(append(b, ']'))
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
	if err := s.flushSearch(ctx); err != nil {
		return nil, err
	}
	// Each key's rows are read newest first along v1_search's primary
	// key and no further than the answer needs: a key may name most of
	// the log (a CI identity), and reading all its rows took 0.4 s per
	// search at a million entries. "or" merges the newest limit rows of
	// each key; "and" walks the first key's rows and keeps those every
	// other key names (callers put the most selective key first).
	lim := strconv.Itoa(limit)
	var q string
	if all {
		q = `SELECT e.idx, e.leaf, e.itime FROM v1_search s CROSS JOIN v1_entries e WHERE s.k = ? AND e.idx = s.idx` +
			strings.Repeat(` AND EXISTS (SELECT 1 FROM v1_search t WHERE t.k = ? AND t.idx = s.idx)`, len(args)-1) +
			` ORDER BY s.idx DESC LIMIT ` + lim
	} else {
		each := make([]string, len(args))
		for i := range each {
			each[i] = `SELECT idx FROM (SELECT idx FROM v1_search WHERE k = ? ORDER BY idx DESC LIMIT ` + lim + `)`
		}
		q = `SELECT e.idx, e.leaf, e.itime FROM v1_entries e WHERE e.idx IN (` + strings.Join(each, ` UNION ALL `) + `) ORDER BY e.idx DESC LIMIT ` + lim
	}
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

// flushSearch has the writer index every pending entry.
func (s *SQLite) flushSearch(ctx context.Context) error {
	return s.do(ctx, &putReq{flush: true})
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
		// No enqueue is under way once the lock is held, and none
		// starts after: the writer drains every queued Put.
		s.queueMu.Lock()
		close(s.closing)
		s.queueMu.Unlock()
		<-s.done
		errs := []error{s.byLeaf.Close(), s.byIndex.Close()}
		for _, st := range s.inserts {
			errs = append(errs, st.Close())
		}
		if err := errors.Join(append(errs, s.r.Close(), s.w.Close())...); err != nil {
			s.closeErr = fmt.Errorf("couldn't close index database: %w", err)
		}
	})
	return s.closeErr
}
