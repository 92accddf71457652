package oci_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"sigil.dev/sigil/oci"
	"sigil.dev/sigil/oci/ocitest"
)

// The distribution registry (Debian's docker-registry 2.8) has no
// referrers API: referrers go to the referrers tag schema, and everything
// must round-trip through a registry that validates what it stores.
func TestDistributionRegistry(t *testing.T) {
	host := ocitest.StartRegistry(t, ocitest.RegistryOptions{})
	ctx := context.Background()
	e := newEnv(t, true)
	e.host = host
	idx, kids := ocitest.PushIndex(t, host, "team/app", "v1", "linux/amd64", "linux/arm64")
	all, err := e.client.Manifests(ctx, idx, true)
	if err != nil {
		t.Fatal(err)
	}
	s := e.signer(oci.FormatBoth, false, true)
	for _, d := range all {
		if _, err := s.Sign(ctx, d); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Attest(ctx, d, "https://slsa.dev/provenance/v1", json.RawMessage(`{"builder":{"id":"x"}}`)); err != nil {
			t.Fatal(err)
		}
	}
	v := e.verifier()
	for _, d := range append([]name.Digest{idx}, kids...) {
		sigs, err := v.VerifySignatures(ctx, d, alicePolicy(), nil)
		if err != nil || len(sigs) != 2 {
			t.Fatalf("%s: %d signatures, %v", d, len(sigs), err)
		}
		p := alicePolicy()
		p.PredicateType = "https://slsa.dev/provenance/v1"
		atts, err := v.VerifyAttestations(ctx, d, p)
		if err != nil || len(atts) != 2 {
			t.Fatalf("%s: %d attestations, %v", d, len(atts), err)
		}
	}
	tree, err := e.client.Discover(ctx, idx, true)
	if err != nil || len(tree.Errors) > 0 {
		t.Fatal(err, tree.Errors)
	}
	kinds := map[oci.Scheme]map[oci.Kind]int{oci.SchemeTag: {}, oci.SchemeReferrers: {}}
	for _, a := range tree.Items {
		kinds[a.Scheme][a.Kind]++
	}
	if kinds[oci.SchemeTag][oci.KindSignature] != 1 || kinds[oci.SchemeTag][oci.KindAttestation] != 1 ||
		kinds[oci.SchemeReferrers][oci.KindSignature] != 1 || kinds[oci.SchemeReferrers][oci.KindAttestation] != 1 {
		t.Fatalf("attached: %v", kinds)
	}
}

// Credentials come from the docker config; a wrong password is reported
// as such.
func TestRegistryCredentials(t *testing.T) {
	host := ocitest.StartRegistry(t, ocitest.RegistryOptions{User: "ci", Password: "s3cret"})
	ctx := context.Background()
	dockerConfig := func(user, pass string) {
		dir := t.TempDir()
		cfg := map[string]any{"auths": map[string]any{host: map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))}}}
		b, _ := json.Marshal(cfg)
		os.WriteFile(filepath.Join(dir, "config.json"), b, 0o600)
		t.Setenv("DOCKER_CONFIG", dir)
	}
	dockerConfig("ci", "s3cret")
	tag, _ := name.NewTag(host + "/app:v1")
	// Push with the same keychain the client uses.
	e := newEnv(t, true)
	img := ocitest.PushImage(t, e.host, "app", "v1")
	src, err := remote.Image(img)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, src, remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
		t.Fatal(err)
	}
	d := tag.Context().Digest(img.DigestStr())
	c := oci.New(oci.Options{Retry: oci.Retry{Attempts: 1, Wait: time.Millisecond}})
	s := &oci.Signer{Client: c, Signer: e.signer(oci.FormatBoth, false, false).Signer, Format: oci.FormatBoth}
	if _, err := s.Sign(ctx, d); err != nil {
		t.Fatal(err)
	}
	v := &oci.Verifier{Client: c, Verifier: e.verifier().Verifier}
	// Both schemes are read with the credentials: the legacy tag and the
	// referrers (tag schema) listing.
	if got, err := v.VerifySignatures(ctx, d, alicePolicy(), nil); err != nil || len(got) != 2 {
		t.Fatalf("%d verified, %v", len(got), err)
	}
	dockerConfig("ci", "wrong")
	c = oci.New(oci.Options{Retry: oci.Retry{Attempts: 1, Wait: time.Millisecond}})
	v.Client = c
	_, err = v.VerifySignatures(ctx, d, alicePolicy(), nil)
	if !errors.Is(err, oci.ErrUnauthorized) {
		t.Fatalf("wrong password: %v", err)
	}
	t.Log(err)
}

// A referrer deleted behind the referrers tag schema's back leaves a
// dangling entry, which the distribution registry refuses in the next
// index; the next signature prunes it.
func TestFallbackIndexRepair(t *testing.T) {
	host := ocitest.StartRegistry(t, ocitest.RegistryOptions{})
	ctx := context.Background()
	e := newEnv(t, true)
	d := ocitest.PushImage(t, host, "app", "v1")
	s := e.signer(oci.FormatReferrers, false, false)
	w, err := s.Sign(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	gone, _ := name.NewDigest(w[0].Location)
	if err := remote.Delete(gone); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Sign(ctx, d); err != nil {
		t.Fatal(err)
	}
	got, err := e.verifier().VerifySignatures(ctx, d, alicePolicy(), nil)
	if err != nil || len(got) != 1 {
		t.Fatalf("%d verified, %v", len(got), err)
	}
}

// Signers of one image at once (separate processes, here clients) each
// read, modify and write one tag: the legacy .sig manifest, or the
// referrers tag schema index of a registry without the referrers API. A
// signer that returns without error has its signature listed when all are
// done.
func TestConcurrentSigners(t *testing.T) {
	host := ocitest.StartRegistry(t, ocitest.RegistryOptions{})
	ctx := context.Background()
	for _, f := range []oci.Format{oci.FormatReferrers, oci.FormatLegacy} {
		t.Run(string(f), func(t *testing.T) {
			e := newEnv(t, true)
			d := ocitest.PushImage(t, host, "app", string(f))
			const n = 6
			written := make([][]oci.Written, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range n {
				s := e.signer(f, false, false)
				// The distribution registry answers a tag read with
				// 500 while another signer rewrites the tag's link
				// file; the CLI's default backoff (1 s, 3 s) rides
				// that out, and so must this shorter one (10 ms …
				// 810 ms), or the test flakes on a busy machine.
				s.Client = oci.New(oci.Options{Retry: oci.Retry{Attempts: 5, Wait: 10 * time.Millisecond}})
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					written[i], errs[i] = s.Sign(ctx, d)
				}()
			}
			close(start)
			wg.Wait()
			atts, err := e.client.Discover(ctx, d, true)
			if err != nil || len(atts.Errors) > 0 {
				t.Fatal(err, atts.Errors)
			}
			listed := map[string]bool{}
			for _, a := range atts.Items {
				if a.Scheme == oci.SchemeReferrers {
					listed[a.Location()] = true
					continue
				}
				for _, l := range a.Manifest.Layers {
					listed[l.Annotations[oci.AnnotationSignature]] = true
				}
			}
			ok := 0
			for i := range n {
				if errs[i] != nil {
					t.Errorf("signer %d: %v", i, errs[i])
					continue
				}
				ok++
				key := written[i][0].Location
				if f == oci.FormatLegacy {
					key = base64.StdEncoding.EncodeToString(written[i][0].Result.Bundle.MessageSignature.Signature)
				}
				if !listed[key] {
					t.Errorf("signer %d returned without error, and its signature is not listed", i)
				}
			}
			if len(listed) != ok {
				t.Errorf("%d signatures listed, %d signers succeeded", len(listed), ok)
			}
		})
	}
}
