package testpki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"net/url"
	"time"

	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/merkle/testonly"
	"golang.org/x/mod/sumdb/note"

	"sigil.dev/sigil/checkpoint"
	"sigil.dev/sigil/rekor"
)

// Log is an in-memory transparency log in the Rekor v1 or v2 style.
type Log struct {
	BaseURL string
	Key     crypto.Signer
	ID      []byte // log ID as the trusted root lists it
	V1      bool
	TreeID  int64 // v1 only: the origin is "<host> - <TreeID>"
	// Offset is added to v1 indices to make them "global" (sharding).
	Offset int64

	host   string
	signer note.Signer
	tree   *testonly.Tree
}

// NewLog makes a log. v1 logs sign with ECDSA and SETs; v2 logs sign C2SP
// checkpoints under the host name of baseURL.
func NewLog(baseURL string, key crypto.Signer, v1 bool) (*Log, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, err
	}
	l := &Log{BaseURL: baseURL, Key: key, V1: v1, host: u.Hostname(), tree: testonly.New(rfc6962.DefaultHasher)}
	if l.signer, err = checkpoint.NewSigner(l.host, key); err != nil {
		return nil, err
	}
	if v1 {
		l.TreeID = 1193050959916656506
		l.Offset = 1000
		id := KeyID(key.Public())
		l.ID = id[:]
	} else {
		if l.ID, err = checkpoint.KeyID(l.host, key.Public()); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// Origin returns the checkpoint origin.
func (l *Log) Origin() string {
	if l.V1 {
		return fmt.Sprintf("%s - %d", l.host, l.TreeID)
	}
	return l.host
}

// Append adds a body and returns its tree-local index.
func (l *Log) Append(body []byte) int64 {
	l.tree.AppendData(body)
	return int64(l.tree.Size() - 1)
}

// Size returns the tree size.
func (l *Log) Size() uint64 { return l.tree.Size() }

// Checkpoint returns the signed checkpoint of the current tree.
func (l *Log) Checkpoint() ([]byte, error) {
	cp := &checkpoint.Checkpoint{Origin: l.Origin(), Size: l.tree.Size(), Hash: l.tree.Hash()}
	if l.V1 {
		cp.Extensions = []string{fmt.Sprintf("Timestamp: %d", time.Now().UnixNano())}
	}
	return checkpoint.Sign(cp, l.signer)
}

// EntryOptions choose what an entry carries.
type EntryOptions struct {
	Kind, Version  string
	IntegratedTime time.Time // v1; default now
	NoSET          bool      // v1: omit the inclusion promise
	NoProof        bool      // omit the inclusion proof
}

// Entry returns the transparency-log entry for the body at local index i,
// proven against the current tree.
func (l *Log) Entry(i int64, body []byte, o EntryOptions) (*protorekor.TransparencyLogEntry, error) {
	e := &protorekor.TransparencyLogEntry{
		LogIndex:          i,
		LogId:             &protocommon.LogId{KeyId: l.ID},
		KindVersion:       &protorekor.KindVersion{Kind: o.Kind, Version: o.Version},
		CanonicalizedBody: body,
	}
	if l.V1 {
		e.LogIndex = i + l.Offset
		it := o.IntegratedTime
		if it.IsZero() {
			it = time.Now()
		}
		e.IntegratedTime = it.Unix()
		if !o.NoSET {
			d := sha256.Sum256(rekor.SETPayload(body, e.IntegratedTime, l.ID, e.LogIndex))
			set, err := ecdsa.SignASN1(rand.Reader, l.Key.(*ecdsa.PrivateKey), d[:])
			if err != nil {
				return nil, err
			}
			e.InclusionPromise = &protorekor.InclusionPromise{SignedEntryTimestamp: set}
		}
	}
	if !o.NoProof {
		size := l.tree.Size()
		hashes, err := l.tree.InclusionProof(uint64(i), size)
		if err != nil {
			return nil, err
		}
		cp, err := l.Checkpoint()
		if err != nil {
			return nil, err
		}
		e.InclusionProof = &protorekor.InclusionProof{
			LogIndex: i, RootHash: l.tree.Hash(), TreeSize: int64(size), Hashes: hashes,
			Checkpoint: &protorekor.Checkpoint{Envelope: string(cp)},
		}
	}
	return e, nil
}
