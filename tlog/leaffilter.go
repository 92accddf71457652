package tlog

import (
	"encoding/binary"
	"sync"
)

// leafFilter is a Bloom filter of the leaf hashes in the v1 index: a new
// entry (the common case) skips the index lookup that detects duplicates;
// a possible duplicate is looked up. It grows by adding layers of twice the
// capacity (a scalable Bloom filter), about 1.2 bytes per entry at a 1%
// false-positive rate. Leaf hashes are SHA-256 outputs, so their bytes
// serve as the filter's hash functions. Safe for concurrent use.
type leafFilter struct {
	mu     sync.RWMutex
	layers []*bloomLayer
}

type bloomLayer struct {
	bits []uint64
	m    uint64 // bits
	cap  int
	n    int
}

const (
	bloomK        = 7  // probes per entry
	bloomBitsPer  = 10 // bits per entry: ~1% false positives with 7 probes
	bloomFirstCap = 1 << 16
)

func newBloomLayer(capacity int) *bloomLayer {
	m := uint64(capacity * bloomBitsPer)
	return &bloomLayer{bits: make([]uint64, (m+63)/64), m: m, cap: capacity}
}

// probes derives the k bit positions of a leaf (Kirsch–Mitzenmacher).
func (l *bloomLayer) probe(leaf *[32]byte, i uint64) uint64 {
	h1 := binary.LittleEndian.Uint64(leaf[0:8])
	h2 := binary.LittleEndian.Uint64(leaf[8:16]) | 1
	return (h1 + i*h2) % l.m
}

func (l *bloomLayer) add(leaf *[32]byte) {
	for i := uint64(0); i < bloomK; i++ {
		b := l.probe(leaf, i)
		l.bits[b/64] |= 1 << (b % 64)
	}
	l.n++
}

func (l *bloomLayer) has(leaf *[32]byte) bool {
	for i := uint64(0); i < bloomK; i++ {
		b := l.probe(leaf, i)
		if l.bits[b/64]&(1<<(b%64)) == 0 {
			return false
		}
	}
	return true
}

// add records a leaf hash.
func (f *leafFilter) add(leaf [32]byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.layers) == 0 || f.layers[len(f.layers)-1].n >= f.layers[len(f.layers)-1].cap {
		c := bloomFirstCap
		if len(f.layers) > 0 {
			c = 2 * f.layers[len(f.layers)-1].cap
		}
		f.layers = append(f.layers, newBloomLayer(c))
	}
	f.layers[len(f.layers)-1].add(&leaf)
}

// mayContain reports whether a leaf hash may have been added; false means
// it certainly was not.
func (f *leafFilter) mayContain(leaf [32]byte) bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	for _, l := range f.layers {
		if l.has(&leaf) {
			return true
		}
	}
	return false
}
