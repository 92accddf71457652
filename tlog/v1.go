package tlog

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"sigil.dev/sigil/checkpoint"
	"sigil.dev/sigil/internal/jcs"
	"sigil.dev/sigil/rekor"
	"sigil.dev/sigil/tlog/index"
)

// The Rekor v1 personality (sigstore/rekor openapi.yaml, pkg/api). One
// shard: the tree-local index is also the global logIndex. Beside the tree
// it keeps, in the index store, each entry's leaf hash (UUID) and
// integrated time and the search keys.
//
// Wire facts (log.md §1): entry IDs are the 16-hex tree ID followed by the
// 64-hex UUID = hex(SHA-256(0x00 || body)); responses are maps keyed by
// entry ID; the SET is ECDSA P-256 over SHA-256 of
// rekor.SETPayload(body, integratedTime, logID, logIndex); checkpoints have
// the origin "<host> - <tree ID>" and are signed under "<host>".

// signedV1 is a Rekor v1 checkpoint for a published tree size.
type signedV1 struct {
	size     uint64
	note     []byte
	noteJSON []byte // note as a JSON string
}

// pendingV1 is a v1 add in flight, for concurrent duplicates to wait on.
type pendingV1 struct{ done chan struct{} }

// v1Meta rides with a v1 entry through the group commit.
type v1Meta struct {
	leaf [32]byte
	body []byte // the canonical body
	keys []string
	// Set by recordV1 before the group is answered.
	integratedTime int64
	signed         *presigned // unless the entry is a duplicate or signing failed
}

// presigned is the start of an entry's LogEntry and its SET, prepared
// before the handler is answered (see appendV1Entry).
type presigned struct {
	head *[]byte // {"<entry ID>":<SET payload without its closing brace>, from bufPool
	set  []byte
}

// recordV1 is the v1 tree's onDurable hook: it records the integrated time
// and search keys of a group's entries in one index transaction, durable
// before any of them is answered (an acknowledged SET must find its
// integrated time after a crash). The leaf filter learns them first, so a
// duplicate waiting on one of them finds it.
//
// While the index transaction is being written, it signs the SETs of the
// group's new entries, so that CPU work otherwise done by each handler
// after the answer overlaps with the wait for the disk (all the group's
// clients are answered at once, and the sooner they send their next
// write, the larger the next group). done is called once both are done.
func (s *Service) recordV1(ctx context.Context, items []durable, done func(error)) {
	now := time.Now().Unix()
	recs := make([]index.Record, 0, len(items))
	var sign []*signJob
	for _, it := range items {
		m, ok := it.meta.(*v1Meta)
		if !ok {
			continue
		}
		m.integratedTime = now
		s.leaves.add(m.leaf)
		// A duplicate's record exists (or is rebuilt); putting it again
		// is a no-op.
		recs = append(recs, index.Record{Index: it.index, LeafHash: m.leaf, IntegratedTime: now, Keys: m.keys})
		if !it.dup {
			sign = append(sign, &signJob{m: m, index: it.index})
		}
	}
	// Parties: the index, and each signer.
	workers := min(len(sign), runtime.GOMAXPROCS(0))
	var (
		parties atomic.Int32
		putErr  error
	)
	parties.Store(int32(1 + workers))
	finish := func() {
		if parties.Add(-1) == 0 {
			done(putErr)
		}
	}
	for w := 0; w < workers; w++ {
		go func(w int) {
			defer finish()
			for i := w; i < len(sign); i += workers {
				sign[i].sign(s)
			}
		}(w)
	}
	put := func(err error) {
		putErr = err
		finish()
	}
	if a, ok := s.index.(index.AsyncPutter); ok {
		a.PutAsync(recs, put)
		return
	}
	go func() { put(s.index.Put(context.WithoutCancel(ctx), recs)) }()
}

// signJob is a SET to sign ahead of the answer. A failure leaves m.signed
// nil and the handler signs again.
type signJob struct {
	m     *v1Meta
	index uint64
}

func (j *signJob) sign(s *Service) {
	buf := getBuf()
	head, p := s.appendEntryHead(*buf, j.m.leaf, j.m.body, j.m.integratedTime, j.index)
	*buf = head[:len(head)-1]
	set, err := s.signSET(head[p:])
	if err != nil {
		putBuf(buf)
		return
	}
	j.m.signed = &presigned{head: buf, set: set}
}

// v1Checkpoint returns the Rekor v1 signed checkpoint of snapshot s, signed
// once per tree size.
func (s *Service) v1Checkpoint(snap *snapshot) (*signedV1, error) {
	if c := s.v1CP.Load(); c != nil && c.size == snap.size {
		return c, nil
	}
	n, err := checkpoint.Sign(&checkpoint.Checkpoint{Origin: s.v1Origin, Size: snap.size, Hash: snap.root}, s.v1Signer)
	if err != nil {
		return nil, err
	}
	c := &signedV1{size: snap.size, note: n, noteJSON: jcs.AppendString(nil, string(n))}
	if old := s.v1CP.Load(); old == nil || old.size < snap.size {
		s.v1CP.Store(c)
	}
	return c, nil
}

// signSET signs the Signed Entry Timestamp over its payload
// (rekor.SETPayload).
func (s *Service) signSET(payload []byte) ([]byte, error) {
	d := sha256.Sum256(payload)
	sig, err := s.v1Key.Sign(rand.Reader, d[:], crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("couldn't sign SET: %w", err)
	}
	return sig, nil
}

func (s *Service) entryID(leaf [32]byte) string { return s.v1Prefix + hex.EncodeToString(leaf[:]) }

// entryURL is the Location of an entry: the request's path and the entry
// ID, relative like Rekor's (sigstore/rekor pkg/api/entries.go getEntryURL;
// rekor-cli prints it after the server URL, cosign takes its last segment).
func entryURL(r *http.Request, id string) string {
	return strings.TrimSuffix(r.URL.Path, "/") + "/" + id
}

// v1Create handles POST /api/v1/log/entries: 201 with the LogEntry (SET,
// inclusion proof, checkpoint), ETag = entry ID and Location; 409 with the
// Location of the existing entry for a duplicate (cosign and gitsign follow
// it).
func (s *Service) v1Create(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	if s.cfg.ReadOnly {
		s.m.rejected.WithLabelValues("v1", "frozen").Inc()
		writeV1Error(w, ErrFrozen)
		return
	}
	if !s.enter() {
		s.m.pushback.WithLabelValues("v1").Inc()
		writeV1Error(w, ErrClosed)
		return
	}
	defer s.leave()
	g := s.m.inFlight.WithLabelValues("v1")
	g.Inc()
	defer g.Dec()

	e, err := s.readProposedEntry(w, r)
	if err != nil {
		s.reject(w, r, "v1", err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.AddTimeout)
	defer cancel()
	leaf := rekor.LeafHash(e.body)

	// Duplicates: one in the index, or one being added right now.
	for {
		if s.leaves.mayContain(leaf) {
			if rec, err := s.index.ByLeafHash(ctx, leaf); err == nil {
				s.v1Conflict(ctx, w, r, rec.Index, leaf)
				return
			} else if !errors.Is(err, index.ErrNotFound) {
				s.reject(w, r, "v1", err)
				return
			}
		}
		p := &pendingV1{done: make(chan struct{})}
		other, loaded := s.pending.LoadOrStore(leaf, p)
		if !loaded {
			defer func() { s.pending.Delete(leaf); close(p.done) }()
			break
		}
		select {
		case <-other.(*pendingV1).done:
		case <-ctx.Done():
			s.reject(w, r, "v1", fmt.Errorf("%w: %v", ErrPushback, ctx.Err()))
			return
		}
	}

	// The index record (with the integrated time its SET signs) is made
	// durable by the group commit, before the tree answers (recordV1).
	meta := &v1Meta{leaf: leaf, body: e.body, keys: e.keys}
	idx, dup, release, err := s.v1.sequence(ctx, e.body, meta)
	if err != nil {
		s.reject(w, r, "v1", err)
		return
	}
	defer release()
	snap, err := s.v1.await(ctx, idx)
	if err != nil {
		s.reject(w, r, "v1", err)
		return
	}
	rec := index.Record{Index: idx, LeafHash: leaf, IntegratedTime: meta.integratedTime, Keys: e.keys}
	if dup {
		// Logged by an earlier request of this process (Tessera's
		// antispam), whose record Put just made sure of.
		s.v1Conflict(ctx, w, r, idx, leaf)
		return
	}
	// Prove the entry against the newest checkpoint (it covers snap).
	if latest := s.v1.latest(); latest.size > snap.size {
		snap = latest
	}
	out := getBuf()
	defer putBuf(out)
	b, id, err := s.appendV1Entry(ctx, *out, rec, e.body, snap, meta.signed)
	if err != nil {
		s.reject(w, r, "v1", err)
		return
	}
	*out = b
	h := w.Header()
	h.Set("ETag", id)
	h.Set("Location", entryURL(r, id))
	writeJSON(w, http.StatusCreated, b)
	s.m.appended.WithLabelValues("v1").Inc()
	s.m.addLatency.WithLabelValues("v1").Observe(time.Since(start).Seconds())
}

// v1Conflict answers 409 for an entry already at index, once a published
// checkpoint covers it (so that following Location finds it).
func (s *Service) v1Conflict(ctx context.Context, w http.ResponseWriter, r *http.Request, idx uint64, leaf [32]byte) {
	if _, err := s.v1.await(ctx, idx); err != nil {
		s.reject(w, r, "v1", err)
		return
	}
	id := s.entryID(leaf)
	s.m.duplicates.WithLabelValues("v1").Inc()
	w.Header().Set("Location", entryURL(r, id))
	writeV1Error(w, &requestError{http.StatusConflict, "an equivalent entry already exists in the transparency log with UUID " + id})
}

// readProposedEntry reads and validates a ProposedEntry request body.
func (s *Service) readProposedEntry(w http.ResponseWriter, r *http.Request) (*v1Entry, error) {
	in := getBuf()
	defer putBuf(in) // nothing parsed from it refers to it
	raw, err := readBodyInto(w, r, s.cfg.MaxRequestSize, *in)
	*in = raw
	if err != nil {
		return nil, err
	}
	pe, ok := fastParseProposed(raw)
	if !ok {
		pe = &proposedEntry{}
		if err := json.Unmarshal(raw, pe); err != nil {
			if field, berr := badBase64Field(raw, bytesFieldsV1, stdBase64); field != "" {
				return nil, badRequest("couldn't decode proposed entry: %s is not base64: %v", field, berr)
			}
			return nil, badRequest("couldn't decode proposed entry: %v", err)
		}
	}
	e, err := s.canonicalizeV1(pe)
	if err != nil {
		return nil, err
	}
	if len(e.body) > s.cfg.MaxEntrySize {
		return nil, tooLarge("the canonical entry is %d bytes, more than this log's limit of %d", len(e.body), s.cfg.MaxEntrySize)
	}
	return e, nil
}

// appendV1Entry appends to dst the LogEntry map of an entry proven against
// snap, and returns it with the entry ID:
//
//	{"<entryID>":{"body":"<b64>","integratedTime":…,"logID":"<hex>","logIndex":…,
//	  "verification":{"inclusionProof":{"checkpoint":"…","hashes":["<hex>",…],
//	    "logIndex":…,"rootHash":"<hex>","treeSize":…},"signedEntryTimestamp":"<b64>"}}}
//
// The members before "verification" are the SET payload byte for byte
// (rekor.AppendSETPayload), so they are written once and signed in place;
// pre, if not nil, holds them and their SET, prepared for rec and body.
func (s *Service) appendV1Entry(ctx context.Context, dst []byte, rec index.Record, body []byte, snap *snapshot, pre *presigned) ([]byte, string, error) {
	hashes, err := s.v1.proveInclusion(ctx, rec.Index, rec.LeafHash[:], snap)
	if err != nil {
		return nil, "", err
	}
	cp, err := s.v1Checkpoint(snap)
	if err != nil {
		return nil, "", err
	}
	id := s.entryID(rec.LeafHash)
	b := slices.Grow(dst, 1024+len(body)*4/3+len(cp.noteJSON))
	var set []byte
	if pre != nil {
		b, set = append(b, *pre.head...), pre.set
		putBuf(pre.head)
		pre.head = nil
	} else {
		var p int
		b, p = s.appendEntryHead(b, rec.LeafHash, body, rec.IntegratedTime, rec.Index)
		if set, err = s.signSET(b[p:]); err != nil {
			return nil, "", err
		}
		b = b[:len(b)-1] // the payload's closing brace
	}
	b = append(b, `,"verification":{"inclusionProof":{"checkpoint":`...)
	b = append(b, cp.noteJSON...)
	b = append(b, `,"hashes":[`...)
	for i, h := range hashes {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = hex.AppendEncode(b, h)
		b = append(b, '"')
	}
	b = append(b, `],"logIndex":`...)
	b = strconv.AppendUint(b, rec.Index, 10)
	b = append(b, `,"rootHash":"`...)
	b = hex.AppendEncode(b, snap.root)
	b = append(b, `","treeSize":`...)
	b = strconv.AppendUint(b, snap.size, 10)
	b = append(b, `},"signedEntryTimestamp":"`...)
	b = base64.StdEncoding.AppendEncode(b, set)
	b = append(b, `"}}}`...)
	return b, id, nil
}

// appendEntryHead appends {"<entry ID>":<SET payload> and returns it with
// the offset of the payload.
func (s *Service) appendEntryHead(b []byte, leaf [32]byte, body []byte, integratedTime int64, index uint64) ([]byte, int) {
	b = append(b, `{"`...)
	b = append(b, s.v1Prefix...)
	b = hex.AppendEncode(b, leaf[:])
	b = append(b, `":`...)
	p := len(b)
	return rekor.AppendSETPayload(b, body, integratedTime, s.v1LogID, int64(index)), p
}

// v1Record returns the index record of a published entry; a record lost
// by a failed write is rebuilt from the tree.
func (s *Service) v1Record(ctx context.Context, idx uint64, snap *snapshot) (index.Record, []byte, error) {
	body, err := s.v1.entry(ctx, idx, snap.size)
	if err != nil {
		return index.Record{}, nil, err
	}
	rec, err := s.index.ByIndex(ctx, idx)
	if errors.Is(err, index.ErrNotFound) && !s.cfg.ReadOnly {
		rec = index.Record{Index: idx, LeafHash: rekor.LeafHash(body), IntegratedTime: time.Now().Unix(), Keys: bodyKeys(body)}
		s.log.Warn("rebuilt a missing index record", "index", idx)
		err = s.index.Put(ctx, []index.Record{rec})
	}
	if err != nil {
		return index.Record{}, nil, err
	}
	if rec.LeafHash != rekor.LeafHash(body) {
		return index.Record{}, nil, fmt.Errorf("index record of entry %d does not match the tree", idx)
	}
	return rec, body, nil
}

// v1Lookup returns the LogEntry JSON of the published entry at idx.
func (s *Service) v1Lookup(ctx context.Context, idx uint64) ([]byte, error) {
	snap := s.v1.latest()
	if idx >= snap.size {
		return nil, index.ErrNotFound
	}
	rec, body, err := s.v1Record(ctx, idx, snap)
	if err != nil {
		return nil, err
	}
	out, _, err := s.appendV1Entry(ctx, nil, rec, body, snap, nil)
	return out, err
}

// uuidPattern is the entry UUID or entry ID pattern of the v1 API. Like
// searchHash it is compiled on first use, not when every sigil command
// starts.
var uuidPattern = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^([0-9a-fA-F]{64}|[0-9a-fA-F]{80})$`)
})

// parseEntryID returns the leaf hash named by a UUID or entry ID, and
// whether it names this log (an entry ID of another tree does not).
func (s *Service) parseEntryID(id string) ([32]byte, bool, error) {
	var leaf [32]byte
	if !uuidPattern().MatchString(id) {
		return leaf, false, badRequest("%q is not a 64-hex UUID or an 80-hex entry ID", id)
	}
	id = strings.ToLower(id)
	if len(id) == 80 {
		if id[:16] != s.v1Prefix {
			return leaf, false, nil
		}
		id = id[16:]
	}
	hex.Decode(leaf[:], []byte(id)) //nolint:errcheck // checked by the pattern
	return leaf, true, nil
}

// v1FindByLeaf returns the LogEntry JSON of the entry with a leaf hash, or
// index.ErrNotFound.
func (s *Service) v1FindByLeaf(ctx context.Context, leaf [32]byte) ([]byte, error) {
	rec, err := s.index.ByLeafHash(ctx, leaf)
	if err != nil {
		return nil, err
	}
	return s.v1Lookup(ctx, rec.Index)
}

// v1GetByUUID handles GET /api/v1/log/entries/{entryUUID}.
func (s *Service) v1GetByUUID(w http.ResponseWriter, r *http.Request) {
	leaf, ours, err := s.parseEntryID(r.PathValue("id"))
	if err != nil {
		writeV1Error(w, err)
		return
	}
	if !ours {
		writeV1Error(w, &requestError{http.StatusNotFound, "no entry with ID " + r.PathValue("id")})
		return
	}
	out, err := s.v1FindByLeaf(r.Context(), leaf)
	s.writeLookup(w, r, out, err)
}

// v1GetByIndex handles GET /api/v1/log/entries?logIndex=N.
func (s *Service) v1GetByIndex(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query().Get("logIndex")
	idx, err := strconv.ParseUint(q, 10, 63)
	if err != nil {
		writeV1Error(w, badRequest("logIndex must be an integer ≥ 0, got %q", q))
		return
	}
	out, err := s.v1Lookup(r.Context(), idx)
	s.writeLookup(w, r, out, err)
}

func (s *Service) writeLookup(w http.ResponseWriter, r *http.Request, out []byte, err error) {
	switch {
	case errors.Is(err, index.ErrNotFound):
		writeV1Error(w, &requestError{http.StatusNotFound, "entry not found"})
	case err != nil:
		s.log.Error("lookup failed", "path", r.URL.RequestURI(), "err", err)
		writeV1Error(w, err)
	default:
		writeJSON(w, http.StatusOK, out)
	}
}

// maxSearchQueries bounds the items of one entries/retrieve request
// (sigstore/rekor pkg/api/entries.go).
const maxSearchQueries = 10

// v1Retrieve handles POST /api/v1/log/entries/retrieve: up to ten entry
// UUIDs, log indexes and proposed entries (canonicalized, then looked up by
// leaf hash); missing ones are skipped; more than ten in all gets 422.
func (s *Service) v1Retrieve(w http.ResponseWriter, r *http.Request) {
	raw, err := readBody(w, r, s.cfg.MaxRequestSize)
	if err != nil {
		writeV1Error(w, err)
		return
	}
	var q struct {
		EntryUUIDs []string         `json:"entryUUIDs"`
		LogIndexes []*int64         `json:"logIndexes"`
		Entries    []*proposedEntry `json:"entries"`
	}
	if err := json.Unmarshal(raw, &q); err != nil {
		writeV1Error(w, badRequest("couldn't decode search query: %v", err))
		return
	}
	if n := len(q.EntryUUIDs) + len(q.LogIndexes) + len(q.Entries); n > maxSearchQueries {
		writeV1Error(w, &requestError{http.StatusUnprocessableEntity, fmt.Sprintf("more than max allowed %d entries in request", maxSearchQueries)})
		return
	}
	ctx := r.Context()
	var leaves [][32]byte
	for _, id := range q.EntryUUIDs {
		leaf, ours, err := s.parseEntryID(id)
		if err != nil {
			writeV1Error(w, err)
			return
		}
		if ours {
			leaves = append(leaves, leaf)
		}
	}
	for i, pe := range q.Entries {
		if pe == nil {
			writeV1Error(w, badRequest("entries[%d] is null", i))
			return
		}
		e, err := s.canonicalizeV1(pe)
		var unsupported errUnsupportedKind
		if errors.As(err, &unsupported) {
			continue // this log holds no entry of that kind
		}
		if err != nil {
			writeV1Error(w, err)
			return
		}
		leaves = append(leaves, rekor.LeafHash(e.body))
	}
	var results [][]byte
	for _, leaf := range leaves {
		out, err := s.v1FindByLeaf(ctx, leaf)
		if errors.Is(err, index.ErrNotFound) {
			continue
		}
		if err != nil {
			s.writeLookup(w, r, nil, err)
			return
		}
		results = append(results, out)
	}
	for _, li := range q.LogIndexes {
		if li == nil || *li < 0 {
			writeV1Error(w, badRequest("logIndexes must be integers ≥ 0"))
			return
		}
		out, err := s.v1Lookup(ctx, uint64(*li))
		if errors.Is(err, index.ErrNotFound) {
			continue
		}
		if err != nil {
			s.writeLookup(w, r, nil, err)
			return
		}
		results = append(results, out)
	}
	b := []byte{'['}
	for i, res := range results {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, res...)
	}
	writeJSON(w, http.StatusOK, append(b, ']'))
}

// maxSearchResults bounds an index search's answer (the API is
// best-effort and "may be incomplete"): the newest matches, so that one
// batch of entries logged under a name (anyone may log under a
// certificate of their own naming anyone) cannot hide every later entry
// of that name for good, as it could when the oldest were answered.
const maxSearchResults = 10000

var searchHash = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(sha512:)?[0-9a-fA-F]{128}$|^(sha256:)?[0-9a-fA-F]{64}$|^(sha1:)?[0-9a-fA-F]{40}$`)
})

// v1SearchIndex handles POST /api/v1/index/retrieve (deprecated in Rekor):
// entry IDs by artifact hash, public key, email or subject, combined with
// "or" (default) or "and".
func (s *Service) v1SearchIndex(w http.ResponseWriter, r *http.Request) {
	raw, err := readBody(w, r, s.cfg.MaxRequestSize)
	if err != nil {
		writeV1Error(w, err)
		return
	}
	var q struct {
		Email     string `json:"email"`
		Subject   string `json:"subject"`
		Hash      string `json:"hash"`
		Operator  string `json:"operator"`
		PublicKey *struct {
			Format  string `json:"format"`
			Content []byte `json:"content"`
			URL     string `json:"url"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(raw, &q); err != nil {
		writeV1Error(w, badRequest("couldn't decode search query: %v", err))
		return
	}
	var keys []string
	if q.Hash != "" {
		if !searchHash().MatchString(q.Hash) {
			writeV1Error(w, badRequest("hash must be [sha256:|sha512:|sha1:]<hex digest>"))
			return
		}
		keys = append(keys, prefixSHA(strings.ToLower(q.Hash)))
	}
	if q.PublicKey != nil {
		if q.PublicKey.Format != "x509" {
			writeV1Error(w, badRequest("the PKI format requested is not supported by this server"))
			return
		}
		if q.PublicKey.URL != "" || len(q.PublicKey.Content) == 0 {
			writeV1Error(w, badRequest("publicKey.content is required (fetching keys by URL is not supported)"))
			return
		}
		v, err := parsePEMVerifier(q.PublicKey.Content)
		if err != nil {
			writeV1Error(w, badRequest("public key provided could not be parsed"))
			return
		}
		keys = append(keys, v.keyHash)
	}
	if q.Email != "" {
		if !strings.Contains(q.Email, "@") {
			writeV1Error(w, badRequest("email %q is not an email address", q.Email))
			return
		}
		keys = append(keys, strings.ToLower(q.Email))
	}
	if q.Subject != "" {
		if len(q.Subject) > 512 {
			writeV1Error(w, badRequest("subject is longer than 512 characters"))
			return
		}
		keys = append(keys, strings.ToLower(q.Subject))
	}
	op := q.Operator
	if op == "" {
		op = "or"
	}
	if op != "or" && op != "and" {
		writeV1Error(w, badRequest("operator must be \"and\" or \"or\""))
		return
	}
	b := []byte{'['}
	if len(keys) > 0 {
		recs, err := s.index.Search(r.Context(), keys, op == "and", maxSearchResults)
		if err != nil {
			s.writeLookup(w, r, nil, err)
			return
		}
		for i, rec := range recs {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '"')
			b = append(b, s.entryID(rec.LeafHash)...)
			b = append(b, '"')
		}
	}
	writeJSON(w, http.StatusOK, append(b, ']'))
}

// prefixSHA adds the algorithm prefix Rekor infers from a bare digest's
// length (sigstore/rekor pkg/util PrefixSHA).
func prefixSHA(h string) string {
	if strings.Contains(h, ":") {
		return h
	}
	switch len(h) {
	case 40:
		return "sha1:" + h
	case 128:
		return "sha512:" + h
	}
	return "sha256:" + h
}

// v1LogInfo handles GET /api/v1/log: the tree size, root and a Rekor v1
// signed checkpoint of the newest published tree.
func (s *Service) v1LogInfo(w http.ResponseWriter, r *http.Request) {
	snap := s.v1.latest()
	cp, err := s.v1Checkpoint(snap)
	if err != nil {
		s.writeLookup(w, r, nil, err)
		return
	}
	b := []byte(`{"rootHash":"`)
	b = hex.AppendEncode(b, snap.root)
	b = append(b, `","signedTreeHead":`...)
	b = append(b, cp.noteJSON...)
	b = append(b, `,"treeID":"`...)
	b = strconv.AppendInt(b, s.v1TreeID, 10)
	b = append(b, `","treeSize":`...)
	b = strconv.AppendUint(b, snap.size, 10)
	writeJSON(w, http.StatusOK, append(b, '}'))
}

// checkTreeID rejects a treeID parameter naming another tree.
func (s *Service) checkTreeID(r *http.Request) error {
	if t := r.URL.Query().Get("treeID"); t != "" && t != strconv.FormatInt(s.v1TreeID, 10) {
		return badRequest("unknown treeID %q (this log's tree is %d)", t, s.v1TreeID)
	}
	return nil
}

// v1Proof handles GET /api/v1/log/proof?firstSize=&lastSize=: the
// consistency proof between two sizes and the root at lastSize.
func (s *Service) v1Proof(w http.ResponseWriter, r *http.Request) {
	if err := s.checkTreeID(r); err != nil {
		writeV1Error(w, err)
		return
	}
	q := r.URL.Query()
	first := uint64(1)
	if v := q.Get("firstSize"); v != "" {
		n, err := strconv.ParseUint(v, 10, 63)
		if err != nil || n < 1 {
			writeV1Error(w, badRequest("firstSize must be an integer ≥ 1, got %q", v))
			return
		}
		first = n
	}
	last, err := strconv.ParseUint(q.Get("lastSize"), 10, 63)
	if err != nil || last < 1 {
		writeV1Error(w, badRequest("lastSize must be an integer ≥ 1, got %q", q.Get("lastSize")))
		return
	}
	if first > last {
		writeV1Error(w, badRequest("firstSize(%d) must be less than lastSize(%d)", first, last))
		return
	}
	if size := s.v1.latest().size; last > size {
		writeV1Error(w, badRequest("the tree size requested(%d) was greater than what is currently observable(%d)", last, size))
		return
	}
	hashes, err := s.v1.nodes.consistencyProof(r.Context(), first, last)
	if err != nil {
		s.writeLookup(w, r, nil, err)
		return
	}
	root, err := s.v1.nodes.rootAt(r.Context(), last)
	if err != nil {
		s.writeLookup(w, r, nil, err)
		return
	}
	b := []byte(`{"hashes":[`)
	for i, h := range hashes {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = hex.AppendEncode(b, h)
		b = append(b, '"')
	}
	b = append(b, `],"rootHash":"`...)
	b = hex.AppendEncode(b, root)
	writeJSON(w, http.StatusOK, append(b, `"}`...))
}

// v1PublicKey handles GET /api/v1/log/publicKey: the v1 key in PEM.
func (s *Service) v1PublicKey(w http.ResponseWriter, r *http.Request) {
	if err := s.checkTreeID(r); err != nil {
		writeV1Error(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-pem-file")
	w.Header().Set("Content-Length", strconv.Itoa(len(s.v1KeyPEM)))
	w.Write(s.v1KeyPEM) //nolint:errcheck
}

// reconcile gives every entry of the v1 tree an index record. An entry
// made durable just before a crash may have none; it was never
// acknowledged, so its integrated time is the time it is found.
func (s *Service) reconcile(ctx context.Context) error {
	size, err := s.v1.reader.IntegratedSize(ctx)
	if err != nil {
		return fmt.Errorf("couldn't read the v1 tree size: %w", err)
	}
	w, err := s.index.Watermark(ctx)
	if err != nil {
		return err
	}
	if w > size {
		return fmt.Errorf("the v1 index covers %d entries but the tree has %d: the data directory is inconsistent", w, size)
	}
	missing, err := s.index.Missing(ctx, w, size)
	if err != nil {
		return err
	}
	var recs []index.Record
	for _, idx := range missing {
		body, err := readEntry(ctx, s.v1.reader.ReadEntryBundle, idx, size)
		if err != nil {
			return fmt.Errorf("couldn't rebuild the index record of entry %d: %w", idx, err)
		}
		recs = append(recs, index.Record{Index: idx, LeafHash: rekor.LeafHash(body), IntegratedTime: time.Now().Unix(), Keys: bodyKeys(body)})
	}
	if len(recs) > 0 {
		s.log.Warn("rebuilt index records of entries logged before a crash", "count", len(recs), "first", recs[0].Index)
		if err := s.index.Put(ctx, recs); err != nil {
			return err
		}
	}
	return s.index.SetWatermark(ctx, size)
}
