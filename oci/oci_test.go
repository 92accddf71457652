package oci_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"sigil.dev/sigil/internal/fakesvc"
	"sigil.dev/sigil/oci"
	"sigil.dev/sigil/oci/ocitest"
	"sigil.dev/sigil/sign"
	"sigil.dev/sigil/verify"
)

const (
	alice  = "alice@sigil.test"
	issuer = "https://issuer.sigil.test"
)

// env is a registry, the fake signing services and clients for them.
type env struct {
	reg    *ocitest.Registry
	host   string
	svc    *fakesvc.Services
	client *oci.Client
}

func newEnv(t testing.TB, referrersAPI bool) *env {
	t.Helper()
	reg := ocitest.NewRegistry(t, referrersAPI)
	return &env{reg: reg, host: reg.Host, svc: fakesvc.New(t), client: oci.New(oci.Options{Retry: oci.Retry{Attempts: 3, Wait: time.Millisecond}})}
}

// signer signs keyless against the fakes: Rekor v1 (with rekorV2, Rekor v2
// and a TSA), and a TSA when tsa is set.
func (e *env) signer(format oci.Format, rekorV2, tsa bool) *oci.Signer {
	s := &sign.Signer{
		CA: &sign.CAClient{URL: e.svc.URL},
		Token: func(context.Context) (string, error) {
			return fakesvc.Token(map[string]any{"sub": "alice", "email": alice, "email_verified": true}), nil
		},
		Logs:        []sign.LogClient{&sign.RekorV1{BaseURL: e.svc.URL}},
		TrustedRoot: e.svc.TrustedRoot,
		Retry:       sign.Retry{Attempts: 2, Timeout: 10 * time.Second},
	}
	if rekorV2 {
		s.Logs = []sign.LogClient{&sign.RekorV2{BaseURL: e.svc.URL}}
		tsa = true
	}
	if tsa {
		s.TSAs = []*sign.TSAClient{{URL: e.svc.URL + "/api/v1/timestamp"}}
	}
	return &oci.Signer{Client: e.client, Signer: s, Format: format}
}

func (e *env) verifier() *oci.Verifier {
	return &oci.Verifier{Client: e.client, Verifier: verify.New(e.svc.TrustedRoot, verify.Options{})}
}

func alicePolicy() verify.Policy {
	return verify.Policy{Identities: []verify.Identity{{SubjectAlternativeName: verify.Matcher{Exact: alice}, Issuer: verify.Matcher{Exact: issuer}}}}
}

func TestSignVerify(t *testing.T) {
	for _, tc := range []struct {
		name         string
		format       oci.Format
		referrersAPI bool
		rekorV2, tsa bool
		schemes      []oci.Scheme
	}{
		{"legacy", oci.FormatLegacy, true, false, false, []oci.Scheme{oci.SchemeTag}},
		{"legacy with timestamp", oci.FormatLegacy, false, false, true, []oci.Scheme{oci.SchemeTag}},
		{"referrers API", oci.FormatReferrers, true, false, false, []oci.Scheme{oci.SchemeReferrers}},
		{"referrers tag fallback", oci.FormatReferrers, false, false, true, []oci.Scheme{oci.SchemeReferrers}},
		{"referrers, Rekor v2", oci.FormatReferrers, true, true, true, []oci.Scheme{oci.SchemeReferrers}},
		{"both", oci.FormatBoth, true, false, true, []oci.Scheme{oci.SchemeTag, oci.SchemeReferrers}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.referrersAPI)
			d := ocitest.PushImage(t, e.host, "app", "v1")
			w, err := e.signer(tc.format, tc.rekorV2, tc.tsa).Sign(context.Background(), d)
			if err != nil {
				t.Fatal(err)
			}
			if len(w) != len(tc.schemes) {
				t.Fatalf("wrote %d signatures, want %d", len(w), len(tc.schemes))
			}
			got, err := e.verifier().VerifySignatures(context.Background(), d, alicePolicy(), nil)
			if err != nil {
				t.Fatal(err)
			}
			var schemes []oci.Scheme
			for _, v := range got {
				schemes = append(schemes, v.Scheme)
				if v.Result.Signature.Certificate.SubjectAlternativeName != alice {
					t.Errorf("identity %q", v.Result.Signature.Certificate.SubjectAlternativeName)
				}
			}
			if len(schemes) != len(tc.schemes) {
				t.Fatalf("verified %v, want %v", schemes, tc.schemes)
			}
			atts, err := e.client.Discover(context.Background(), d, true)
			if err != nil {
				t.Fatal(err)
			}
			if len(atts.Errors) != 0 {
				t.Fatalf("discover errors: %v", atts.Errors)
			}
			for _, a := range atts.Items {
				if a.Kind != oci.KindSignature {
					t.Errorf("%s is a %s", a.Location(), a.Kind)
				}
				if a.Scheme == oci.SchemeReferrers && a.Manifest.ArtifactType != oci.MediaTypeBundle {
					t.Errorf("referrer artifact type %q", a.Manifest.ArtifactType)
				}
			}
			if !tc.referrersAPI && tc.format != oci.FormatLegacy {
				// The referrers tag schema index exists.
				fb, _ := name.NewTag(e.host + "/app:" + strings.Replace(d.DigestStr(), ":", "-", 1))
				if _, err := remote.Head(fb); err != nil {
					t.Fatalf("no referrers tag %s: %v", fb, err)
				}
			}
		})
	}
}

func TestAttestVerify(t *testing.T) {
	for _, f := range []oci.Format{oci.FormatLegacy, oci.FormatReferrers} {
		t.Run(string(f), func(t *testing.T) {
			e := newEnv(t, true)
			d := ocitest.PushImage(t, e.host, "app", "v1")
			s := e.signer(f, false, true)
			if _, err := s.Attest(context.Background(), d, "https://slsa.dev/provenance/v1", json.RawMessage(`{"buildDefinition":{"buildType":"x"}}`)); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Attest(context.Background(), d, "https://spdx.dev/Document", json.RawMessage(`{"spdxVersion":"SPDX-2.3"}`)); err != nil {
				t.Fatal(err)
			}
			v := e.verifier()
			p := alicePolicy()
			all, err := v.VerifyAttestations(context.Background(), d, p)
			if err != nil || len(all) != 2 {
				t.Fatalf("all attestations: %d, %v", len(all), err)
			}
			p.PredicateType = "https://slsa.dev/provenance/v1"
			got, err := v.VerifyAttestations(context.Background(), d, p)
			if err != nil || len(got) != 1 {
				t.Fatalf("provenance: %d, %v", len(got), err)
			}
			if !strings.Contains(string(got[0].Statement), `"buildType":"x"`) {
				t.Fatalf("statement %s", got[0].Statement)
			}
			// Only other types attached: nothing failed to be searched,
			// and the error says what is there, as attestations.
			p.PredicateType = "https://openvex.dev/ns"
			_, err = v.VerifyAttestations(context.Background(), d, p)
			want := "no attestations found: none of type https://openvex.dev/ns is attached to " + d.String() +
				"; attached predicate types: https://slsa.dev/provenance/v1, https://spdx.dev/Document"
			if !errors.Is(err, oci.ErrNoAttestations) || !errors.Is(err, oci.ErrNoSignatures) || err.Error() != want {
				t.Fatalf("missing type: %v\nwant %s", err, want)
			}
			// Attestations that do not verify are worded as attestations.
			p = alicePolicy()
			p.Identities[0].SubjectAlternativeName.Exact = "mallory@sigil.test"
			_, err = v.VerifyAttestations(context.Background(), d, p)
			if !errors.Is(err, oci.ErrNoMatchingAttestations) || !errors.Is(err, oci.ErrNoMatchingSignatures) ||
				!strings.HasPrefix(err.Error(), "no matching attestations for "+d.String()+": 2 attestations found, none verified: ") {
				t.Fatalf("wrong identity: %v", err)
			}
			bare := ocitest.PushImage(t, e.host, "app", "bare")
			_, err = v.VerifyAttestations(context.Background(), bare, alicePolicy())
			want = "no attestations found: no attestations are attached to " + bare.String() + ", neither under " + oci.LegacyTag(bare, oci.KindAttestation).TagStr() + " nor as referrers"
			if !errors.Is(err, oci.ErrNoAttestations) || err.Error() != want {
				t.Fatalf("nothing attached: %v\nwant %s", err, want)
			}
			// An attestation is not a signature.
			if _, err := v.VerifySignatures(context.Background(), d, alicePolicy(), nil); !errors.Is(err, oci.ErrNoSignatures) || errors.Is(err, oci.ErrNoAttestations) {
				t.Fatalf("attestations taken for signatures: %v", err)
			}
		})
	}
}

func TestRejected(t *testing.T) {
	ctx := context.Background()
	for _, f := range []oci.Format{oci.FormatLegacy, oci.FormatReferrers} {
		t.Run(string(f)+"/wrong identity", func(t *testing.T) {
			e := newEnv(t, true)
			d := ocitest.PushImage(t, e.host, "app", "v1")
			if _, err := e.signer(f, false, false).Sign(ctx, d); err != nil {
				t.Fatal(err)
			}
			p := alicePolicy()
			p.Identities[0].SubjectAlternativeName.Exact = "mallory@sigil.test"
			_, err := e.verifier().VerifySignatures(ctx, d, p, nil)
			if !errors.Is(err, oci.ErrNoMatchingSignatures) || verify.CheckOf(errors.Unwrap(err)) == "" && !strings.Contains(err.Error(), `got "alice@sigil.test"`) {
				t.Fatalf("wrong identity: %v", err)
			}
		})
		t.Run(string(f)+"/moved to another digest", func(t *testing.T) {
			e := newEnv(t, true)
			a := ocitest.PushImage(t, e.host, "app", "a")
			b := ocitest.PushImage(t, e.host, "app", "b")
			if _, err := e.signer(f, false, false).Sign(ctx, a); err != nil {
				t.Fatal(err)
			}
			moveSignatures(t, e, a, b)
			_, err := e.verifier().VerifySignatures(ctx, b, alicePolicy(), nil)
			if !errors.Is(err, oci.ErrNoMatchingSignatures) {
				t.Fatalf("moved signature: %v", err)
			}
			t.Log(err)
		})
		t.Run(string(f)+"/tampered layer", func(t *testing.T) {
			e := newEnv(t, true)
			d := ocitest.PushImage(t, e.host, "app", "v1")
			if _, err := e.signer(f, false, false).Sign(ctx, d); err != nil {
				t.Fatal(err)
			}
			tamper(t, e, d)
			_, err := e.verifier().VerifySignatures(ctx, d, alicePolicy(), nil)
			if !errors.Is(err, oci.ErrNoMatchingSignatures) {
				t.Fatalf("tampered signature: %v", err)
			}
			t.Log(err)
		})
	}
}

// moveSignatures copies a's signatures to b: the legacy manifest under b's
// tag, and each bundle as a referrer of b.
func moveSignatures(t *testing.T, e *env, a, b name.Digest) {
	t.Helper()
	ctx := context.Background()
	found, _, err := e.client.Find(ctx, a, oci.KindSignature)
	if err != nil || len(found) == 0 {
		t.Fatal(len(found), err)
	}
	for _, f := range found {
		if f.Scheme == oci.SchemeTag {
			writeLegacy(t, oci.LegacyTag(b, oci.KindSignature), f.MediaType, f.Raw, f.Annotations)
			continue
		}
		desc, err := e.client.Describe(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.client.WriteReferrer(ctx, b, desc, f.Raw, "dsse-envelope", oci.SignPredicateType, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
}

// tamper replaces d's signatures with altered copies: a changed payload
// byte for legacy layers, a changed statement for bundles.
func tamper(t *testing.T, e *env, d name.Digest) {
	t.Helper()
	ctx := context.Background()
	found, _, err := e.client.Find(ctx, d, oci.KindSignature)
	if err != nil || len(found) == 0 {
		t.Fatal(len(found), err)
	}
	for _, f := range found {
		if f.Scheme == oci.SchemeTag {
			payload := []byte(strings.Replace(string(f.Raw), `"optional":null`, `"optional":{"x":"y"}`, 1))
			writeLegacy(t, oci.LegacyTag(d, oci.KindSignature), f.MediaType, payload, f.Annotations)
			continue
		}
		var bj map[string]any
		json.Unmarshal(f.Raw, &bj)
		env := bj["dsseEnvelope"].(map[string]any)
		st, _ := base64.StdEncoding.DecodeString(env["payload"].(string))
		st = []byte(strings.Replace(string(st), `"predicate":{}`, `"predicate":{"evil":true}`, 1))
		env["payload"] = base64.StdEncoding.EncodeToString(st)
		raw, _ := json.Marshal(bj)
		ref, _ := name.NewDigest(f.Source)
		if err := remote.Delete(ref); err != nil {
			t.Fatal(err)
		}
		desc, _ := e.client.Describe(ctx, d)
		if _, err := e.client.WriteReferrer(ctx, d, desc, raw, "dsse-envelope", oci.SignPredicateType, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
}

// writeLegacy writes a legacy manifest holding one layer.
func writeLegacy(t *testing.T, tag name.Tag, mt string, payload []byte, ann map[string]string) {
	t.Helper()
	img := mutate.MediaType(mutate.ConfigMediaType(empty.Image, types.OCIConfigJSON), types.OCIManifestSchema1)
	img, err := mutate.Append(img, mutate.Addendum{Layer: static.NewLayer(payload, types.MediaType(mt)), Annotations: ann})
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
}

func TestAnnotations(t *testing.T) {
	ctx := context.Background()
	for _, f := range []oci.Format{oci.FormatLegacy, oci.FormatReferrers} {
		t.Run(string(f), func(t *testing.T) {
			e := newEnv(t, true)
			d := ocitest.PushImage(t, e.host, "app", "v1")
			s := e.signer(f, false, false)
			s.Annotations = map[string]string{"env": "prod"}
			if _, err := s.Sign(ctx, d); err != nil {
				t.Fatal(err)
			}
			v := e.verifier()
			if _, err := v.VerifySignatures(ctx, d, alicePolicy(), map[string]string{"env": "prod"}); err != nil {
				t.Fatal(err)
			}
			_, err := v.VerifySignatures(ctx, d, alicePolicy(), map[string]string{"env": "dev"})
			if !errors.Is(err, oci.ErrNoMatchingSignatures) || !strings.Contains(err.Error(), `annotation "env" is "prod", want "dev"`) {
				t.Fatalf("wrong annotation: %v", err)
			}
		})
	}
}

func TestMultiArch(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, false)
	idx, kids := ocitest.PushIndex(t, e.host, "app", "v1", "linux/amd64", "linux/arm64")
	all, err := e.client.Manifests(ctx, idx, true)
	if err != nil || len(all) != 3 {
		t.Fatalf("manifests: %v %v", all, err)
	}
	s := e.signer(oci.FormatBoth, false, false)
	for _, d := range all {
		if _, err := s.Sign(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	arm, err := e.client.Platform(ctx, idx, "linux/arm64")
	if err != nil || arm != kids[1] {
		t.Fatalf("platform: %v %v", arm, err)
	}
	for _, d := range []name.Digest{idx, arm} {
		if got, err := e.verifier().VerifySignatures(ctx, d, alicePolicy(), nil); err != nil || len(got) != 2 {
			t.Fatalf("%s: %d verified, %v", d, len(got), err)
		}
	}
	if _, err := e.client.Platform(ctx, idx, "windows/amd64"); !errors.Is(err, oci.ErrNotFound) {
		t.Fatalf("missing platform: %v", err)
	}
}

func TestRegistryErrors(t *testing.T) {
	ctx := context.Background()
	t.Run("unauthorized", func(t *testing.T) {
		e := newEnv(t, true)
		d := ocitest.PushImage(t, e.host, "app", "v1")
		e.reg.Fail("", "/manifests/", 100, http.StatusUnauthorized, ocitest.ErrorBody("UNAUTHORIZED", "authentication required"))
		_, err := e.verifier().VerifySignatures(ctx, d, alicePolicy(), nil)
		if !errors.Is(err, oci.ErrUnauthorized) || !strings.Contains(err.Error(), "docker login") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("manifest invalid", func(t *testing.T) {
		e := newEnv(t, true)
		d := ocitest.PushImage(t, e.host, "app", "v1")
		e.reg.Fail(http.MethodPut, "/manifests/", 1, http.StatusBadRequest, ocitest.ErrorBody("MANIFEST_INVALID", "manifest invalid"))
		_, err := e.signer(oci.FormatLegacy, false, false).Sign(ctx, d)
		if !errors.Is(err, oci.ErrRejected) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("transient errors are retried", func(t *testing.T) {
		e := newEnv(t, true)
		d := ocitest.PushImage(t, e.host, "app", "v1")
		if _, err := e.signer(oci.FormatReferrers, false, false).Sign(ctx, d); err != nil {
			t.Fatal(err)
		}
		e.reg.Fail(http.MethodGet, "/referrers/", 2, http.StatusServiceUnavailable, "")
		e.reg.Fail(http.MethodGet, "/blobs/", 1, http.StatusBadGateway, "")
		if _, err := e.verifier().VerifySignatures(ctx, d, alicePolicy(), nil); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("failed referrers listing is reported", func(t *testing.T) {
		e := newEnv(t, true)
		d := ocitest.PushImage(t, e.host, "app", "v1")
		e.reg.Fail(http.MethodGet, "/referrers/", 100, http.StatusInternalServerError, "")
		_, err := e.verifier().VerifySignatures(ctx, d, alicePolicy(), nil)
		if !errors.Is(err, oci.ErrNoSignatures) || !strings.Contains(err.Error(), "couldn't list the referrers") {
			t.Fatalf("got %v", err)
		}
	})
	// Concurrent uploads of one blob (every signer uploads the same
	// simple-signing payload, and the empty config) make the distribution
	// registry answer DIGEST_INVALID or MANIFEST_BLOB_UNKNOWN to some.
	t.Run("blob upload race is retried", func(t *testing.T) {
		for _, f := range []oci.Format{oci.FormatLegacy, oci.FormatReferrers} {
			t.Run(string(f), func(t *testing.T) {
				e := newEnv(t, false)
				d := ocitest.PushImage(t, e.host, "app", "v1")
				race := ocitest.ErrorBody("DIGEST_INVALID", "provided digest did not match uploaded content")
				if f == oci.FormatLegacy {
					e.reg.Fail(http.MethodPut, "/manifests/"+oci.LegacyTag(d, oci.KindSignature).TagStr(), 2, http.StatusBadRequest, race)
				} else {
					e.reg.Fail(http.MethodPut, "/blobs/uploads/", 2, http.StatusBadRequest, race)
				}
				if _, err := e.signer(f, false, false).Sign(ctx, d); err != nil {
					t.Fatal(err)
				}
				if got, err := e.verifier().VerifySignatures(ctx, d, alicePolicy(), nil); err != nil || len(got) != 1 {
					t.Fatalf("%d verified, %v", len(got), err)
				}
			})
		}
	})
	t.Run("half-written referrer is reported", func(t *testing.T) {
		e := newEnv(t, false)
		d := ocitest.PushImage(t, e.host, "app", "v1")
		tag := strings.Replace(d.DigestStr(), ":", "-", 1)
		e.reg.Fail(http.MethodPut, "/manifests/"+tag, 100, http.StatusInternalServerError, "")
		_, err := e.signer(oci.FormatReferrers, false, false).Sign(ctx, d)
		if err == nil || !strings.Contains(err.Error(), "was stored but is not listed as a referrer") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("unreadable referrers tag after writing is reported", func(t *testing.T) {
		e := newEnv(t, false)
		d := ocitest.PushImage(t, e.host, "app", "v1")
		tag := strings.Replace(d.DigestStr(), ":", "-", 1)
		e.reg.Fail(http.MethodHead, "/manifests/"+tag, 100, http.StatusInternalServerError, "")
		_, err := e.signer(oci.FormatReferrers, false, false).Sign(ctx, d)
		if err == nil || !strings.HasPrefix(err.Error(), "the manifest "+e.host+"/app@sha256:") ||
			!strings.Contains(err.Error(), " was stored: couldn't check that it is listed as a referrer: couldn't read "+e.host+"/app:"+tag) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("missing image", func(t *testing.T) {
		e := newEnv(t, true)
		ref, _ := name.NewTag(e.host + "/app:nope")
		if _, _, err := e.client.Resolve(ctx, ref); !errors.Is(err, oci.ErrNotFound) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestLegacyDedupe(t *testing.T) {
	e := newEnv(t, true)
	d := ocitest.PushImage(t, e.host, "app", "v1")
	l := &oci.LegacyLayer{MediaType: oci.MediaTypeSimpleSigning, Payload: []byte("{}"), Annotations: map[string]string{oci.AnnotationSignature: "c2ln"}}
	for i := 0; i < 2; i++ {
		if _, err := e.client.AppendLegacy(context.Background(), d, oci.KindSignature, l); err != nil {
			t.Fatal(err)
		}
	}
	img, err := remote.Image(oci.LegacyTag(d, oci.KindSignature))
	if err != nil {
		t.Fatal(err)
	}
	m, _ := img.Manifest()
	if len(m.Layers) != 1 {
		t.Fatalf("%d layers", len(m.Layers))
	}
}

func TestResolveTag(t *testing.T) {
	e := newEnv(t, true)
	want := ocitest.PushImage(t, e.host, "app", "v1")
	ref, _ := e.client.ParseReference(e.host + "/app:v1")
	got, tagged, err := e.client.Resolve(context.Background(), ref)
	if err != nil || !tagged || got != want {
		t.Fatalf("got %v %v %v", got, tagged, err)
	}
	got, tagged, err = e.client.Resolve(context.Background(), want)
	if err != nil || tagged || got != want {
		t.Fatalf("digest: got %v %v %v", got, tagged, err)
	}
}

var _ v1.Hash

// The legacy format has no room for an inclusion proof: a Rekor v2 entry
// (no SET) is refused before anything is written.
func TestLegacyNeedsRekorV1(t *testing.T) {
	e := newEnv(t, true)
	d := ocitest.PushImage(t, e.host, "app", "v1")
	_, err := e.signer(oci.FormatLegacy, true, true).Sign(context.Background(), d)
	if err == nil || !strings.Contains(err.Error(), "use --format referrers") {
		t.Fatalf("got %v", err)
	}
	if _, err := remote.Head(oci.LegacyTag(d, oci.KindSignature)); err == nil {
		t.Fatal("a signature was written")
	}
}

// A listing entry without annotations (cosign v3's referrers tag schema
// index) does not say what the referrer is: its manifest does, and is
// fetched. One that cannot be fetched is left unknown without failing the
// rest.
func TestDiscoverUntoldReferrers(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, false)
	d := ocitest.PushImage(t, e.host, "app", "v1")
	s := e.signer(oci.FormatReferrers, false, false)
	sig, err := s.Sign(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	att, err := s.Attest(ctx, d, "https://slsa.dev/provenance/v1", json.RawMessage(`{"builder":{"id":"x"}}`))
	if err != nil {
		t.Fatal(err)
	}
	spdx, err := s.Attest(ctx, d, "https://spdx.dev/Document", json.RawMessage(`{"spdxVersion":"SPDX-2.3"}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ocitest.StripReferrersAnnotations(t, d) {
		if m.ArtifactType != oci.MediaTypeBundle || m.Annotations[oci.AnnotationBundlePredicateType] == "" {
			t.Fatalf("the index was not written as expected: %+v", m)
		}
	}
	type seen struct {
		kind oci.Kind
		pt   string
		err  bool
	}
	want := map[string]seen{
		sig[0].Location:  {oci.KindSignature, oci.SignPredicateType, false},
		att[0].Location:  {oci.KindAttestation, "https://slsa.dev/provenance/v1", false},
		spdx[0].Location: {oci.KindAttestation, "https://spdx.dev/Document", false},
	}
	check := func(manifests bool) {
		t.Helper()
		atts, err := e.client.Discover(ctx, d, manifests)
		if err != nil || len(atts.Errors) > 0 {
			t.Fatal(err, atts.Errors)
		}
		got := map[string]seen{}
		for _, a := range atts.Items {
			got[a.Location()] = seen{a.Kind, a.PredicateType, a.Error != ""}
		}
		if len(got) != len(want) {
			t.Fatalf("manifests %v: got %v, want %v", manifests, got, want)
		}
		for loc, w := range want {
			if got[loc] != w {
				t.Errorf("manifests %v: %s is %+v, want %+v", manifests, loc, got[loc], w)
			}
		}
	}
	check(false)
	check(true)
	// Verification reads them all as before.
	p := alicePolicy()
	p.PredicateType = "https://spdx.dev/Document"
	if got, err := e.verifier().VerifyAttestations(ctx, d, p); err != nil || len(got) != 1 {
		t.Fatalf("%d verified, %v", len(got), err)
	}

	// The spdx referrer's manifest cannot be fetched.
	gone, _ := name.NewDigest(spdx[0].Location)
	e.reg.Fail(http.MethodGet, "/manifests/"+gone.DigestStr(), 1000, http.StatusInternalServerError, "")
	want[spdx[0].Location] = seen{"", "", true}
	check(false)
	check(true)
	// Verifying signatures says it could not be read, rather than that
	// nothing is there.
	p = alicePolicy()
	p.Identities[0].SubjectAlternativeName.Exact = "mallory@sigil.test"
	_, err = e.verifier().VerifySignatures(ctx, d, p, nil)
	if !errors.Is(err, oci.ErrNoMatchingSignatures) || !strings.Contains(err.Error(), "could not be searched: couldn't read referrer "+gone.String()) {
		t.Fatalf("got %v", err)
	}
}

// clobberer stands for a concurrent writer that read a tag before this
// client wrote it and writes it after: after each successful PUT to a path
// ending in path, while times lasts (-1: always), it PUTs body there.
type clobberer struct {
	base      http.RoundTripper
	path      string
	body      []byte
	mediaType types.MediaType

	mu    sync.Mutex
	times int
	done  int
}

func (c *clobberer) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.base.RoundTrip(req)
	if err != nil || req.Method != http.MethodPut || !strings.HasSuffix(req.URL.Path, c.path) || resp.StatusCode >= 300 {
		return resp, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.times == 0 {
		return resp, nil
	}
	c.times--
	put, err := http.NewRequest(http.MethodPut, req.URL.String(), bytes.NewReader(c.body))
	if err != nil {
		return nil, err
	}
	put.Header.Set("Content-Type", string(c.mediaType))
	cr, err := c.base.RoundTrip(put)
	if err != nil {
		return nil, err
	}
	cr.Body.Close()
	if cr.StatusCode >= 300 {
		return nil, fmt.Errorf("the clobbering PUT got %s", cr.Status)
	}
	c.done++
	return resp, nil
}

// A signature dropped by a concurrent writer of its tag right after it was
// written is written again; one dropped every time is an error, never a
// success.
func TestLostWrite(t *testing.T) {
	ctx := context.Background()
	for _, f := range []oci.Format{oci.FormatLegacy, oci.FormatReferrers} {
		for _, times := range []int{1, -1} {
			t.Run(fmt.Sprintf("%s/%d", f, times), func(t *testing.T) {
				e := newEnv(t, false)
				d := ocitest.PushImage(t, e.host, "app", "v1")
				// What the other writer writes: another signature's
				// manifest, or a referrers index without ours.
				c := &clobberer{base: http.DefaultTransport, times: times}
				other := e.signer(f, false, false)
				if _, err := other.Sign(ctx, d); err != nil {
					t.Fatal(err)
				}
				var tag name.Tag
				if f == oci.FormatLegacy {
					tag = oci.LegacyTag(d, oci.KindSignature)
					c.path = "/manifests/" + tag.TagStr()
				} else {
					tag = d.Context().Tag(strings.Replace(d.DigestStr(), ":", "-", 1))
					c.path = "/manifests/" + tag.TagStr()
				}
				got, err := remote.Get(tag)
				if err != nil {
					t.Fatal(err)
				}
				c.body, c.mediaType = got.Manifest, got.MediaType

				s := e.signer(f, false, false)
				s.Client = oci.New(oci.Options{Transport: c, Retry: oci.Retry{Attempts: 3, Wait: time.Millisecond}})
				w, err := s.Sign(ctx, d)
				if c.done == 0 {
					t.Fatal("nothing was clobbered")
				}
				key := func(a *oci.Attached) []string {
					if a.Scheme == oci.SchemeReferrers {
						return []string{a.Location()}
					}
					var sigs []string
					for _, l := range a.Manifest.Layers {
						sigs = append(sigs, l.Annotations[oci.AnnotationSignature])
					}
					return sigs
				}
				atts, derr := e.client.Discover(ctx, d, true)
				if derr != nil {
					t.Fatal(derr)
				}
				var listed []string
				for _, a := range atts.Items {
					listed = append(listed, key(a)...)
				}
				if times == -1 {
					if !errors.Is(err, oci.ErrLostWrite) || len(listed) != 1 {
						t.Fatalf("dropped every time: %v (listed %v)", err, listed)
					}
					t.Log(err)
					return
				}
				if err != nil {
					t.Fatalf("dropped once: %v", err)
				}
				mine := w[0].Location
				if f == oci.FormatLegacy {
					mine = base64.StdEncoding.EncodeToString(w[0].Result.Bundle.MessageSignature.Signature)
				}
				if !slices.Contains(listed, mine) || len(listed) != 2 {
					t.Fatalf("dropped once: %v; listed %v, want the other signature and %s", err, listed, mine)
				}
			})
		}
	}
}

// Signing a digest the registry does not have fails before anything is
// signed, logged or written, in every format: the legacy format used to
// sign the typo, log it and create its .sig or .att tag (and the
// repository) without ever asking whether the image exists.
func TestSignMissingImage(t *testing.T) {
	e := newEnv(t, true)
	ocitest.PushImage(t, e.host, "app", "v1")
	missing, _ := name.NewDigest(e.host + "/app@sha256:" + strings.Repeat("ab", 32))
	for _, f := range []oci.Format{oci.FormatLegacy, oci.FormatReferrers, oci.FormatBoth} {
		s := e.signer(f, false, false)
		signed := 0
		tok := s.Signer.Token
		s.Signer.Token = func(ctx context.Context) (string, error) { signed++; return tok(ctx) }
		if _, err := s.Sign(context.Background(), missing); !errors.Is(err, oci.ErrNotFound) {
			t.Errorf("%s: sign: got %v, want ErrNotFound", f, err)
		}
		if _, err := s.Attest(context.Background(), missing, "https://example.test/p", json.RawMessage(`{}`)); !errors.Is(err, oci.ErrNotFound) {
			t.Errorf("%s: attest: got %v, want ErrNotFound", f, err)
		}
		if signed != 0 {
			t.Errorf("%s: signed %d times for a missing image", f, signed)
		}
	}
	for _, k := range []oci.Kind{oci.KindSignature, oci.KindAttestation} {
		if _, err := remote.Head(oci.LegacyTag(missing, k)); err == nil {
			t.Errorf("%s was written", oci.LegacyTag(missing, k))
		}
	}
}

// A legacy attestation's predicateType layer annotation is not signed: the
// signed statement's predicate type is the one that counts, for --type
// and in what is reported, as cosign v2 and v3 read it. An annotation
// changed in the registry used to hide a genuine attestation from --type
// ("none of type … is attached") and to be reported as its type.
func TestLegacyPredicateTypeFromStatement(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, true)
	d := ocitest.PushImage(t, e.host, "app", "v1")
	const real = "https://slsa.dev/provenance/v1"
	if _, err := e.signer(oci.FormatLegacy, false, true).Attest(ctx, d, real, json.RawMessage(`{"buildDefinition":{"buildType":"x"}}`)); err != nil {
		t.Fatal(err)
	}
	tag := oci.LegacyTag(d, oci.KindAttestation)
	got, err := remote.Get(tag)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(got.Manifest, &m); err != nil {
		t.Fatal(err)
	}
	m["layers"].([]any)[0].(map[string]any)["annotations"].(map[string]any)[oci.AnnotationPredicateType] = "https://example.test/other"
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Put(tag, rawManifest(raw)); err != nil {
		t.Fatal(err)
	}
	p := alicePolicy()
	p.PredicateType = real
	vs, err := e.verifier().VerifyAttestations(ctx, d, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 1 || vs[0].PredicateType != real {
		t.Fatalf("verified %d, predicate type %q", len(vs), vs[0].PredicateType)
	}
	found, _, err := e.client.Find(ctx, d, oci.KindAttestation)
	if err != nil || len(found) != 1 || found[0].PredicateType != real {
		t.Fatalf("found %v, %v", found, err)
	}
}

type rawManifest []byte

func (r rawManifest) RawManifest() ([]byte, error)        { return r, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }

// Verifying, listing or downloading what is attached to a digest the
// registry does not have says the image is not there (ErrNotFound), not
// that it has no signatures: a mistyped digest or repository used to read
// as an unsigned image.
func TestMissingImageNotFound(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, true)
	ocitest.PushImage(t, e.host, "app", "v1")
	for _, repo := range []string{"app", "nosuchrepo"} {
		missing, _ := name.NewDigest(e.host + "/" + repo + "@sha256:" + strings.Repeat("cd", 32))
		if _, err := e.verifier().VerifySignatures(ctx, missing, alicePolicy(), nil); !errors.Is(err, oci.ErrNotFound) || errors.Is(err, oci.ErrNoSignatures) {
			t.Errorf("%s: verify: %v", repo, err)
		}
		if _, err := e.verifier().VerifyAttestations(ctx, missing, alicePolicy()); !errors.Is(err, oci.ErrNotFound) {
			t.Errorf("%s: verify attestations: %v", repo, err)
		}
		if _, err := e.client.Discover(ctx, missing, true); !errors.Is(err, oci.ErrNotFound) {
			t.Errorf("%s: discover: %v", repo, err)
		}
	}
}

// hookTransport runs hook, once, instead of the first request that match
// accepts, and answers it with a DIGEST_INVALID error (what the
// distribution registry answers a push whose blob another signer is
// uploading at the same time).
type hookTransport struct {
	match func(*http.Request) bool
	hook  func()
	once  sync.Once
}

func (h *hookTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	fired := false
	if h.match(req) {
		h.once.Do(func() { fired = true; h.hook() })
	}
	if !fired {
		return http.DefaultTransport.RoundTrip(req)
	}
	body := ocitest.ErrorBody("DIGEST_INVALID", "provided digest did not match uploaded content")
	return &http.Response{StatusCode: http.StatusBadRequest, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(body)), Request: req}, nil
}

// A legacy signer whose push failed because another signer was uploading
// the same payload blob retried the push of the manifest it had built
// before, from the tag as it read it then: a signer that wrote the tag in
// between, and had already read its signature back and returned, lost it
// for good. The retry now reads the tag again.
func TestLegacyUploadRetryRereads(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, false)
	d := ocitest.PushImage(t, e.host, "app", "v1")
	first := e.signer(oci.FormatLegacy, false, false)
	var firstWritten []oci.Written
	var firstErr error
	second := e.signer(oci.FormatLegacy, false, false)
	second.Client = oci.New(oci.Options{Retry: oci.Retry{Attempts: 3, Wait: time.Millisecond}, Transport: &hookTransport{
		match: func(r *http.Request) bool {
			return r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") && strings.HasSuffix(r.URL.Path, ".sig")
		},
		// The second signer has read the tag (empty); the first signs
		// now, and is done before the second's push fails.
		hook: func() { firstWritten, firstErr = first.Sign(ctx, d) },
	}})
	secondWritten, err := second.Sign(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if firstErr != nil {
		t.Fatal(firstErr)
	}
	m, err := remote.Image(oci.LegacyTag(d, oci.KindSignature))
	if err != nil {
		t.Fatal(err)
	}
	mf, err := m.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, l := range mf.Layers {
		listed[l.Annotations[oci.AnnotationSignature]] = true
	}
	for i, w := range [][]oci.Written{firstWritten, secondWritten} {
		if !listed[base64.StdEncoding.EncodeToString(w[0].Result.Bundle.MessageSignature.Signature)] {
			t.Errorf("signer %d returned without error, and its signature is not in the tag (%d layers)", i+1, len(mf.Layers))
		}
	}
}

// A referrers signer whose manifest PUT the registry refused because
// another signer's upload of the same empty config was still being linked
// (DIGEST_INVALID) failed at once (TestConcurrentSigners/referrers flaked
// with it under load); it now uploads its blobs again and retries.
func TestReferrerPutRetriesUploadRace(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, false)
	d := ocitest.PushImage(t, e.host, "app", "v1")
	s := e.signer(oci.FormatReferrers, false, false)
	fired := false
	s.Client = oci.New(oci.Options{Retry: oci.Retry{Attempts: 3, Wait: time.Millisecond}, Transport: &hookTransport{
		match: func(r *http.Request) bool {
			return r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/sha256:")
		},
		hook: func() { fired = true },
	}})
	w, err := s.Sign(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if !fired {
		t.Fatal("the referrer manifest PUT was never refused: the test checks nothing")
	}
	atts, err := e.client.Discover(ctx, d, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range atts.Items {
		if a.Location() == w[0].Location {
			return
		}
	}
	t.Errorf("the signature %s is not listed after the retry", w[0].Location)
}

// A registry may answer the referrers listing a page at a time, with a
// Link header naming the next page (distribution-spec "Listing
// Referrers"): every page is read, so a signature on a later page counts.
// A page that cannot be read is reported, and the pages read still count.
func TestPaginatedReferrers(t *testing.T) {
	e := newEnv(t, true)
	e.reg.PageReferrers(2, 0)
	d := ocitest.PushImage(t, e.host, "app", "v1")
	const n = 5
	for range n {
		if _, err := e.signer(oci.FormatReferrers, false, false).Sign(context.Background(), d); err != nil {
			t.Fatal(err)
		}
	}
	atts, err := e.client.Discover(context.Background(), d, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(atts.Items) != n || len(atts.Errors) != 0 {
		t.Fatalf("discovered %d referrers (errors %v), want %d", len(atts.Items), atts.Errors, n)
	}
	got, err := e.verifier().VerifySignatures(context.Background(), d, alicePolicy(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Fatalf("verified %d signatures, want %d", len(got), n)
	}
	pages := 0
	for _, r := range e.reg.Requests() {
		if strings.HasPrefix(r, "GET ") && strings.Contains(r, "/referrers/") {
			pages++
		}
	}
	if pages == 0 {
		t.Fatal("the referrers API was not asked")
	}

	e.reg.PageReferrers(2, http.StatusForbidden)
	atts, err = e.client.Discover(context.Background(), d, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(atts.Items) != 2 || len(atts.Errors) != 1 || !errors.Is(atts.Errors[0], oci.ErrUnauthorized) {
		t.Fatalf("with later pages refused: discovered %d referrers, errors %v; want the first page's 2 and the refusal", len(atts.Items), atts.Errors)
	}
	if got, err = e.verifier().VerifySignatures(context.Background(), d, alicePolicy(), nil); err != nil || len(got) != 2 {
		t.Fatalf("with later pages refused: verified %d signatures (%v), want the first page's 2", len(got), err)
	}
}

// Signatures that fail for the same reason (another signer's, many of
// them) are reported once with a few of their places, not one line each.
func TestManyFailuresGrouped(t *testing.T) {
	e := newEnv(t, true)
	d := ocitest.PushImage(t, e.host, "app", "v1")
	const n = 6
	for range n {
		if _, err := e.signer(oci.FormatReferrers, false, false).Sign(context.Background(), d); err != nil {
			t.Fatal(err)
		}
	}
	p := verify.Policy{Identities: []verify.Identity{{SubjectAlternativeName: verify.Matcher{Exact: "bob@sigil.test"}, Issuer: verify.Matcher{Exact: issuer}}}}
	_, err := e.verifier().VerifySignatures(context.Background(), d, p, nil)
	if !errors.Is(err, oci.ErrNoMatchingSignatures) {
		t.Fatalf("got %v, want ErrNoMatchingSignatures", err)
	}
	_, why, ok := strings.Cut(err.Error(), fmt.Sprintf("%d signatures found, none verified: ", n))
	if !ok || strings.Count(why, `got "alice@sigil.test"`) != 1 ||
		strings.Count(why, e.host+"/app@sha256:") != 3 || !strings.Contains(why, fmt.Sprintf(" and %d more: ", n-3)) {
		t.Fatalf("want the reason once, with three of the %d places and how many more: %v", n, err)
	}
}
