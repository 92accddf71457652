package ctlog

import (
	"errors"
	"net/http"
	"strings"
)

// Errors callers may branch on. A refused submission wraps one of the first
// five; the HTTP API answers them with status 400 and the RFC 9162 error
// type in parentheses.
var (
	// ErrMalformed: the request could not be parsed (malformed).
	ErrMalformed = errors.New("malformed request")
	// ErrBadSubmission: the leaf is not what the endpoint takes — a
	// precertificate sent to add-chain or the reverse, a CA certificate, or
	// a certificate without the codeSigning extended key usage
	// (badSubmission).
	ErrBadSubmission = errors.New("bad submission")
	// ErrBadCertificate: a certificate does not parse or is outside its
	// validity period (badCertificate).
	ErrBadCertificate = errors.New("bad certificate")
	// ErrBadChain: a certificate of the chain does not certify the one
	// before it, or may not issue it (badChain).
	ErrBadChain = errors.New("bad chain")
	// ErrUnknownAnchor: the chain does not end at an accepted root
	// (unknownAnchor).
	ErrUnknownAnchor = errors.New("chain does not end at an accepted root")

	// ErrShutdown: the log is closed and takes no more submissions (HTTP
	// 503, shutdown).
	ErrShutdown = errors.New("log is shut down")
	// ErrPushback: the log is overloaded; retry later (HTTP 429).
	ErrPushback = errors.New("log is overloaded, retry later")
)

// The RFC 9162 §5 error types (IANA "Error Types" registry), used as
// "urn:ietf:params:trans:error:<code>".
const errorTypePrefix = "urn:ietf:params:trans:error:"

var errorCodes = []struct {
	err    error
	code   string
	status int
}{
	{ErrMalformed, "malformed", http.StatusBadRequest},
	{ErrBadSubmission, "badSubmission", http.StatusBadRequest},
	{ErrBadCertificate, "badCertificate", http.StatusBadRequest},
	{ErrBadChain, "badChain", http.StatusBadRequest},
	{ErrUnknownAnchor, "unknownAnchor", http.StatusBadRequest},
	{ErrShutdown, "shutdown", http.StatusServiceUnavailable},
	{ErrPushback, "", http.StatusTooManyRequests}, // no RFC 9162 type: about:blank
}

// classify returns the RFC 9162 code (empty for none) and HTTP status of
// err; ok is false for internal errors.
func classify(err error) (code string, status int, ok bool) {
	for _, c := range errorCodes {
		if errors.Is(err, c.err) {
			return c.code, c.status, true
		}
	}
	return "", http.StatusInternalServerError, false
}

// errorForType returns the sentinel of an RFC 9162 error type URN, or nil.
func errorForType(typ string) error {
	code, ok := strings.CutPrefix(typ, errorTypePrefix)
	if !ok {
		return nil
	}
	for _, c := range errorCodes {
		if c.code != "" && c.code == code {
			return c.err
		}
	}
	return nil
}
