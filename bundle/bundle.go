// Package bundle reads and writes Sigstore bundles
// (dev.sigstore.bundle.v1.Bundle, sigstore/protobuf-specs
// protos/sigstore_bundle.proto) in their protojson form.
//
// A bundle carries what a verifier needs offline: the verification material
// (a certificate, a certificate chain, or a public-key hint), the signature
// (a message signature or a DSSE envelope), transparency-log entries, and
// RFC 3161 timestamps.
//
// Versions and their rules (sigstore-go pkg/bundle/bundle.go validate):
//
//   - media types "application/vnd.dev.sigstore.bundle+json;version=0.1"
//     (and 0.2, 0.3) and "application/vnd.dev.sigstore.bundle.v0.3+json";
//     writers emit the last one;
//   - v0.1: every log entry needs an inclusion promise (SET);
//   - v0.2 and later: every log entry needs an inclusion proof;
//   - v0.3 and later: the x509CertificateChain form is forbidden;
//   - a DSSE envelope has exactly one signature;
//   - at most 32 log entries and 32 timestamps.
//
// Certificates after the first in a v0.1/v0.2 chain are kept in Chain but
// never trusted; older public-good bundles include the intermediate and the
// root there.
package bundle

import (
	"crypto"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"sigil.dev/sigil/dsse"
)

// Media types.
const (
	MediaTypeV01    = "application/vnd.dev.sigstore.bundle+json;version=0.1"
	MediaTypeV02    = "application/vnd.dev.sigstore.bundle+json;version=0.2"
	MediaTypeV03Old = "application/vnd.dev.sigstore.bundle+json;version=0.3"
	MediaTypeV03    = "application/vnd.dev.sigstore.bundle.v0.3+json"
)

// Limits (sigstore-go internal/limits).
const (
	MaxTlogEntries = 32
	MaxTimestamps  = 32
)

// ErrInvalid wraps every error about a malformed bundle.
var ErrInvalid = errors.New("invalid bundle")

// Bundle is a parsed and validated bundle.
type Bundle struct {
	// Minor is the bundle version: 1, 2 or 3 (v0.1 … v0.3).
	Minor int

	// Exactly one of Certificate and PublicKey (a hint, possibly empty) is
	// set. Chain holds any further certificates of a v0.1/v0.2 chain; they
	// are informational, never trusted.
	Certificate *x509.Certificate
	Chain       []*x509.Certificate
	PublicKey   *PublicKeyHint

	// Exactly one of MessageSignature and Envelope is set.
	MessageSignature *MessageSignature
	Envelope         *dsse.Envelope

	TlogEntries []*protorekor.TransparencyLogEntry
	// Timestamps are DER-encoded RFC 3161 TimeStampResp messages.
	Timestamps [][]byte
	// TimestampedData, when not nil, is what the timestamps stamp instead
	// of the signature. Bundles never set it (Parse leaves it nil, Marshal
	// ignores it); converters of older formats do: cosign's legacy OCI
	// attestation layers timestamp the whole DSSE envelope JSON
	// (sigstore/cosign pkg/cosign/verify.go VerifyRFC3161Timestamp).
	TimestampedData []byte

	pb *protobundle.Bundle
}

// PublicKeyHint identifies the key of a key-signed bundle; the hint is
// unauthenticated.
type PublicKeyHint struct{ Hint string }

// MessageSignature is a signature over an artifact's digest.
type MessageSignature struct {
	// DigestAlgorithm is 0 when the bundle states no digest.
	DigestAlgorithm crypto.Hash
	Digest          []byte
	Signature       []byte
}

// Signature returns the signature bytes: the message signature, or the one
// DSSE signature. Timestamps are over these bytes.
func (b *Bundle) Signature() []byte {
	if b.MessageSignature != nil {
		return b.MessageSignature.Signature
	}
	return b.Envelope.Signatures[0].Sig
}

// Proto returns the underlying message.
func (b *Bundle) Proto() *protobundle.Bundle { return b.pb }

// Parse decodes and validates a bundle.
func Parse(data []byte) (*Bundle, error) {
	var pb protobundle.Bundle
	if err := protojson.Unmarshal(data, &pb); err != nil {
		if legacy, keyed := cosignLegacy(data); legacy {
			holds := "the signature and certificate it holds with verify-blob --signature and --certificate"
			if keyed {
				// cosign sign-blob --key: no certificate.
				holds = "the signature it holds with verify-blob --signature and --key"
			}
			return nil, invalid("this is cosign's own bundle format (base64Signature, cert, rekorBundle: cosign v2 sign-blob or attest-blob --bundle without --new-bundle-format), not a Sigstore bundle: have cosign write a Sigstore bundle with --new-bundle-format, or, for sign-blob's, verify %s", holds)
		}
		return nil, fmt.Errorf("%w: couldn't decode JSON: %v", ErrInvalid, err)
	}
	return FromProto(&pb)
}

// cosignLegacy reports whether data is cosign's pre-Sigstore-bundle --bundle
// file, {"base64Signature", "cert", "rekorBundle"} (sigstore/cosign
// pkg/cosign LocalSignedPayload), which no Sigstore bundle field names;
// keyed when it has no certificate (cosign sign-blob --key).
func cosignLegacy(data []byte) (legacy, keyed bool) {
	var m map[string]json.RawMessage
	if json.Unmarshal(data, &m) != nil {
		return false, false
	}
	_, sig := m["base64Signature"]
	_, rb := m["rekorBundle"]
	c := m["cert"]
	return sig || rb, len(c) == 0 || string(c) == "null" || string(c) == `""`
}

// FromProto validates a bundle message.
func FromProto(pb *protobundle.Bundle) (*Bundle, error) {
	minor, err := version(pb.GetMediaType())
	if err != nil {
		return nil, err
	}
	b := &Bundle{Minor: minor, pb: pb}
	if err := b.material(pb.GetVerificationMaterial()); err != nil {
		return nil, err
	}
	if err := b.content(pb); err != nil {
		return nil, err
	}
	return b, nil
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// version returns the minor version of a bundle media type.
func version(mt string) (int, error) {
	switch mt {
	case MediaTypeV01:
		return 1, nil
	case MediaTypeV02:
		return 2, nil
	case MediaTypeV03Old:
		return 3, nil
	}
	const prefix, suffix = "application/vnd.dev.sigstore.bundle.v", "+json"
	if strings.HasPrefix(mt, prefix) && strings.HasSuffix(mt, suffix) {
		v := strings.TrimSuffix(strings.TrimPrefix(mt, prefix), suffix)
		major, minor, ok := strings.Cut(v, ".")
		// The minor version is one plain digit: strconv.Atoi would also
		// take "+3" and "03", which sigstore-go's semver check refuses.
		if ok && major == "0" && len(minor) == 1 && minor[0] >= '1' && minor[0] <= '3' {
			return int(minor[0] - '0'), nil
		}
		return 0, invalid("unsupported bundle version %q", v)
	}
	return 0, invalid("unsupported media type %q", mt)
}

func (b *Bundle) material(vm *protobundle.VerificationMaterial) error {
	if vm == nil {
		return invalid("missing verificationMaterial")
	}
	switch c := vm.GetContent().(type) {
	case *protobundle.VerificationMaterial_Certificate:
		cert, err := parseCert(c.Certificate.GetRawBytes())
		if err != nil {
			return err
		}
		b.Certificate = cert
	case *protobundle.VerificationMaterial_X509CertificateChain:
		if b.Minor >= 3 {
			return invalid("v0.3 bundles must not use x509CertificateChain")
		}
		certs := c.X509CertificateChain.GetCertificates()
		if len(certs) == 0 {
			return invalid("empty certificate chain")
		}
		for i, raw := range certs {
			cert, err := parseCert(raw.GetRawBytes())
			if err != nil {
				return err
			}
			if i == 0 {
				b.Certificate = cert
			} else {
				b.Chain = append(b.Chain, cert)
			}
		}
	case *protobundle.VerificationMaterial_PublicKey:
		b.PublicKey = &PublicKeyHint{Hint: c.PublicKey.GetHint()}
	default:
		return invalid("verificationMaterial has no certificate or public key")
	}

	entries := vm.GetTlogEntries()
	if len(entries) > MaxTlogEntries {
		return invalid("%d log entries, more than %d", len(entries), MaxTlogEntries)
	}
	for i, e := range entries {
		if err := b.checkEntry(e); err != nil {
			return invalid("log entry %d: %v", i, err)
		}
	}
	b.TlogEntries = entries

	ts := vm.GetTimestampVerificationData().GetRfc3161Timestamps()
	if len(ts) > MaxTimestamps {
		return invalid("%d timestamps, more than %d", len(ts), MaxTimestamps)
	}
	for i, t := range ts {
		if len(t.GetSignedTimestamp()) == 0 {
			return invalid("timestamp %d is empty", i)
		}
		b.Timestamps = append(b.Timestamps, t.GetSignedTimestamp())
	}
	return nil
}

func (b *Bundle) checkEntry(e *protorekor.TransparencyLogEntry) error {
	switch {
	case e.GetLogIndex() < 0:
		return fmt.Errorf("negative log index %d", e.GetLogIndex())
	case len(e.GetLogId().GetKeyId()) == 0:
		return errors.New("missing logId")
	case e.GetKindVersion().GetKind() == "" || e.GetKindVersion().GetVersion() == "":
		return errors.New("missing kindVersion")
	case len(e.GetCanonicalizedBody()) == 0:
		return errors.New("missing canonicalizedBody")
	case e.GetIntegratedTime() < 0:
		return fmt.Errorf("negative integratedTime %d", e.GetIntegratedTime())
	}
	if p := e.GetInclusionProof(); p != nil {
		if p.GetLogIndex() < 0 || p.GetTreeSize() <= 0 || p.GetLogIndex() >= p.GetTreeSize() {
			return fmt.Errorf("inclusion proof index %d outside tree size %d", p.GetLogIndex(), p.GetTreeSize())
		}
	}
	if b.Minor == 1 && len(e.GetInclusionPromise().GetSignedEntryTimestamp()) == 0 {
		return errors.New("v0.1 bundles need an inclusion promise (SET)")
	}
	if b.Minor >= 2 && e.GetInclusionProof() == nil {
		return errors.New("v0.2+ bundles need an inclusion proof")
	}
	return nil
}

func (b *Bundle) content(pb *protobundle.Bundle) error {
	switch c := pb.GetContent().(type) {
	case *protobundle.Bundle_MessageSignature:
		ms := c.MessageSignature
		if len(ms.GetSignature()) == 0 {
			return invalid("empty message signature")
		}
		m := &MessageSignature{Signature: ms.GetSignature()}
		if d := ms.GetMessageDigest(); d != nil && len(d.GetDigest()) > 0 {
			h, err := hashFromProto(d.GetAlgorithm())
			if err != nil {
				return invalid("messageDigest: %v", err)
			}
			if len(d.GetDigest()) != h.Size() {
				return invalid("messageDigest is %d bytes, not a %s digest", len(d.GetDigest()), h)
			}
			m.DigestAlgorithm, m.Digest = h, d.GetDigest()
		}
		b.MessageSignature = m
	case *protobundle.Bundle_DsseEnvelope:
		env := c.DsseEnvelope
		if len(env.GetSignatures()) != 1 {
			return invalid("DSSE envelope has %d signatures; a bundle carries exactly one", len(env.GetSignatures()))
		}
		e := &dsse.Envelope{PayloadType: env.GetPayloadType(), Payload: env.GetPayload()}
		for _, s := range env.GetSignatures() {
			e.Signatures = append(e.Signatures, dsse.Signature{KeyID: s.GetKeyid(), Sig: s.GetSig()})
		}
		if err := e.Validate(); err != nil {
			return invalid("%v", err)
		}
		b.Envelope = e
	default:
		return invalid("bundle has neither messageSignature nor dsseEnvelope")
	}
	return nil
}

func parseCert(der []byte) (*x509.Certificate, error) {
	if len(der) == 0 {
		return nil, invalid("empty certificate")
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, invalid("couldn't parse certificate: %v", err)
	}
	return c, nil
}

func hashFromProto(a protocommon.HashAlgorithm) (crypto.Hash, error) {
	switch a {
	case protocommon.HashAlgorithm_SHA2_256:
		return crypto.SHA256, nil
	case protocommon.HashAlgorithm_SHA2_384:
		return crypto.SHA384, nil
	case protocommon.HashAlgorithm_SHA2_512:
		return crypto.SHA512, nil
	}
	return 0, fmt.Errorf("unsupported digest algorithm %s", a)
}

// HashToProto returns the protobuf enum of a hash.
func HashToProto(h crypto.Hash) protocommon.HashAlgorithm {
	switch h {
	case crypto.SHA256:
		return protocommon.HashAlgorithm_SHA2_256
	case crypto.SHA384:
		return protocommon.HashAlgorithm_SHA2_384
	case crypto.SHA512:
		return protocommon.HashAlgorithm_SHA2_512
	}
	return protocommon.HashAlgorithm_HASH_ALGORITHM_UNSPECIFIED
}

// Marshal encodes the bundle as JSON.
func (b *Bundle) Marshal() ([]byte, error) { return Marshal(b.pb) }

// Marshal encodes a bundle message as JSON (protojson, lowerCamelCase).
func Marshal(pb *protobundle.Bundle) ([]byte, error) {
	return protojson.Marshal(pb)
}

// New assembles a v0.3 bundle. Exactly one of cert (DER) and keyHint
// (possibly empty, with key true) names the verification material; exactly
// one of msg and env is the content.
func New(cert []byte, keyHint *string, msg *MessageSignature, env *dsse.Envelope, entries []*protorekor.TransparencyLogEntry, timestamps [][]byte) (*Bundle, error) {
	vm := &protobundle.VerificationMaterial{TlogEntries: entries}
	switch {
	case cert != nil:
		vm.Content = &protobundle.VerificationMaterial_Certificate{Certificate: &protocommon.X509Certificate{RawBytes: cert}}
	case keyHint != nil:
		vm.Content = &protobundle.VerificationMaterial_PublicKey{PublicKey: &protocommon.PublicKeyIdentifier{Hint: *keyHint}}
	}
	if len(timestamps) > 0 {
		vm.TimestampVerificationData = &protobundle.TimestampVerificationData{}
		for _, t := range timestamps {
			vm.TimestampVerificationData.Rfc3161Timestamps = append(vm.TimestampVerificationData.Rfc3161Timestamps, &protocommon.RFC3161SignedTimestamp{SignedTimestamp: t})
		}
	}
	pb := &protobundle.Bundle{MediaType: MediaTypeV03, VerificationMaterial: vm}
	switch {
	case msg != nil:
		ms := &protocommon.MessageSignature{Signature: msg.Signature}
		if msg.Digest != nil {
			ms.MessageDigest = &protocommon.HashOutput{Algorithm: HashToProto(msg.DigestAlgorithm), Digest: msg.Digest}
		}
		pb.Content = &protobundle.Bundle_MessageSignature{MessageSignature: ms}
	case env != nil:
		e := &protodsse.Envelope{PayloadType: env.PayloadType, Payload: env.Payload}
		for _, s := range env.Signatures {
			e.Signatures = append(e.Signatures, &protodsse.Signature{Sig: s.Sig, Keyid: s.KeyID})
		}
		pb.Content = &protobundle.Bundle_DsseEnvelope{DsseEnvelope: e}
	}
	return FromProto(pb)
}
