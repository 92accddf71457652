package oci_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"sigil.dev/sigil/oci"
)

// The byte layouts cosign writes and reads (see the package doc).

func TestSimpleSigningBytes(t *testing.T) {
	const d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, tc := range []struct {
		ann  map[string]string
		want string
	}{
		{nil, `{"critical":{"identity":{"docker-reference":"reg.example/app"},"image":{"docker-manifest-digest":"` + d + `"},"type":"cosign container image signature"},"optional":null}`},
		{map[string]string{"b": "2", "a": "1"}, `{"critical":{"identity":{"docker-reference":"reg.example/app"},"image":{"docker-manifest-digest":"` + d + `"},"type":"cosign container image signature"},"optional":{"a":"1","b":"2"}}`},
	} {
		got, err := oci.NewSimpleSigning("reg.example/app", d, tc.ann).Marshal()
		if err != nil || string(got) != tc.want {
			t.Fatalf("got %s, %v\nwant %s", got, err, tc.want)
		}
		ss, err := oci.ParseSimpleSigning(got)
		if err != nil || ss.Critical.Image.DockerManifestDigest != d {
			t.Fatalf("round trip: %v", err)
		}
		if err := ss.CheckAnnotations(tc.ann); err != nil {
			t.Fatal(err)
		}
	}
}

func TestParseSimpleSigningRejects(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"wrong type", `{"critical":{"identity":{},"image":{"docker-manifest-digest":"sha256:` + strings.Repeat("a", 64) + `"},"type":"other"}}`, "type"},
		{"short digest", `{"critical":{"identity":{},"image":{"docker-manifest-digest":"sha256:abc"},"type":"cosign container image signature"}}`, "docker-manifest-digest"},
		{"upper-case digest", `{"critical":{"identity":{},"image":{"docker-manifest-digest":"sha256:` + strings.Repeat("A", 64) + `"},"type":"cosign container image signature"}}`, "docker-manifest-digest"},
		{"trailing data", `{"critical":{"identity":{},"image":{"docker-manifest-digest":"sha256:` + strings.Repeat("a", 64) + `"},"type":"cosign container image signature"}} {}`, "after"},
		{"not JSON", `nope`, "couldn't parse"},
	} {
		if _, err := oci.ParseSimpleSigning([]byte(tc.in)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestReferrerManifestShape(t *testing.T) {
	h, _ := v1.NewHash("sha256:" + strings.Repeat("ab", 32))
	subject := v1.Descriptor{MediaType: "application/vnd.oci.image.manifest.v1+json", Digest: h, Size: 123}
	raw, err := oci.ReferrerManifest(subject, []byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}`), "dsse-envelope", oci.SignPredicateType, time.Date(2026, 11, 27, 1, 2, 3, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"schemaVersion": 2.0,
		"mediaType":     "application/vnd.oci.image.manifest.v1+json",
		"artifactType":  "application/vnd.dev.sigstore.bundle.v0.3+json",
		"config":        map[string]any{"mediaType": "application/vnd.oci.empty.v1+json", "size": 2.0, "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},
		"subject":       map[string]any{"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 123.0, "digest": h.String()},
		"annotations": map[string]any{
			"org.opencontainers.image.created":  "2026-11-27T01:02:03Z",
			"dev.sigstore.bundle.content":       "dsse-envelope",
			"dev.sigstore.bundle.predicateType": "https://sigstore.dev/cosign/sign/v1",
		},
	}
	for k, v := range want {
		g, _ := json.Marshal(m[k])
		w, _ := json.Marshal(v)
		if string(g) != string(w) {
			t.Errorf("%s = %s, want %s", k, g, w)
		}
	}
	layers := m["layers"].([]any)
	if len(layers) != 1 || layers[0].(map[string]any)["mediaType"] != "application/vnd.dev.sigstore.bundle.v0.3+json" {
		t.Errorf("layers %v", layers)
	}
}

func TestLegacyTag(t *testing.T) {
	d, _ := name.NewDigest("reg.example/app@sha256:" + strings.Repeat("ab", 32))
	for k, want := range map[oci.Kind]string{oci.KindSignature: ".sig", oci.KindAttestation: ".att", oci.KindSBOM: ".sbom"} {
		if got := oci.LegacyTag(d, k).String(); got != "reg.example/app:sha256-"+strings.Repeat("ab", 32)+want {
			t.Errorf("%s: %s", k, got)
		}
	}
}

func TestParsePlatform(t *testing.T) {
	for in, want := range map[string]v1.Platform{
		"linux/amd64":                   {OS: "linux", Architecture: "amd64"},
		"linux/arm64/v8":                {OS: "linux", Architecture: "arm64", Variant: "v8"},
		"windows/amd64:10.0.17763.1234": {OS: "windows", Architecture: "amd64", OSVersion: "10.0.17763.1234"},
	} {
		got, err := oci.ParsePlatform(in)
		if err != nil || !got.Equals(want) {
			t.Errorf("%q: got %+v, %v", in, got, err)
		}
	}
	for _, in := range []string{"bogus", "linux", "linux/", "/amd64", "linux//v8", "linux/arm64/v8/x", "linux/amd64:", "linux/amd 64", "linux/amd64:1:2", ""} {
		_, err := oci.ParsePlatform(in)
		if err == nil || !strings.Contains(err.Error(), "malformed, want os/arch[/variant]") {
			t.Errorf("%q: got %v", in, err)
		}
	}
}

func FuzzParseSimpleSigning(f *testing.F) {
	p, _ := oci.NewSimpleSigning("reg/app", "sha256:"+strings.Repeat("0", 64), map[string]string{"a": "b"}).Marshal()
	f.Add(p)
	f.Fuzz(func(t *testing.T, b []byte) {
		ss, err := oci.ParseSimpleSigning(b)
		if err != nil {
			return
		}
		_ = ss.CheckAnnotations(map[string]string{"a": "b"})
	})
}

func FuzzLegacyLayer(f *testing.F) {
	f.Add("application/vnd.dev.cosign.simplesigning.v1+json", []byte(`{}`), "c2ln", "", `{"SignedEntryTimestamp":"c2V0","Payload":{"body":"eyJraW5kIjoiaGFzaGVkcmVrb3JkIiwiYXBpVmVyc2lvbiI6IjAuMC4xIn0=","integratedTime":1,"logIndex":2,"logID":"abcd"}}`, `{"SignedRFC3161Timestamp":"dHM="}`)
	f.Add("application/vnd.dsse.envelope.v1+json", []byte(`{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[{"sig":"c2ln"}]}`), "", "-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n", "", "")
	f.Fuzz(func(t *testing.T, mt string, payload []byte, sig, certPEM, rekorBundle, ts string) {
		l := &oci.LegacyLayer{MediaType: mt, Payload: payload, Annotations: map[string]string{
			oci.AnnotationSignature: sig, oci.AnnotationCertificate: certPEM, oci.AnnotationRekorBundle: rekorBundle, oci.AnnotationTimestamp: ts,
		}}
		b, err := l.Bundle()
		if err != nil {
			return
		}
		if (b.Envelope == nil) == (b.MessageSignature == nil) {
			t.Fatal("a bundle needs exactly one of envelope and message signature")
		}
	})
}
