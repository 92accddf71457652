package verify

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"io"
	"os"
	"syscall"
	"testing"

	"sigil.dev/sigil/bundle"
	"sigil.dev/sigil/internal/testpki"
	"sigil.dev/sigil/internal/vectors"
	"sigil.dev/sigil/trust"
)

// BenchmarkVerifyVectors measures verification CPU per bundle on every
// positive conformance vector, with the artifact digest as input: "verify"
// on an already-parsed bundle, "parse+verify" from the JSON bytes. The
// verifier (with its trusted root) is built once, as a long-lived verifier
// would be. Run: go test ./verify -run '^$' -bench VerifyVectors -benchmem
func BenchmarkVerifyVectors(b *testing.B) {
	dir := vectors.Require(b)
	cases, err := vectors.Cases(dir)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range cases {
		if c.ShouldFail {
			continue
		}
		rootRaw, _ := os.ReadFile(c.TrustedRoot)
		tr, err := trust.ParseTrustedRoot(rootRaw)
		if err != nil {
			b.Fatal(err)
		}
		raw, _ := os.ReadFile(c.Bundle)
		bun, err := bundle.Parse(raw)
		if err != nil {
			b.Fatal(err)
		}
		content, _ := os.ReadFile(c.Artifact)
		d := sha256.Sum256(content)
		art := Artifact{DigestAlgorithm: crypto.SHA256, Digest: d[:]}
		var pol Policy
		if c.Key != "" {
			k, err := readPEMKey(c.Key)
			if err != nil {
				b.Fatal(err)
			}
			pol.Key = k
		} else {
			pol.Identities = []Identity{{SubjectAlternativeName: Matcher{Exact: c.Identity}, Issuer: Matcher{Exact: c.Issuer}}}
		}
		v := New(tr, Options{})
		if _, err := v.Verify(bun, art, pol); err != nil {
			b.Fatalf("%s: %v", c.Name, err)
		}
		b.Run(c.Name+"/verify", func(b *testing.B) {
			b.ReportAllocs()
			defer cpuPerOp(b)()
			for b.Loop() {
				if _, err := v.Verify(bun, art, pol); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.Name+"/parse+verify", func(b *testing.B) {
			b.ReportAllocs()
			defer cpuPerOp(b)()
			for b.Loop() {
				bb, err := bundle.Parse(raw)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := v.Verify(bb, art, pol); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerifyP256 measures a bundle whose whole chain is P-256 (the
// private-deployment default): Rekor v1 with SET and proof, Rekor v2 with
// a TSA timestamp, and DSSE.
func BenchmarkVerifyP256(b *testing.B) {
	p, err := testpki.New(testpki.Options{})
	if err != nil {
		b.Fatal(err)
	}
	tr, err := p.TrustedRoot()
	if err != nil {
		b.Fatal(err)
	}
	content := bytes.Repeat([]byte("x"), 1024)
	for _, tc := range []struct {
		name string
		o    testpki.SignOptions
	}{{"rekor-v1", testpki.SignOptions{}}, {"rekor-v2+tsa", testpki.SignOptions{V2: true}}, {"dsse-rekor-v1", testpki.SignOptions{DSSE: true}}} {
		s, err := p.Sign(content, tc.o)
		if err != nil {
			b.Fatal(err)
		}
		raw, _ := s.Bundle.Marshal()
		v := New(tr, Options{})
		art := Artifact{Open: func() (ReadCloser, error) { return io.NopCloser(bytes.NewReader(content)), nil }}
		if _, err := v.Verify(s.Bundle, art, defaultPolicy()); err != nil {
			b.Fatal(err)
		}
		b.Run(tc.name+"/parse+verify", func(b *testing.B) {
			b.ReportAllocs()
			defer cpuPerOp(b)()
			for b.Loop() {
				bb, err := bundle.Parse(raw)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := v.Verify(bb, art, defaultPolicy()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// cpuPerOp reports the process CPU time (user + system) per operation as
// "cpu-ns/op", which, unlike wall time, does not grow when other processes
// share the machine. Use: defer cpuPerOp(b)().
func cpuPerOp(b *testing.B) func() {
	start := cpuTime()
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
		}
	}
}

func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
