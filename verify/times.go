package verify

import (
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"

	"sigil.dev/sigil/bundle"
	"sigil.dev/sigil/timestamp"
	"sigil.dev/sigil/trust"
)

// verifyTimes verifies the bundle's RFC 3161 timestamps and combines them
// with the integrated times of verified SETs, applying the thresholds. The
// result is every time the certificate must be valid at.
func (v *Verifier) verifyTimes(b *bundle.Bundle, integrated []logTime) ([]VerifiedTime, error) {
	var out []VerifiedTime
	for _, t := range integrated {
		out = append(out, VerifiedTime{Type: "Tlog", URI: t.url, Timestamp: t.t})
	}

	signedDef := 0
	if len(b.Timestamps) > 0 && len(v.root.TSAs) > 0 {
		signedDef = 1
	}
	signedThreshold := v.threshold(v.opts.SignedTimestampThreshold, signedDef)
	var tsErrs []string
	signed := 0
	if len(b.Timestamps) > 0 {
		var seen authorities
		sig := b.Signature()
		if b.TimestampedData != nil {
			sig = b.TimestampedData
		}
		for i, raw := range b.Timestamps {
			t, ca, err := v.verifyTimestamp(raw, sig)
			if err != nil {
				tsErrs = append(tsErrs, fmt.Sprintf("timestamp %d: %v", i, err))
				continue
			}
			if !seen.add(ca) {
				tsErrs = append(tsErrs, fmt.Sprintf("timestamp %d: a second timestamp from the same authority (%s) is ignored", i, tsaName(ca)))
				continue
			}
			signed++
			out = append(out, VerifiedTime{Type: "TimestampAuthority", URI: ca.URI, Timestamp: t})
		}
	}
	if signed < signedThreshold {
		none := "the bundle has no timestamps"
		if signed > 0 {
			none = fmt.Sprintf("the bundle carries only %d", signed)
		}
		return nil, fail(CheckTimestamp, "%d of %d required RFC 3161 timestamps verified: %s", signed, signedThreshold, joinOr(tsErrs, none))
	}
	if it := v.threshold(v.opts.IntegratedTimestampThreshold, 0); len(integrated) < it {
		return nil, fail(CheckTimestamp, "%d of %d required log integrated times verified", len(integrated), it)
	}
	obs := v.threshold(v.opts.ObserverTimestampThreshold, 1)
	if len(out) < obs {
		if v.opts.UseCurrentTime && b.Certificate == nil {
			return append(out, VerifiedTime{Type: "CurrentTime", Timestamp: v.opts.Now().UTC()}), nil
		}
		why := "the bundle has no verified SET and no verified RFC 3161 timestamp"
		if len(tsErrs) > 0 {
			why += ": " + strings.Join(tsErrs, "; ")
		}
		return nil, fail(CheckTimestamp, "%d of %d required verified times: %s", len(out), obs, why)
	}
	return out, nil
}

// authorities records the TSAs that verified timestamps came from. A
// threshold counts authorities, not trusted-root entries: entries with the
// same URI are one TSA (a chain rotated under one URI stays listed for
// older bundles; sigstore-go compares URIs), and entries with the same
// operator count once (protobuf-specs CertificateAuthority.operator).
type authorities struct {
	entries         map[*trust.CA]bool
	uris, operators map[string]bool
}

// add records ca and reports whether it is an authority not seen before.
func (a *authorities) add(ca *trust.CA) bool {
	if a.entries == nil {
		a.entries, a.uris, a.operators = map[*trust.CA]bool{}, map[string]bool{}, map[string]bool{}
	}
	dup := a.entries[ca] || (ca.URI != "" && a.uris[ca.URI]) || (ca.Operator != "" && a.operators[ca.Operator])
	a.entries[ca] = true
	if ca.URI != "" {
		a.uris[ca.URI] = true
	}
	if ca.Operator != "" {
		a.operators[ca.Operator] = true
	}
	return !dup
}

func joinOr(s []string, empty string) string {
	if len(s) == 0 {
		return empty
	}
	return strings.Join(s, "; ")
}

// verifyTimestamp verifies one timestamp against each TSA of the trusted
// root; the timestamp's time must be within the TSA's validity window
// (closed interval).
func (v *Verifier) verifyTimestamp(raw, sig []byte) (time.Time, *trust.CA, error) {
	tok, err := timestamp.ParseResponse(raw)
	if err != nil {
		return time.Time{}, nil, err
	}
	if len(v.root.TSAs) == 0 {
		return time.Time{}, nil, errors.New("the trusted root lists no timestamp authorities")
	}
	var errs []string
	for _, ca := range v.root.TSAs {
		err := tok.Verify(sig, timestamp.VerifyOptions{Roots: []*x509.Certificate{ca.Root}, Intermediates: ca.Intermediates, Leaf: ca.Leaf})
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		if !ca.Valid.Contains(tok.Time) {
			errs = append(errs, fmt.Sprintf("time %s is outside the validity of TSA %s in the trusted root", tok.Time.UTC().Format(time.RFC3339), tsaName(ca)))
			continue
		}
		return tok.Time.UTC(), ca, nil
	}
	return time.Time{}, nil, errors.New(strings.Join(errs, "; "))
}

func tsaName(ca *trust.CA) string {
	if ca.URI != "" {
		return ca.URI
	}
	return ca.Root.Subject.String()
}
