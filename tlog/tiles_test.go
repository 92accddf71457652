package tlog

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/merkle/testonly"
	"github.com/transparency-dev/tessera/api/layout"
)

// memTiles is a tile store built as tlog-tiles lays a tree out: level-0
// tiles hold leaf hashes, level-l tiles the roots of full level-(l-1)
// tiles; a partial tile exists for every size in sizes.
type memTiles struct {
	tiles map[string][]byte
}

func buildTiles(leaves [][]byte, sizes []uint64) *memTiles {
	m := &memTiles{tiles: map[string][]byte{}}
	for _, size := range sizes {
		level := leaves[:size]
		for l := uint64(0); len(level) > 0; l++ {
			var next [][]byte
			for t := 0; t*256 < len(level); t++ {
				end := min((t+1)*256, len(level))
				var buf []byte
				for _, h := range level[t*256 : end] {
					buf = append(buf, h...)
				}
				w := uint8(end - t*256)
				if end-t*256 == 256 {
					w = 0
					tr := testonly.New(rfc6962.DefaultHasher)
					for _, h := range level[t*256 : end] {
						tr.Append(h)
					}
					next = append(next, tr.Hash())
				}
				m.tiles[layout.TilePath(l, uint64(t), w)] = buf
			}
			level = next
		}
	}
	return m
}

func (m *memTiles) read(_ context.Context, level, index uint64, p uint8) ([]byte, error) {
	if b, ok := m.tiles[layout.TilePath(level, index, p)]; ok {
		return b, nil
	}
	if b, ok := m.tiles[layout.TilePath(level, index, 0)]; ok && p > 0 {
		return b, nil // a garbage-collected partial tile: the full one
	}
	return nil, fmt.Errorf("tile %s: %w", layout.TilePath(level, index, p), os.ErrNotExist)
}

// Proofs and roots built from tiles equal the reference tree's, for sizes
// around tile boundaries, from checkpointed and other sizes.
func TestNodeCacheProofs(t *testing.T) {
	const n = 256*256 + 300
	tr := testonly.New(rfc6962.DefaultHasher)
	var leaves [][]byte
	for i := 0; i < n; i++ {
		h := rfc6962.DefaultHasher.HashLeaf([]byte(strconv.Itoa(i)))
		leaves = append(leaves, h)
		tr.Append(h)
	}
	checkpointed := []uint64{1, 2, 255, 256, 257, 511, 4000, 65535, 65536, 65537, n - 1, n}
	m := buildTiles(leaves, checkpointed)
	c := newNodeCache(m.read, 16)
	c.latest = func() uint64 { return n }
	ctx := context.Background()
	sizes := append([]uint64{3, 300, 65792, 60000}, checkpointed...) // some never checkpointed
	for _, size := range sizes {
		root, err := c.rootAt(ctx, size)
		if err != nil {
			t.Fatalf("rootAt(%d): %v", size, err)
		}
		want := tr.HashAt(size)
		if !bytes.Equal(root, want) {
			t.Fatalf("rootAt(%d) differs", size)
		}
		for _, idx := range []uint64{0, size / 2, size - 1} {
			got, err := c.inclusionProof(ctx, idx, size)
			if err != nil {
				t.Fatalf("inclusionProof(%d, %d): %v", idx, size, err)
			}
			want, _ := tr.InclusionProof(idx, size)
			if !equalHashes(got, want) {
				t.Fatalf("inclusionProof(%d, %d) differs", idx, size)
			}
		}
		for _, old := range []uint64{1, size / 3, size - 1} {
			if old == 0 || old > size {
				continue
			}
			got, err := c.consistencyProof(ctx, old, size)
			if err != nil {
				t.Fatalf("consistencyProof(%d, %d): %v", old, size, err)
			}
			want, _ := tr.ConsistencyProof(old, size)
			if !equalHashes(got, want) {
				t.Fatalf("consistencyProof(%d, %d) differs", old, size)
			}
		}
	}
	if root, _ := c.rootAt(ctx, 0); !bytes.Equal(root, rfc6962.DefaultHasher.EmptyRoot()) {
		t.Error("empty root")
	}
	if _, err := c.inclusionProof(ctx, 5, 5); err == nil {
		t.Error("proof of an index beyond the tree")
	}
	// A tile that cannot be read is an error, not a wrong proof.
	bad := newNodeCache(func(context.Context, uint64, uint64, uint8) ([]byte, error) { return []byte{1, 2, 3}, nil }, 4)
	if _, err := bad.inclusionProof(ctx, 0, 2); err == nil {
		t.Error("proof from a corrupt tile")
	}
	missing := newNodeCache(func(context.Context, uint64, uint64, uint8) ([]byte, error) { return nil, os.ErrNotExist }, 4)
	if _, err := missing.rootAt(ctx, 7); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing tile: %v", err)
	}
}

func equalHashes(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

func BenchmarkInclusionProof(b *testing.B) {
	const n = 1 << 20
	leaves := make([][]byte, n)
	for i := range leaves {
		h := sha256.Sum256([]byte(strconv.Itoa(i)))
		leaves[i] = h[:]
	}
	m := buildTiles(leaves, []uint64{n - 17})
	c := newNodeCache(m.read, 2048)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.inclusionProof(ctx, uint64(n-17-1-i%1000), n-17); err != nil {
			b.Fatal(err)
		}
	}
}
