package oci

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Options configure a Client.
type Options struct {
	// Keychain finds registry credentials. Nil means
	// authn.DefaultKeychain: the docker config ($DOCKER_CONFIG or
	// ~/.docker/config.json) and the credential helpers it names.
	Keychain authn.Keychain
	// Insecure allows plain HTTP and unverified TLS (for example a
	// registry on loopback). Loopback and RFC 1918 addresses use HTTP
	// even without it, as go-containerregistry does.
	Insecure bool
	// UserAgent is sent with every request.
	UserAgent string
	// Transport is the HTTP transport. Nil means remote.DefaultTransport.
	Transport http.RoundTripper
	// Retry bounds retries of transient failures (network errors, 408,
	// 429, 5xx). The zero value means 3 tries waiting 1 s, then 3 s.
	Retry Retry
	// MaxBlobSize bounds every signature, bundle or attestation blob
	// read. Zero means DefaultMaxBlobSize.
	MaxBlobSize int64
}

// Retry is a retry policy for registry requests.
type Retry struct {
	Attempts int
	Wait     time.Duration // before the second try; tripled after each
}

// Client talks to registries. It is safe for concurrent use; reuse one
// Client so that connections and registry tokens are shared.
type Client struct {
	opts     Options
	nameOpts []name.Option

	once   sync.Once
	puller *remote.Puller
	pusher *remote.Pusher
	err    error
	// keychain and transport are what the puller uses, for the pages of
	// a referrers listing after the first (see listReferrers).
	keychain  authn.Keychain
	transport http.RoundTripper
	backoff   remote.Backoff
}

// New returns a client.
func New(o Options) *Client {
	if o.MaxBlobSize <= 0 {
		o.MaxBlobSize = DefaultMaxBlobSize
	}
	c := &Client{opts: o}
	if o.Insecure {
		c.nameOpts = append(c.nameOpts, name.Insecure)
	}
	return c
}

func (c *Client) init() error {
	c.once.Do(func() {
		kc := c.opts.Keychain
		if kc == nil {
			kc = authn.DefaultKeychain
		}
		rt := c.opts.Transport
		if rt == nil {
			rt = remote.DefaultTransport
			if c.opts.Insecure {
				t := remote.DefaultTransport.(*http.Transport).Clone()
				t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // --allow-insecure-registry
				rt = t
			}
		}
		rt = nextPageRecorder{rt}
		c.keychain, c.transport = kc, rt
		c.backoff = remote.Backoff{Duration: time.Second, Factor: 3, Jitter: 0.1, Steps: 3}
		opts := []remote.Option{remote.WithAuthFromKeychain(kc), remote.WithTransport(rt)}
		if c.opts.UserAgent != "" {
			opts = append(opts, remote.WithUserAgent(c.opts.UserAgent))
		}
		if r := c.opts.Retry; r.Attempts > 0 {
			wait := r.Wait
			if wait <= 0 {
				wait = time.Second
			}
			c.backoff = remote.Backoff{Duration: wait, Factor: 3, Jitter: 0.1, Steps: r.Attempts}
			opts = append(opts, remote.WithRetryBackoff(c.backoff))
		}
		if c.puller, c.err = remote.NewPuller(opts...); c.err != nil {
			return
		}
		c.pusher, c.err = remote.NewPusher(opts...)
	})
	return c.err
}

// ParseReference parses an image reference: reg/repo:tag, reg/repo@sha256:…
// or a Docker Hub short name.
func (c *Client) ParseReference(s string) (name.Reference, error) {
	ref, err := name.ParseReference(s, c.nameOpts...)
	if err != nil {
		return nil, fmt.Errorf("couldn't parse image reference %q: %w", s, err)
	}
	return ref, nil
}

// Resolve returns the digest a reference names. A digest reference is
// returned as is, without a request; a tag is resolved with a HEAD request
// (a GET when the registry gives no digest), and tagged reports it: tags
// move, so callers say which digest they used.
func (c *Client) Resolve(ctx context.Context, ref name.Reference) (d name.Digest, tagged bool, err error) {
	if d, ok := ref.(name.Digest); ok {
		return d, false, nil
	}
	desc, err := c.Describe(ctx, ref)
	if err != nil {
		return name.Digest{}, false, err
	}
	return ref.Context().Digest(desc.Digest.String()), true, nil
}

// Describe returns the descriptor (media type, size, digest) of the
// manifest a reference names.
func (c *Client) Describe(ctx context.Context, ref name.Reference) (v1.Descriptor, error) {
	if err := c.init(); err != nil {
		return v1.Descriptor{}, err
	}
	desc, err := c.puller.Head(ctx, ref)
	if err == nil && desc.Digest.Hex != "" && desc.MediaType != "" {
		return *desc, nil
	}
	if err != nil && !isStatus(err, http.StatusMethodNotAllowed, http.StatusBadRequest) {
		return v1.Descriptor{}, registryError("couldn't find", ref.String(), err)
	}
	// Some registries answer HEAD without the headers we need.
	got, err := c.puller.Get(ctx, ref)
	if err != nil {
		return v1.Descriptor{}, registryError("couldn't find", ref.String(), err)
	}
	return got.Descriptor, nil
}

// manifest fetches and parses a manifest; a nil manifest and no error
// means the reference does not exist.
func (c *Client) manifest(ctx context.Context, ref name.Reference) (*v1.Manifest, *v1.Descriptor, error) {
	if err := c.init(); err != nil {
		return nil, nil, err
	}
	got, err := c.puller.Get(ctx, ref)
	if err != nil {
		if isStatus(err, http.StatusNotFound) {
			return nil, nil, nil
		}
		return nil, nil, registryError("couldn't fetch manifest", ref.String(), err)
	}
	if !got.MediaType.IsImage() {
		return nil, nil, fmt.Errorf("couldn't read manifest %s: media type %s is not an image manifest", ref, got.MediaType)
	}
	m, err := v1.ParseManifest(bytes.NewReader(got.Manifest))
	if err != nil {
		return nil, nil, fmt.Errorf("couldn't parse manifest %s: %w", ref, err)
	}
	return m, &got.Descriptor, nil
}

// Child is one manifest of an image index.
type Child struct {
	Digest   name.Digest
	Platform *v1.Platform
	Index    bool // a nested index
}

// Children returns the manifests an index lists, or nil when d names an
// image manifest.
func (c *Client) Children(ctx context.Context, d name.Digest) ([]Child, error) {
	if err := c.init(); err != nil {
		return nil, err
	}
	got, err := c.puller.Get(ctx, d)
	if err != nil {
		return nil, registryError("couldn't fetch manifest", d.String(), err)
	}
	if !got.MediaType.IsIndex() {
		return nil, nil
	}
	im, err := v1.ParseIndexManifest(bytes.NewReader(got.Manifest))
	if err != nil {
		return nil, fmt.Errorf("couldn't parse index %s: %w", d, err)
	}
	var out []Child
	for _, m := range im.Manifests {
		if !m.MediaType.IsImage() && !m.MediaType.IsIndex() {
			continue
		}
		out = append(out, Child{Digest: d.Context().Digest(m.Digest.String()), Platform: m.Platform, Index: m.MediaType.IsIndex()})
	}
	return out, nil
}

// ParsePlatform parses a platform as --platform takes it: os/arch or
// os/arch/variant ("linux/amd64", "linux/arm64/v8"), each part non-empty;
// an OS version may follow a colon ("windows/amd64:10.0.17763.1234"), as
// go-containerregistry reads it. Anything else is refused here, before a
// registry is asked: go-containerregistry takes "bogus" for the OS bogus
// on no architecture, so a typo read as "no manifest for the platform".
func ParsePlatform(s string) (*v1.Platform, error) {
	malformed := fmt.Errorf("couldn't parse platform %q: malformed, want os/arch[/variant], for example linux/amd64 or linux/arm64/v8", s)
	spec, osVersion, hasVersion := strings.Cut(s, ":")
	if hasVersion && (osVersion == "" || strings.Contains(osVersion, ":")) {
		return nil, malformed
	}
	parts := strings.Split(spec, "/")
	if len(parts) < 2 || len(parts) > 3 {
		return nil, malformed
	}
	for _, p := range parts {
		if p == "" || strings.ContainsFunc(p, unicode.IsSpace) {
			return nil, malformed
		}
	}
	p := &v1.Platform{OS: parts[0], Architecture: parts[1], OSVersion: osVersion}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return p, nil
}

// Platform returns the manifest of an index for a platform ("linux/amd64",
// "linux/arm64/v8"; see ParsePlatform). An image manifest is returned as
// is when it is not an index.
func (c *Client) Platform(ctx context.Context, d name.Digest, platform string) (name.Digest, error) {
	want, err := ParsePlatform(platform)
	if err != nil {
		return name.Digest{}, err
	}
	kids, err := c.Children(ctx, d)
	if err != nil {
		return name.Digest{}, err
	}
	if kids == nil {
		return name.Digest{}, fmt.Errorf("%s is a single-platform image manifest, not an index: drop --platform", d)
	}
	var have []string
	for _, k := range kids {
		if k.Platform == nil {
			continue
		}
		if k.Platform.Satisfies(*want) {
			return k.Digest, nil
		}
		have = append(have, k.Platform.String())
	}
	return name.Digest{}, fmt.Errorf("%w: index %s has no manifest for platform %s (it has %s)", ErrNotFound, d, platform, strings.Join(have, ", "))
}

// fetchBlob reads a blob the descriptor names and checks its size and
// digest.
func (c *Client) fetchBlob(ctx context.Context, repo name.Repository, desc v1.Descriptor) ([]byte, error) {
	if err := c.init(); err != nil {
		return nil, err
	}
	if desc.Size > c.opts.MaxBlobSize {
		return nil, fmt.Errorf("couldn't fetch blob %s: %d bytes, more than the limit of %d", desc.Digest, desc.Size, c.opts.MaxBlobSize)
	}
	if desc.Digest.Algorithm != "sha256" {
		return nil, fmt.Errorf("couldn't fetch blob %s: unsupported digest algorithm", desc.Digest)
	}
	ref := repo.Digest(desc.Digest.String())
	l, err := c.puller.Layer(ctx, ref)
	if err != nil {
		return nil, registryError("couldn't fetch blob", ref.String(), err)
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, registryError("couldn't fetch blob", ref.String(), err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, c.opts.MaxBlobSize+1))
	if err != nil {
		return nil, registryError("couldn't fetch blob", ref.String(), err)
	}
	if int64(len(b)) > c.opts.MaxBlobSize {
		return nil, fmt.Errorf("couldn't fetch blob %s: more than the limit of %d bytes", ref, c.opts.MaxBlobSize)
	}
	sum := sha256.Sum256(b)
	if hex.EncodeToString(sum[:]) != desc.Digest.Hex || (desc.Size > 0 && int64(len(b)) != desc.Size) {
		return nil, fmt.Errorf("couldn't fetch blob %s: the content does not match its digest or size", ref)
	}
	return b, nil
}

// rawManifest is a manifest to PUT as is.
type rawManifest struct {
	raw []byte
	mt  types.MediaType
}

func (r rawManifest) RawManifest() ([]byte, error)        { return r.raw, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return r.mt, nil }

func isStatus(err error, codes ...int) bool {
	var te *transport.Error
	if !errors.As(err, &te) {
		return false
	}
	for _, c := range codes {
		if te.StatusCode == c {
			return true
		}
	}
	return false
}

// isCode reports whether a registry error carries one of the codes.
func isCode(err error, codes ...transport.ErrorCode) bool {
	var te *transport.Error
	if !errors.As(err, &te) {
		return false
	}
	for _, d := range te.Errors {
		for _, c := range codes {
			if d.Code == c {
				return true
			}
		}
	}
	return false
}

// registryError explains a registry failure and wraps the sentinel that
// fits it.
func registryError(op, what string, err error) error {
	var te *transport.Error
	if !errors.As(err, &te) {
		return fmt.Errorf("%s %s: %w", op, what, err)
	}
	codes := map[transport.ErrorCode]bool{}
	for _, d := range te.Errors {
		codes[d.Code] = true
	}
	switch {
	case te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden || codes[transport.UnauthorizedErrorCode] || codes[transport.DeniedErrorCode]:
		return fmt.Errorf("%s %s: %w (HTTP %d): log in with `docker login` (sigil reads the docker config and its credential helpers) or check the repository's permissions: %v",
			op, what, ErrUnauthorized, te.StatusCode, err)
	case codes[transport.ManifestInvalidErrorCode] || codes[transport.UnsupportedErrorCode] || codes[transport.ManifestBlobUnknownErrorCode] || codes[transport.BlobUnknownErrorCode] || codes[transport.SizeInvalidErrorCode]:
		return fmt.Errorf("%s %s: %w: %v (some registries refuse custom media types or OCI 1.1 fields; try the other --format)", op, what, ErrRejected, err)
	case te.StatusCode == http.StatusNotFound || codes[transport.NameUnknownErrorCode] || codes[transport.ManifestUnknownErrorCode]:
		return fmt.Errorf("%s %s: %w: %v", op, what, ErrNotFound, err)
	case te.StatusCode == http.StatusTooManyRequests || codes[transport.TooManyRequestsErrorCode]:
		return fmt.Errorf("%s %s: the registry is rate limiting requests (retries exhausted): %w", op, what, err)
	}
	return fmt.Errorf("%s %s: %w", op, what, err)
}

// Manifests returns d and, with recursive, every manifest an index under
// it lists (depth first, the index before its children).
func (c *Client) Manifests(ctx context.Context, d name.Digest, recursive bool) ([]name.Digest, error) {
	out := []name.Digest{d}
	if !recursive {
		return out, nil
	}
	seen := map[string]bool{d.DigestStr(): true}
	var walk func(name.Digest, int) error
	walk = func(d name.Digest, depth int) error {
		if depth > 8 {
			return fmt.Errorf("couldn't list %s: indexes nested more than 8 deep", d)
		}
		kids, err := c.Children(ctx, d)
		if err != nil {
			return err
		}
		for _, k := range kids {
			if seen[k.Digest.DigestStr()] {
				continue
			}
			seen[k.Digest.DigestStr()] = true
			out = append(out, k.Digest)
			if k.Index {
				if err := walk(k.Digest, depth+1); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return out, walk(d, 0)
}
