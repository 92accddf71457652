package ctlog

import (
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/crypto/cryptobyte"
)

// ErrMalformedTile wraps every error about a data tile or SCT extensions
// that do not parse.
var ErrMalformedTile = errors.New("malformed static-ct data")

// TileLeaf is one entry of a static-ct-api data tile (c2sp.org/static-ct-api
// "Log entries"):
//
//	struct {
//	    TimestampedEntry timestamped_entry;       // RFC 6962 §3.4
//	    select (entry_type) {
//	        case x509_entry: Empty;
//	        case precert_entry: ASN.1Cert pre_certificate;
//	    };
//	    Fingerprint certificate_chain<0..2^16-1>;  // SHA-256 of each issuer, root last
//	} TileLeaf;
//
//	TimestampedEntry = timestamp(8) entry_type(2)
//	    x509_entry:    ASN.1Cert<1..2^24-1>
//	    precert_entry: issuer_key_hash(32) TBSCertificate<1..2^24-1>
//	    extensions<0..2^16-1>
type TileLeaf struct {
	Timestamp uint64 // milliseconds since the epoch, the SCT's timestamp
	IsPrecert bool
	// Certificate is the logged certificate (x509_entry) or the
	// precertificate's TBSCertificate without the poison extension
	// (precert_entry).
	Certificate []byte
	// IssuerKeyHash is SHA-256 of the issuer's SubjectPublicKeyInfo
	// (precert_entry only).
	IssuerKeyHash [32]byte
	// Extensions are the CtExtensions, which hold the leaf index.
	Extensions []byte
	// PreCertificate is the submitted precertificate (precert_entry only).
	PreCertificate []byte
	// Chain holds the SHA-256 fingerprints of the issuers, root last; each
	// is served at <prefix>/issuer/<hex fingerprint>.
	Chain [][32]byte
}

// ParseDataTile parses a data tile, the concatenation of TileLeaf
// structures.
func ParseDataTile(tile []byte) ([]TileLeaf, error) {
	in := cryptobyte.String(tile)
	var out []TileLeaf
	for !in.Empty() {
		if len(out) == 256 {
			return nil, fmt.Errorf("%w: more than 256 entries in a data tile", ErrMalformedTile)
		}
		l, err := readTileLeaf(&in)
		if err != nil {
			return nil, fmt.Errorf("%w: entry %d: %v", ErrMalformedTile, len(out), err)
		}
		out = append(out, l)
	}
	return out, nil
}

func readTileLeaf(in *cryptobyte.String) (TileLeaf, error) {
	var l TileLeaf
	var entryType uint16
	if !in.ReadUint64(&l.Timestamp) || !in.ReadUint16(&entryType) {
		return l, errors.New("truncated timestamped entry")
	}
	var certificate, extensions cryptobyte.String
	switch entryType {
	case 0:
	case 1:
		l.IsPrecert = true
		var ikh []byte
		if !in.ReadBytes(&ikh, sha256.Size) {
			return l, errors.New("truncated issuer key hash")
		}
		copy(l.IssuerKeyHash[:], ikh)
	default:
		return l, fmt.Errorf("unknown entry type %d", entryType)
	}
	if !in.ReadUint24LengthPrefixed(&certificate) || certificate.Empty() {
		return l, errors.New("bad certificate field")
	}
	if !in.ReadUint16LengthPrefixed(&extensions) {
		return l, errors.New("bad extensions field")
	}
	l.Certificate, l.Extensions = certificate, extensions
	if l.IsPrecert {
		var pre cryptobyte.String
		if !in.ReadUint24LengthPrefixed(&pre) || pre.Empty() {
			return l, errors.New("bad pre_certificate field")
		}
		l.PreCertificate = pre
	}
	var chain cryptobyte.String
	if !in.ReadUint16LengthPrefixed(&chain) || len(chain)%sha256.Size != 0 {
		return l, errors.New("bad certificate_chain field")
	}
	for !chain.Empty() {
		var fp []byte
		chain.ReadBytes(&fp, sha256.Size)
		l.Chain = append(l.Chain, [32]byte(fp))
	}
	return l, nil
}

// Marshal returns the TileLeaf encoding of l.
func (l *TileLeaf) Marshal() []byte {
	var b cryptobyte.Builder
	l.addTimestampedEntry(&b)
	if l.IsPrecert {
		b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(l.PreCertificate) })
	}
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
		for _, fp := range l.Chain {
			b.AddBytes(fp[:])
		}
	})
	return b.BytesOrPanic()
}

func (l *TileLeaf) addTimestampedEntry(b *cryptobyte.Builder) {
	b.AddUint64(l.Timestamp)
	if l.IsPrecert {
		b.AddUint16(1)
		b.AddBytes(l.IssuerKeyHash[:])
	} else {
		b.AddUint16(0)
	}
	b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(l.Certificate) })
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(l.Extensions) })
}

// MerkleTreeLeaf returns the RFC 6962 §3.4 MerkleTreeLeaf of the entry:
// version(1)=0 leaf_type(1)=0 followed by the TimestampedEntry.
func (l *TileLeaf) MerkleTreeLeaf() []byte {
	var b cryptobyte.Builder
	b.AddUint8(0)
	b.AddUint8(0)
	l.addTimestampedEntry(&b)
	return b.BytesOrPanic()
}

// LeafHash returns the RFC 6962 leaf hash of the entry, the level-0 tile
// hash at its index.
func (l *TileLeaf) LeafHash() []byte {
	return rfc6962.DefaultHasher.HashLeaf(l.MerkleTreeLeaf())
}

// LeafIndex returns the index the entry's extensions name.
func (l *TileLeaf) LeafIndex() (uint64, error) { return ParseLeafIndex(l.Extensions) }

// leafIndexExtension returns CtExtensions holding one leaf_index
// extension (c2sp.org/static-ct-api "SCT Extension"):
//
//	extension_type(1)=0 extension_data<0..2^16-1> = uint40 index
func leafIndexExtension(index uint64) []byte {
	return []byte{0, 0, 5, byte(index >> 32), byte(index >> 24), byte(index >> 16), byte(index >> 8), byte(index)}
}

// maxLeafIndex is the largest index a uint40 holds.
const maxLeafIndex = 1<<40 - 1

// ParseLeafIndex returns the leaf index in SCT or entry extensions
// (CtExtensions). The list must hold exactly one leaf_index extension of
// five bytes; other extension types are ignored and duplicates refused, as
// the static-ct-api requires.
func ParseLeafIndex(extensions []byte) (uint64, error) {
	in := cryptobyte.String(extensions)
	var index uint64
	found := false
	seen := map[uint8]bool{}
	for !in.Empty() {
		var typ uint8
		var data cryptobyte.String
		if !in.ReadUint8(&typ) || !in.ReadUint16LengthPrefixed(&data) {
			return 0, fmt.Errorf("%w: truncated extension", ErrMalformedTile)
		}
		if seen[typ] {
			return 0, fmt.Errorf("%w: duplicate extension type %d", ErrMalformedTile, typ)
		}
		seen[typ] = true
		if typ != 0 {
			continue
		}
		if len(data) != 5 {
			return 0, fmt.Errorf("%w: leaf_index is %d bytes, want 5", ErrMalformedTile, len(data))
		}
		for _, c := range data {
			index = index<<8 | uint64(c)
		}
		found = true
	}
	if !found {
		return 0, fmt.Errorf("%w: no leaf_index extension", ErrMalformedTile)
	}
	return index, nil
}
