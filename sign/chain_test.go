package sign_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"sigil.dev/sigil/internal/fakesvc"
	"sigil.dev/sigil/internal/testpki"
	"sigil.dev/sigil/sign"
)

// A certificate obtained once signs many times without asking the CA again.
func TestCertificateReusedThroughChain(t *testing.T) {
	f := fakesvc.New(t)
	s := signer(f, nil)
	ctx := context.Background()
	key, chain, err := s.Certificate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(chain) < 2 || chain[0].EmailAddresses[0] != "alice@sigil.test" {
		t.Fatalf("chain %v", chain)
	}
	asked := f.Seen("/api/v2/signingCert")
	cached := *s
	cached.Key, cached.Chain = key, chain
	for i := 0; i < 3; i++ {
		res, err := cached.SignBlob(ctx, strings.NewReader("commit "+string(rune('a'+i))))
		if err != nil {
			t.Fatal(err)
		}
		if !res.Certificate.Equal(chain[0]) || res.Identity.SubjectAlternativeName != "alice@sigil.test" {
			t.Fatalf("signed with %v", res.Certificate.Subject)
		}
	}
	if got := f.Seen("/api/v2/signingCert"); got != asked {
		t.Fatalf("the CA was asked %d more times", got-asked)
	}
}

func TestChainRefused(t *testing.T) {
	f := fakesvc.New(t)
	s := signer(f, nil)
	ctx := context.Background()
	key, chain, err := s.Certificate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := sign.NewKey("")
	expired, err := f.PKI.Leaf(testpki.Identity{Email: "alice@sigil.test"}, key.Public(), testpki.LeafOptions{NotBefore: time.Now().Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		o    func(*sign.Signer)
		want string
	}{
		{"another key", func(s *sign.Signer) { s.Key, s.Chain = other, chain }, "does not certify the given key"},
		{"expired", func(s *sign.Signer) { s.Key, s.Chain = key, append(chain[:0:0], expired) }, "not now: get a new one"},
		{"chain without key", func(s *sign.Signer) { s.Key, s.Chain = nil, chain }, "without its key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := *s
			tc.o(&c)
			if _, err := c.SignBlob(ctx, strings.NewReader("x")); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
	s.CA = nil
	if _, _, err := s.Certificate(ctx); err == nil {
		t.Fatal("Certificate without a CA must fail")
	}
}

// Entries can be found again by certificate and digest, and fetched by ID
// (what gitsign's online mode relies on).
func TestRekorV1SearchAndEntry(t *testing.T) {
	f := fakesvc.New(t)
	s := signer(f, nil)
	ctx := context.Background()
	artifact := []byte("0123456789abcdef0123456789abcdef01234567")
	res, err := s.SignBlob(ctx, bytes.NewReader(artifact))
	if err != nil {
		t.Fatal(err)
	}
	// Another signature by someone else, which must not match.
	if _, err := s.SignBlob(ctx, strings.NewReader("other")); err != nil {
		t.Fatal(err)
	}
	log := &sign.RekorV1{BaseURL: f.URL}
	d := sha256.Sum256(artifact)
	certPEM := testpki.PEM(res.Certificate)
	for _, q := range []sign.SearchQuery{
		{PEM: certPEM, Hash: "sha256:" + hex.EncodeToString(d[:]), And: true},
		{Hash: "sha256:" + hex.EncodeToString(d[:])},
	} {
		ids, err := log.Search(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) != 1 {
			t.Fatalf("query %+v: %d results", q, len(ids))
		}
		e, err := log.Entry(ctx, ids[0])
		if err != nil {
			t.Fatal(err)
		}
		want := res.Bundle.TlogEntries[0]
		if e.LogIndex != want.LogIndex || !bytes.Equal(e.CanonicalizedBody, want.CanonicalizedBody) || e.IntegratedTime != want.IntegratedTime {
			t.Fatalf("entry %v, want %v", e, want)
		}
	}
	ids, err := log.Search(ctx, sign.SearchQuery{Hash: "sha256:" + strings.Repeat("00", 32)})
	if err != nil || len(ids) != 0 {
		t.Fatalf("search for nothing: %v %v", ids, err)
	}
	if _, err := log.Entry(ctx, strings.Repeat("ab", 32)); err == nil || !strings.Contains(err.Error(), "HTTP 404") {
		t.Fatalf("missing entry: %v", err)
	}
	if _, err := log.Entry(ctx, "../../x"); err == nil {
		t.Fatal("a malformed ID must be refused before any request")
	}
}

// A CA whose clock is ahead of the signer's issues a certificate valid
// from a time still to come by the signer's clock (sigil's CA and Fulcio
// date it from their own now, not earlier): it signs, as the
// log's time, not the signer's clock, is what it is checked against. It
// was refused with "not now: get a new one", and a new one was no better:
// git signing failed with a clock a second behind the CA's.
func TestChainFromCAClockAhead(t *testing.T) {
	f := fakesvc.New(t)
	f.Clock = func() time.Time { return time.Now().Add(5 * time.Minute) }
	s := signer(f, nil)
	ctx := context.Background()
	key, chain, err := s.Certificate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !chain[0].NotBefore.After(time.Now()) {
		t.Fatalf("the certificate is valid from %s, not later than now", chain[0].NotBefore)
	}
	cached := *s
	cached.Key, cached.Chain, cached.CA = key, chain, nil
	if _, err := cached.SignBlob(ctx, strings.NewReader("commit")); err != nil {
		t.Fatal(err)
	}
}
