package oci_test

import (
	"context"
	"testing"

	"sigil.dev/sigil/oci"
	"sigil.dev/sigil/oci/ocitest"
)

// BenchmarkVerifyImage measures verifying one signed image through the
// library against an in-process registry: discovery (legacy tag and
// referrers), fetching, and offline verification.
func BenchmarkVerifyImage(b *testing.B) {
	for _, f := range []oci.Format{oci.FormatLegacy, oci.FormatReferrers} {
		b.Run(string(f), func(b *testing.B) {
			e := newEnv(b, true)
			d := ocitest.PushImage(b, e.host, "app", "v1")
			if _, err := e.signer(f, false, true).Sign(context.Background(), d); err != nil {
				b.Fatal(err)
			}
			v := e.verifier()
			p := alicePolicy()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.VerifySignatures(context.Background(), d, p, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
