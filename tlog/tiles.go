package tlog

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/api/layout"
)

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }

// nodeCache serves Merkle tree nodes from the log's tiles (C2SP tlog-tiles:
// a tile at tile level T holds up to 256 hashes of tree level 8T), to build
// inclusion and consistency proofs without recomputing subtrees per request.
//
// For each tile it keeps every internal node of the tile's subtrees (the
// 256 + 128 + … hashes), computed once: full tiles never change and stay in
// an LRU; the partial tiles on the right edge are kept per width, so all the
// proofs against one checkpoint share them. Safe for concurrent use.
type nodeCache struct {
	readTile func(ctx context.Context, level, index uint64, p uint8) ([]byte, error)
	full     *lru.Cache[tileKey, *tileNodes]
	// partial holds recent partial tiles by width: proofs against
	// successive checkpoints need successive widths of the same tiles.
	partial *lru.Cache[partialKey, *tileNodes]
	// latest returns the newest published tree size (may be nil).
	latest func() uint64
}

type tileKey struct{ level, index uint64 }

type partialKey struct {
	tileKey
	width int
}

// tileNodes holds, for k = 0..8, the hashes of the tile's nodes at tree
// level 8T+k (k = 0: the tile's own hashes), flattened 32 bytes each.
type tileNodes struct {
	width  int
	levels [9][]byte
}

// cachedPartialTiles bounds the partial tiles kept (a few widths of the
// right-edge tile of each level).
const cachedPartialTiles = 256

func newNodeCache(readTile func(ctx context.Context, level, index uint64, p uint8) ([]byte, error), fullTiles int) *nodeCache {
	c, err := lru.New[tileKey, *tileNodes](fullTiles)
	if err != nil {
		panic(err) // only for a non-positive size
	}
	p, _ := lru.New[partialKey, *tileNodes](cachedPartialTiles)
	return &nodeCache{readTile: readTile, full: c, partial: p}
}

// tile returns the nodes of tile (level, index) in a tree of size treeSize.
func (c *nodeCache) tile(ctx context.Context, level, index, treeSize uint64) (*tileNodes, error) {
	k := tileKey{level, index}
	w := int(layout.PartialTileSize(level, index, treeSize))
	if w == 0 {
		if t, ok := c.full.Get(k); ok {
			return t, nil
		}
	} else if t, ok := c.partial.Get(partialKey{k, w}); ok {
		return t, nil
	}
	raw, err := c.readTile(ctx, level, index, uint8(w))
	if errors.Is(err, os.ErrNotExist) && w > 0 && c.latest != nil {
		// A size that was never a batch boundary has no partial tile of
		// its own: read the tile at the latest size (it holds a prefix
		// of the same hashes) and truncate it.
		if lw := layout.PartialTileSize(level, index, c.latest()); lw == 0 || int(lw) > w {
			raw, err = c.readTile(ctx, level, index, lw)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("couldn't read tile %d/%d (width %d): %w", level, index, w, err)
	}
	want := w
	if want == 0 {
		want = layout.TileWidth
	}
	// A garbage-collected partial tile is read as the full tile.
	if len(raw)%sha256.Size != 0 || len(raw)/sha256.Size < want {
		return nil, fmt.Errorf("couldn't read tile %d/%d: %d bytes for width %d", level, index, len(raw), want)
	}
	t := &tileNodes{width: w}
	t.levels[0] = raw[:want*sha256.Size]
	for k := 1; k < len(t.levels); k++ {
		below := t.levels[k-1]
		n := len(below) / (2 * sha256.Size)
		if n == 0 {
			break
		}
		cur := make([]byte, 0, n*sha256.Size)
		for i := 0; i < n; i++ {
			l := below[2*i*sha256.Size : (2*i+1)*sha256.Size]
			r := below[(2*i+1)*sha256.Size : (2*i+2)*sha256.Size]
			cur = append(cur, rfc6962.DefaultHasher.HashChildren(l, r)...)
		}
		t.levels[k] = cur
	}
	if w == 0 {
		c.full.Add(k, t)
	} else {
		c.partial.Add(partialKey{k, w}, t)
	}
	return t, nil
}

// node returns the hash of a perfect subtree (id) of a tree of size treeSize.
func (c *nodeCache) node(ctx context.Context, id compact.NodeID, treeSize uint64) ([]byte, error) {
	level := uint64(id.Level)
	tileLevel, k := level/layout.TileHeight, level%layout.TileHeight
	tileIndex := id.Index >> (layout.TileHeight - k)
	pos := id.Index & (1<<(layout.TileHeight-k) - 1)
	t, err := c.tile(ctx, tileLevel, tileIndex, treeSize)
	if err != nil {
		return nil, err
	}
	hs := t.levels[k]
	if int(pos+1)*sha256.Size > len(hs) {
		return nil, fmt.Errorf("couldn't find node %d/%d in a tree of size %d", id.Level, id.Index, treeSize)
	}
	return hs[pos*sha256.Size : (pos+1)*sha256.Size], nil
}

func (c *nodeCache) nodes(ctx context.Context, n proof.Nodes, treeSize uint64) ([][]byte, error) {
	hashes := make([][]byte, len(n.IDs))
	for i, id := range n.IDs {
		h, err := c.node(ctx, id, treeSize)
		if err != nil {
			return nil, err
		}
		hashes[i] = h
	}
	return n.Rehash(hashes, rfc6962.DefaultHasher.HashChildren)
}

// inclusionProof returns the RFC 6962 inclusion proof of leaf index in a
// tree of size treeSize.
func (c *nodeCache) inclusionProof(ctx context.Context, index, treeSize uint64) ([][]byte, error) {
	n, err := proof.Inclusion(index, treeSize)
	if err != nil {
		return nil, fmt.Errorf("couldn't build inclusion proof: %w", err)
	}
	h, err := c.nodes(ctx, n, treeSize)
	if err != nil {
		return nil, fmt.Errorf("couldn't build inclusion proof: %w", err)
	}
	return h, nil
}

// consistencyProof returns the RFC 6962 consistency proof between two tree
// sizes; size2 must not exceed a size the log has integrated.
func (c *nodeCache) consistencyProof(ctx context.Context, size1, size2 uint64) ([][]byte, error) {
	n, err := proof.Consistency(size1, size2)
	if err != nil {
		return nil, fmt.Errorf("couldn't build consistency proof: %w", err)
	}
	h, err := c.nodes(ctx, n, size2)
	if err != nil {
		return nil, fmt.Errorf("couldn't build consistency proof: %w", err)
	}
	return h, nil
}

// rootAt returns the root hash of the tree at size (size ≤ integrated size).
func (c *nodeCache) rootAt(ctx context.Context, size uint64) ([]byte, error) {
	if size == 0 {
		return rfc6962.DefaultHasher.EmptyRoot(), nil
	}
	ids := compact.RangeNodes(0, size, nil)
	var root []byte
	for i := len(ids) - 1; i >= 0; i-- {
		h, err := c.node(ctx, ids[i], size)
		if err != nil {
			return nil, fmt.Errorf("couldn't compute root at size %d: %w", size, err)
		}
		if root == nil {
			root = h
		} else {
			root = rfc6962.DefaultHasher.HashChildren(h, root)
		}
	}
	return root, nil
}

// errEntryMissing is returned when an entry bundle lacks an index.
var errEntryMissing = errors.New("entry missing from its bundle")

// readEntry returns the entry at index of a tree of size treeSize, from its
// entry bundle.
func readEntry(ctx context.Context, read func(ctx context.Context, index uint64, p uint8) ([]byte, error), index, treeSize uint64) ([]byte, error) {
	if index >= treeSize {
		return nil, fmt.Errorf("couldn't read entry %d: %w", index, errEntryMissing)
	}
	b := index / layout.EntryBundleWidth
	raw, err := read(ctx, b, layout.PartialTileSize(0, b, treeSize))
	if err != nil {
		return nil, fmt.Errorf("couldn't read entry bundle %d: %w", b, err)
	}
	var eb api.EntryBundle
	if err := eb.UnmarshalText(raw); err != nil {
		return nil, fmt.Errorf("couldn't parse entry bundle %d: %w", b, err)
	}
	i := int(index % layout.EntryBundleWidth)
	if i >= len(eb.Entries) {
		return nil, fmt.Errorf("couldn't read entry %d: %w", index, errEntryMissing)
	}
	return eb.Entries[i], nil
}
