package tlog

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/api/layout"

	"sigil.dev/sigil/dsse"
	"sigil.dev/sigil/internal/httpx"
	"sigil.dev/sigil/internal/jcs"
	"sigil.dev/sigil/rekor"
)

// v2Entry validates a write request and returns the canonical Rekor v2
// entry to log: hashedrekord 0.0.2 (rekor.HashedRekordV002), the bytes
// sigstore/rekor-tiles pkg/types/hashedrekord ToLogEntry stores and
// sigstore-go rebuilds. A DSSE request becomes a hashedrekord whose digest
// is the key's hash of the envelope's PAE.
//
// Checks, before anything is logged: the verifier parses (DER key in
// canonical form, or certificate); its algorithm is allowed and is the one
// keyDetails names (the key's default: P-256 → PKIX_ECDSA_P256_SHA_256, …,
// Ed25519 → PKIX_ED25519_PH); the digest has that hash's length; the
// signature verifies over the digest.
func (s *Service) v2Entry(r *v2Request) ([]byte, error) {
	var pub crypto.PublicKey
	var err error
	if r.cert != nil {
		if pub, err = s.val.certKey(r.cert); err != nil {
			return nil, err
		}
	} else {
		if pub, err = x509.ParsePKIXPublicKey(r.publicKey); err != nil {
			return nil, badRequest("public key does not parse: %v", err)
		}
		if der, err := x509.MarshalPKIXPublicKey(pub); err != nil || !bytes.Equal(der, r.publicKey) {
			return nil, badRequest("public key is not in canonical DER form")
		}
	}
	details, h, err := s.val.algorithm(pub)
	if err != nil {
		return nil, err
	}
	if r.keyDetails != details {
		if _, ok := pub.(ed25519.PublicKey); ok && r.keyDetails == "PKIX_ED25519" {
			return nil, badRequest("keyDetails PKIX_ED25519 signs no digest; hashedrekord entries need PKIX_ED25519_PH")
		}
		return nil, badRequest("keyDetails %s does not match the %s key, which signs with %s", r.keyDetails, keyName(pub), details)
	}
	digest := r.digest
	if r.dsse {
		hh := h.New()
		hh.Write(dsse.PAE(r.payloadType, r.payload))
		digest = hh.Sum(nil)
	} else if len(digest) != h.Size() {
		return nil, badRequest("digest is %d bytes; %s needs a %d-byte %s digest", len(digest), details, h.Size(), rekor.HashName(h))
	}
	if !verifyDigest(pub, h, digest, r.sig) {
		if r.dsse {
			return nil, badRequest("the DSSE signature does not verify over the envelope's PAE with the %s key", keyName(pub))
		}
		return nil, badRequest("signature does not verify over the digest with the %s key", keyName(pub))
	}
	return rekor.HashedRekordV002(h, digest, r.sig, rekor.V2Verifier{KeyDetails: details, Certificate: r.cert, PublicKey: r.publicKey}), nil
}

// v2Create handles POST /api/v2/log/entries: 201 with a
// TransparencyLogEntry carrying an inclusion proof and the checkpoint it
// leads to; 409 with header x-log-index for an entry already logged (as
// rekor-tiles answers); 503 with Retry-After on pushback; 405 when frozen.
func (s *Service) v2Create(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	if s.cfg.ReadOnly {
		s.m.rejected.WithLabelValues("v2", "frozen").Inc()
		writeV2Error(w, ErrFrozen)
		return
	}
	if !s.enter() {
		s.m.pushback.WithLabelValues("v2").Inc()
		writeV2Error(w, ErrClosed)
		return
	}
	defer s.leave()
	g := s.m.inFlight.WithLabelValues("v2")
	g.Inc()
	defer g.Dec()

	in := getBuf()
	defer putBuf(in)
	body, err := readBodyInto(w, r, s.cfg.MaxRequestSize, *in)
	*in = body
	if err == nil {
		req, ok := fastParseV2(body)
		if !ok {
			req, err = parseV2Request(body)
		}
		if err == nil {
			body, err = s.v2Entry(req)
		}
	}
	if err == nil && len(body) > s.cfg.MaxEntrySize {
		err = tooLarge("the entry is %d bytes, more than this log's limit of %d", len(body), s.cfg.MaxEntrySize)
	}
	if err != nil {
		s.reject(w, r, "v2", err)
		return
	}
	ctx := r.Context()
	idx, dup, snap, err := s.v2.append(ctx, body)
	if err != nil {
		s.reject(w, r, "v2", err)
		return
	}
	if dup {
		s.m.duplicates.WithLabelValues("v2").Inc()
		w.Header().Set("x-log-index", itoa(idx))
		writeV2Error(w, &requestError{http.StatusConflict, fmt.Sprintf("an equivalent entry already exists in the log at index %d", idx)})
		return
	}
	leaf := rekor.LeafHash(body)
	hashes, err := s.v2.proveInclusion(ctx, idx, leaf[:], snap)
	if err != nil {
		s.log.Error("couldn't prove a new entry", "log", "v2", "index", idx, "err", err)
		s.reject(w, r, "v2", err)
		return
	}
	out := getBuf()
	defer putBuf(out)
	*out = appendV2Entry(*out, idx, s.v2LogID, body, snap, hashes)
	writeJSON(w, http.StatusCreated, *out)
	s.m.appended.WithLabelValues("v2").Inc()
	s.m.addLatency.WithLabelValues("v2").Observe(time.Since(start).Seconds())
}

// reject answers a failed write and counts it.
func (s *Service) reject(w http.ResponseWriter, r *http.Request, log string, err error) {
	var status int
	if log == "v2" {
		status = writeV2Error(w, err)
	} else {
		status = writeV1Error(w, err)
	}
	// A client that went away while its entry waited is not pushback.
	// The answer is written all the same: net/http also cancels the
	// context when a client only half-closes after its request.
	var re *requestError
	canceled := r.Context().Err() != nil && !errors.As(err, &re) && (errors.Is(err, ErrPushback) || errors.Is(err, context.Canceled))
	switch {
	case canceled:
		s.m.rejected.WithLabelValues(log, "canceled").Inc()
	case status == http.StatusServiceUnavailable:
		s.m.pushback.WithLabelValues(log).Inc()
	case status == http.StatusRequestEntityTooLarge:
		s.m.rejected.WithLabelValues(log, "too_large").Inc()
	case status == http.StatusMethodNotAllowed:
		s.m.rejected.WithLabelValues(log, "frozen").Inc()
	case status < 500:
		s.m.rejected.WithLabelValues(log, "invalid").Inc()
	default:
		s.m.rejected.WithLabelValues(log, "error").Inc()
		if !errors.Is(err, context.Canceled) {
			s.log.Error("write failed", "log", log, "err", err, "remote", r.RemoteAddr)
		}
	}
	if status < 500 && status != http.StatusServiceUnavailable {
		s.log.Debug("write rejected", "log", log, "status", status, "err", err, "remote", r.RemoteAddr)
	}
}

// appendV2Entry writes a dev.sigstore.rekor.v1.TransparencyLogEntry as
// rekor-tiles' grpc-gateway does (protojson, EmitUnpopulated): int64 as
// strings, bytes as base64, integratedTime "0", inclusionPromise null,
// logId the full C2SP key ID (log.md §3.2).
func appendV2Entry(b []byte, idx uint64, logID, body []byte, s *snapshot, hashes [][]byte) []byte {
	b = append(b, `{"logIndex":"`...)
	b = strconv.AppendUint(b, idx, 10)
	b = append(b, `","logId":{"keyId":"`...)
	b = base64.StdEncoding.AppendEncode(b, logID)
	b = append(b, `"},"kindVersion":{"kind":"hashedrekord","version":"0.0.2"},"integratedTime":"0","inclusionPromise":null,"inclusionProof":{"logIndex":"`...)
	b = strconv.AppendUint(b, idx, 10)
	b = append(b, `","rootHash":"`...)
	b = base64.StdEncoding.AppendEncode(b, s.root)
	b = append(b, `","treeSize":"`...)
	b = strconv.AppendUint(b, s.size, 10)
	b = append(b, `","hashes":[`...)
	for i, h := range hashes {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = base64.StdEncoding.AppendEncode(b, h)
		b = append(b, '"')
	}
	b = append(b, `],"checkpoint":{"envelope":`...)
	b = jcs.AppendString(b, string(s.note))
	b = append(b, `}},"canonicalizedBody":"`...)
	b = base64.StdEncoding.AppendEncode(b, body)
	return append(b, `"}`...)
}

// v2Checkpoint serves the newest published checkpoint (C2SP
// tlog-checkpoint), checked by the publication watcher.
func (s *Service) v2Checkpoint(w http.ResponseWriter, r *http.Request) {
	snap := s.v2.latest()
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("Content-Length", strconv.Itoa(len(snap.note)))
	w.Write(snap.note) //nolint:errcheck
}

// immutable is the caching of full and partial tiles and entry bundles:
// their content never changes (C2SP tlog-tiles; Tessera's GCP driver sets
// max-age=604800,immutable).
const immutable = "public, max-age=31536000, immutable"

// v2Tile serves /api/v2/tile/<L>/<N>[.p/<W>] for tiles the newest
// published checkpoint commits to.
func (s *Service) v2Tile(w http.ResponseWriter, r *http.Request) {
	level, index, width, err := layout.ParseTileLevelIndexPartial(r.PathValue("l"), r.PathValue("n"))
	// Only the canonical path names a tile (C2SP tlog-tiles: no leading
	// zeros in L or W, no all-zero x groups in N).
	if err != nil || layout.TilePath(level, index, width) != "tile/"+r.PathValue("l")+"/"+r.PathValue("n") {
		writeV2Error(w, &requestError{http.StatusNotFound, "no such tile: " + r.URL.Path})
		return
	}
	size := s.v2.latest().size
	if !tilePublished(level, index, width, size) {
		writeV2Error(w, &requestError{http.StatusNotFound, "tile " + r.URL.Path + " is beyond the published tree"})
		return
	}
	raw, err := readWider(r.Context(), s.v2.reader.ReadTile, level, index, width, size)
	if err != nil {
		s.readFailed(w, r, err)
		return
	}
	want := int(width)
	if want == 0 {
		want = layout.TileWidth
	}
	if len(raw) < want*32 {
		s.readFailed(w, r, fmt.Errorf("tile %s has %d bytes", r.URL.Path, len(raw)))
		return
	}
	serveImmutable(w, r, raw[:want*32], false)
}

// v2EntryBundle serves /api/v2/tile/entries/<N>[.p/<W>].
func (s *Service) v2EntryBundle(w http.ResponseWriter, r *http.Request) {
	index, width, err := layout.ParseTileIndexPartial(r.PathValue("n"))
	if err != nil || layout.EntriesPath(index, width) != "tile/entries/"+r.PathValue("n") {
		writeV2Error(w, &requestError{http.StatusNotFound, "no such entry bundle: " + r.URL.Path})
		return
	}
	size := s.v2.latest().size
	if !tilePublished(0, index, width, size) {
		writeV2Error(w, &requestError{http.StatusNotFound, "entry bundle " + r.URL.Path + " is beyond the published tree"})
		return
	}
	raw, err := readWider(r.Context(), func(ctx context.Context, _, index uint64, p uint8) ([]byte, error) {
		return s.v2.reader.ReadEntryBundle(ctx, index, p)
	}, 0, index, width, size)
	if err != nil {
		s.readFailed(w, r, err)
		return
	}
	if width > 0 {
		// A partial bundle read as the full bundle is cut to its width.
		var eb api.EntryBundle
		if err := eb.UnmarshalText(raw); err != nil {
			s.readFailed(w, r, err)
			return
		}
		if len(eb.Entries) > int(width) {
			var cut []byte
			for _, e := range eb.Entries[:width] {
				cut = append(cut, byte(len(e)>>8), byte(len(e)))
				cut = append(cut, e...)
			}
			raw = cut
		}
	}
	serveImmutable(w, r, raw, true)
}

// readWider reads a tile or entry bundle; a partial one of a size that
// was never a batch boundary is read at the newest size (a wider partial,
// or the full resource), whose first entries are the same, for the caller
// to cut.
func readWider(ctx context.Context, read func(ctx context.Context, level, index uint64, p uint8) ([]byte, error), level, index uint64, width uint8, size uint64) ([]byte, error) {
	raw, err := read(ctx, level, index, width)
	if errors.Is(err, os.ErrNotExist) && width > 0 {
		if w := layout.PartialTileSize(level, index, size); w == 0 || w > width {
			raw, err = read(ctx, level, index, w)
		}
	}
	return raw, err
}

// tilePublished reports whether the tile (level, index) of the given width
// (0 = full) lies within a tree of size size.
func tilePublished(level, index uint64, width uint8, size uint64) bool {
	if level >= 8 {
		return false
	}
	nodes := size >> (8 * level) // hashes at this tile level
	if index >= 1<<56 {
		return false
	}
	end := index*layout.TileWidth + uint64(width)
	if width == 0 {
		end = (index + 1) * layout.TileWidth
	}
	return end <= nodes
}

func serveImmutable(w http.ResponseWriter, r *http.Request, data []byte, compress bool) {
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Cache-Control", immutable)
	if compress && httpx.AcceptsGzip(r.Header.Get("Accept-Encoding")) {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
		zw.Write(data) //nolint:errcheck // writes to memory
		zw.Close()     //nolint:errcheck
		h.Set("Content-Encoding", "gzip")
		h.Add("Vary", "Accept-Encoding")
		data = buf.Bytes()
	}
	h.Set("Content-Length", strconv.Itoa(len(data)))
	w.Write(data) //nolint:errcheck
}

func (s *Service) readFailed(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, os.ErrNotExist) {
		writeV2Error(w, &requestError{http.StatusNotFound, "not found: " + r.URL.Path})
		return
	}
	s.log.Error("read failed", "path", r.URL.Path, "err", err)
	writeV2Error(w, err)
}
