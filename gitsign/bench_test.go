package gitsign_test

import (
	"context"
	"testing"

	"sigil.dev/sigil/gitsign"
	"sigil.dev/sigil/internal/fakesvc"
)

// BenchmarkSignCached signs a commit with a cached certificate: CMS, one
// Rekor v1 upload (loopback fake) and the checks of the result.
func BenchmarkSignCached(b *testing.B) {
	f := fakesvc.New(b)
	s := newSigner(f, "alice@sigil.test", func(s *gitsign.Signer) {
		s.Cache, s.CacheKey = &gitsign.Cache{Dir: b.TempDir() + "/git"}, "k"
	})
	ctx := context.Background()
	if _, err := s.Sign(ctx, []byte(commit)); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Sign(ctx, []byte(commit)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyOffline verifies a signature from its embedded log entry:
// parse, content digest, CMS signature, inclusion proof, SET, chain, SCT,
// identity.
func BenchmarkVerifyOffline(b *testing.B) {
	f := fakesvc.New(b)
	out, err := newSigner(f, "alice@sigil.test", nil).Sign(context.Background(), []byte(commit))
	if err != nil {
		b.Fatal(err)
	}
	v := &gitsign.Verifier{TrustedRoot: f.TrustedRoot, Identities: identity(b, "alice@sigil.test")}
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := v.Verify(ctx, []byte(commit), out.PEM); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	f := fakesvc.New(b)
	out, err := newSigner(f, "alice@sigil.test", nil).Sign(context.Background(), []byte(commit))
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := gitsign.Parse(out.PEM); err != nil {
			b.Fatal(err)
		}
	}
}
