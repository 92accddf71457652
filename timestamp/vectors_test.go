package timestamp

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// conformanceDir holds the sigstore-conformance bundle-verify vectors, read
// in place from the shared checkout beside the repository.
const conformanceDir = "../../shared/conformance/bundle-verify"

// tolerantBase64 decodes standard base64, ignoring whitespace: some vectors
// wrap their base64 with "\n" (rekor2-timestamp-with-incorrect-time_fail),
// which Go's protojson refuses.
type tolerantBase64 []byte

func (b *tolerantBase64) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == ' ' || r == '\t' {
			return -1
		}
		return r
	}, s)
	d, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		d, err = base64.RawStdEncoding.DecodeString(s)
	}
	*b = d
	return err
}

// vectorBundle is the part of a Sigstore bundle (v0.3 JSON) these tests read.
type vectorBundle struct {
	VerificationMaterial struct {
		TimestampVerificationData struct {
			RFC3161Timestamps []struct {
				SignedTimestamp tolerantBase64 `json:"signedTimestamp"`
			} `json:"rfc3161Timestamps"`
		} `json:"timestampVerificationData"`
	} `json:"verificationMaterial"`
	MessageSignature *struct {
		Signature tolerantBase64 `json:"signature"`
	} `json:"messageSignature"`
	DSSEEnvelope *struct {
		Signatures []struct {
			Sig tolerantBase64 `json:"sig"`
		} `json:"signatures"`
	} `json:"dsseEnvelope"`
}

// signatureBytes is what the TSA stamped: messageSignature.signature or the
// first DSSE signature (sigstore-go pkg/verify/tsa.go).
func (b *vectorBundle) signatureBytes() []byte {
	if b.MessageSignature != nil {
		return b.MessageSignature.Signature
	}
	if b.DSSEEnvelope != nil && len(b.DSSEEnvelope.Signatures) > 0 {
		return b.DSSEEnvelope.Signatures[0].Sig
	}
	return nil
}

type vectorTrustedRoot struct {
	TimestampAuthorities []struct {
		URI       string `json:"uri"`
		CertChain struct {
			Certificates []struct {
				RawBytes tolerantBase64 `json:"rawBytes"`
			} `json:"certificates"`
		} `json:"certChain"`
	} `json:"timestampAuthorities"`
}

// tsaOptions turns each trusted-root TSA into VerifyOptions the way
// sigstore-go does (pkg/root/trusted_root.go): certificate 0 is the leaf if
// it is not a CA, the last is the root, the rest are intermediates.
func (r *vectorTrustedRoot) tsaOptions(t *testing.T) []VerifyOptions {
	t.Helper()
	var out []VerifyOptions
	for _, tsa := range r.TimestampAuthorities {
		var certs []*x509.Certificate
		for _, c := range tsa.CertChain.Certificates {
			cert, err := x509.ParseCertificate(c.RawBytes)
			if err != nil {
				t.Fatalf("trusted root TSA %s: %v", tsa.URI, err)
			}
			certs = append(certs, cert)
		}
		if len(certs) == 0 {
			continue
		}
		var o VerifyOptions
		if !certs[0].IsCA {
			o.Leaf, certs = certs[0], certs[1:]
		}
		if len(certs) > 0 {
			o.Roots = certs[len(certs)-1:]
			o.Intermediates = certs[:len(certs)-1]
		}
		out = append(out, o)
	}
	return out
}

func readVector(t *testing.T, name string) (*vectorBundle, *vectorTrustedRoot) {
	t.Helper()
	dir := filepath.Join(conformanceDir, name)
	data, err := os.ReadFile(filepath.Join(dir, "bundle.sigstore.json"))
	if err != nil {
		t.Fatal(err)
	}
	var b vectorBundle
	if err := json.Unmarshal(data, &b); err != nil {
		t.Fatalf("%s bundle: %v", name, err)
	}
	data, err = os.ReadFile(filepath.Join(dir, "trusted_root.json"))
	if errors.Is(err, os.ErrNotExist) {
		return &b, nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var r vectorTrustedRoot
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("%s trusted root: %v", name, err)
	}
	return &b, &r
}

func skipWithoutVectors(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(conformanceDir); err != nil {
		t.Skipf("conformance vectors not found at %s (check out ../shared beside the repository): %v", conformanceDir, err)
	}
}

// TestConformanceVectors verifies the RFC 3161 timestamps of the
// sigstore-conformance bundles against their trusted roots, trying every
// TSA of the trusted root as sigstore-go does.
func TestConformanceVectors(t *testing.T) {
	skipWithoutVectors(t)
	for _, tc := range []struct {
		name string
		want error // nil: the timestamp verifies against the trusted root
		why  string
	}{
		{name: "rekor2-happy-path"},
		{name: "rekor2-timestamp-with-embedded-cert"},
		{name: "rekor2-timestamp-without-embedded-cert"},
		{name: "rekor2-timestamp-with-expired-cert-chain", why: "the chain expired after genTime; it is checked at genTime"},
		{name: "trust-root-tsa-validity-end-inclusive"},
		{name: "rekor2-timestamp-payload-mismatch_fail", want: ErrImprintMismatch},
		{name: "rekor2-timestamp-untrusted-tsa-with-embedded-cert_fail", want: ErrSignerMismatch,
			why: "FreeTSA's embedded certificate is not the trusted root's TSA leaf"},
		{name: "rekor2-timestamp-untrusted-tsa-without-embedded-cert_fail", want: ErrSignerMismatch,
			why: "FreeTSA's SignerIdentifier does not name the trusted root's TSA leaf"},
		{name: "rekor2-timestamp-outside-tsa-cert-validity_fail", want: ErrUntrustedChain,
			why: "genTime is after the TSA leaf expired"},
		// These bundles fail for reasons outside the token, which verifies:
		{name: "rekor2-timestamp-outside-trust-root-tsa-validity_fail", why: "genTime is outside the trusted root's TSA validFor (the caller checks)"},
		{name: "rekor2-timestamp-with-incorrect-time_fail", why: "genTime is outside the Fulcio certificate's validity (the caller checks)"},
		{name: "intoto-tsa-timestamp-outside-cert-validity_fail", why: "genTime is outside the Fulcio certificate's validity (the caller checks)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, root := readVector(t, tc.name)
			if root == nil {
				t.Fatal("vector has no trusted_root.json")
			}
			stamps := b.VerificationMaterial.TimestampVerificationData.RFC3161Timestamps
			if len(stamps) == 0 {
				t.Fatal("bundle has no RFC 3161 timestamps")
			}
			msg := b.signatureBytes()
			for _, st := range stamps {
				tok, err := ParseResponse(st.SignedTimestamp)
				if err != nil {
					t.Fatalf("ParseResponse: %v", err)
				}
				var errs []error
				for _, o := range root.tsaOptions(t) {
					errs = append(errs, tok.Verify(msg, o))
				}
				var verified bool
				for _, err := range errs {
					verified = verified || err == nil
				}
				if tc.want == nil {
					if !verified {
						t.Fatalf("no trusted TSA verifies the token: %v", errors.Join(errs...))
					}
					return
				}
				if verified {
					t.Fatalf("token verifies, want %v", tc.want)
				}
				for _, err := range errs {
					if !errors.Is(err, tc.want) {
						t.Errorf("Verify = %v, want %v", err, tc.want)
					}
					t.Logf("%v (%s)", err, tc.why)
				}
			}
		})
	}

	// Without the trusted leaf (a trusted root that lists only CAs), the
	// untrusted FreeTSA tokens fail on the chain, or for want of a signer.
	for name, want := range map[string]error{
		"rekor2-timestamp-untrusted-tsa-with-embedded-cert_fail":    ErrUntrustedChain,
		"rekor2-timestamp-untrusted-tsa-without-embedded-cert_fail": ErrSignerNotFound,
	} {
		t.Run(name+"/roots-only", func(t *testing.T) {
			b, root := readVector(t, name)
			tok, err := ParseResponse(b.VerificationMaterial.TimestampVerificationData.RFC3161Timestamps[0].SignedTimestamp)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range root.tsaOptions(t) {
				o.Leaf = nil
				if err := tok.Verify(b.signatureBytes(), o); !errors.Is(err, want) {
					t.Errorf("Verify = %v, want %v", err, want)
				}
			}
		})
	}
}

// TestFreeTSATokens verifies the two FreeTSA tokens of the "untrusted TSA"
// vectors against FreeTSA's own root, which the first embeds: a third-party
// TSA with RSA PKCS #1 v1.5, SHA-512 digests and a SHA-1 ESS
// signing-certificate (v1) attribute.
func TestFreeTSATokens(t *testing.T) {
	skipWithoutVectors(t)
	parse := func(name string) (*Token, []byte) {
		b, _ := readVector(t, name)
		tok, err := ParseResponse(b.VerificationMaterial.TimestampVerificationData.RFC3161Timestamps[0].SignedTimestamp)
		if err != nil {
			t.Fatal(err)
		}
		return tok, b.signatureBytes()
	}
	with, withMsg := parse("rekor2-timestamp-untrusted-tsa-with-embedded-cert_fail")
	without, withoutMsg := parse("rekor2-timestamp-untrusted-tsa-without-embedded-cert_fail")
	if len(with.Certificates) != 2 || len(without.Certificates) != 0 {
		t.Fatalf("%d and %d embedded certificates, want 2 and 0", len(with.Certificates), len(without.Certificates))
	}
	leaf, root := with.Certificates[0], with.Certificates[1]
	if with.signer.sigAlg.kind != sigRSAPKCS1 || with.signer.digestAlg.String() != "SHA-512" || with.signer.essHashAlg.String() != "SHA-1" {
		t.Errorf("FreeTSA SignerInfo: %+v", with.signer)
	}
	if err := with.Verify(withMsg, VerifyOptions{Roots: []*x509.Certificate{root}}); err != nil {
		t.Errorf("with embedded certificates: %v", err)
	}
	if err := without.Verify(withoutMsg, VerifyOptions{Roots: []*x509.Certificate{root}, Leaf: leaf}); err != nil {
		t.Errorf("without embedded certificates, leaf given: %v", err)
	}
}

// TestConformanceVectorsParse parses every RFC 3161 timestamp in the
// conformance vectors, and checks that re-parsing the token alone agrees.
func TestConformanceVectorsParse(t *testing.T) {
	skipWithoutVectors(t)
	dirs, err := os.ReadDir(conformanceDir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range dirs {
		data, err := os.ReadFile(filepath.Join(conformanceDir, d.Name(), "bundle.sigstore.json"))
		if err != nil {
			continue
		}
		var b vectorBundle
		if json.Unmarshal(data, &b) != nil {
			continue // bundle-malformed-json_fail and friends
		}
		for _, st := range b.VerificationMaterial.TimestampVerificationData.RFC3161Timestamps {
			n++
			tok, err := ParseResponse(st.SignedTimestamp)
			if err != nil {
				t.Errorf("%s: %v", d.Name(), err)
				continue
			}
			tok2, err := ParseToken(tok.Raw)
			if err != nil || !tok2.Time.Equal(tok.Time) || !bytes.Equal(tok2.HashedMessage, tok.HashedMessage) {
				t.Errorf("%s: ParseToken disagrees: %v", d.Name(), err)
			}
		}
	}
	if n == 0 {
		t.Fatal("no RFC 3161 timestamps found in the vectors")
	}
	t.Logf("parsed %d timestamps", n)
}
