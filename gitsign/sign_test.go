package gitsign_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"sigil.dev/sigil/gitsign"
	"sigil.dev/sigil/internal/fakesvc"
	"sigil.dev/sigil/sign"
	"sigil.dev/sigil/verify"
)

func TestSignVerify(t *testing.T) {
	f := fakesvc.New(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		payload string
		o       func(*gitsign.Signer)
		online  bool
		stamps  int
	}{
		{"offline commit", commit, nil, false, 0},
		{"offline tag", tag, nil, false, 0},
		{"offline commit with a timestamp", commit, func(s *gitsign.Signer) {
			s.Signer.TSAs = []*sign.TSAClient{{URL: f.URL + "/api/v1/timestamp"}}
		}, false, 1},
		{"offline Rekor v2", commit, func(s *gitsign.Signer) {
			s.Signer.Logs = []sign.LogClient{&sign.RekorV2{BaseURL: f.URL}}
			s.Signer.TSAs = []*sign.TSAClient{{URL: f.URL + "/api/v1/timestamp"}}
		}, false, 1},
		{"online commit", commit, func(s *gitsign.Signer) { s.Mode = gitsign.Online }, true, 0},
		{"online tag", tag, func(s *gitsign.Signer) { s.Mode = gitsign.Online }, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSigner(f, "alice@sigil.test", tc.o)
			out, err := s.Sign(ctx, []byte(tc.payload))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(out.PEM, []byte("-----BEGIN SIGNED MESSAGE-----\n")) || out.Identity != "alice@sigil.test" || len(out.LogEntries) != 1 {
				t.Fatalf("signed %+v", out)
			}
			parsed, err := gitsign.Parse(out.PEM)
			if err != nil {
				t.Fatal(err)
			}
			if len(parsed.Certificates) != 1 || len(parsed.Timestamps) != tc.stamps || (len(parsed.LogEntries) == 1) == tc.online {
				t.Fatalf("%d certificates, %d timestamps, %d log entries", len(parsed.Certificates), len(parsed.Timestamps), len(parsed.LogEntries))
			}
			v := &gitsign.Verifier{TrustedRoot: f.TrustedRoot, Identities: identity(t, "alice@sigil.test")}
			if tc.online {
				v.Logs = []*sign.RekorV1{{BaseURL: f.URL}}
			}
			res, err := v.Verify(ctx, []byte(tc.payload), out.PEM)
			if err != nil {
				t.Fatal(err)
			}
			if !res.IdentityChecked || res.Identity != "alice@sigil.test" || res.Issuer != fakesvc.Issuer || res.Online != tc.online || res.Time.IsZero() {
				t.Fatalf("result %+v", res)
			}
			if tc.online && res.ObjectID != out.ObjectID {
				t.Fatalf("object %s, signed %s", res.ObjectID, out.ObjectID)
			}
		})
	}
}

// The cases the issue names: a rewritten commit, another identity, a
// missing log entry, and verification long after the certificate expired.
func TestVerifyFailures(t *testing.T) {
	f := fakesvc.New(t)
	ctx := context.Background()
	offline, err := newSigner(f, "alice@sigil.test", nil).Sign(ctx, []byte(commit))
	if err != nil {
		t.Fatal(err)
	}
	online, err := newSigner(f, "alice@sigil.test", func(s *gitsign.Signer) { s.Mode = gitsign.Online }).Sign(ctx, []byte(commit))
	if err != nil {
		t.Fatal(err)
	}
	stripped := stripLogEntry(t, offline.PEM)
	log := []*sign.RekorV1{{BaseURL: f.URL}}
	for _, tc := range []struct {
		name       string
		payload    string
		sig        []byte
		v          gitsign.Verifier
		is         error
		check      verify.Check
		wantInErr  string
		wantResult bool
	}{
		{"rewritten commit", strings.Replace(commit, "Initial", "Evil", 1), offline.PEM, gitsign.Verifier{}, gitsign.ErrContentMismatch, "", "changed after it was signed", true},
		{"rewritten commit online", strings.Replace(commit, "Initial", "Evil", 1), online.PEM, gitsign.Verifier{Logs: log}, gitsign.ErrContentMismatch, "", "changed after it was signed", true},
		{"another identity", commit, offline.PEM, gitsign.Verifier{Identities: identity(t, "bob@sigil.test")}, nil, verify.CheckIdentity, `got "alice@sigil.test", want "bob@sigil.test"`, true},
		{"another identity online", commit, online.PEM, gitsign.Verifier{Identities: identity(t, "bob@sigil.test"), Logs: log}, nil, verify.CheckIdentity, `got "alice@sigil.test"`, true},
		{"log entry stripped, no log to search", commit, stripped, gitsign.Verifier{}, gitsign.ErrNoLogEntry, "", "no log to search is configured", true},
		{"log entry stripped, log has none", commit, stripped, gitsign.Verifier{Logs: log}, gitsign.ErrNoLogEntry, "", "has none", true},
		{"online, no log to search", commit, online.PEM, gitsign.Verifier{}, gitsign.ErrNoLogEntry, "", "no log to search", true},
		{"not a signature", commit, []byte("-----BEGIN PGP SIGNATURE-----\nAAAA\n-----END PGP SIGNATURE-----\n"), gitsign.Verifier{}, gitsign.ErrMalformed, "", `want "SIGNED MESSAGE"`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := tc.v
			v.TrustedRoot = f.TrustedRoot
			res, err := v.Verify(ctx, []byte(tc.payload), tc.sig)
			if err == nil {
				t.Fatal("verified")
			}
			if tc.is != nil && !errors.Is(err, tc.is) || tc.check != "" && verify.CheckOf(err) != tc.check || !strings.Contains(err.Error(), tc.wantInErr) {
				t.Fatalf("error %v; want %v / %q / %q", err, tc.is, tc.check, tc.wantInErr)
			}
			if (res != nil && res.Certificate != nil) != tc.wantResult {
				t.Fatalf("partial result %+v", res)
			}
		})
	}

	// A log that cannot be reached is not said to have no entry: a CI
	// gate's user would read that the signature was never logged.
	down := []*sign.RekorV1{{BaseURL: "http://127.0.0.1:1"}}
	if _, err := (&gitsign.Verifier{TrustedRoot: f.TrustedRoot, Logs: down}).Verify(ctx, []byte(commit), online.PEM); !errors.Is(err, gitsign.ErrNoLogEntry) ||
		strings.Contains(err.Error(), "has no entry") || !strings.Contains(err.Error(), "couldn't reach the transparency log") {
		t.Fatalf("online, log unreachable: %v", err)
	}

	// The online entry is found by search: a log whose index lost it
	// cannot vouch for the signature.
	f.ForgetSearchIndex()
	if _, err := (&gitsign.Verifier{TrustedRoot: f.TrustedRoot, Logs: log}).Verify(ctx, []byte(commit), online.PEM); !errors.Is(err, gitsign.ErrNoLogEntry) {
		t.Fatalf("online entry not in the index: %v", err)
	}
}

// Verification uses the log's time: hours after the certificate expired,
// with no log reachable, the offline signature still verifies.
func TestVerifyAfterExpiry(t *testing.T) {
	f := fakesvc.New(t)
	ctx := context.Background()
	out, err := newSigner(f, "alice@sigil.test", nil).Sign(ctx, []byte(commit))
	if err != nil {
		t.Fatal(err)
	}
	later := out.Certificate.NotAfter.Add(3 * time.Hour)
	f.Close() // no log to ask
	v := &gitsign.Verifier{TrustedRoot: f.TrustedRoot, Identities: identity(t, "alice@sigil.test"), Options: verify.Options{Now: func() time.Time { return later }}}
	res, err := v.Verify(ctx, []byte(commit), out.PEM)
	if err != nil {
		t.Fatal(err)
	}
	if res.Time.After(out.Certificate.NotAfter) || res.Time.Before(out.Certificate.NotBefore) {
		t.Fatalf("verified at %s, outside the certificate's %s–%s", res.Time, out.Certificate.NotBefore, out.Certificate.NotAfter)
	}
}

func TestSignerRefuses(t *testing.T) {
	f := fakesvc.New(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		o    func(*gitsign.Signer)
		want string
	}{
		{"no log", func(s *gitsign.Signer) { s.Signer.Logs = nil }, "no transparency log"},
		{"online with a v2 log", func(s *gitsign.Signer) {
			s.Mode = gitsign.Online
			s.Signer.Logs = []sign.LogClient{&sign.RekorV2{BaseURL: f.URL}}
		}, "online mode needs a Rekor v1 log"},
		{"not P-256", func(s *gitsign.Signer) { s.Signer.KeyAlgorithm = sign.AlgEd25519 }, "ECDSA P-256"},
		{"CA down", func(s *gitsign.Signer) { s.Signer.CA.URL = "http://127.0.0.1:1" }, "couldn't reach the CA"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSigner(f, "alice@sigil.test", tc.o)
			if _, err := s.Sign(ctx, []byte(commit)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func TestSignerUsesCache(t *testing.T) {
	f := fakesvc.New(t)
	ctx := context.Background()
	now := time.Now()
	cache := &gitsign.Cache{Dir: t.TempDir() + "/git", Now: func() time.Time { return now }}
	s := newSigner(f, "alice@sigil.test", func(s *gitsign.Signer) {
		s.Cache, s.CacheKey = cache, f.URL
		s.Now = func() time.Time { return now }
	})
	var first *gitsign.Signed
	for i := 0; i < 3; i++ {
		out, err := s.Sign(ctx, []byte(commit+strings.Repeat("x", i)))
		if err != nil {
			t.Fatal(err)
		}
		if out.Cached != (i > 0) {
			t.Fatalf("signature %d: cached=%v", i, out.Cached)
		}
		if first == nil {
			first = out
		} else if !out.Certificate.Equal(first.Certificate) {
			t.Fatal("a new certificate although one was cached")
		}
	}
	if n := f.Seen("/api/v2/signingCert"); n != 1 {
		t.Fatalf("the CA was asked %d times", n)
	}
	// Past the certificate's validity (less the margin) the cache is not
	// used: a new certificate is fetched.
	now = first.Certificate.NotAfter.Add(-30 * time.Second)
	out, err := s.Sign(ctx, []byte(commit))
	if err != nil {
		t.Fatal(err)
	}
	if out.Cached || out.Certificate.Equal(first.Certificate) || f.Seen("/api/v2/signingCert") != 2 {
		t.Fatal("an expiring certificate was reused")
	}
}

// stripLogEntry removes the embedded log entry from a signature: the
// unsigned attributes are not signed, so the signature still verifies
// cryptographically, but nothing proves when it was made.
func stripLogEntry(t *testing.T, p []byte) []byte {
	t.Helper()
	s, err := gitsign.Parse(p)
	if err != nil {
		t.Fatal(err)
	}
	s.LogEntries = nil
	out, err := s.MarshalPEM()
	if err != nil {
		t.Fatal(err)
	}
	return out
}
