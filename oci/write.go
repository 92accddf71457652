package oci

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// emptyLegacyImage is the base of a new legacy signature manifest: an
// empty image with OCI media types, as cosign makes it
// (sigstore/cosign pkg/oci/empty/empty.go).
func emptyLegacyImage() v1.Image {
	return mutate.MediaType(mutate.ConfigMediaType(empty.Image, types.OCIConfigJSON), types.OCIManifestSchema1)
}

// AppendLegacy adds a layer to the legacy manifest of kind for subject
// (sha256-<hex>.sig or .att), creating the manifest if there is none. An
// identical layer (same blob and signature material) is not added twice.
// The write is read-modify-write: a concurrent signer can overwrite it, as
// with cosign. It returns the tag written.
func (c *Client) AppendLegacy(ctx context.Context, subject name.Digest, kind Kind, l *LegacyLayer) (name.Tag, error) {
	if err := c.init(); err != nil {
		return name.Tag{}, err
	}
	tag := LegacyTag(subject, kind)
	base := emptyLegacyImage()
	got, err := c.puller.Get(ctx, tag)
	switch {
	case err == nil:
		if !got.MediaType.IsImage() {
			return tag, fmt.Errorf("couldn't add to %s: it is a %s, not an image manifest; remove the tag or sign with --format referrers", tag, got.MediaType)
		}
		if base, err = got.Image(); err != nil {
			return tag, registryError("couldn't read", tag.String(), err)
		}
		m, err := base.Manifest()
		if err != nil {
			return tag, registryError("couldn't read", tag.String(), err)
		}
		if len(m.Layers) >= MaxLayers {
			return tag, fmt.Errorf("couldn't add to %s: it has %d layers already, the most cosign reads", tag, len(m.Layers))
		}
		d := sha256.Sum256(l.Payload)
		for _, have := range m.Layers {
			if have.Digest.Hex == hex.EncodeToString(d[:]) && sameMaterial(have.Annotations, l.Annotations) {
				return tag, nil
			}
		}
	case isStatus(err, http.StatusNotFound):
	default:
		return tag, registryError("couldn't read", tag.String(), err)
	}
	img, err := mutate.Append(base, mutate.Addendum{Layer: static.NewLayer(l.Payload, types.MediaType(l.MediaType)), Annotations: l.Annotations})
	if err != nil {
		return tag, fmt.Errorf("couldn't build the signature manifest: %w", err)
	}
	if err := c.pusher.Push(ctx, tag, img); err != nil {
		return tag, registryError("couldn't write", tag.String(), err)
	}
	return tag, nil
}

// sameMaterial reports whether two legacy layers carry the same
// signature and certificate.
func sameMaterial(a, b map[string]string) bool {
	for _, k := range []string{AnnotationSignature, AnnotationCertificate, AnnotationPredicateType} {
		if a[k] != b[k] {
			return false
		}
	}
	return true
}

// ReferrerManifest builds the manifest of a bundle referrer for subject, as
// cosign v3 writes it (sigstore/cosign pkg/oci/remote/write.go
// WriteReferrer, WriteAttestationNewBundleFormat): config {} with the empty
// media type, the bundle as the single layer, the subject, top-level
// artifactType, and the created / bundle content / predicate type
// annotations.
func ReferrerManifest(subject v1.Descriptor, bundleJSON []byte, content, predicateType string, created time.Time) ([]byte, error) {
	ld, err := descriptorOf(bundleJSON, MediaTypeBundle)
	if err != nil {
		return nil, err
	}
	cfg, err := v1.NewHash(emptyConfigDigest)
	if err != nil {
		return nil, err
	}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		ArtifactType:  MediaTypeBundle,
		Config:        v1.Descriptor{MediaType: MediaTypeEmptyConfig, Digest: cfg, Size: 2},
		Layers:        []v1.Descriptor{ld},
		Subject:       &v1.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size},
		Annotations: map[string]string{
			AnnotationCreated:             created.UTC().Format(time.RFC3339),
			AnnotationBundleContent:       content,
			AnnotationBundlePredicateType: predicateType,
		},
	}
	return json.Marshal(m)
}

func descriptorOf(b []byte, mt types.MediaType) (v1.Descriptor, error) {
	h, n, err := v1.SHA256(bytes.NewReader(b))
	if err != nil {
		return v1.Descriptor{}, err
	}
	return v1.Descriptor{MediaType: mt, Digest: h, Size: n}, nil
}

// WriteReferrer uploads a bundle and its referrer manifest (see
// ReferrerManifest) for subject and returns the manifest's reference. A
// registry without the referrers API gets the referrers tag schema
// (go-containerregistry keeps the sha256-<hex> index). When the manifest
// was stored but could not be listed, the error says so.
func (c *Client) WriteReferrer(ctx context.Context, subject name.Digest, subjectDesc v1.Descriptor, bundleJSON []byte, content, predicateType string, created time.Time) (name.Digest, error) {
	if err := c.init(); err != nil {
		return name.Digest{}, err
	}
	repo := subject.Context()
	raw, err := ReferrerManifest(subjectDesc, bundleJSON, content, predicateType, created)
	if err != nil {
		return name.Digest{}, fmt.Errorf("couldn't build the referrer manifest: %w", err)
	}
	for _, blob := range []struct {
		b  []byte
		mt types.MediaType
	}{{[]byte("{}"), MediaTypeEmptyConfig}, {bundleJSON, MediaTypeBundle}} {
		if err := c.pusher.Upload(ctx, repo, static.NewLayer(blob.b, blob.mt)); err != nil {
			return name.Digest{}, registryError("couldn't upload a blob to", repo.String(), err)
		}
	}
	h, _, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return name.Digest{}, err
	}
	ref := repo.Digest(h.String())
	err = c.pusher.Put(ctx, ref, rawManifest{raw: raw, mt: types.OCIManifestSchema1})
	if err != nil && isCode(err, transport.ManifestBlobUnknownErrorCode, transport.ManifestUnknownErrorCode) {
		// A registry that checks index entries (the distribution
		// registry does) refuses a referrers tag index listing a deleted
		// referrer. Drop the dangling entries and try once more.
		if pruned, perr := c.pruneFallback(ctx, subject); perr == nil && pruned > 0 {
			err = c.pusher.Put(ctx, ref, rawManifest{raw: raw, mt: types.OCIManifestSchema1})
		}
	}
	if err != nil {
		werr := registryError("couldn't write the referrer manifest", ref.String(), err)
		// The manifest PUT and the referrers tag update are one call: say
		// which half happened.
		if _, herr := c.puller.Head(ctx, ref); herr == nil {
			return ref, fmt.Errorf("%w; the manifest %s was stored but is not listed as a referrer of %s (the referrers tag %s could not be updated): sign again to retry",
				werr, ref, subject, fallbackTag(subject))
		}
		return ref, werr
	}
	return ref, nil
}

// fallbackTag is the referrers tag schema tag of a digest.
func fallbackTag(d name.Digest) name.Tag {
	return d.Context().Tag(strings.Replace(d.DigestStr(), ":", "-", 1))
}

// pruneFallback removes, from the referrers tag schema index of subject,
// the referrers that no longer exist, and returns how many it removed.
func (c *Client) pruneFallback(ctx context.Context, subject name.Digest) (int, error) {
	tag := fallbackTag(subject)
	got, err := c.puller.Get(ctx, tag)
	if err != nil {
		return 0, err
	}
	im, err := v1.ParseIndexManifest(bytes.NewReader(got.Manifest))
	if err != nil {
		return 0, err
	}
	var keep []v1.Descriptor
	for _, d := range im.Manifests {
		_, err := c.puller.Head(ctx, subject.Context().Digest(d.Digest.String()))
		if isStatus(err, http.StatusNotFound) {
			continue
		}
		keep = append(keep, d)
	}
	pruned := len(im.Manifests) - len(keep)
	if pruned == 0 {
		return 0, nil
	}
	im.Manifests = keep
	raw, err := json.Marshal(im)
	if err != nil {
		return 0, err
	}
	if err := c.pusher.Put(ctx, tag, rawManifest{raw: raw, mt: types.OCIImageIndex}); err != nil {
		return 0, err
	}
	return pruned, nil
}
