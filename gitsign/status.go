package gitsign

import (
	"crypto/sha1"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"time"

	"sigil.dev/sigil/cert"
)

// The GnuPG status protocol lines git reads (gnupg doc/DETAILS; git/git
// gpg-interface.c sigcheck_gpg_status):
//
//	[GNUPG:] BEGIN_SIGNING
//	[GNUPG:] SIG_CREATED D <pkalgo> <hashalgo> 00 <unix time> <fingerprint>
//	[GNUPG:] NEWSIG
//	[GNUPG:] GOODSIG <fingerprint> <user ID>
//	[GNUPG:] VALIDSIG <fingerprint> <date> <unix time> 0 0 0 <pkalgo> <hashalgo> 00 <fingerprint>
//	[GNUPG:] BADSIG <fingerprint> <user ID>
//	[GNUPG:] ERRSIG <key ID> <pkalgo> <hashalgo> 00 <unix time> <rc>
//	[GNUPG:] TRUST_FULLY 0 shell | TRUST_UNDEFINED 0 shell
//
// git signs successfully only if the status holds "\n[GNUPG:] SIG_CREATED "
// and verifies only if it holds "\n[GNUPG:] GOODSIG ", so a line must come
// before each (BEGIN_SIGNING, NEWSIG). Only one of GOODSIG, BADSIG and
// ERRSIG may appear. The fingerprint is the hex SHA-1 of the certificate
// (what gpgsm and gitsign print); the user ID is the certificate identity,
// %XX-escaped.

// OpenPGP algorithm numbers (RFC 4880 §9.1, §9.4) in SIG_CREATED,
// VALIDSIG and ERRSIG.
const (
	pgpRSA    = 1
	pgpECDSA  = 19
	pgpSHA256 = 8
)

// Trust levels of TRUST_ lines.
type Trust string

const (
	// TrustFully: the certificate identity matched a configured policy.
	TrustFully Trust = "FULLY"
	// TrustUndefined: the signature verified, but no identity policy was
	// configured, so nothing says whether this signer is expected.
	// git accepts it unless gpg.minTrustLevel asks for more, and shows
	// %G? as U.
	TrustUndefined Trust = "UNDEFINED"
)

// Status writes status lines.
type Status struct{ w io.Writer }

// NewStatus returns a status writer; w may be nil to discard.
func NewStatus(w io.Writer) *Status {
	if w == nil {
		w = io.Discard
	}
	return &Status{w: w}
}

func (s *Status) line(format string, args ...any) {
	fmt.Fprintf(s.w, "[GNUPG:] "+format+"\n", args...)
}

// BeginSigning writes BEGIN_SIGNING.
func (s *Status) BeginSigning() { s.line("BEGIN_SIGNING") }

// SigCreated writes SIG_CREATED for a detached signature made at t.
func (s *Status) SigCreated(c *x509.Certificate, t time.Time) {
	s.line("SIG_CREATED D %d %d 00 %d %s", pgpAlgo(c), pgpSHA256, t.Unix(), Fingerprint(c))
}

// NewSig writes NEWSIG.
func (s *Status) NewSig() { s.line("NEWSIG") }

// GoodSig writes GOODSIG, VALIDSIG (signed at t) and the trust level.
func (s *Status) GoodSig(c *x509.Certificate, uid string, t time.Time, trust Trust) {
	fpr := Fingerprint(c)
	s.line("GOODSIG %s %s", fpr, escapeUID(uid))
	s.line("VALIDSIG %s %s %d 0 0 0 %d %d 00 %s", fpr, t.UTC().Format("2006-01-02"), t.Unix(), pgpAlgo(c), pgpSHA256, fpr)
	s.line("TRUST_%s 0 shell", trust)
}

// BadSig writes BADSIG.
func (s *Status) BadSig(c *x509.Certificate, uid string) {
	s.line("BADSIG %s %s", Fingerprint(c), escapeUID(uid))
}

// ErrSig writes ERRSIG for a signature that could not be checked at all
// (rc 4: unknown algorithm or malformed; rc 9: no certificate).
func (s *Status) ErrSig(rc int) {
	s.line("ERRSIG 0000000000000000 0 %d 00 0 %d", pgpSHA256, rc)
}

// Fingerprint is the hex SHA-1 of the certificate's DER, the fingerprint
// gpgsm and gitsign report (sigstore/gitsign internal/utils.go).
func Fingerprint(c *x509.Certificate) string {
	d := sha1.Sum(c.Raw)
	return strings.ToUpper(hex.EncodeToString(d[:]))
}

func pgpAlgo(c *x509.Certificate) int {
	if c.PublicKeyAlgorithm == x509.RSA {
		return pgpRSA
	}
	return pgpECDSA
}

// escapeUID %XX-escapes a user ID for a status line: the line ends at a
// newline, so control characters (and %) must not appear raw.
func escapeUID(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == 0x7f || c == '%' {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	if b.Len() == 0 {
		return "(unknown)"
	}
	return b.String()
}

// uidOf names a certificate's signer: its identity (subject alternative
// name; Fulcio certificates have an empty subject), else the subject.
func uidOf(c *x509.Certificate) string {
	if sum, err := cert.Summarize(c); err == nil && sum.SubjectAlternativeName != "" {
		return sum.SubjectAlternativeName
	}
	return c.Subject.String()
}
