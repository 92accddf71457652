package tlog

import (
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"sigil.dev/sigil/internal/jcs"
)

// bodyReadTimeout bounds how long a client may take to send its request
// body (a slow client holds a goroutine, not the log). A variable for tests.
var bodyReadTimeout = 30 * time.Second

// bufPool holds request and response buffers of the write handlers, which
// allocate per request more than anything else the service does.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

// putBuf returns a buffer to the pool; nothing may use it afterwards.
func putBuf(b *[]byte) {
	if cap(*b) <= 1<<20 {
		*b = (*b)[:0]
		bufPool.Put(b)
	}
}

// readBody reads a request body of at most max bytes within
// bodyReadTimeout.
func readBody(w http.ResponseWriter, r *http.Request, max int64) ([]byte, error) {
	return readBodyInto(w, r, max, nil)
}

// maxPrealloc bounds the buffer sized from a request's Content-Length
// before its body arrives; an entry is a few KiB.
const maxPrealloc = 64 << 10

// readBodyInto is readBody appending to buf (which may be nil).
func readBodyInto(w http.ResponseWriter, r *http.Request, max int64, buf []byte) ([]byte, error) {
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(bodyReadTimeout)) // unsupported by some test writers
	// Sized from Content-Length only up to maxPrealloc: a client may
	// announce megabytes and send nothing, and a buffer allocated before
	// the bytes arrive is held for the whole read timeout (500 such
	// connections held 517 MB of heap). Larger bodies grow as they come.
	if n := r.ContentLength; n > 0 && n <= min(max, maxPrealloc) && int64(cap(buf)) < n+1 {
		buf = make([]byte, 0, n+1)
	}
	b, err := readAllInto(http.MaxBytesReader(w, r.Body, max), buf)
	if err != nil {
		// The rest of the body stays unread: close the connection after
		// the answer. The deadline stays too: net/http would otherwise
		// try to drain the body before answering, and a stalled client
		// would hold the connection (and a graceful shutdown) forever.
		if r.ProtoMajor == 1 {
			// (On HTTP/2 it would close every stream of the connection.)
			w.Header().Set("Connection", "close")
		}
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			return nil, tooLarge("request body is larger than %d bytes", max)
		case errors.Is(err, os.ErrDeadlineExceeded):
			return nil, &requestError{http.StatusRequestTimeout, "request body not received within " + bodyReadTimeout.String()}
		}
		return nil, badRequest("couldn't read request body: %v", err)
	}
	// The whole body is in: lift the deadline for the time the entry
	// takes to be sequenced and answered.
	_ = rc.SetReadDeadline(time.Time{})
	return b, nil
}

// errorStatus maps an error to an HTTP status and the message the client
// sees; internal errors are not described to clients.
func errorStatus(err error) (int, string) {
	var re *requestError
	switch {
	case errors.As(err, &re):
		return re.status, re.msg
	case errors.Is(err, ErrFrozen):
		return http.StatusMethodNotAllowed, "This log has been frozen, please switch to the latest log."
	case errors.Is(err, ErrPushback), errors.Is(err, ErrClosed):
		return http.StatusServiceUnavailable, err.Error() + "; retry later"
	}
	return http.StatusInternalServerError, "internal error"
}

// gRPC status codes (grpc/grpc doc/statuscodes.md) that rekor-tiles'
// grpc-gateway puts in the "code" member of its JSON errors.
const (
	grpcInvalidArgument  = 3
	grpcDeadlineExceeded = 4
	grpcNotFound         = 5
	grpcAlreadyExists    = 6
	grpcFrozen           = 12 // the code grpc-gateway maps to HTTP 405: rekor-tiles' answer from a frozen log
	grpcInternal         = 13
	grpcUnavailable      = 14
)

// grpcCode is the gRPC status code rekor-tiles' grpc-gateway pairs with an
// HTTP status.
func grpcCode(status int) int {
	switch status {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		return grpcInvalidArgument
	case http.StatusRequestTimeout:
		return grpcDeadlineExceeded
	case http.StatusNotFound:
		return grpcNotFound
	case http.StatusConflict:
		return grpcAlreadyExists
	case http.StatusMethodNotAllowed:
		return grpcFrozen
	case http.StatusServiceUnavailable:
		return grpcUnavailable
	}
	return grpcInternal
}

func setRetryAfter(w http.ResponseWriter, status int) {
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
	}
}

// writeV2Error writes a grpc-gateway style error: {"code":…,"message":…,"details":[]}.
func writeV2Error(w http.ResponseWriter, err error) int {
	status, msg := errorStatus(err)
	b := append([]byte(`{"code":`), strconv.Itoa(grpcCode(status))...)
	b = append(b, `,"message":`...)
	b = jcs.AppendString(b, msg)
	b = append(b, `,"details":[]}`...)
	setRetryAfter(w, status)
	writeJSON(w, status, b)
	return status
}

// writeV1Error writes a Rekor v1 error: {"code":<HTTP status>,"message":…}
// (sigstore/rekor openapi.yaml definitions/Error).
func writeV1Error(w http.ResponseWriter, err error) int {
	status, msg := errorStatus(err)
	b := append([]byte(`{"code":`), strconv.Itoa(status)...)
	b = append(b, `,"message":`...)
	b = jcs.AppendString(b, msg)
	b = append(b, '}')
	setRetryAfter(w, status)
	writeJSON(w, status, b)
	return status
}

// readAllInto is io.ReadAll appending to buf.
func readAllInto(r io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	body = append(body, '\n')
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body) //nolint:errcheck // the client may be gone
}
