package oci

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
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
// The write is read-modify-write, which a concurrent signer can undo: the
// tag is read back and the layer added again when it was dropped (see
// keepWritten); when it stays dropped the error wraps ErrLostWrite. It
// returns the tag written.
func (c *Client) AppendLegacy(ctx context.Context, subject name.Digest, kind Kind, l *LegacyLayer) (name.Tag, error) {
	if err := c.init(); err != nil {
		return name.Tag{}, err
	}
	tag := LegacyTag(subject, kind)
	sum := sha256.Sum256(l.Payload)
	digest := hex.EncodeToString(sum[:])
	write := func() error { return c.appendLegacy(ctx, tag, l, digest) }
	present := func() (bool, error) {
		m, _, err := c.manifest(ctx, tag)
		if err != nil {
			return false, fmt.Errorf("couldn't read back %s after writing it: %w", tag, err)
		}
		return m != nil && hasLayer(m, digest, l.Annotations), nil
	}
	start := time.Now()
	if err := write(); err != nil {
		return tag, err
	}
	if err := keepWritten(ctx, time.Since(start), write, present); err != nil {
		if errors.Is(err, ErrLostWrite) {
			return tag, fmt.Errorf("couldn't add the signature to %s: %w: each of %d times it was written, another writer rewrote the tag without it; sign again",
				tag, err, writeAttempts)
		}
		return tag, err
	}
	return tag, nil
}

// appendLegacy reads the legacy manifest at tag, adds the layer (whose
// blob has the hex digest) unless it is there, and writes the manifest.
// Every signer of an image uploads the same simple-signing payload, and a
// push that fails on a concurrent upload of it is tried again from a
// fresh read of the tag: the manifest built before may lack what another
// signer wrote meanwhile (and that signer may have read it back already).
func (c *Client) appendLegacy(ctx context.Context, tag name.Tag, l *LegacyLayer, digest string) error {
	var readErr error
	err := retryUploadRace(ctx, func() error {
		img, err := c.withLegacyLayer(ctx, tag, l, digest)
		readErr = err
		if err != nil || img == nil {
			return nil
		}
		return c.pusher.Push(ctx, tag, img)
	})
	if readErr != nil {
		return readErr
	}
	if err != nil {
		return registryError("couldn't write", tag.String(), err)
	}
	return nil
}

// withLegacyLayer reads the legacy manifest at tag and returns it with the
// layer added, or nil when the layer is there already.
func (c *Client) withLegacyLayer(ctx context.Context, tag name.Tag, l *LegacyLayer, digest string) (v1.Image, error) {
	base := emptyLegacyImage()
	got, err := c.puller.Get(ctx, tag)
	switch {
	case err == nil:
		if !got.MediaType.IsImage() {
			return nil, fmt.Errorf("couldn't add to %s: it is a %s, not an image manifest; remove the tag or sign with --format referrers", tag, got.MediaType)
		}
		if base, err = got.Image(); err != nil {
			return nil, registryError("couldn't read", tag.String(), err)
		}
		m, err := base.Manifest()
		if err != nil {
			return nil, registryError("couldn't read", tag.String(), err)
		}
		if len(m.Layers) >= MaxLayers {
			return nil, fmt.Errorf("couldn't add to %s: it has %d layers already, the most cosign reads", tag, len(m.Layers))
		}
		if hasLayer(m, digest, l.Annotations) {
			return nil, nil
		}
	case isStatus(err, http.StatusNotFound):
	default:
		return nil, registryError("couldn't read", tag.String(), err)
	}
	img, err := mutate.Append(base, mutate.Addendum{Layer: static.NewLayer(l.Payload, types.MediaType(l.MediaType)), Annotations: l.Annotations})
	if err != nil {
		return nil, fmt.Errorf("couldn't build the signature manifest: %w", err)
	}
	return img, nil
}

// hasLayer reports whether a legacy manifest has a layer with the blob
// digest (hex) and the signature material of ann.
func hasLayer(m *v1.Manifest, digest string, ann map[string]string) bool {
	for _, have := range m.Layers {
		if have.Digest.Hex == digest && sameMaterial(have.Annotations, ann) {
			return true
		}
	}
	return false
}

// Concurrent writers. Adding a layer to a legacy tag, or a referrer to the
// referrers tag schema index, reads the tag, adds to it and writes it
// back. Registries offer no conditional write, so of two writers that read
// the same version the later write drops what the earlier one added
// (cosign has the same race, and the distribution spec admits it). So after
// writing, a writer waits until read-modify-writes in flight have landed
// (settle: twice as long as its own took, and a random part more), reads
// the tag again and, if what it added is gone, adds it again to what is
// there now, up to writeAttempts writes in all; then it gives up with
// ErrLostWrite rather than report a signature that is not there. This
// narrows the race to writers more than twice as slow as this one (or
// slower than maxSettle); without conditional writes it cannot be closed.
// The wait is the price every write to such a tag pays, at most about
// 1.5 s against a slow registry.
const writeAttempts = 5

// maxSettle bounds the window settle waits on, so that a slow registry
// does not make every signature seconds slower.
const maxSettle = 500 * time.Millisecond

// settle is how long to wait after a read-modify-write that took window
// before reading the tag back.
func settle(window time.Duration) time.Duration {
	window = min(max(window, 25*time.Millisecond), maxSettle)
	return 2*window + rand.N(window)
}

// keepWritten checks, once writes in flight have landed, that what a
// read-modify-write that took window added is still present, and writes
// again (write, which merges with what is there) while it is not. It
// returns ErrLostWrite after writeAttempts writes in all.
func keepWritten(ctx context.Context, window time.Duration, write func() error, present func() (bool, error)) error {
	for attempt := 1; ; attempt++ {
		if err := sleep(ctx, settle(window)); err != nil {
			return err
		}
		ok, err := present()
		if err != nil || ok {
			return err
		}
		if attempt == writeAttempts {
			return ErrLostWrite
		}
		start := time.Now()
		if err := write(); err != nil {
			return err
		}
		window = time.Since(start)
	}
}

// retryUploadRace runs write again, after a randomized wait, when the
// registry failed it for a blob that another writer was uploading at the
// same time (the distribution registry then answers DIGEST_INVALID or
// MANIFEST_BLOB_UNKNOWN to some of them); up to writeAttempts runs in
// all. write must return the registry's error unwrapped.
func retryUploadRace(ctx context.Context, write func() error) error {
	for attempt := 1; ; attempt++ {
		start := time.Now()
		err := write()
		if err == nil || attempt == writeAttempts || !isCode(err, transport.DigestInvalidErrorCode, transport.BlobUnknownErrorCode,
			transport.ManifestBlobUnknownErrorCode, transport.BlobUploadUnknownErrorCode, transport.BlobUploadInvalidErrorCode) {
			return err
		}
		if err := sleep(ctx, settle(time.Since(start))); err != nil {
			return err
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
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
	uploadBlobs := func() error {
		for _, blob := range []struct {
			b  []byte
			mt types.MediaType
		}{{[]byte("{}"), MediaTypeEmptyConfig}, {bundleJSON, MediaTypeBundle}} {
			// Every signer uploads the empty config.
			if err := retryUploadRace(ctx, func() error { return c.pusher.Upload(ctx, repo, static.NewLayer(blob.b, blob.mt)) }); err != nil {
				return registryError("couldn't upload a blob to", repo.String(), err)
			}
		}
		return nil
	}
	if err := uploadBlobs(); err != nil {
		return name.Digest{}, err
	}
	h, _, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return name.Digest{}, err
	}
	ref := repo.Digest(h.String())
	// The PUT of a manifest with a subject also adds it to the referrers
	// tag schema index when the registry has no referrers API (a
	// read-modify-write in go-containerregistry; a PUT again adds it again
	// if it is missing).
	putOnce := func() error {
		err := c.pusher.Put(ctx, ref, rawManifest{raw: raw, mt: types.OCIManifestSchema1})
		if err != nil && isCode(err, transport.ManifestBlobUnknownErrorCode, transport.ManifestUnknownErrorCode) {
			// A registry that checks index entries (the distribution
			// registry does) refuses a referrers tag index listing a
			// deleted referrer. Drop the dangling entries and try once
			// more.
			if pruned, perr := c.pruneFallback(ctx, subject); perr == nil && pruned > 0 {
				err = c.pusher.Put(ctx, ref, rawManifest{raw: raw, mt: types.OCIManifestSchema1})
			}
		}
		return err
	}
	// Signers of one image upload the same empty config at once: the
	// distribution registry then refuses a manifest whose blob another
	// upload is still linking (DIGEST_INVALID, MANIFEST_BLOB_UNKNOWN), and
	// the blob may even be gone if that upload failed. Upload the blobs
	// again and retry, as retryUploadRace does for blobs.
	put := func() error {
		return retryUploadRace(ctx, func() error {
			err := putOnce()
			if err != nil && isCode(err, transport.DigestInvalidErrorCode, transport.ManifestBlobUnknownErrorCode, transport.BlobUnknownErrorCode) {
				if uerr := uploadBlobs(); uerr != nil {
					return uerr
				}
			}
			return err
		})
	}
	start := time.Now()
	if err := put(); err != nil {
		werr := registryError("couldn't write the referrer manifest", ref.String(), err)
		// The manifest PUT and the referrers tag update are one call: say
		// which half happened.
		if _, herr := c.puller.Head(ctx, ref); herr == nil {
			return ref, fmt.Errorf("%w; the manifest %s was stored but is not listed as a referrer of %s (the referrers tag %s could not be updated): sign again to retry",
				werr, ref, subject, fallbackTag(subject))
		}
		return ref, werr
	}
	return ref, c.keepListed(ctx, subject, ref, time.Since(start), put)
}

// keepListed checks that the referrer ref, whose PUT took window, stays
// listed in the referrers tag schema index of subject, and PUTs it again
// while a concurrent writer of the index has dropped it (see keepWritten).
// A registry with the referrers API keeps the listing itself (and
// go-containerregistry then writes no index), so there is nothing to
// check.
func (c *Client) keepListed(ctx context.Context, subject, ref name.Digest, window time.Duration, put func() error) error {
	tag := fallbackTag(subject)
	if _, err := c.puller.Head(ctx, tag); isStatus(err, http.StatusNotFound) {
		return nil
	} else if err != nil {
		return fmt.Errorf("the manifest %s was stored: %w", ref, registryError("couldn't check that it is listed as a referrer: couldn't read", tag.String(), err))
	}
	present := func() (bool, error) {
		// The listing, rather than the index: a registry with the API
		// may have an index from before it had the API.
		im, err := c.listReferrers(ctx, subject)
		if err != nil {
			return false, registryError("couldn't check that it is listed as a referrer: couldn't list the referrers of", subject.String(), err)
		}
		for _, d := range im.Manifests {
			if d.Digest.String() == ref.DigestStr() {
				return true, nil
			}
		}
		return false, nil
	}
	write := func() error {
		if err := put(); err != nil {
			return registryError("couldn't write the referrer manifest", ref.String(), err)
		}
		return nil
	}
	err := keepWritten(ctx, window, write, present)
	if errors.Is(err, ErrLostWrite) {
		return fmt.Errorf("couldn't list %s as a referrer of %s: %w: the manifest is stored, but each of %d times it was added to the referrers tag %s, another writer rewrote the tag without it; sign again",
			ref, subject, err, writeAttempts, tag)
	}
	if err != nil {
		return fmt.Errorf("the manifest %s was stored: %w", ref, err)
	}
	return nil
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
