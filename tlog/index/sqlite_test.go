package index

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

func leaf(i int) [32]byte { return sha256.Sum256([]byte(strconv.Itoa(i))) }

func open(t testing.TB) (*SQLite, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "index.db")
	s, err := OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func indices(recs []Record) []uint64 {
	var out []uint64
	for _, r := range recs {
		out = append(out, r.Index)
	}
	return out
}

// The store answers what was put: by leaf hash (lowest index first), by
// index, by search keys with "or" and "and".
func TestSQLiteStore(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	recs := []Record{
		{Index: 0, LeafHash: leaf(0), IntegratedTime: 100, Keys: []string{"alice", "sha256:aa"}},
		{Index: 1, LeafHash: leaf(1), IntegratedTime: 101, Keys: []string{"bob", "sha256:bb"}},
		{Index: 2, LeafHash: leaf(2), IntegratedTime: 102, Keys: []string{"alice", "sha256:bb"}},
		{Index: 5, LeafHash: leaf(0), IntegratedTime: 105},
	}
	if err := s.Put(ctx, recs); err != nil {
		t.Fatal(err)
	}
	// Putting an index again changes nothing.
	if err := s.Put(ctx, []Record{{Index: 1, LeafHash: leaf(9), IntegratedTime: 999}}); err != nil {
		t.Fatal(err)
	}
	r, err := s.ByLeafHash(ctx, leaf(0))
	if err != nil || r.Index != 0 || r.IntegratedTime != 100 {
		t.Errorf("ByLeafHash(0) = %+v, %v", r, err)
	}
	r, err = s.ByIndex(ctx, 1)
	if err != nil || r.LeafHash != leaf(1) || r.IntegratedTime != 101 {
		t.Errorf("ByIndex(1) = %+v, %v", r, err)
	}
	if _, err := s.ByIndex(ctx, 3); !errors.Is(err, ErrNotFound) {
		t.Errorf("ByIndex(3): %v", err)
	}
	if _, err := s.ByLeafHash(ctx, leaf(7)); !errors.Is(err, ErrNotFound) {
		t.Errorf("ByLeafHash(7): %v", err)
	}
	for _, tc := range []struct {
		keys  []string
		all   bool
		limit int
		want  []uint64
	}{
		{[]string{"alice"}, false, 10, []uint64{2, 0}},
		{[]string{"alice", "sha256:bb"}, false, 10, []uint64{2, 1, 0}},
		{[]string{"alice", "sha256:bb"}, true, 10, []uint64{2}},
		{[]string{"alice", "alice"}, true, 10, []uint64{2, 0}},
		// Newest first: the limit keeps the newest.
		{[]string{"alice", "sha256:bb"}, false, 2, []uint64{2, 1}},
		{[]string{"carol"}, false, 10, nil},
		{nil, false, 10, nil},
	} {
		got, err := s.Search(ctx, tc.keys, tc.all, tc.limit)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(indices(got), tc.want) {
			t.Errorf("Search(%v, all=%v) = %v, want %v", tc.keys, tc.all, indices(got), tc.want)
		}
	}
	seen := map[[32]byte]int{}
	if err := s.EachLeaf(ctx, func(l [32]byte) { seen[l]++ }); err != nil || len(seen) != 3 || seen[leaf(0)] != 2 {
		t.Errorf("EachLeaf saw %v, %v", seen, err)
	}
	missing, err := s.Missing(ctx, 0, 8)
	if err != nil || !slices.Equal(missing, []uint64{3, 4, 6, 7}) {
		t.Errorf("Missing(0, 8) = %v, %v", missing, err)
	}
	if missing, _ := s.Missing(ctx, 1, 3); missing != nil {
		t.Errorf("Missing(1, 3) = %v", missing)
	}
}

// Records and the watermark survive closing; Put after Close fails.
func TestSQLiteDurable(t *testing.T) {
	ctx := context.Background()
	s, path := open(t)
	if w, err := s.Watermark(ctx); err != nil || w != 0 {
		t.Fatalf("initial watermark %d, %v", w, err)
	}
	if err := s.Put(ctx, []Record{{Index: 0, LeafHash: leaf(0), IntegratedTime: 7, Keys: []string{"k"}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetWatermark(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := s.Put(ctx, []Record{{Index: 1}}); !errors.Is(err, ErrClosed) {
		t.Errorf("Put after Close: %v", err)
	}
	s2, err := OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if r, err := s2.ByIndex(ctx, 0); err != nil || r.IntegratedTime != 7 {
		t.Errorf("after reopening: %+v, %v", r, err)
	}
	if w, _ := s2.Watermark(ctx); w != 1 {
		t.Errorf("watermark %d after reopening", w)
	}
}

// Concurrent Puts are all written (group commit).
func TestSQLiteConcurrentPuts(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				n := w*50 + i
				if err := s.Put(ctx, []Record{{Index: uint64(n), LeafHash: leaf(n), IntegratedTime: int64(n), Keys: []string{"w" + strconv.Itoa(w)}}}); err != nil {
					t.Error(err)
				}
			}
		}(w)
	}
	wg.Wait()
	if missing, err := s.Missing(ctx, 0, 800); err != nil || len(missing) != 0 {
		t.Errorf("missing %v, %v", missing, err)
	}
	if got, _ := s.Search(ctx, []string{"w3"}, false, 100); len(got) != 50 {
		t.Errorf("w3 has %d records", len(got))
	}
}

// never is an indexing policy that leaves every row pending until a
// Search or Close.
var never = indexing{chunk: 1 << 30, backlog: 1 << 30, delay: time.Hour, idle: time.Hour}

func openPending(t *testing.T, path string) *SQLite {
	t.Helper()
	s, err := openSQLite(path, never)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func countRows(t *testing.T, s *SQLite, table string) int {
	t.Helper()
	var n int
	if err := s.r.QueryRow(`SELECT count(*) FROM ` + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// Rows not yet indexed are found by leaf hash and by search: lookups scan
// the pending rows, and a Search indexes them first.
func TestSQLitePendingRows(t *testing.T) {
	ctx := context.Background()
	s := openPending(t, filepath.Join(t.TempDir(), "index.db"))
	if err := s.Put(ctx, []Record{
		{Index: 0, LeafHash: leaf(0), IntegratedTime: 10, Keys: []string{"alice", "sha256:aa"}},
		{Index: 1, LeafHash: leaf(1), IntegratedTime: 11, Keys: []string{"bob"}},
		{Index: 2, LeafHash: leaf(2), IntegratedTime: 12},
	}); err != nil {
		t.Fatal(err)
	}
	if n := countRows(t, s, "v1_pending"); n != 3 {
		t.Fatalf("%d pending rows, want 3", n)
	}
	for i := 0; i < 3; i++ {
		if r, err := s.ByLeafHash(ctx, leaf(i)); err != nil || r.Index != uint64(i) || r.IntegratedTime != int64(10+i) {
			t.Errorf("pending ByLeafHash(%d) = %+v, %v", i, r, err)
		}
	}
	got, err := s.Search(ctx, []string{"alice", "bob"}, false, 10)
	if err != nil || !slices.Equal(indices(got), []uint64{1, 0}) {
		t.Errorf("Search = %v, %v", indices(got), err)
	}
	if n := countRows(t, s, "v1_pending"); n != 0 {
		t.Errorf("%d pending rows after a Search", n)
	}
	if n := countRows(t, s, "v1_leaf"); n != 3 {
		t.Errorf("%d leaf rows, want 3", n)
	}
	// Indexed now, and found the same.
	for i := 0; i < 3; i++ {
		if r, err := s.ByLeafHash(ctx, leaf(i)); err != nil || r.Index != uint64(i) {
			t.Errorf("indexed ByLeafHash(%d) = %+v, %v", i, r, err)
		}
	}
	// A leaf logged again is found at both indices, pending or not; the
	// lookup returns the lower one.
	if err := s.Put(ctx, []Record{{Index: 7, LeafHash: leaf(1), IntegratedTime: 17}}); err != nil {
		t.Fatal(err)
	}
	if r, err := s.ByLeafHash(ctx, leaf(1)); err != nil || r.Index != 1 {
		t.Errorf("ByLeafHash of a leaf at 1 and 7 = %+v, %v", r, err)
	}
}

// Pending rows are durable: a store opened after a crash (the first one is
// never closed) finds and indexes them.
func TestSQLitePendingAfterCrash(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "index.db")
	crashed := openPending(t, path)
	var recs []Record
	for i := 0; i < 100; i++ {
		recs = append(recs, Record{Index: uint64(i), LeafHash: leaf(i), IntegratedTime: int64(i), Keys: []string{"k" + strconv.Itoa(i%10)}})
	}
	if err := crashed.Put(ctx, recs); err != nil {
		t.Fatal(err)
	}
	s, err := OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if r, err := s.ByLeafHash(ctx, leaf(42)); err != nil || r.Index != 42 || r.IntegratedTime != 42 {
		t.Errorf("ByLeafHash(42) after the crash = %+v, %v", r, err)
	}
	if got, err := s.Search(ctx, []string{"k3"}, false, 100); err != nil || len(got) != 10 {
		t.Errorf("Search(k3) after the crash found %d, %v", len(got), err)
	}
	if n := countRows(t, s, "v1_pending"); n != 0 {
		t.Errorf("%d rows still pending", n)
	}
}

// The writer indexes pending rows by itself, in chunks, when Puts pause.
func TestSQLiteIndexesInBackground(t *testing.T) {
	ctx := context.Background()
	s, err := openSQLite(filepath.Join(t.TempDir(), "index.db"), indexing{chunk: 8, backlog: 32, delay: time.Millisecond, idle: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := 0; i < 50; i++ {
		if err := s.Put(ctx, []Record{{Index: uint64(i), LeafHash: leaf(i), Keys: []string{"k"}}}); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for countRows(t, s, "v1_pending") > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d rows still pending", countRows(t, s, "v1_pending"))
		}
		time.Sleep(5 * time.Millisecond)
	}
	if n := countRows(t, s, "v1_search"); n != 50 {
		t.Errorf("%d search rows, want 50", n)
	}
}

// A database written by the first schema (leafp index on v1_entries,
// search rows written with the entries, no keys column) is brought up to
// date: its entries are found by leaf hash and by search, new ones too.
func TestSQLiteMigratesFirstSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "index.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`
CREATE TABLE v1_entries (idx INTEGER PRIMARY KEY, leaf BLOB NOT NULL, itime INTEGER NOT NULL, leafp INTEGER NOT NULL);
CREATE INDEX v1_entries_leafp ON v1_entries(leafp);
CREATE TABLE v1_search (k INTEGER NOT NULL, idx INTEGER NOT NULL, PRIMARY KEY (k, idx)) WITHOUT ROWID;
CREATE TABLE meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
INSERT INTO meta VALUES ('v1_watermark', '2');`); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		l := leaf(i)
		if _, err := db.Exec(`INSERT INTO v1_entries VALUES (?, ?, ?, ?)`, i, l[:], 100+i, leafPrefix(l[:])); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(`INSERT INTO v1_search VALUES (?, ?)`, keyHash("old"), i); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	s, err := OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Put(ctx, []Record{{Index: 2, LeafHash: leaf(2), IntegratedTime: 102, Keys: []string{"old", "new"}}}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if r, err := s.ByLeafHash(ctx, leaf(i)); err != nil || r.Index != uint64(i) || r.IntegratedTime != int64(100+i) {
			t.Errorf("ByLeafHash(%d) = %+v, %v", i, r, err)
		}
	}
	if got, err := s.Search(ctx, []string{"old"}, false, 10); err != nil || !slices.Equal(indices(got), []uint64{2, 1, 0}) {
		t.Errorf("Search(old) = %v, %v", indices(got), err)
	}
	if w, err := s.Watermark(ctx); err != nil || w != 2 {
		t.Errorf("watermark %d, %v", w, err)
	}
	var n int
	if err := s.r.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE name = 'v1_entries_leafp'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("the leafp index of v1_entries is still there (%d, %v)", n, err)
	}
	// Opening it again changes nothing.
	s.Close()
	s2, err := OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if r, err := s2.ByLeafHash(ctx, leaf(0)); err != nil || r.Index != 0 {
		t.Errorf("after reopening: ByLeafHash(0) = %+v, %v", r, err)
	}
}

// PutAsync reports through its callback, also when the store is closed.
func TestSQLitePutAsync(t *testing.T) {
	ctx := context.Background()
	s, path := open(t)
	errc := make(chan error, 1)
	s.PutAsync([]Record{{Index: 0, LeafHash: leaf(0), IntegratedTime: 5}}, func(err error) { errc <- err })
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if r, err := s.ByIndex(ctx, 0); err != nil || r.IntegratedTime != 5 {
		t.Errorf("ByIndex(0) = %+v, %v", r, err)
	}
	s.PutAsync(nil, func(err error) { errc <- err })
	if err := <-errc; err != nil {
		t.Errorf("empty PutAsync: %v", err)
	}
	// Queued before Close: written.
	for i := 1; i <= 20; i++ {
		s.PutAsync([]Record{{Index: uint64(i), LeafHash: leaf(i)}}, func(err error) {
			if err != nil {
				t.Error(err)
			}
		})
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s.PutAsync([]Record{{Index: 99}}, func(err error) { errc <- err })
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Errorf("PutAsync after Close: %v", err)
	}
	s2, err := OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if missing, err := s2.Missing(ctx, 0, 21); err != nil || len(missing) != 0 {
		t.Errorf("missing after Close: %v, %v", missing, err)
	}
}

// BenchmarkSQLitePutGroup measures Puts of groups of 80 entries, as the
// log's group commit makes them under load (3 search keys each: a key
// hash shared by many entries, an identity, a unique artifact digest), and
// the indexing of their lookup tables between groups.
func BenchmarkSQLitePutGroup(b *testing.B) {
	s, err := OpenSQLite(filepath.Join(b.TempDir(), "index.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	const group = 80
	k := 0
	for i := 0; i < b.N; i++ {
		recs := make([]Record, group)
		for j := range recs {
			k++
			recs[j] = Record{Index: uint64(k), LeafHash: leaf(k), IntegratedTime: 1,
				Keys: []string{"key" + strconv.Itoa(k%64), "user@example.com", "sha256:" + strconv.Itoa(k)}}
		}
		if err := s.Put(ctx, recs); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*group), "us/entry")
}

func BenchmarkSQLitePut(b *testing.B) {
	s, err := OpenSQLite(filepath.Join(b.TempDir(), "index.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	b.SetParallelism(64)
	var n sync.Mutex
	i := 0
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n.Lock()
			i++
			k := i
			n.Unlock()
			if err := s.Put(ctx, []Record{{Index: uint64(k), LeafHash: leaf(k), IntegratedTime: 1, Keys: []string{"a", "b", "sha256:c" + strconv.Itoa(k)}}}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// popularIndex fills s with n entries that all carry the key "popular"
// (as a CI identity or a release key names most of a log's entries); the
// one at n/2 also carries "rare".
func popularIndex(tb testing.TB, s *SQLite, n int) {
	for i := 0; i < n; i += 4096 {
		var recs []Record
		for j := i; j < min(n, i+4096); j++ {
			keys := []string{"popular", "sha256:popular"}
			if j == n/2 {
				keys = append(keys, "rare", "sha256:rare")
			}
			recs = append(recs, Record{Index: uint64(j), LeafHash: leaf(j), IntegratedTime: 1, Keys: keys})
		}
		if err := s.Put(context.Background(), recs); err != nil {
			tb.Fatal(err)
		}
	}
}

// TestSQLiteSearchNewestFirst: "or" and "and" searches over a key that
// names most of the entries answer the newest limit matches, whichever
// key comes first. (How much a search reads is measured by
// BenchmarkSQLiteSearchPopularKey, not here.)
func TestSQLiteSearchNewestFirst(t *testing.T) {
	s, _ := open(t)
	const n = 20000
	popularIndex(t, s, n)
	newest := []uint64{n - 1, n - 2, n - 3, n - 4, n - 5, n - 6, n - 7, n - 8, n - 9, n - 10}
	for _, c := range []struct {
		keys []string
		all  bool
		want []uint64
	}{
		{[]string{"rare"}, false, []uint64{n / 2}},
		{[]string{"popular"}, false, newest},
		{[]string{"popular", "rare"}, false, newest},
		{[]string{"rare", "nothing"}, false, []uint64{n / 2}},
		{[]string{"popular", "sha256:popular"}, true, newest},
		{[]string{"rare", "popular"}, true, []uint64{n / 2}},
		{[]string{"popular", "rare"}, true, []uint64{n / 2}},
		{[]string{"popular", "nothing"}, true, nil},
	} {
		got, err := s.Search(context.Background(), c.keys, c.all, 10)
		if err != nil || !slices.Equal(indices(got), c.want) {
			t.Errorf("Search(%v, all=%v) = %v, %v; want %v", c.keys, c.all, indices(got), err, c.want)
		}
	}
}

// BenchmarkSQLiteSearchPopularKey: a search for a key that names every one
// of 200,000 entries, limit 10 (the endpoint is anonymous, and reading
// every row a key names took 0.4 s per search at a million entries).
func BenchmarkSQLiteSearchPopularKey(b *testing.B) {
	s, _ := open(b)
	popularIndex(b, s, 200000)
	// The first search indexes the pending rows (flushSearch).
	if _, err := s.Search(context.Background(), []string{"rare"}, false, 10); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		keys []string
		all  bool
	}{{"or", []string{"popular", "rare"}, false}, {"and", []string{"popular", "sha256:popular"}, true}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := s.Search(context.Background(), c.keys, c.all, 10); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
