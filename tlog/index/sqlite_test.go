package index

import (
	"context"
	"crypto/sha256"
	"errors"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
)

func leaf(i int) [32]byte { return sha256.Sum256([]byte(strconv.Itoa(i))) }

func open(t *testing.T) (*SQLite, string) {
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
		{[]string{"alice"}, false, 10, []uint64{0, 2}},
		{[]string{"alice", "sha256:bb"}, false, 10, []uint64{0, 1, 2}},
		{[]string{"alice", "sha256:bb"}, true, 10, []uint64{2}},
		{[]string{"alice", "alice"}, true, 10, []uint64{0, 2}},
		{[]string{"alice", "sha256:bb"}, false, 2, []uint64{0, 1}},
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
