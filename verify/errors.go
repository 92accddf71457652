package verify

import (
	"errors"
	"fmt"
)

// Check names the verification step that failed. Every error Verify returns
// is an *Error carrying one, so callers and tests can tell a wrong identity
// from a broken inclusion proof without matching strings.
type Check string

// Checks, in the order Verify runs them.
const (
	CheckPolicy      Check = "policy"            // the policy does not fit the bundle (no identity, no key, …)
	CheckTlog        Check = "transparency log"  // too few log entries verified
	CheckEntry       Check = "log entry"         // a log entry does not match the bundle
	CheckInclusion   Check = "inclusion proof"   // Merkle proof does not lead to the root
	CheckCheckpoint  Check = "checkpoint"        // checkpoint missing, unsigned or not matching the proof
	CheckSET         Check = "inclusion promise" // SET does not verify
	CheckTimestamp   Check = "timestamp"         // RFC 3161 timestamps or time thresholds
	CheckCertificate Check = "certificate"       // chain, validity at a verified time
	CheckSCT         Check = "SCT"               // embedded SCT threshold
	CheckSignature   Check = "signature"         // the artifact signature or DSSE envelope
	CheckArtifact    Check = "artifact"          // digest or in-toto subject mismatch
	CheckIdentity    Check = "identity"          // certificate identity policy
	CheckStatement   Check = "statement"         // in-toto statement content (predicate type, …)
	CheckTrustedRoot Check = "trusted root"      // nothing in the trusted root applies
	CheckInternal    Check = "internal"          // an unexpected condition
)

// ErrNoTrustedLogs is wrapped by the failure of a transparency-log
// requirement against a trusted root that lists no logs.
var ErrNoTrustedLogs = errors.New("the trusted root lists no transparency logs")

// Error is a verification failure: which check failed and why.
type Error struct {
	Check Check
	Err   error
}

func (e *Error) Error() string { return fmt.Sprintf("%s verification failed: %v", e.Check, e.Err) }
func (e *Error) Unwrap() error { return e.Err }

func fail(c Check, format string, args ...any) *Error {
	return &Error{Check: c, Err: fmt.Errorf(format, args...)}
}

// CheckOf returns the check that failed in err, or "" if err is not a
// verification error.
func CheckOf(err error) Check {
	var e *Error
	if errors.As(err, &e) {
		return e.Check
	}
	return ""
}
