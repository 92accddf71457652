package oci

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"sigil.dev/sigil/bundle"
	"sigil.dev/sigil/intoto"
)

// Attached is one manifest attached to an image: the manifest behind a
// legacy tag, or one referrer.
type Attached struct {
	Scheme Scheme `json:"scheme"`
	// Kind is what the manifest holds; "" for a bundle referrer whose
	// annotations do not say (its content tells).
	Kind Kind `json:"kind"`
	// Ref is where the manifest is: the legacy tag, or the referrer's
	// digest; Where is its string form.
	Ref   name.Reference `json:"-"`
	Where string         `json:"location"`
	// Descriptor describes the manifest. For referrers it is the listing's
	// entry (artifact type and annotations included).
	Descriptor    v1.Descriptor `json:"descriptor"`
	ArtifactType  string        `json:"artifactType,omitempty"`
	PredicateType string        `json:"predicateType,omitempty"`
	// Manifest is the manifest: always for legacy tags, for referrers when
	// fetched (Discover with manifests, when the listing's entry does not
	// tell what the referrer is, or once Find has read it).
	Manifest *v1.Manifest `json:"manifest,omitempty"`
	// Error says why the referrer's manifest could not be read; Kind is
	// then only what the listing tells ("" or other when it does not).
	Error string `json:"error,omitempty"`

	subject name.Digest
	bundle  bool
	err     error
}

// Location names where the manifest is, for messages.
func (a *Attached) Location() string { return a.Ref.String() }

// Attachments is what is attached to an image.
type Attachments struct {
	Subject name.Digest `json:"subject"`
	Items   []*Attached `json:"attached"`
	// Errors are the sources that could not be read (a failed referrers
	// listing, a legacy tag that is not an image manifest, …). They are not
	// taken for "nothing attached".
	Errors []error `json:"-"`
}

// LegacyTag returns the legacy tag of a kind for an image digest:
// sha256:<hex> → sha256-<hex>.sig (.att, .sbom), in the image's repository
// (sigstore/cosign pkg/oci/remote/remote.go suffixTag).
func LegacyTag(d name.Digest, k Kind) name.Tag {
	return d.Context().Tag(strings.Replace(d.DigestStr(), ":", "-", 1) + "." + tagSuffix(k))
}

// Discover lists what is attached to an image in both schemes: the legacy
// tags of the given kinds (all three when none are given) and the
// referrers. With manifests, every referrer's manifest is fetched too.
// Listing failures are collected in Errors; an error is returned only when
// nothing could be listed at all.
func (c *Client) Discover(ctx context.Context, subject name.Digest, manifests bool, kinds ...Kind) (*Attachments, error) {
	if err := c.init(); err != nil {
		return nil, err
	}
	if len(kinds) == 0 {
		kinds = []Kind{KindSignature, KindAttestation, KindSBOM}
	}
	out := &Attachments{Subject: subject}
	var mu sync.Mutex
	var wg sync.WaitGroup
	add := func(a []*Attached, err error) {
		mu.Lock()
		defer mu.Unlock()
		out.Items = append(out.Items, a...)
		if err != nil {
			out.Errors = append(out.Errors, err)
		}
	}
	for _, k := range kinds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tag := LegacyTag(subject, k)
			m, desc, err := c.manifest(ctx, tag)
			switch {
			case err != nil:
				add(nil, err)
			case m != nil:
				if len(m.Layers) > MaxLayers {
					add(nil, fmt.Errorf("couldn't read %s: %d layers, more than %d", tag, len(m.Layers), MaxLayers))
					return
				}
				add([]*Attached{{Scheme: SchemeTag, Kind: k, Ref: tag, Where: tag.String(), Descriptor: *desc, Manifest: m, subject: subject}}, nil)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		add(c.referrers(ctx, subject, manifests))
	}()
	wg.Wait()
	sort.SliceStable(out.Items, func(i, j int) bool {
		a, b := out.Items[i], out.Items[j]
		if a.Scheme != b.Scheme {
			return a.Scheme == SchemeTag
		}
		return a.Kind < b.Kind
	})
	if len(out.Items) == 0 && len(out.Errors) == 0 {
		// Nothing is attached to an image that is not there (a mistyped
		// digest or repository): say so, rather than "nothing attached".
		if _, err := c.Describe(ctx, subject); errors.Is(err, ErrNotFound) {
			return nil, err
		}
	}
	if len(out.Errors) == len(kinds)+1 {
		// Nothing could be read. When every source failed the same way
		// (a refused login, a missing repository), say it once.
		for _, s := range []error{ErrUnauthorized, ErrNotFound} {
			all := true
			for _, e := range out.Errors {
				all = all && errors.Is(e, s)
			}
			if all {
				return nil, fmt.Errorf("couldn't list what is attached to %s: %w", subject, out.Errors[0])
			}
		}
		return nil, fmt.Errorf("couldn't list what is attached to %s: %w", subject, oneLine{errors.Join(out.Errors...)})
	}
	return out, nil
}

// referrers lists the referrers of subject (the referrers API, or the
// referrers tag schema when the registry has no API).
func (c *Client) referrers(ctx context.Context, subject name.Digest, manifests bool) ([]*Attached, error) {
	im, err := c.listReferrers(ctx, subject)
	if err != nil {
		if im == nil && isStatus(err, http.StatusNotFound) {
			return nil, nil
		}
		err = registryError("couldn't list the referrers of", subject.String(), err)
		if im == nil {
			return nil, err
		}
		// A later page failed: the referrers of the pages read still count.
	}
	if len(im.Manifests) > MaxReferrers {
		return nil, fmt.Errorf("couldn't list the referrers of %s: %d referrers, more than %d", subject, len(im.Manifests), MaxReferrers)
	}
	var out, fetch []*Attached
	for _, d := range im.Manifests {
		ref := subject.Context().Digest(d.Digest.String())
		a := &Attached{Scheme: SchemeReferrers, Ref: ref, Where: ref.String(), Descriptor: d, ArtifactType: d.ArtifactType, subject: subject}
		a.Kind, a.PredicateType, a.bundle = classify(d.ArtifactType, d.Annotations)
		out = append(out, a)
		if manifests || untold(a) {
			fetch = append(fetch, a)
		}
	}
	c.fetchReferrers(ctx, fetch)
	return out, err
}

// untold reports whether a referrer's listing entry leaves open what it is:
// a bundle without the predicate type annotation, or no artifact type but
// the empty config's. cosign v3 lists its referrers in the referrers tag
// schema index with the artifact type and no annotations, and a listing
// may name a manifest by its config media type; the manifest tells.
func untold(a *Attached) bool {
	return a.Kind == "" || a.Kind == KindOther && (a.ArtifactType == "" || a.ArtifactType == MediaTypeEmptyConfig)
}

// fetchReferrers fetches the manifests of referrers, a few at a time (the
// listing holds at most MaxReferrers), and classifies those whose listing
// entry does not tell what they are by the manifest's artifact type (or
// config media type), annotations and layers. A referrer that cannot be
// read keeps what its entry told, with Error set; the others are still
// read.
func (c *Client) fetchReferrers(ctx context.Context, as []*Attached) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for _, a := range as {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			m, _, err := c.manifest(ctx, a.Ref)
			if err == nil && m == nil {
				err = fmt.Errorf("couldn't fetch referrer %s: it is listed but does not exist", a.Location())
			}
			if err != nil {
				a.err, a.Error = err, err.Error()
				return
			}
			a.Manifest = m
			if untold(a) {
				a.Kind, a.PredicateType, a.bundle = classifyManifest(m)
			}
		}()
	}
	wg.Wait()
}

// classifyManifest tells a referrer's kind from its manifest, as
// classify does from a listing entry (which go-containerregistry makes
// from the manifest's artifact type, or else its config media type, and
// its annotations). A manifest with a bundle layer holds a bundle.
func classifyManifest(m *v1.Manifest) (kind Kind, predicateType string, isBundle bool) {
	at := m.ArtifactType
	if at == "" {
		at = string(m.Config.MediaType)
	}
	kind, predicateType, isBundle = classify(at, m.Annotations)
	if !isBundle && kind == KindOther {
		for _, l := range m.Layers {
			if isBundleMediaType(string(l.MediaType)) {
				return "", "", true
			}
		}
	}
	return kind, predicateType, isBundle
}

// classify tells a referrer's kind from its artifact type and annotations,
// and whether it holds a Sigstore bundle. Some registries list a referrer
// under its config media type instead of its artifactType (the in-process
// registry of go-containerregistry does), so the bundle annotations count
// too.
func classify(artifactType string, ann map[string]string) (kind Kind, predicateType string, isBundle bool) {
	pt := ann[AnnotationBundlePredicateType]
	content := ann[AnnotationBundleContent]
	switch {
	case isBundleMediaType(artifactType) || pt != "" || content != "":
		switch {
		case pt == SignPredicateType:
			return KindSignature, pt, true
		case pt != "":
			return KindAttestation, pt, true
		case content == "message-signature":
			return KindSignature, "", true
		}
		return "", "", true
	case artifactType == ArtifactTypeLegacySignature:
		return KindSignature, "", false
	case artifactType == ArtifactTypeInToto:
		return KindAttestation, "", false
	case artifactType == "application/vnd.dev.cosign.artifact.sbom.v1+json" || sbomMediaTypes[artifactType] ||
		strings.Contains(artifactType, "spdx") || strings.Contains(artifactType, "cyclonedx"):
		return KindSBOM, "", false
	}
	return KindOther, "", false
}

// Found is one signature or attestation found for an image, read and
// converted to a bundle but not verified.
type Found struct {
	Scheme Scheme
	Kind   Kind
	// Source names where it is, for messages: the tag and layer, or the
	// referrer.
	Source        string
	PredicateType string
	// MediaType, Annotations and Raw are the layer as stored: a bundle, a
	// simple-signing payload or a DSSE envelope, and (legacy) its
	// annotations.
	MediaType   string
	Annotations map[string]string
	Raw         []byte
	// Bundle is the signature material, converted from the legacy form
	// when needed. Nil when Err is set.
	Bundle *bundle.Bundle
	// Err says why it could not be read.
	Err error
}

// Find returns the signatures (kind KindSignature) or attestations
// (KindAttestation) attached to an image in either scheme, read
// concurrently. Entries that could not be read carry Err; sources that
// could not be listed are returned as listErrs.
func (c *Client) Find(ctx context.Context, subject name.Digest, kind Kind) (found []*Found, listErrs []error, err error) {
	atts, err := c.Discover(ctx, subject, false, kind)
	if err != nil {
		return nil, nil, err
	}
	type job struct {
		a     *Attached
		layer int // legacy layer index, or -1 for a bundle referrer
	}
	var jobs []job
	for _, a := range atts.Items {
		switch {
		case a.Scheme == SchemeTag && a.Kind == kind:
			for i := range a.Manifest.Layers {
				jobs = append(jobs, job{a, i})
			}
		case a.Scheme == SchemeReferrers && a.bundle && (a.Kind == kind || a.Kind == ""):
			jobs = append(jobs, job{a, -1})
		case a.Scheme == SchemeReferrers && a.Kind == kind && (a.ArtifactType == ArtifactTypeLegacySignature || a.ArtifactType == ArtifactTypeInToto):
			jobs = append(jobs, job{a, -2})
		case a.Scheme == SchemeReferrers && a.err != nil:
			// Unread, and its entry does not say it is not one.
			atts.Errors = append(atts.Errors, a.err)
		}
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	var errs []error
	for _, j := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			var fs []*Found
			var err error
			switch j.layer {
			case -1:
				var f *Found
				f, err = c.readBundleReferrer(ctx, j.a)
				if f != nil {
					fs = []*Found{f}
				}
			case -2:
				fs, err = c.readLegacyReferrer(ctx, j.a, kind)
			default:
				fs = []*Found{c.readLegacyLayer(ctx, j.a, j.a.Manifest, j.layer, SchemeTag)}
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			}
			for _, f := range fs {
				switch {
				case f.Kind == kind:
					found = append(found, f)
				case f.Kind == "" && f.Err != nil:
					// A bundle that could not be read, nor told apart.
					errs = append(errs, fmt.Errorf("couldn't read referrer %s: %w", f.Source, f.Err))
				}
			}
		}()
	}
	wg.Wait()
	sort.SliceStable(found, func(i, j int) bool { return found[i].Source < found[j].Source })
	return found, append(atts.Errors, errs...), nil
}

// readLegacyLayer reads layer i of a manifest holding legacy layers.
func (c *Client) readLegacyLayer(ctx context.Context, a *Attached, m *v1.Manifest, i int, scheme Scheme) *Found {
	l := m.Layers[i]
	f := &Found{Scheme: scheme, Kind: KindSignature, Source: fmt.Sprintf("%s layer %d", a.Location(), i), MediaType: string(l.MediaType), Annotations: l.Annotations}
	if l.MediaType == MediaTypeDSSE {
		f.Kind = KindAttestation
		f.PredicateType = l.Annotations[AnnotationPredicateType]
	}
	if a.Kind == KindSBOM {
		f.Kind = KindSBOM
	}
	raw, err := c.fetchBlob(ctx, a.Ref.Context(), l)
	if err != nil {
		f.Err = err
		return f
	}
	f.Raw = raw
	ll := &LegacyLayer{MediaType: string(l.MediaType), Payload: raw, Annotations: l.Annotations}
	if f.Kind == KindSBOM {
		return f
	}
	if f.Bundle, err = ll.Bundle(); err != nil {
		f.Err = err
		return f
	}
	// The layer's predicateType annotation is not signed: the statement's
	// predicate type counts when there is one (as cosign reads it).
	if f.Bundle.Envelope != nil {
		if st, err := intoto.Parse(f.Bundle.Envelope.Payload); err == nil {
			f.PredicateType = st.PredicateType
		}
	}
	return f
}

// readLegacyReferrer reads a referrer holding legacy layers.
func (c *Client) readLegacyReferrer(ctx context.Context, a *Attached, kind Kind) ([]*Found, error) {
	m, _, err := c.manifest(ctx, a.Ref)
	if err != nil {
		return nil, err
	}
	if m == nil {
		return nil, fmt.Errorf("couldn't fetch referrer %s: it is listed but does not exist", a.Location())
	}
	if len(m.Layers) > MaxLayers {
		return nil, fmt.Errorf("couldn't read referrer %s: %d layers, more than %d", a.Location(), len(m.Layers), MaxLayers)
	}
	if m.Subject == nil || m.Subject.Digest.String() != a.subject.DigestStr() {
		return nil, fmt.Errorf("couldn't read referrer %s: its subject is not the image", a.Location())
	}
	a.Manifest = m
	var out []*Found
	for i := range m.Layers {
		out = append(out, c.readLegacyLayer(ctx, a, m, i, SchemeReferrers))
	}
	return out, nil
}

// readBundleReferrer reads a referrer holding a Sigstore bundle.
func (c *Client) readBundleReferrer(ctx context.Context, a *Attached) (*Found, error) {
	f := &Found{Scheme: SchemeReferrers, Kind: a.Kind, Source: a.Location(), PredicateType: a.PredicateType}
	if a.err != nil {
		f.Err = a.err
		return f, nil
	}
	m := a.Manifest
	var err error
	if m == nil {
		if m, _, err = c.manifest(ctx, a.Ref); err != nil {
			f.Err = err
			return f, nil
		}
		if m == nil {
			f.Err = errors.New("it is listed as a referrer but does not exist")
			return f, nil
		}
		a.Manifest = m
	}
	if m.Subject == nil || m.Subject.Digest.String() != a.subject.DigestStr() {
		f.Err = errors.New("its subject is not the image")
		return f, nil
	}
	var layer *v1.Descriptor
	for i := range m.Layers {
		if isBundleMediaType(string(m.Layers[i].MediaType)) {
			layer = &m.Layers[i]
			break
		}
	}
	if layer == nil {
		f.Err = errors.New("it has no bundle layer")
		return f, nil
	}
	f.MediaType = string(layer.MediaType)
	if f.Raw, err = c.fetchBlob(ctx, a.Ref.Context(), *layer); err != nil {
		f.Err = err
		return f, nil
	}
	if f.Bundle, err = bundle.Parse(f.Raw); err != nil {
		f.Err = err
		return f, nil
	}
	// The content decides the kind: a DSSE statement of cosign's sign
	// predicate, or a message signature, is a signature; any other
	// statement an attestation.
	switch {
	case f.Bundle.MessageSignature != nil:
		f.Kind, f.PredicateType = KindSignature, ""
	default:
		f.Kind = KindAttestation
		if st, err := intoto.Parse(f.Bundle.Envelope.Payload); err == nil {
			f.PredicateType = st.PredicateType
			if st.PredicateType == SignPredicateType {
				f.Kind = KindSignature
			}
		}
	}
	return f, nil
}
