package ctlog

import (
	"compress/gzip"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/transparency-dev/tessera/api/layout"

	"sigil.dev/sigil/checkpoint"
	"sigil.dev/sigil/internal/httpx"
	"sigil.dev/sigil/sct"
)

const (
	// maxRequestBody bounds an add-chain body: ten certificates of up to
	// ~25 KB each, base64-encoded.
	maxRequestBody = 512 << 10
	// requestTimeout bounds an add request.
	requestTimeout = 30 * time.Second
)

// AddChainRequest is the body of add-chain and add-pre-chain (RFC 6962 §4.1).
type AddChainRequest struct {
	Chain [][]byte `json:"chain"`
}

// AddChainResponse is their answer (RFC 6962 §4.1): the SCT's fields, the
// signature as a TLS DigitallySigned structure.
type AddChainResponse struct {
	SCTVersion uint8  `json:"sct_version"`
	ID         []byte `json:"id"`
	Timestamp  uint64 `json:"timestamp"`
	Extensions []byte `json:"extensions"`
	Signature  []byte `json:"signature"`
}

// GetRootsResponse is the answer of get-roots (RFC 6962 §4.7).
type GetRootsResponse struct {
	Certificates [][]byte `json:"certificates"`
}

// problem is an RFC 9162 §5 error body (RFC 7807 problem details).
type problem struct {
	Type   string `json:"type"`
	Detail string `json:"detail"`
	Status int    `json:"status,omitempty"`
}

// Handler returns the HTTP API: the RFC 6962 submission endpoints and
// get-roots, and the static-ct-api monitoring endpoints, each at its full
// path under the path of PublicURL. None of RFC 6962's read endpoints is
// served, get-sth included (see the package documentation). Mount it at that path, e.g.
// mux.Handle("/ct/", svc.Handler()) for PublicURL https://host/ct. Give the
// CT log a path of its own when it shares a host with a tlog-tiles log,
// whose checkpoint and tiles live at the same relative paths.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	p := s.prefix
	mux.HandleFunc("POST "+p+"/ct/v1/add-chain", func(w http.ResponseWriter, r *http.Request) { s.serveAdd(w, r, false) })
	mux.HandleFunc("POST "+p+"/ct/v1/add-pre-chain", func(w http.ResponseWriter, r *http.Request) { s.serveAdd(w, r, true) })
	mux.HandleFunc("GET "+p+"/ct/v1/get-roots", s.serveRoots)
	mux.HandleFunc("GET "+p+"/checkpoint", s.serveCheckpoint)
	mux.HandleFunc("GET "+p+"/tile/", s.serveTile)
	mux.HandleFunc("GET "+p+"/issuer/{fingerprint}", s.serveIssuer)
	return mux
}

func (s *Service) serveAdd(w http.ResponseWriter, r *http.Request, precert bool) {
	r.Body = http.MaxBytesReader(w, r.Body, maxRequestBody)
	var req AddChainRequest
	d := json.NewDecoder(r.Body)
	err := d.Decode(&req)
	if err == nil && d.More() {
		// One JSON value, as the TSA's JSON form requires too.
		err = errors.New("data after the JSON object")
	}
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.writeError(w, r, http.StatusRequestEntityTooLarge, fmt.Errorf("%w: body exceeds %d bytes", ErrMalformed, tooBig.Limit))
			return
		}
		s.writeError(w, r, 0, fmt.Errorf("%w: couldn't parse the JSON body: %v", ErrMalformed, err))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	out, err := s.add(ctx, req.Chain, precert, false)
	if err != nil {
		s.writeError(w, r, 0, err)
		return
	}
	writeJSON(w, AddChainResponse{
		SCTVersion: 0,
		ID:         out.LogID[:],
		Timestamp:  out.Timestamp,
		Extensions: out.Extensions,
		Signature:  digitallySigned(out.HashAlg, out.SigAlg, out.Signature),
	})
}

// writeError answers err as an RFC 9162 problem; status 0 takes the one
// the error's kind calls for. Internal errors are logged, not shown.
func (s *Service) writeError(w http.ResponseWriter, r *http.Request, status int, err error) {
	code, st, ok := classify(err)
	if status == 0 {
		status = st
	}
	p := problem{Type: "about:blank", Detail: err.Error()}
	if code != "" {
		p.Type = errorTypePrefix + code
	}
	switch {
	case ok && status < 500 && status != http.StatusTooManyRequests:
		s.logger.Debug("CT submission refused", "path", r.URL.Path, "error", err)
	case ok:
		w.Header().Set("Retry-After", "1")
	case r.Context().Err() != nil || errors.Is(err, context.DeadlineExceeded):
		status = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", "1")
		p = problem{Type: "about:blank", Detail: "the request ended before the entry was sequenced; retry later"}
	default:
		s.logger.Error("CT log internal error", "path", r.URL.Path, "error", err)
		p = problem{Type: "about:blank", Detail: "internal error"}
	}
	p.Status = status
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(p)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Service) serveRoots(w http.ResponseWriter, _ *http.Request) {
	resp := GetRootsResponse{Certificates: [][]byte{}}
	for _, r := range s.roots {
		resp.Certificates = append(resp.Certificates, r.Raw)
	}
	writeJSON(w, resp)
}

func (s *Service) serveCheckpoint(w http.ResponseWriter, r *http.Request) {
	cp, err := s.reader.ReadCheckpoint(r.Context())
	if err != nil {
		s.writeError(w, r, 0, fmt.Errorf("couldn't read checkpoint: %w", err))
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(cp)
}

// serveTile serves tile/<L>/<N>[.p/<W>] and tile/data/<N>[.p/<W>] from
// the log directory. The path must be the canonical one for the tile it
// names, which also keeps requests inside the directory.
func (s *Service) serveTile(w http.ResponseWriter, r *http.Request) {
	rel := strings.TrimPrefix(r.URL.Path, s.prefix+"/")
	var (
		canonical    string
		level, index uint64
		width        uint8
		err          error
	)
	data := false
	if rest, ok := strings.CutPrefix(rel, "tile/data/"); ok {
		index, width, err = layout.ParseTileIndexPartial(rest)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		canonical, data = "tile/data/"+layout.NWithSuffix(0, index, width), true
	} else {
		l, rest, _ := strings.Cut(strings.TrimPrefix(rel, "tile/"), "/")
		level, index, width, err = layout.ParseTileLevelIndexPartial(l, rest)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		canonical = layout.TilePath(level, index, width)
	}
	if canonical != rel {
		http.NotFound(w, r)
		return
	}
	// Only tiles the published checkpoint commits to: Tessera's POSIX
	// driver writes a batch's tiles before the tree state that commits
	// them, so a file beyond it may be left by a batch that then failed
	// (a crash, a full disk) and be rewritten with other entries; served
	// as immutable, caches would keep the stale one.
	size, err := s.publishedSize(r.Context())
	if err != nil {
		s.writeError(w, r, 0, err)
		return
	}
	if !tileWithin(level, index, width, size) {
		http.NotFound(w, r)
		return
	}
	b, err := os.ReadFile(filepath.Join(s.logDir, filepath.FromSlash(canonical)))
	if errors.Is(err, fs.ErrNotExist) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		s.writeError(w, r, 0, fmt.Errorf("couldn't read %s: %w", canonical, err))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Cache-Control", "public, max-age=604800, immutable")
	if data && httpx.AcceptsGzip(r.Header.Get("Accept-Encoding")) {
		h.Set("Content-Encoding", "gzip")
		h.Add("Vary", "Accept-Encoding")
		zw, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
		_, _ = zw.Write(b)
		_ = zw.Close()
		return
	}
	_, _ = w.Write(b)
}

// publishedSize returns the size of the published checkpoint.
func (s *Service) publishedSize(ctx context.Context) (uint64, error) {
	raw, err := s.reader.ReadCheckpoint(ctx)
	if err != nil {
		return 0, fmt.Errorf("couldn't read checkpoint: %w", err)
	}
	text, ok := checkpoint.Split(raw)
	if !ok {
		return 0, errors.New("couldn't parse checkpoint: no signature block")
	}
	c, err := checkpoint.Parse(text)
	if err != nil {
		return 0, fmt.Errorf("couldn't parse checkpoint: %w", err)
	}
	return c.Size, nil
}

// tileWithin reports whether the tile (level, index) of the given width
// (0 = full) lies within a tree of size size.
func tileWithin(level, index uint64, width uint8, size uint64) bool {
	if level >= 8 || index >= 1<<56 {
		return false
	}
	end := index*layout.TileWidth + uint64(width)
	if width == 0 {
		end = (index + 1) * layout.TileWidth
	}
	return end <= size>>(8*level)
}

func (s *Service) serveIssuer(w http.ResponseWriter, r *http.Request) {
	fp := r.PathValue("fingerprint")
	if b, err := hex.DecodeString(fp); err != nil || len(b) != 32 || fp != strings.ToLower(fp) {
		http.NotFound(w, r)
		return
	}
	b, err := os.ReadFile(filepath.Join(s.issuers.dir, fp))
	if errors.Is(err, fs.ErrNotExist) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		s.writeError(w, r, 0, fmt.Errorf("couldn't read issuer %s: %w", fp, err))
		return
	}
	w.Header().Set("Content-Type", "application/pkix-cert")
	w.Header().Set("Cache-Control", "public, max-age=604800, immutable")
	_, _ = w.Write(b)
}

// sctFromResponse converts an add-chain response to an SCT.
func sctFromResponse(r *AddChainResponse) (*sct.SCT, error) {
	if r.SCTVersion != 0 {
		return nil, fmt.Errorf("unsupported SCT version %d", r.SCTVersion)
	}
	if len(r.ID) != 32 {
		return nil, fmt.Errorf("log ID is %d bytes, want 32", len(r.ID))
	}
	if len(r.Extensions) > 0xffff {
		return nil, errors.New("extensions too long")
	}
	hashAlg, sigAlg, sig, err := parseDigitallySigned(r.Signature)
	if err != nil {
		return nil, err
	}
	return &sct.SCT{
		LogID:      [32]byte(r.ID),
		Timestamp:  r.Timestamp,
		Extensions: r.Extensions,
		HashAlg:    hashAlg,
		SigAlg:     sigAlg,
		Signature:  sig,
	}, nil
}
