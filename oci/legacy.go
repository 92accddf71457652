package oci

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"strings"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"

	"sigil.dev/sigil/bundle"
	"sigil.dev/sigil/dsse"
	"sigil.dev/sigil/rekor"
	"sigil.dev/sigil/trust"
)

// SimpleSigningType is the type of a simple-signing payload.
const SimpleSigningType = "cosign container image signature"

// SimpleSigning is the payload a legacy image signature signs
// (sigstore/sigstore pkg/signature/payload/payload.go). Its JSON form, as
// Marshal writes it, is what cosign writes: Go encoding/json with the
// fields in this order and "optional": null without annotations.
type SimpleSigning struct {
	Critical SimpleSigningCritical `json:"critical"`
	Optional map[string]any        `json:"optional"`
}

// SimpleSigningCritical is the signed claim about the image.
type SimpleSigningCritical struct {
	Identity struct {
		DockerReference string `json:"docker-reference"`
	} `json:"identity"`
	Image struct {
		DockerManifestDigest string `json:"docker-manifest-digest"`
	} `json:"image"`
	Type string `json:"type"`
}

// NewSimpleSigning returns the payload for an image digest. repository is
// the docker-reference: the repository without tag or digest
// (name.Repository.Name()).
func NewSimpleSigning(repository, digest string, annotations map[string]string) *SimpleSigning {
	s := &SimpleSigning{}
	s.Critical.Identity.DockerReference = repository
	s.Critical.Image.DockerManifestDigest = digest
	s.Critical.Type = SimpleSigningType
	if len(annotations) > 0 {
		s.Optional = map[string]any{}
		for k, v := range annotations {
			s.Optional[k] = v
		}
	}
	return s
}

// Marshal returns the payload bytes.
func (s *SimpleSigning) Marshal() ([]byte, error) { return json.Marshal(s) }

// ParseSimpleSigning parses a simple-signing payload and checks its type
// and digest form. It does not check the digest against an image.
func ParseSimpleSigning(b []byte) (*SimpleSigning, error) {
	var s SimpleSigning
	d := json.NewDecoder(bytes.NewReader(b))
	if err := d.Decode(&s); err != nil {
		return nil, fmt.Errorf("couldn't parse simple-signing payload: %w", err)
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, errors.New("couldn't parse simple-signing payload: data after the JSON object")
	}
	if s.Critical.Type != SimpleSigningType {
		return nil, fmt.Errorf("couldn't parse simple-signing payload: type %q, want %q", s.Critical.Type, SimpleSigningType)
	}
	alg, hx, ok := strings.Cut(s.Critical.Image.DockerManifestDigest, ":")
	if !ok || alg != "sha256" || len(hx) != 64 || !isLowerHex(hx) {
		return nil, fmt.Errorf("couldn't parse simple-signing payload: docker-manifest-digest %q is not sha256:<64 hex digits>", s.Critical.Image.DockerManifestDigest)
	}
	return &s, nil
}

func isLowerHex(s string) bool {
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// CheckAnnotations reports whether every wanted annotation is in the
// payload's optional map with the same value (cosign's -a check).
func (s *SimpleSigning) CheckAnnotations(want map[string]string) error {
	for k, v := range want {
		got, ok := s.Optional[k]
		if !ok {
			return fmt.Errorf("the signature has no annotation %q", k)
		}
		if fmt.Sprint(got) != v {
			return fmt.Errorf("annotation %q is %q, want %q", k, fmt.Sprint(got), v)
		}
	}
	return nil
}

// RekorBundle is the legacy annotation form of a Rekor v1 entry: the SET
// and what it signs (sigstore/cosign pkg/cosign/bundle/rekor.go; Go field
// names, as cosign writes them, at the top level).
type RekorBundle struct {
	SignedEntryTimestamp []byte
	Payload              RekorPayload
}

// RekorPayload is what the SET signs.
type RekorPayload struct {
	Body           string `json:"body"` // base64 of the canonical body
	IntegratedTime int64  `json:"integratedTime"`
	LogIndex       int64  `json:"logIndex"`
	LogID          string `json:"logID"` // hex
}

// rekorBundleFromEntry converts a bundle's log entry (which must carry a
// SET) to the annotation form.
func rekorBundleFromEntry(e *protorekor.TransparencyLogEntry) *RekorBundle {
	return &RekorBundle{
		SignedEntryTimestamp: e.GetInclusionPromise().GetSignedEntryTimestamp(),
		Payload: RekorPayload{
			Body:           base64.StdEncoding.EncodeToString(e.GetCanonicalizedBody()),
			IntegratedTime: e.GetIntegratedTime(),
			LogIndex:       e.GetLogIndex(),
			LogID:          hex.EncodeToString(e.GetLogId().GetKeyId()),
		},
	}
}

// entry converts the annotation form to a bundle log entry (no inclusion
// proof: the legacy format has none).
func (r *RekorBundle) entry() (*protorekor.TransparencyLogEntry, []byte, error) {
	body, err := base64.StdEncoding.DecodeString(r.Payload.Body)
	if err != nil {
		return nil, nil, fmt.Errorf("body is not base64: %w", err)
	}
	logID, err := hex.DecodeString(r.Payload.LogID)
	if err != nil || len(logID) == 0 {
		return nil, nil, fmt.Errorf("logID %q is not hex", r.Payload.LogID)
	}
	if len(r.SignedEntryTimestamp) == 0 {
		return nil, nil, errors.New("no SignedEntryTimestamp")
	}
	var kv struct {
		Kind       string `json:"kind"`
		APIVersion string `json:"apiVersion"`
	}
	if err := json.Unmarshal(body, &kv); err != nil || kv.Kind == "" || kv.APIVersion == "" {
		return nil, nil, errors.New("the body names no kind and apiVersion")
	}
	return &protorekor.TransparencyLogEntry{
		LogIndex:          r.Payload.LogIndex,
		LogId:             &protocommon.LogId{KeyId: logID},
		KindVersion:       &protorekor.KindVersion{Kind: kv.Kind, Version: kv.APIVersion},
		IntegratedTime:    r.Payload.IntegratedTime,
		InclusionPromise:  &protorekor.InclusionPromise{SignedEntryTimestamp: r.SignedEntryTimestamp},
		CanonicalizedBody: body,
	}, body, nil
}

// timestampAnnotation is the legacy RFC 3161 annotation
// (sigstore/cosign pkg/cosign/bundle/tsa.go).
type timestampAnnotation struct {
	SignedRFC3161Timestamp []byte
}

// LegacyLayer is one layer of a legacy signature or attestation manifest
// (or of a referrer holding legacy layers): its media type, blob and
// annotations.
type LegacyLayer struct {
	MediaType   string
	Payload     []byte
	Annotations map[string]string
}

// IsAttestation reports whether the layer holds a DSSE envelope.
func (l *LegacyLayer) IsAttestation() bool {
	return l.MediaType == MediaTypeDSSE || l.Annotations[AnnotationSignature] == "" && l.Annotations[AnnotationPredicateType] != ""
}

// Bundle converts the layer to a bundle for the verifier: the certificate
// (or an empty key hint when there is none), the Rekor entry with its SET,
// the RFC 3161 timestamp, and the signature — over the payload for
// simple-signing layers, or the DSSE envelope the payload holds. Nothing is
// verified here; the chain annotation is ignored (only the trusted root is
// trusted).
func (l *LegacyLayer) Bundle() (*bundle.Bundle, error) {
	vm := &protobundle.VerificationMaterial{}
	if p := l.Annotations[AnnotationCertificate]; p != "" {
		blk, _ := pem.Decode([]byte(p))
		if blk == nil || blk.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("couldn't read the %s annotation: not a PEM certificate", AnnotationCertificate)
		}
		vm.Content = &protobundle.VerificationMaterial_Certificate{Certificate: &protocommon.X509Certificate{RawBytes: blk.Bytes}}
	} else {
		vm.Content = &protobundle.VerificationMaterial_PublicKey{PublicKey: &protocommon.PublicKeyIdentifier{}}
	}
	var body *rekor.Body
	if rb := l.Annotations[AnnotationRekorBundle]; rb != "" {
		var r RekorBundle
		if err := json.Unmarshal([]byte(rb), &r); err != nil {
			return nil, fmt.Errorf("couldn't parse the %s annotation: %w", AnnotationRekorBundle, err)
		}
		e, raw, err := r.entry()
		if err != nil {
			return nil, fmt.Errorf("couldn't read the %s annotation: %w", AnnotationRekorBundle, err)
		}
		if body, err = rekor.ParseV1Body(raw); err != nil {
			return nil, fmt.Errorf("couldn't read the %s annotation: %w", AnnotationRekorBundle, err)
		}
		vm.TlogEntries = []*protorekor.TransparencyLogEntry{e}
	}
	if ts := l.Annotations[AnnotationTimestamp]; ts != "" {
		var t timestampAnnotation
		if err := json.Unmarshal([]byte(ts), &t); err != nil || len(t.SignedRFC3161Timestamp) == 0 {
			return nil, fmt.Errorf("couldn't read the %s annotation: want {\"SignedRFC3161Timestamp\":\"<base64>\"}", AnnotationTimestamp)
		}
		vm.TimestampVerificationData = &protobundle.TimestampVerificationData{
			Rfc3161Timestamps: []*protocommon.RFC3161SignedTimestamp{{SignedTimestamp: t.SignedRFC3161Timestamp}},
		}
	}
	pb := &protobundle.Bundle{MediaType: bundle.MediaTypeV01, VerificationMaterial: vm}
	attestation := l.IsAttestation()
	if attestation {
		env, err := dsse.Parse(l.Payload)
		if err != nil {
			return nil, fmt.Errorf("couldn't read the attestation layer: %w", err)
		}
		if len(env.Signatures) != 1 {
			return nil, fmt.Errorf("couldn't read the attestation layer: the envelope has %d signatures; one is supported", len(env.Signatures))
		}
		e := &protodsse.Envelope{PayloadType: env.PayloadType, Payload: env.Payload}
		for _, s := range env.Signatures {
			e.Signatures = append(e.Signatures, &protodsse.Signature{Sig: s.Sig, Keyid: s.KeyID})
		}
		pb.Content = &protobundle.Bundle_DsseEnvelope{DsseEnvelope: e}
	} else {
		sig, err := base64.StdEncoding.DecodeString(l.Annotations[AnnotationSignature])
		if err != nil || len(sig) == 0 {
			return nil, fmt.Errorf("couldn't read the %s annotation: not a base64 signature", AnnotationSignature)
		}
		ms := &protocommon.MessageSignature{Signature: sig}
		// A hashedrekord entry records the payload digest; the bundle
		// states it so the verifier can match the entry.
		if body != nil && body.Kind == rekor.KindHashedRekord {
			h, err := rekor.HashFromName(body.Hash.Algorithm)
			if err != nil {
				return nil, fmt.Errorf("couldn't read the %s annotation: %w", AnnotationRekorBundle, err)
			}
			hh := h.New()
			hh.Write(l.Payload)
			ms.MessageDigest = &protocommon.HashOutput{Algorithm: bundle.HashToProto(h), Digest: hh.Sum(nil)}
		}
		pb.Content = &protobundle.Bundle_MessageSignature{MessageSignature: ms}
	}
	b, err := bundle.FromProto(pb)
	if err != nil {
		return nil, err
	}
	if attestation {
		b.TimestampedData = l.Payload
	}
	return b, nil
}

// legacyAnnotations returns the annotations of a legacy layer for a signed
// bundle. The bundle must carry a Rekor v1 entry with a SET when it has
// log entries (the format has no room for an inclusion proof); stamp is
// the RFC 3161 timestamp to attach (for attestations cosign stamps the
// envelope JSON, not the signature, so the caller gets a fresh one).
func legacyAnnotations(b *bundle.Bundle, root *trust.TrustedRoot, stamp []byte) (map[string]string, error) {
	ann := map[string]string{}
	if b.MessageSignature != nil {
		ann[AnnotationSignature] = base64.StdEncoding.EncodeToString(b.MessageSignature.Signature)
	} else {
		ann[AnnotationSignature] = ""
	}
	if c := b.Certificate; c != nil {
		ann[AnnotationCertificate] = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
		var chain []byte
		for _, ic := range issuerChain(c, root) {
			chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ic.Raw})...)
		}
		ann[AnnotationChain] = string(chain)
	}
	if len(b.TlogEntries) > 0 {
		var withSET *protorekor.TransparencyLogEntry
		for _, e := range b.TlogEntries {
			if len(e.GetInclusionPromise().GetSignedEntryTimestamp()) > 0 {
				withSET = e
				break
			}
		}
		if withSET == nil {
			return nil, errors.New("the legacy format carries a Rekor v1 entry with its SET, and the log gave none (a Rekor v2 log?): use --format referrers")
		}
		raw, err := json.Marshal(rekorBundleFromEntry(withSET))
		if err != nil {
			return nil, err
		}
		ann[AnnotationRekorBundle] = string(raw)
	}
	if stamp != nil {
		raw, err := json.Marshal(timestampAnnotation{SignedRFC3161Timestamp: stamp})
		if err != nil {
			return nil, err
		}
		ann[AnnotationTimestamp] = string(raw)
	}
	return ann, nil
}

// issuerChain returns the intermediates and root of the trusted root's CA
// that issued c, for the informational chain annotation; nil if none did.
func issuerChain(c *x509.Certificate, root *trust.TrustedRoot) []*x509.Certificate {
	if root == nil {
		return nil
	}
	for _, ca := range root.CAs {
		chain := append(append([]*x509.Certificate{}, ca.Intermediates...), ca.Root)
		if c.CheckSignatureFrom(chain[0]) == nil {
			return chain
		}
	}
	return nil
}
