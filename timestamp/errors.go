package timestamp

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Every error this package returns wraps exactly one of them
// (plus, where useful, the underlying x509 or crypto error), so a caller can
// tell which check failed with errors.Is.
var (
	// ErrMalformed: the DER does not parse as the RFC 3161 / RFC 5652
	// structure it should be.
	ErrMalformed = errors.New("malformed timestamp data")
	// ErrNotGranted: a TimeStampResp whose PKIStatus is neither granted(0)
	// nor grantedWithMods(1).
	ErrNotGranted = errors.New("timestamp request not granted")
	// ErrHashAlgorithm: the message imprint uses a hash other than SHA-256,
	// SHA-384 or SHA-512 (SHA-1 is refused as weak).
	ErrHashAlgorithm = errors.New("unsupported message imprint hash algorithm")
	// ErrSignerNotFound: no certificate for the SignerInfo's identifier is
	// embedded and none was given as VerifyOptions.Leaf.
	ErrSignerNotFound = errors.New("signer certificate not found")
	// ErrSignerMismatch: the token was signed by a certificate other than the
	// trusted TSA leaf, or its ESS signing-certificate attribute names
	// another certificate.
	ErrSignerMismatch = errors.New("signer is not the trusted TSA certificate")
	// ErrSignature: the CMS signature, or the signed attributes it covers
	// (content-type, message-digest), do not verify.
	ErrSignature = errors.New("invalid CMS signature")
	// ErrUntrustedChain: the signer certificate does not chain to a trusted
	// root at genTime, with timeStamping usage.
	ErrUntrustedChain = errors.New("untrusted TSA certificate chain")
	// ErrLeafPolicy: the signer certificate breaks the RFC 3161 §2.3 profile
	// (is a CA, or lacks a single critical id-kp-timeStamping EKU).
	ErrLeafPolicy = errors.New("TSA certificate breaks the RFC 3161 profile")
	// ErrImprintMismatch: the token stamps a different message.
	ErrImprintMismatch = errors.New("message imprint does not match")
)

// PKIStatus values (RFC 3161 §2.4.2, PKIStatus).
const (
	StatusGranted                = 0
	StatusGrantedWithMods        = 1
	StatusRejection              = 2
	StatusWaiting                = 3
	StatusRevocationWarning      = 4
	StatusRevocationNotification = 5
)

// PKIFailureInfo bit numbers (RFC 3161 §2.4.2, PKIFailureInfo).
const (
	FailBadAlg              = 0  // unrecognized or unsupported algorithm identifier
	FailBadRequest          = 2  // transaction not permitted or supported
	FailBadDataFormat       = 5  // the data submitted has the wrong format
	FailTimeNotAvailable    = 14 // the TSA's time source is not available
	FailUnacceptedPolicy    = 15 // the requested TSA policy is not supported
	FailUnacceptedExtension = 16 // the requested extension is not supported
	FailAddInfoNotAvailable = 17 // the additional information requested could not be understood or is not available
	FailSystemFailure       = 25 // the request cannot be handled due to system failure
)

var statusNames = [...]string{"granted", "grantedWithMods", "rejection", "waiting", "revocationWarning", "revocationNotification"}

func statusName(s int64) string {
	if s >= 0 && s < int64(len(statusNames)) {
		return statusNames[s]
	}
	return fmt.Sprintf("unknown status %d", s)
}

var failNames = map[int]string{
	FailBadAlg:              "badAlg",
	FailBadRequest:          "badRequest",
	FailBadDataFormat:       "badDataFormat",
	FailTimeNotAvailable:    "timeNotAvailable",
	FailUnacceptedPolicy:    "unacceptedPolicy",
	FailUnacceptedExtension: "unacceptedExtension",
	FailAddInfoNotAvailable: "addInfoNotAvailable",
	FailSystemFailure:       "systemFailure",
}

func failName(bit int) string {
	if n, ok := failNames[bit]; ok {
		return n
	}
	return fmt.Sprintf("failInfo bit %d", bit)
}

// StatusError is the error ParseResponse returns (wrapping ErrNotGranted) for
// a TimeStampResp that carries no token.
type StatusError struct {
	Status       int      // PKIStatus
	FailInfo     []int    // PKIFailureInfo bits set, lowest first
	StatusString []string // PKIFreeText, if any
}

func (e *StatusError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "couldn't get timestamp: TSA answered %s (%d)", statusName(int64(e.Status)), e.Status)
	if len(e.FailInfo) > 0 {
		names := make([]string, len(e.FailInfo))
		for i, f := range e.FailInfo {
			names[i] = failName(f)
		}
		fmt.Fprintf(&b, ", failInfo %s", strings.Join(names, ","))
	}
	if len(e.StatusString) > 0 {
		fmt.Fprintf(&b, ": %q", strings.Join(e.StatusString, "; "))
	}
	return b.String()
}

func (e *StatusError) Unwrap() error { return ErrNotGranted }

// RejectError is returned by Signer.Respond when the request must be refused.
// FailInfo is the PKIFailureInfo bit to send back:
//
//	if errors.As(err, &re) { w.Write(timestamp.ErrorResponse(timestamp.StatusRejection, re.FailInfo)) }
type RejectError struct {
	FailInfo int
	Reason   string
}

func (e *RejectError) Error() string {
	return fmt.Sprintf("couldn't grant timestamp request (%s): %s", failName(e.FailInfo), e.Reason)
}

func malformed(what string, args ...any) error {
	return fmt.Errorf("couldn't parse %s: %w", fmt.Sprintf(what, args...), ErrMalformed)
}
