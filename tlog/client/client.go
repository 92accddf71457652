// Package client reads Rekor transparency logs, v1 and v2, and checks what
// they answer: signed checkpoints, inclusion proofs (with SETs on v1) and
// consistency proofs. It serves sigil's "log" commands and tests; it
// speaks to any Rekor v1 server (sigstore/rekor openapi.yaml) and any
// C2SP tlog-tiles log (Rekor v2 serves it under /api/v2/).
package client

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/client"
	"golang.org/x/mod/sumdb/note"

	"sigil.dev/sigil/checkpoint"
	"sigil.dev/sigil/internal/httpx"
	"sigil.dev/sigil/internal/printable"
	"sigil.dev/sigil/rekor"
	"sigil.dev/sigil/trust"
)

// Errors callers may branch on.
var (
	// ErrNotFound is returned when the log has no such entry.
	ErrNotFound = errors.New("no such log entry")
	// ErrVerification wraps every failed check of what a log answered.
	ErrVerification = errors.New("log verification failed")
)

func verifyErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrVerification, fmt.Sprintf(format, args...))
}

// Client reads one log.
type Client struct {
	// BaseURL is the log's base URL, as a trusted root lists it (for
	// example https://rekor.sigstore.dev).
	BaseURL string
	// HTTP is the HTTP client; default one with a 30s timeout.
	HTTP *http.Client
}

// New returns a client for the log at baseURL.
func New(baseURL string) *Client {
	return &Client{BaseURL: strings.TrimSuffix(baseURL, "/"), HTTP: &http.Client{Timeout: 30 * time.Second}}
}

func (c *Client) get(ctx context.Context, path string) ([]byte, error) {
	return c.do(ctx, http.MethodGet, path, nil)
}

// maxAnswer bounds what the client reads of one answer.
var maxAnswer int64 = 64 << 20

func (c *Client) do(ctx context.Context, method, path string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("couldn't build request: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("couldn't reach the log: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return nil, fmt.Errorf("couldn't read the log's answer: %w", err)
	}
	if int64(len(b)) > maxAnswer {
		return nil, fmt.Errorf("couldn't read the log's answer to %s %s: it is larger than %d MiB (a search naming too many entries? narrow it)", method, path, maxAnswer>>20)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("%w: %s %s", ErrNotFound, method, path)
	case resp.StatusCode != http.StatusOK:
		msg := strings.TrimSpace(string(b))
		var e struct{ Message string }
		if json.Unmarshal(b, &e) == nil && e.Message != "" {
			msg = e.Message
		}
		return nil, fmt.Errorf("couldn't get %s: the log answered %d: %s", path, resp.StatusCode, quoteAnswer(msg))
	}
	return b, nil
}

// maxQuoted bounds how much of a log's error answer an error quotes.
const maxQuoted = 300

// quoteAnswer makes a log's error answer fit for an error message, which
// goes to a terminal: control characters (terminal escapes), invalid
// UTF-8 and bidirectional formatting characters become "?", and an
// answer longer than maxQuoted bytes (an HTML error page) is cut short.
func quoteAnswer(s string) string { return printable.Cut(s, maxQuoted) }

// Key is what verifies a log's checkpoints and SETs: a trusted-root log
// instance.
type Key = trust.Log

// FindKey returns the log of a trusted root whose key signed a checkpoint
// (its key hash is the first four bytes of the log ID), or nil.
func FindKey(tr *trust.TrustedRoot, signedNote []byte) *trust.Log {
	for _, hash := range noteKeyHashes(signedNote) {
		for _, l := range tr.TLogs {
			if len(l.ID) >= 4 && binary.BigEndian.Uint32(l.ID) == hash {
				return l
			}
		}
	}
	return nil
}

func noteKeyHashes(msg []byte) []uint32 {
	text, ok := checkpoint.Split(msg)
	if !ok {
		return nil
	}
	var out []uint32
	for _, line := range strings.Split(strings.TrimSuffix(string(msg[len(text)+1:]), "\n"), "\n") {
		f := strings.Fields(strings.TrimPrefix(line, "— "))
		if len(f) != 2 {
			continue
		}
		sig, err := base64.StdEncoding.DecodeString(f[1])
		if err == nil && len(sig) >= 4 {
			out = append(out, binary.BigEndian.Uint32(sig))
		}
	}
	return out
}

// OpenCheckpoint verifies a signed checkpoint with a log's key: Rekor v1
// checkpoints ("<host> - <tree ID>") by key hash, others under the log's
// origin (the host of its base URL).
func OpenCheckpoint(signed []byte, k *Key) (*checkpoint.Checkpoint, error) {
	text, ok := checkpoint.Split(signed)
	if !ok {
		return nil, verifyErr("the checkpoint is not a signed note")
	}
	first, _, _ := strings.Cut(string(text), "\n")
	var cp *checkpoint.Checkpoint
	var err error
	if checkpoint.IsV1Origin(first) {
		cp, _, err = checkpoint.OpenV1(signed, k.V1CheckpointVerifier)
	} else {
		var v note.Verifier = k.CheckpointVerifier
		if v == nil {
			return nil, verifyErr("the log's origin %q is not a usable key name", k.Origin)
		}
		if first != k.Origin {
			// Say so rather than "no valid signature": the checkpoint is
			// of another log, or the log's URL names another host than
			// the one its key signs as.
			return nil, verifyErr("the checkpoint is of origin %q, but the log's key signs as %q (the host of %s)", first, k.Origin, k.BaseURL)
		}
		cp, _, err = checkpoint.Open(signed, k.Origin, v)
	}
	if err != nil {
		return nil, verifyErr("checkpoint: %v", err)
	}
	return cp, nil
}

// LogInfo is the state of a Rekor v1 log (GET /api/v1/log).
type LogInfo struct {
	RootHash       string `json:"rootHash"`
	TreeSize       uint64 `json:"treeSize"`
	SignedTreeHead string `json:"signedTreeHead"`
	TreeID         string `json:"treeID"`
}

// V1LogInfo returns the log's state.
func (c *Client) V1LogInfo(ctx context.Context) (*LogInfo, error) {
	b, err := c.get(ctx, "/api/v1/log")
	if err != nil {
		return nil, err
	}
	var li LogInfo
	if err := json.Unmarshal(b, &li); err != nil {
		return nil, fmt.Errorf("couldn't parse log info: %w", err)
	}
	return &li, nil
}

// V2Checkpoint returns the log's newest checkpoint (C2SP tlog-tiles, under
// /api/v2/).
func (c *Client) V2Checkpoint(ctx context.Context) ([]byte, error) {
	return c.get(ctx, "/api/v2/checkpoint")
}

// Tiles returns a tile reader of the log's tlog-tiles API under /api/v2/.
// It reads at most maxAnswer bytes of each tile or entry bundle, as the
// client does of every other answer: the fetcher would read all a log
// sends.
func (c *Client) Tiles() (*client.HTTPFetcher, error) {
	u, err := url.Parse(c.BaseURL + "/api/v2/")
	if err != nil {
		return nil, fmt.Errorf("couldn't parse log URL: %w", err)
	}
	hc := http.Client{}
	if c.HTTP != nil {
		hc = *c.HTTP
	}
	hc.Transport = httpx.LimitBodies(hc.Transport, maxAnswer, func(req *http.Request) error {
		return fmt.Errorf("couldn't read the log's answer to %s %s: it is larger than %d MiB", req.Method, req.URL.Path, maxAnswer>>20)
	})
	return client.NewHTTPFetcher(u, &hc)
}

// V1ConsistencyProof returns the consistency proof between two sizes
// (GET /api/v1/log/proof).
func (c *Client) V1ConsistencyProof(ctx context.Context, first, last uint64) ([][]byte, error) {
	b, err := c.get(ctx, fmt.Sprintf("/api/v1/log/proof?firstSize=%d&lastSize=%d", first, last))
	if err != nil {
		return nil, err
	}
	var p struct {
		Hashes []string `json:"hashes"`
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("couldn't parse consistency proof: %w", err)
	}
	return decodeHexes(p.Hashes)
}

func decodeHexes(in []string) ([][]byte, error) {
	out := make([][]byte, 0, len(in))
	for _, h := range in {
		b, err := hex.DecodeString(h)
		if err != nil || len(b) != sha256.Size {
			return nil, verifyErr("proof hash %q is not a hex SHA-256", h)
		}
		out = append(out, b)
	}
	return out, nil
}

// ProveConsistency checks that the checkpoint new extends old: with a
// Rekor v1 proof when v1 is set, else from the log's tiles. Both
// checkpoints must be verified already.
func (c *Client) ProveConsistency(ctx context.Context, v1 bool, old, new *checkpoint.Checkpoint) error {
	empty := rfc6962.DefaultHasher.EmptyRoot()
	for _, cp := range []*checkpoint.Checkpoint{old, new} {
		if cp.Size == 0 && !bytes.Equal(cp.Hash, empty) {
			// Signed by the log, yet no tree of size 0 has this root.
			return verifyErr("a signed checkpoint of the empty tree has root %x, not SHA-256 of nothing (%x): the log signed a false checkpoint", cp.Hash, empty)
		}
	}
	switch {
	case old.Origin != new.Origin:
		return verifyErr("the checkpoints are of different logs (%q, %q)", old.Origin, new.Origin)
	case old.Size > new.Size:
		return verifyErr("the log shrank from %d to %d entries", old.Size, new.Size)
	case old.Size == new.Size:
		if !bytes.Equal(old.Hash, new.Hash) {
			return verifyErr("two different trees of size %d: the log forked", old.Size)
		}
		return nil
	case old.Size == 0:
		return nil
	}
	var hashes [][]byte
	var err error
	if v1 {
		hashes, err = c.V1ConsistencyProof(ctx, old.Size, new.Size)
	} else {
		var f *client.HTTPFetcher
		if f, err = c.Tiles(); err == nil {
			var pb *client.ProofBuilder
			if pb, err = client.NewProofBuilder(ctx, new.Size, f.ReadTile); err == nil {
				hashes, err = pb.ConsistencyProof(ctx, old.Size, new.Size)
			}
		}
	}
	if err != nil {
		return fmt.Errorf("couldn't get a consistency proof: %w", err)
	}
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, old.Size, new.Size, hashes, old.Hash, new.Hash); err != nil {
		// The library prints hashes as byte lists: name the roots in hex.
		return verifyErr("the tree of size %d (root %x) does not extend the tree of size %d (root %x): the consistency proof fails (%d hashes)", new.Size, new.Hash, old.Size, old.Hash, len(hashes))
	}
	return nil
}

// V1Entry returns a Rekor v1 entry by log index or UUID/entry ID, as a
// bundle's TransparencyLogEntry. kind and version come from the body.
func (c *Client) V1Entry(ctx context.Context, index int64, uuid string) (*protorekor.TransparencyLogEntry, string, error) {
	path := "/api/v1/log/entries?logIndex=" + strconv.FormatInt(index, 10)
	if uuid != "" {
		path = "/api/v1/log/entries/" + url.PathEscape(uuid)
	}
	b, err := c.get(ctx, path)
	if err != nil {
		return nil, "", err
	}
	return rekor.ParseV1LogEntry(b)
}

// V2Entry reads entry index of a tlog-tiles log at the size of checkpoint
// cp (verified by the caller) and proves it included, as a bundle's
// TransparencyLogEntry (hashedrekord 0.0.2; no integrated time, no SET).
func (c *Client) V2Entry(ctx context.Context, index uint64, signedCP []byte, cp *checkpoint.Checkpoint, logID []byte) (*protorekor.TransparencyLogEntry, error) {
	if index >= cp.Size {
		return nil, fmt.Errorf("%w: index %d is beyond the log's size %d", ErrNotFound, index, cp.Size)
	}
	f, err := c.Tiles()
	if err != nil {
		return nil, err
	}
	eb, err := client.GetEntryBundle(ctx, f.ReadEntryBundle, index/256, cp.Size)
	if err != nil {
		return nil, fmt.Errorf("couldn't read entry bundle %d: %w", index/256, err)
	}
	if int(index%256) >= len(eb.Entries) {
		return nil, verifyErr("entry bundle %d lacks entry %d", index/256, index)
	}
	body := eb.Entries[index%256]
	pb, err := client.NewProofBuilder(ctx, cp.Size, f.ReadTile)
	if err != nil {
		return nil, err
	}
	hashes, err := pb.InclusionProof(ctx, index)
	if err != nil {
		return nil, fmt.Errorf("couldn't build an inclusion proof: %w", err)
	}
	leaf := rekor.LeafHash(body)
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, index, cp.Size, leaf[:], hashes, cp.Hash); err != nil {
		return nil, verifyErr("entry %d is not in the tree of the checkpoint: %v", index, err)
	}
	kv := &protorekor.KindVersion{Kind: rekor.KindHashedRekord, Version: rekor.VersionHashedRekordV2}
	if _, err := rekor.ParseV2Body(body); err != nil {
		var k struct{ Kind, APIVersion string }
		json.Unmarshal(body, &k) //nolint:errcheck
		kv = &protorekor.KindVersion{Kind: k.Kind, Version: k.APIVersion}
	}
	return &protorekor.TransparencyLogEntry{
		LogIndex: int64(index), LogId: &protocommon.LogId{KeyId: logID}, KindVersion: kv, CanonicalizedBody: body,
		InclusionProof: &protorekor.InclusionProof{LogIndex: int64(index), RootHash: cp.Hash, TreeSize: int64(cp.Size), Hashes: hashes,
			Checkpoint: &protorekor.Checkpoint{Envelope: string(signedCP)}},
	}, nil
}

// VerifyEntry checks an entry of a log offline: its inclusion proof leads
// to the root of its checkpoint, which the log's key signed; its SET, if
// any, verifies and dates the entry within the log key's validity (Rekor
// v1 logs only). A Rekor v2 entry is proven at its own log index (as
// rekor-tiles' verifier does), a v1 entry at its proof's shard-local one.
// It returns the verified checkpoint.
func VerifyEntry(e *protorekor.TransparencyLogEntry, k *Key) (*checkpoint.Checkpoint, error) {
	if !bytes.Equal(e.GetLogId().GetKeyId(), k.ID) {
		return nil, verifyErr("the entry is from log %x, not %x", e.GetLogId().GetKeyId(), k.ID)
	}
	if set := e.GetInclusionPromise().GetSignedEntryTimestamp(); len(set) > 0 {
		pub, ok := k.PublicKey.(*ecdsa.PublicKey)
		if !ok {
			return nil, verifyErr("a SET from a %T log key", k.PublicKey)
		}
		d := sha256.Sum256(rekor.SETPayload(e.GetCanonicalizedBody(), e.GetIntegratedTime(), e.GetLogId().GetKeyId(), e.GetLogIndex()))
		if !ecdsa.VerifyASN1(pub, d[:], set) {
			return nil, verifyErr("the SET does not verify with the log's key")
		}
		if t := time.Unix(e.GetIntegratedTime(), 0); !k.Valid.Contains(t) {
			return nil, verifyErr("the SET dates the entry %s, outside the validity of the log's key %s", t.UTC().Format(time.RFC3339), k.Valid)
		}
	}
	p := e.GetInclusionProof()
	if p == nil {
		return nil, verifyErr("the entry has no inclusion proof")
	}
	cp, err := OpenCheckpoint([]byte(p.GetCheckpoint().GetEnvelope()), k)
	if err != nil {
		return nil, err
	}
	if cp.Size != uint64(p.GetTreeSize()) || !bytes.Equal(cp.Hash, p.GetRootHash()) {
		return nil, verifyErr("the checkpoint (size %d) is not the proof's tree (size %d)", cp.Size, p.GetTreeSize())
	}
	index := p.GetLogIndex()
	if kv := e.GetKindVersion(); rekor.IsV2Entry(kv.GetKind(), kv.GetVersion()) {
		index = e.GetLogIndex()
	}
	if index < 0 || uint64(index) >= cp.Size {
		return nil, verifyErr("log index %d is beyond the tree of the checkpoint (size %d)", index, cp.Size)
	}
	leaf := rekor.LeafHash(e.GetCanonicalizedBody())
	root, err := proof.RootFromInclusionProof(rfc6962.DefaultHasher, uint64(index), cp.Size, leaf[:], p.GetHashes())
	if err != nil {
		return nil, verifyErr("the inclusion proof of index %d is malformed: %v", index, err)
	}
	if !bytes.Equal(root, cp.Hash) {
		return nil, verifyErr("the inclusion proof of index %d leads to root %x, not the checkpoint's root %x", index, root, cp.Hash)
	}
	return cp, nil
}
