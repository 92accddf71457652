package ctlog

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/crypto/cryptobyte"

	"sigil.dev/sigil/checkpoint"
	"sigil.dev/sigil/sct"
)

// TLS SignatureAndHashAlgorithm values (RFC 5246 §7.4.1.4.1) of the log's
// signatures: SHA-256 with ECDSA.
const (
	tlsHashSHA256 = 4
	tlsSigECDSA   = 3
)

// signSCT returns the SCT over signed, the output of
// sct.PrecertSignedData or sct.X509SignedData for (timestamp, extensions).
func signSCT(key *ecdsa.PrivateKey, logID [32]byte, timestamp uint64, extensions, signed []byte) (*sct.SCT, error) {
	d := sha256.Sum256(signed)
	sig, err := ecdsa.SignASN1(rand.Reader, key, d[:])
	if err != nil {
		return nil, fmt.Errorf("couldn't sign SCT: %w", err)
	}
	return &sct.SCT{
		LogID:      logID,
		Timestamp:  timestamp,
		Extensions: extensions,
		HashAlg:    tlsHashSHA256,
		SigAlg:     tlsSigECDSA,
		Signature:  sig,
	}, nil
}

// digitallySigned returns the TLS DigitallySigned encoding of an SCT's
// signature: hash(1) signature(1) opaque signature<0..2^16-1>.
func digitallySigned(hashAlg, sigAlg uint8, sig []byte) []byte {
	var b cryptobyte.Builder
	b.AddUint8(hashAlg)
	b.AddUint8(sigAlg)
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(sig) })
	return b.BytesOrPanic()
}

// parseDigitallySigned is the inverse of digitallySigned; the input must
// hold nothing else.
func parseDigitallySigned(in []byte) (hashAlg, sigAlg uint8, sig []byte, err error) {
	s := cryptobyte.String(in)
	var body cryptobyte.String
	if !s.ReadUint8(&hashAlg) || !s.ReadUint8(&sigAlg) || !s.ReadUint16LengthPrefixed(&body) || !s.Empty() {
		return 0, 0, nil, errors.New("bad TLS DigitallySigned encoding")
	}
	return hashAlg, sigAlg, body, nil
}

// treeHeadSignatureInput returns the RFC 6962 §3.5 TreeHeadSignature an
// STH signs: version(1)=0 signature_type(1)=1 (tree_hash) timestamp(8)
// tree_size(8) sha256_root_hash(32).
func treeHeadSignatureInput(timestamp, size uint64, root []byte) []byte {
	b := make([]byte, 0, 2+8+8+32)
	b = append(b, 0, 1)
	b = binary.BigEndian.AppendUint64(b, timestamp)
	b = binary.BigEndian.AppendUint64(b, size)
	return append(b, root...)
}

// sthSigner signs checkpoints with the static-ct-api RFC6962NoteSignature
// (c2sp.org/static-ct-api "Checkpoints"): the note signature is
// timestamp(8) || DigitallySigned(TreeHeadSignature), under the key ID
// SHA-256(origin || 0x0A || 0x05 || log ID)[:4]. It implements
// golang.org/x/mod/sumdb/note.Signer for Tessera, which calls Sign from its
// publishing goroutine.
type sthSigner struct {
	origin  string
	keyHash uint32
	key     *ecdsa.PrivateKey
	now     func() time.Time

	mu   sync.Mutex
	last uint64 // the last STH timestamp, so that timestamps never go back
}

func newSTHSigner(origin string, key *ecdsa.PrivateKey, logID [32]byte) *sthSigner {
	return &sthSigner{origin: origin, keyHash: sthKeyHash(origin, logID), key: key, now: time.Now}
}

func sthKeyHash(origin string, logID [32]byte) uint32 {
	h := sha256.New()
	h.Write([]byte(origin))
	h.Write([]byte{'\n', 0x05})
	h.Write(logID[:])
	return binary.BigEndian.Uint32(h.Sum(nil))
}

func (s *sthSigner) Name() string    { return s.origin }
func (s *sthSigner) KeyHash() uint32 { return s.keyHash }

// Sign signs a checkpoint body. It refuses bodies of another origin and
// bodies with extension lines, which an RFC 6962 STH cannot cover.
func (s *sthSigner) Sign(msg []byte) ([]byte, error) {
	c, err := checkpoint.Parse(msg)
	if err != nil {
		return nil, fmt.Errorf("couldn't sign checkpoint: %w", err)
	}
	if c.Origin != s.origin {
		return nil, fmt.Errorf("couldn't sign checkpoint: origin %q is not the log's %q", c.Origin, s.origin)
	}
	if len(c.Extensions) > 0 {
		return nil, errors.New("couldn't sign checkpoint: an RFC 6962 STH signature cannot cover extension lines")
	}
	s.mu.Lock()
	ts := uint64(s.now().UnixMilli())
	if ts <= s.last {
		ts = s.last + 1
	}
	s.last = ts
	s.mu.Unlock()
	d := sha256.Sum256(treeHeadSignatureInput(ts, c.Size, c.Hash))
	sig, err := ecdsa.SignASN1(rand.Reader, s.key, d[:])
	if err != nil {
		return nil, fmt.Errorf("couldn't sign checkpoint: %w", err)
	}
	out := binary.BigEndian.AppendUint64(nil, ts)
	return append(out, digitallySigned(tlsHashSHA256, tlsSigECDSA, sig)...), nil
}
