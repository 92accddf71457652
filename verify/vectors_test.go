package verify

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"sigil.dev/sigil/bundle"
	"sigil.dev/sigil/internal/vectors"
	"sigil.dev/sigil/trust"
)

// expectation says where and why a negative vector must fail.
type expectation struct {
	stage    string // "trusted root", "bundle" (parse), or "verify"
	check    Check  // for stage "verify"
	contains string // a fragment of the error message
	// repair undoes an incidental defect of the vector so that the
	// documented defect is what the test exercises.
	repair func(t *testing.T, raw []byte) []byte
}

// negatives maps every _fail vector to the check its README describes.
var negatives = map[string]expectation{
	"bundle-empty-certificate-chain_fail":                       {stage: "bundle", contains: "empty certificate chain"},
	"bundle-from-wrong-instance_fail":                           {stage: "verify", check: CheckTrustedRoot, contains: "not in the trusted root"},
	"bundle-invalid-base64-signature_fail":                      {stage: "bundle", contains: "couldn't decode JSON"},
	"bundle-malformed-json_fail":                                {stage: "bundle", contains: "couldn't decode JSON"},
	"bundle-negative-log-index_fail":                            {stage: "bundle", contains: "negative log index"},
	"bundle-unknown-version_fail":                               {stage: "bundle", contains: "unsupported media type"},
	"bundle-with-root-cert_fail":                                {stage: "verify", check: CheckCertificate, contains: "not a trust anchor"},
	"checkpoint-bad-keyhint_fail":                               {stage: "verify", check: CheckCheckpoint, contains: "no valid signature from the log key"},
	"checkpoint-wrong-roothash_fail":                            {stage: "verify", check: CheckCheckpoint, contains: "does not match the inclusion proof"},
	"dsse-invalid-sig_fail":                                     {stage: "verify", check: CheckSignature, contains: "DSSE envelope signature"},
	"dsse-mismatch-envelope_fail":                               {stage: "verify", check: CheckEntry, contains: "payload hash"},
	"dsse-mismatch-sig_fail":                                    {stage: "verify", check: CheckEntry, contains: "different signature"},
	"inclusion-proof-corrupted-hash_fail":                       {stage: "verify", check: CheckInclusion, contains: "does not lead to root"},
	"incorrect-public-key_fail":                                 {stage: "verify", check: CheckEntry, contains: "different certificate"},
	"integrated-time-in-future_fail":                            {stage: "verify", check: CheckCertificate, contains: "outside the certificate's validity"},
	"intoto-expired-certificate_fail":                           {stage: "verify", check: CheckCertificate, contains: "outside the certificate's validity"},
	"intoto-log-entry-mismatch_fail":                            {stage: "verify", check: CheckEntry, contains: "different signature"},
	"intoto-missing-inclusion-proof_fail":                       {stage: "bundle", contains: "need an inclusion proof"},
	"intoto-set-outside-signing-cert-validity_fail":             {stage: "verify", check: CheckCertificate, contains: "outside the certificate's validity"},
	"intoto-tsa-timestamp-outside-cert-validity_fail":           {stage: "verify", check: CheckCertificate, contains: "TimestampAuthority time"},
	"invalid-checkpoint-signature_fail":                         {stage: "verify", check: CheckCheckpoint, contains: "does not verify"},
	"invalid-ct-key_fail":                                       {stage: "verify", check: CheckSCT, contains: "not in the trusted root"},
	"invalid-inclusion-proof_fail":                              {stage: "verify", check: CheckInclusion, contains: "does not lead to root"},
	"managed-key-no-key_fail":                                   {stage: "verify", check: CheckPolicy, contains: "signed with a key"},
	"managed-key-wrong-key_fail":                                {stage: "key", contains: "not on curve"},
	"message-digest-mismatch_fail":                              {stage: "verify", check: CheckArtifact, contains: "does not match the digest the bundle signs"},
	"rekor2-checkpoint-missing-log-signature_fail":              {stage: "verify", check: CheckCheckpoint},
	"rekor2-checkpoint-missing-origin_fail":                     {stage: "verify", check: CheckCheckpoint},
	"rekor2-checkpoint-missing-root-hash_fail":                  {stage: "verify", check: CheckCheckpoint},
	"rekor2-checkpoint-missing-size_fail":                       {stage: "verify", check: CheckCheckpoint},
	"rekor2-checkpoint-no-matching-signature_fail":              {stage: "verify", check: CheckCheckpoint, contains: "no valid signature from the log key"},
	"rekor2-dsse-invalid-sig_fail":                              {stage: "verify", check: CheckSignature, contains: "DSSE envelope signature"},
	"rekor2-dsse-mismatch-envelope_fail":                        {stage: "verify", check: CheckEntry, contains: "digest"},
	"rekor2-dsse-mismatch-sig_fail":                             {stage: "verify", check: CheckEntry, contains: "different signature"},
	"rekor2-no-inclusion-proof_fail":                            {stage: "bundle", contains: "need an inclusion proof"},
	"rekor2-no-timestamp_fail":                                  {stage: "verify", check: CheckTimestamp, contains: "no verified SET and no verified RFC 3161 timestamp"},
	"rekor2-timestamp-outside-trust-root-tsa-validity_fail":     {stage: "verify", check: CheckTimestamp, contains: "outside the validity of TSA"},
	"rekor2-timestamp-outside-tsa-cert-validity_fail":           {stage: "verify", check: CheckTimestamp},
	"rekor2-timestamp-payload-mismatch_fail":                    {stage: "verify", check: CheckTimestamp, contains: "imprint"},
	"rekor2-timestamp-untrusted-tsa-with-embedded-cert_fail":    {stage: "verify", check: CheckTimestamp},
	"rekor2-timestamp-untrusted-tsa-without-embedded-cert_fail": {stage: "verify", check: CheckTimestamp},
	// The vector's timestamp is base64 with embedded newlines, which
	// protojson rightly refuses; with them removed, the documented defect
	// (a timestamp outside the certificate's lifetime) must be caught.
	"rekor2-timestamp-with-incorrect-time_fail":   {stage: "verify", check: CheckCertificate, contains: "TimestampAuthority time", repair: stripTimestampNewlines},
	"set-invalid-signature_fail":                  {stage: "verify", check: CheckSET, contains: "SET"},
	"signature-mismatch_fail":                     {stage: "verify", check: CheckSignature, contains: "does not verify"},
	"trust-root-tlog-missing-validity-start_fail": {stage: "trusted root", contains: "no start"},
	"wrong-hashedrekord-artifact_fail":            {stage: "verify", check: CheckEntry, contains: "artifact digest"},
	"wrong-hashedrekord-cert-and-sig_fail":        {stage: "verify", check: CheckEntry, contains: "different signature"},
	"wrong-hashedrekord-entry_fail":               {stage: "verify", check: CheckEntry},
	"wrong-material_fail":                         {stage: "verify", check: CheckArtifact},
}

func stripTimestampNewlines(t *testing.T, raw []byte) []byte {
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	vm := m["verificationMaterial"].(map[string]any)
	for _, ts := range vm["timestampVerificationData"].(map[string]any)["rfc3161Timestamps"].([]any) {
		o := ts.(map[string]any)
		o["signedTimestamp"] = strings.ReplaceAll(o["signedTimestamp"].(string), "\n", "")
	}
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

type vectorRun struct {
	root *trust.TrustedRoot
	b    *bundle.Bundle
	art  Artifact
	pol  Policy
}

// load prepares a vector the way the conformance protocol describes it.
func load(t *testing.T, c vectors.Case, digest bool, repair func(*testing.T, []byte) []byte) (vectorRun, string, error) {
	t.Helper()
	var r vectorRun
	rootRaw, err := os.ReadFile(c.TrustedRoot)
	if err != nil {
		t.Fatal(err)
	}
	if r.root, err = trust.ParseTrustedRoot(rootRaw); err != nil {
		return r, "trusted root", err
	}
	raw, err := os.ReadFile(c.Bundle)
	if err != nil {
		t.Fatal(err)
	}
	if repair != nil {
		raw = repair(t, raw)
	}
	if r.b, err = bundle.Parse(raw); err != nil {
		return r, "bundle", err
	}
	content, err := os.ReadFile(c.Artifact)
	if err != nil {
		t.Fatal(err)
	}
	if digest {
		d := sha256.Sum256(content)
		r.art = Artifact{DigestAlgorithm: crypto.SHA256, Digest: d[:]}
	} else {
		r.art = Artifact{Open: func() (ReadCloser, error) { return io.NopCloser(bytes.NewReader(content)), nil }}
	}
	if c.Key != "" {
		k, err := readPEMKey(c.Key)
		if err != nil {
			return r, "key", err
		}
		r.pol.Key = k
	} else {
		r.pol.Identities = []Identity{{SubjectAlternativeName: Matcher{Exact: c.Identity}, Issuer: Matcher{Exact: c.Issuer}}}
	}
	return r, "", nil
}

// TestVectorReasons proves each negative vector is refused by the check
// its name and README describe, and each positive vector verifies, both
// with the artifact and with its digest.
func TestVectorReasons(t *testing.T) {
	dir := vectors.Require(t)
	cases, err := vectors.Cases(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		for _, digest := range []bool{false, true} {
			name := c.Name + map[bool]string{false: "/path", true: "/digest"}[digest]
			t.Run(name, func(t *testing.T) {
				exp, isNeg := negatives[c.Name]
				if c.ShouldFail != isNeg {
					t.Fatalf("vector %s has no expectation in the table", c.Name)
				}
				r, stage, err := load(t, c, digest, exp.repair)
				if err == nil {
					stage = "verify"
					_, err = New(r.root, Options{}).Verify(r.b, r.art, r.pol)
				}
				if !isNeg {
					if err != nil {
						t.Fatalf("positive vector failed at %s: %v", stage, err)
					}
					return
				}
				if err == nil {
					t.Fatal("negative vector verified")
				}
				if stage != exp.stage {
					t.Fatalf("failed at %s, want %s: %v", stage, exp.stage, err)
				}
				if stage == "verify" && CheckOf(err) != exp.check {
					t.Fatalf("failed the %q check, want %q: %v", CheckOf(err), exp.check, err)
				}
				if stage == "bundle" && !errors.Is(err, bundle.ErrInvalid) {
					t.Fatalf("bundle error is not ErrInvalid: %v", err)
				}
				if !strings.Contains(err.Error(), exp.contains) {
					t.Fatalf("error %q does not mention %q", err, exp.contains)
				}
				t.Logf("%v", err)
			})
		}
	}
}

// TestV2BodyUnderV1KindVersion: a Rekor v2 body whose kindVersion names
// the v1 version is reported as that contradiction; it failed as
// "unsupported log entry kind: hashedrekord 0.0.2", which named no defect.
func TestV2BodyUnderV1KindVersion(t *testing.T) {
	dir := vectors.Require(t)
	cases, err := vectors.Cases(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		if c.Name != "rekor2-happy-path" {
			continue
		}
		r, stage, err := load(t, c, true, func(t *testing.T, raw []byte) []byte {
			var m map[string]any
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatal(err)
			}
			e := m["verificationMaterial"].(map[string]any)["tlogEntries"].([]any)[0].(map[string]any)
			e["kindVersion"].(map[string]any)["version"] = "0.0.1"
			out, _ := json.Marshal(m)
			return out
		})
		if err != nil {
			t.Fatalf("%s: %v", stage, err)
		}
		_, err = New(r.root, Options{}).Verify(r.b, r.art, r.pol)
		if err == nil || !strings.Contains(err.Error(), "body is hashedrekord 0.0.2 but kindVersion says hashedrekord 0.0.1") {
			t.Fatalf("got %v", err)
		}
		return
	}
	t.Fatal("no rekor2-happy-path vector")
}
