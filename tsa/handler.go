package tsa

import (
	"crypto"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"sigil.dev/sigil/timestamp"
)

// Media types (sigstore/timestamp-authority openapi.yaml; RFC 3161 §4).
const (
	MediaTypeQuery = "application/timestamp-query"
	MediaTypeReply = "application/timestamp-reply"
	MediaTypeChain = "application/pem-certificate-chain"
)

// Request size limits. The JSON limit is the Sigstore TSA's
// (maxJSONRequestBytes, sigstore/timestamp-authority pkg/api/timestamp.go):
// the nonce is decoded into a big.Int at quadratic cost. A DER TimeStampReq
// over SHA-512 is about 100 bytes; the DER limit leaves room for a policy,
// a nonce and extensions (which are refused anyway).
const (
	MaxJSONRequest = 1024
	MaxDERRequest  = 16 << 10
)

// Handler serves POST /api/v1/timestamp and GET /api/v1/timestamp/certchain
// at those absolute paths; mount it at the server root (or route both paths
// to it).
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/timestamp", s.serveTimestamp)
	mux.HandleFunc("GET /api/v1/timestamp/certchain", s.serveChain)
	return mux
}

func (s *Service) serveChain(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", MediaTypeChain)
	w.Header().Set("Content-Length", strconv.Itoa(len(s.chainPEM)))
	_, _ = w.Write(s.chainPEM)
}

// outcome labels of sigil_tsa_requests_total.
const (
	outcomeGranted              = "granted"
	outcomeBadAlg               = "bad_alg"
	outcomeBadDataFormat        = "bad_data_format"
	outcomeUnacceptedPolicy     = "unaccepted_policy"
	outcomeUnacceptedExtension  = "unaccepted_extension"
	outcomeUnsupportedMediaType = "unsupported_media_type"
	outcomeSystemFailure        = "system_failure"
)

func outcomeOf(failInfo int) string {
	switch failInfo {
	case timestamp.FailBadAlg:
		return outcomeBadAlg
	case timestamp.FailUnacceptedPolicy:
		return outcomeUnacceptedPolicy
	case timestamp.FailUnacceptedExtension:
		return outcomeUnacceptedExtension
	case timestamp.FailSystemFailure:
		return outcomeSystemFailure
	}
	return outcomeBadDataFormat
}

func (s *Service) serveTimestamp(w http.ResponseWriter, r *http.Request) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case err == nil && mt == MediaTypeQuery:
		s.serveDER(w, r)
	case err == nil && mt == "application/json":
		s.serveJSON(w, r)
	default:
		s.metrics.request("unknown", outcomeUnsupportedMediaType)
		writeJSONError(w, http.StatusUnsupportedMediaType,
			fmt.Sprintf("unsupported Content-Type %q: send %s (a DER TimeStampReq) or application/json", r.Header.Get("Content-Type"), MediaTypeQuery))
	}
}

// rejection is a refused request: the PKIFailureInfo bit, the HTTP status
// and the reason.
type rejection struct {
	failInfo int
	status   int
	reason   string
}

func (e *rejection) Error() string { return e.reason }

func reject(failInfo int, format string, args ...any) *rejection {
	return &rejection{failInfo: failInfo, status: http.StatusBadRequest, reason: fmt.Sprintf(format, args...)}
}

func (s *Service) serveDER(w http.ResponseWriter, r *http.Request) {
	resp, rej := s.respondDER(r.Body)
	if rej != nil {
		s.metrics.request("der", outcomeOf(rej.failInfo))
		s.logRejection(r, "der", rej)
		// RFC 3161 §2.4.2, §3.4: the answer to a TimeStampReq is a
		// TimeStampResp, here without a token, with the reason as its
		// statusString.
		writeReply(w, rej.status, timestamp.ErrorResponse(timestamp.StatusRejection, rej.failInfo, rej.reason))
		return
	}
	s.metrics.request("der", outcomeGranted)
	writeReply(w, http.StatusOK, resp)
}

func (s *Service) respondDER(body io.Reader) ([]byte, *rejection) {
	der, err := readLimited(body, MaxDERRequest)
	if err != nil {
		return nil, err
	}
	req, perr := timestamp.ParseRequest(der)
	if perr != nil {
		if errors.Is(perr, timestamp.ErrHashAlgorithm) {
			return nil, reject(timestamp.FailBadAlg, "%v", perr)
		}
		return nil, reject(timestamp.FailBadDataFormat, "%v", perr)
	}
	return s.respond(req)
}

func (s *Service) serveJSON(w http.ResponseWriter, r *http.Request) {
	resp, rej := s.respondJSON(r.Body)
	if rej != nil {
		s.metrics.request("json", outcomeOf(rej.failInfo))
		s.logRejection(r, "json", rej)
		writeJSONError(w, rej.status, rej.reason)
		return
	}
	s.metrics.request("json", outcomeGranted)
	writeReply(w, http.StatusOK, resp)
}

// JSONRequest is the JSON form of a timestamp request
// (sigstore/timestamp-authority pkg/api/timestamp.go JSONRequest).
type JSONRequest struct {
	// ArtifactHash is the standard base64 of the digest to stamp.
	ArtifactHash string `json:"artifactHash"`
	// Certificates asks for the TSA chain in the token (certReq).
	Certificates bool `json:"certificates"`
	// HashAlgorithm is sha256, sha384 or sha512 (case-insensitive).
	HashAlgorithm string `json:"hashAlgorithm"`
	// Nonce, a JSON integer, is echoed in the token.
	Nonce *big.Int `json:"nonce,omitempty"`
	// TSAPolicyOID, dotted decimal, must be the TSA's policy if set.
	TSAPolicyOID string `json:"tsaPolicyOID,omitempty"`
}

func (s *Service) respondJSON(body io.Reader) ([]byte, *rejection) {
	raw, rej := readLimited(body, MaxJSONRequest)
	if rej != nil {
		return nil, rej
	}
	req, err := parseJSONRequest(raw)
	if err != nil {
		var r *rejection
		if errors.As(err, &r) {
			return nil, r
		}
		return nil, reject(timestamp.FailBadDataFormat, "%v", err)
	}
	return s.respond(req)
}

// parseJSONRequest parses the JSON form of a timestamp request into a
// timestamp.Request. It enforces MaxJSONRequest and refuses SHA-1, unknown
// hash algorithms, bad base64, policy OIDs that are not dotted decimal
// (or have more than 128 arcs, as the Sigstore TSA) and negative nonces.
// The digest length and policy are checked later by the signer.
func parseJSONRequest(raw []byte) (*timestamp.Request, error) {
	if len(raw) > MaxJSONRequest {
		return nil, reject(timestamp.FailBadDataFormat, "couldn't parse timestamp request: larger than %d bytes", MaxJSONRequest)
	}
	var jr JSONRequest
	if err := json.Unmarshal(raw, &jr); err != nil {
		return nil, reject(timestamp.FailBadDataFormat, "couldn't parse JSON timestamp request: %v", err)
	}
	var h crypto.Hash
	switch strings.ToLower(jr.HashAlgorithm) {
	case "sha256":
		h = crypto.SHA256
	case "sha384":
		h = crypto.SHA384
	case "sha512":
		h = crypto.SHA512
	case "sha1":
		return nil, reject(timestamp.FailBadAlg, "couldn't accept timestamp request: hash algorithm sha1 is weak; use sha256, sha384 or sha512")
	case "":
		return nil, reject(timestamp.FailBadAlg, "couldn't accept timestamp request: hashAlgorithm is missing (sha256, sha384 or sha512)")
	default:
		return nil, reject(timestamp.FailBadAlg, "couldn't accept timestamp request: unsupported hash algorithm %q (use sha256, sha384 or sha512)", jr.HashAlgorithm)
	}
	digest, err := base64.StdEncoding.DecodeString(jr.ArtifactHash)
	if err != nil {
		return nil, reject(timestamp.FailBadDataFormat, "couldn't decode artifactHash: %v (want standard base64)", err)
	}
	req := &timestamp.Request{HashAlgorithm: h, HashedMessage: digest, CertReq: jr.Certificates, Nonce: jr.Nonce}
	if jr.Nonce != nil && jr.Nonce.Sign() < 0 {
		return nil, reject(timestamp.FailBadDataFormat, "couldn't accept timestamp request: negative nonce")
	}
	if jr.TSAPolicyOID != "" {
		if req.Policy, err = parseOID(jr.TSAPolicyOID); err != nil {
			return nil, reject(timestamp.FailUnacceptedPolicy, "couldn't parse tsaPolicyOID: %v", err)
		}
	}
	return req, nil
}

// parseOID parses a dotted-decimal object identifier (X.660).
func parseOID(s string) (asn1.ObjectIdentifier, error) {
	parts := strings.Split(s, ".")
	if len(parts) < 2 || len(parts) > 128 {
		return nil, fmt.Errorf("%q: want 2 to 128 dotted decimal arcs", s)
	}
	oid := make(asn1.ObjectIdentifier, len(parts))
	for i, p := range parts {
		n, err := strconv.ParseUint(p, 10, 31)
		if err != nil || (len(p) > 1 && p[0] == '0') {
			return nil, fmt.Errorf("%q: arc %d is not a decimal number", s, i+1)
		}
		oid[i] = int(n)
	}
	if oid[0] > 2 || (oid[0] < 2 && oid[1] > 39) {
		return nil, fmt.Errorf("%q: invalid first arcs", s)
	}
	return oid, nil
}

// MaxNonceBytes bounds a request's nonce: a nonce is a large random
// number (RFC 3161 §2.4.1), and every byte of it is echoed into the token.
const MaxNonceBytes = 64

func (s *Service) respond(req *timestamp.Request) ([]byte, *rejection) {
	// Both request forms (the JSON one refuses a negative nonce as it
	// parses): a nonce is a positive random number.
	if req.Nonce != nil && req.Nonce.Sign() < 0 {
		return nil, reject(timestamp.FailBadDataFormat, "couldn't accept timestamp request: negative nonce")
	}
	if req.Nonce != nil && len(req.Nonce.Bytes()) > MaxNonceBytes {
		return nil, reject(timestamp.FailBadDataFormat, "couldn't accept timestamp request: nonce of %d bytes, more than %d", len(req.Nonce.Bytes()), MaxNonceBytes)
	}
	// A token from a certificate not valid at its genTime verifies
	// nowhere (the chain is checked at genTime): a TSA whose supplied
	// certificate expired while it ran refuses instead (systemFailure),
	// as selfCheck refuses to start with one.
	if leaf, at := s.chain[0], s.now().Truncate(time.Second); at.Before(leaf.NotBefore.Truncate(time.Second)) || at.After(leaf.NotAfter) {
		s.log.Error("couldn't issue timestamp: the TSA certificate is not valid now", "notBefore", leaf.NotBefore.UTC().Format(time.RFC3339), "notAfter", leaf.NotAfter.UTC().Format(time.RFC3339))
		return nil, &rejection{failInfo: timestamp.FailSystemFailure, status: http.StatusInternalServerError, reason: "couldn't issue timestamp: the TSA certificate is not valid now"}
	}
	start := time.Now()
	resp, err := s.signer.Respond(req)
	if err != nil {
		var re *timestamp.RejectError
		if errors.As(err, &re) {
			return nil, reject(re.FailInfo, "%v", re)
		}
		s.log.Error("couldn't issue timestamp", "err", err)
		return nil, &rejection{failInfo: timestamp.FailSystemFailure, status: http.StatusInternalServerError, reason: "couldn't issue timestamp: internal error"}
	}
	s.metrics.signed(time.Since(start))
	return resp, nil
}

// readLimited reads at most limit bytes; a longer body is refused.
func readLimited(body io.Reader, limit int64) ([]byte, *rejection) {
	raw, err := io.ReadAll(io.LimitReader(body, limit+1))
	if err != nil {
		return nil, reject(timestamp.FailBadDataFormat, "couldn't read timestamp request: %v", err)
	}
	if int64(len(raw)) > limit {
		return nil, reject(timestamp.FailBadDataFormat, "couldn't read timestamp request: larger than %d bytes", limit)
	}
	return raw, nil
}

func (s *Service) logRejection(r *http.Request, form string, rej *rejection) {
	if rej.status >= 500 {
		return // logged where it happened
	}
	s.log.Debug("refused timestamp request", "form", form, "remote", r.RemoteAddr, "status", rej.status, "reason", rej.reason)
}

func writeReply(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", MediaTypeReply)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeJSONError writes the Sigstore TSA's error document
// (openapi.yaml definitions/Error: {code, message}).
func writeJSONError(w http.ResponseWriter, status int, msg string) {
	body, _ := json.Marshal(struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}{status, msg})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
