// Package oci signs, attests and verifies container images in OCI
// registries, storing signatures where cosign v2 and v3 look for them, and
// finds what is attached to an image in either place.
//
// Two storage schemes exist side by side (sigstore/cosign specs/
// SIGNATURE_SPEC.md, specs/ATTESTATION_SPEC.md, specs/BUNDLE_SPEC.md;
// pkg/oci/remote, pkg/oci/static, pkg/cosign/verify.go):
//
// The legacy tag scheme (cosign ≤ v2's format; v3 still reads it). For the
// image reg/repo@sha256:<hex>, signatures live in one image manifest tagged
// reg/repo:sha256-<hex>.sig, attestations in …​.att and SBOMs in …​.sbom,
// in the same repository. Every signature is one layer of that manifest
// (appending is read-modify-write, so concurrent signers can lose a layer;
// the spec admits it, and sigil reads the tag back and adds its layer
// again, see keepWritten). A signature layer's blob is the simple-signing
// payload
//
//	{"critical":{"identity":{"docker-reference":"reg/repo"},"image":{"docker-manifest-digest":"sha256:<hex>"},"type":"cosign container image signature"},"optional":null}
//
// with media type application/vnd.dev.cosign.simplesigning.v1+json; an
// attestation layer's blob is the DSSE envelope JSON, media type
// application/vnd.dsse.envelope.v1+json. The signature material is in the
// layer's annotations: dev.cosignproject.cosign/signature (base64; "" for
// attestations), dev.sigstore.cosign/certificate (PEM leaf),
// dev.sigstore.cosign/chain (PEM intermediates and root),
// dev.sigstore.cosign/bundle (the Rekor v1 entry with its SET, see
// RekorBundle), dev.sigstore.cosign/rfc3161timestamp
// ({"SignedRFC3161Timestamp":"<base64 DER>"}, over the signature bytes, or
// over the whole envelope JSON for attestations) and predicateType
// (attestations). The format has no room for an inclusion proof, so it
// carries Rekor v1 entries only.
//
// The OCI 1.1 referrers scheme (cosign v3's default). Each signature or
// attestation is a Sigstore bundle v0.3, the single layer (media type
// application/vnd.dev.sigstore.bundle.v0.3+json) of its own image manifest
// whose subject is the signed manifest, with artifactType the bundle media
// type, config the empty descriptor ({} as
// application/vnd.oci.empty.v1+json) and the annotations
// org.opencontainers.image.created, dev.sigstore.bundle.content
// ("dsse-envelope" or "message-signature") and
// dev.sigstore.bundle.predicateType. cosign v3's `sign` signs a DSSE in-toto
// Statement v1 whose subject is the image digest and whose predicate type
// is https://sigstore.dev/cosign/sign/v1; `attest` signs the statement with
// the given predicate. A registry without the referrers API gets the
// referrers tag schema instead: an OCI index tagged sha256-<hex> (no
// suffix) listing the referrers, maintained by go-containerregistry
// (opencontainers/distribution-spec spec.md, "Referrers Tag Schema"), read
// back in the same way. cosign v3 lists its referrers there without their
// annotations, so what such a referrer is comes from its manifest.
//
// Reading, both schemes are searched (the legacy tags and the referrers
// listing, concurrently; every page of a listing the registry gives a page
// at a time), and a failed listing is reported rather than taken for
// "nothing attached". Legacy layers are converted to bundles
// (LegacyLayer.Bundle) so one verifier (package verify) checks everything;
// what a bundle alone does not bind — the simple-signing payload's digest,
// or the in-toto subject — is checked here against the image digest.
package oci

import (
	"errors"
	"strings"

	"sigil.dev/sigil/bundle"
)

// Media types, artifact types and annotation keys (sigstore/cosign
// pkg/types/media.go, pkg/oci/static/signature.go, pkg/oci/remote/write.go,
// pkg/cosign/bundle/constants.go).
const (
	MediaTypeSimpleSigning = "application/vnd.dev.cosign.simplesigning.v1+json"
	MediaTypeDSSE          = "application/vnd.dsse.envelope.v1+json"
	MediaTypeBundle        = bundle.MediaTypeV03
	MediaTypeEmptyConfig   = "application/vnd.oci.empty.v1+json"

	// ArtifactTypeInToto marks a referrer holding legacy attestation
	// layers (cosign WriteAttestationsReferrer).
	ArtifactTypeInToto = "application/vnd.in-toto+json"
	// ArtifactTypeLegacySignature marks a referrer holding legacy
	// simple-signing layers (cosign --registry-referrers-mode=oci-1-1).
	ArtifactTypeLegacySignature = "application/vnd.dev.cosign.artifact.sig.v1+json"

	AnnotationSignature     = "dev.cosignproject.cosign/signature"
	AnnotationCertificate   = "dev.sigstore.cosign/certificate"
	AnnotationChain         = "dev.sigstore.cosign/chain"
	AnnotationRekorBundle   = "dev.sigstore.cosign/bundle"
	AnnotationTimestamp     = "dev.sigstore.cosign/rfc3161timestamp"
	AnnotationPredicateType = "predicateType"

	AnnotationBundleContent       = "dev.sigstore.bundle.content"
	AnnotationBundlePredicateType = "dev.sigstore.bundle.predicateType"
	AnnotationCreated             = "org.opencontainers.image.created"

	// SignPredicateType is the predicate type of cosign v3's image
	// signatures (sigstore/cosign pkg/types/predicate.go).
	SignPredicateType = "https://sigstore.dev/cosign/sign/v1"
)

// Digest of the empty config blob "{}".
const emptyConfigDigest = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"

// Limits on what is read from a registry. A signature manifest with more
// layers than cosign ever writes (sigstore/cosign pkg/oci/mutate
// maxLayers), or a blob larger than cosign accepts
// (COSIGN_MAX_ATTACHMENT_SIZE default), is refused.
const (
	MaxLayers          = 1000
	MaxReferrers       = 1000
	DefaultMaxBlobSize = 128 << 20
)

// Scheme is where an attachment is stored.
type Scheme string

const (
	// SchemeTag is the legacy scheme: sha256-<hex>.sig/.att/.sbom tags.
	SchemeTag Scheme = "tag"
	// SchemeReferrers is the OCI 1.1 referrers API or its tag fallback.
	SchemeReferrers Scheme = "referrers"
)

// Kind is what an attachment is.
type Kind string

const (
	KindSignature   Kind = "signature"
	KindAttestation Kind = "attestation"
	KindSBOM        Kind = "sbom"
	KindOther       Kind = "other"
)

// tagSuffix returns the legacy tag suffix of a kind.
func tagSuffix(k Kind) string {
	switch k {
	case KindSignature:
		return "sig"
	case KindAttestation:
		return "att"
	case KindSBOM:
		return "sbom"
	}
	return ""
}

// sbomMediaTypes are the legacy .sbom layer media types
// (sigstore/cosign specs/SBOM_SPEC.md, pkg/types/media.go).
var sbomMediaTypes = map[string]bool{
	"text/spdx": true, "text/spdx+json": true, "application/vnd.cyclonedx+xml": true,
	"application/vnd.cyclonedx+json": true, "application/vnd.syft+json": true,
}

// isBundleMediaType reports whether mt names a Sigstore bundle (any version).
func isBundleMediaType(mt string) bool {
	return strings.HasPrefix(mt, "application/vnd.dev.sigstore.bundle")
}

// Errors callers branch on. Registry failures wrap ErrNotFound,
// ErrUnauthorized or ErrRejected when the registry said so.
var (
	// ErrNotFound: the image (or repository) does not exist.
	ErrNotFound = errors.New("not found in the registry")
	// ErrUnauthorized: the registry refused the credentials.
	ErrUnauthorized = errors.New("the registry refused access")
	// ErrRejected: the registry refused what was written (for example
	// MANIFEST_INVALID for a media type it does not accept).
	ErrRejected = errors.New("the registry rejected the write")
	// ErrNoSignatures: nothing of the requested kind is attached. For
	// attestations the error is ErrNoAttestations, which matches this
	// too.
	ErrNoSignatures = errors.New("no signatures found")
	// ErrNoMatchingSignatures: something is attached, but none of it
	// verified against the policy. For attestations the error is
	// ErrNoMatchingAttestations, which matches this too.
	ErrNoMatchingSignatures = errors.New("no matching signatures")
	// ErrLostWrite: a signature was written, and a concurrent writer of
	// the same tag dropped it every time it was written again.
	ErrLostWrite = errors.New("the signature was lost to a concurrent writer")
	// ErrNoAttestations: no attestation (of the requested predicate type)
	// is attached.
	ErrNoAttestations error = &kindError{"no attestations found", ErrNoSignatures}
	// ErrNoMatchingAttestations: attestations are attached, but none of
	// them verified against the policy.
	ErrNoMatchingAttestations error = &kindError{"no matching attestations", ErrNoMatchingSignatures}
)

// kindError is a sentinel for attestations that also matches the
// signatures' sentinel (errors.Is), so that callers branching on "nothing
// attached" need not know the kind.
type kindError struct {
	msg     string
	general error
}

func (e *kindError) Error() string        { return e.msg }
func (e *kindError) Is(target error) bool { return target == e.general }
