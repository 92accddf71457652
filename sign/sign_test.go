package sign_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"sigil.dev/sigil/bundle"
	"sigil.dev/sigil/internal/fakesvc"
	"sigil.dev/sigil/sign"
	"sigil.dev/sigil/trust"
	"sigil.dev/sigil/verify"
)

func signer(f *fakesvc.Services, o func(*sign.Signer)) *sign.Signer {
	s := &sign.Signer{
		CA: &sign.CAClient{URL: f.URL},
		Token: func(context.Context) (string, error) {
			return fakesvc.Token(map[string]any{"sub": "alice", "email": "alice@sigil.test", "email_verified": true}), nil
		},
		Logs:        []sign.LogClient{&sign.RekorV1{BaseURL: f.URL}},
		TrustedRoot: f.TrustedRoot,
		Retry:       sign.Retry{Attempts: 3, Timeout: 10 * time.Second},
	}
	if o != nil {
		o(s)
	}
	return s
}

func TestSignBlobShapes(t *testing.T) {
	f := fakesvc.New(t)
	artifact := []byte("release contents\n")
	for _, tc := range []struct {
		name string
		o    func(*sign.Signer)
	}{
		{"rekor v1", nil},
		{"rekor v1 + tsa", func(s *sign.Signer) { s.TSAs = []*sign.TSAClient{{URL: f.URL + "/api/v1/timestamp"}} }},
		{"rekor v2 + tsa", func(s *sign.Signer) {
			s.Logs = []sign.LogClient{&sign.RekorV2{BaseURL: f.URL}}
			s.TSAs = []*sign.TSAClient{{URL: f.URL + "/api/v1/timestamp"}}
		}},
		{"p384 rekor v2", func(s *sign.Signer) {
			s.KeyAlgorithm = sign.AlgECDSAP384
			s.Logs = []sign.LogClient{&sign.RekorV2{BaseURL: f.URL}}
			s.TSAs = []*sign.TSAClient{{URL: f.URL + "/api/v1/timestamp"}}
		}},
		{"ed25519 rekor v1", func(s *sign.Signer) { s.KeyAlgorithm = sign.AlgEd25519 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := signer(f, tc.o)
			res, err := s.SignBlob(context.Background(), bytes.NewReader(artifact))
			if err != nil {
				t.Fatal(err)
			}
			if res.Identity.SubjectAlternativeName != "alice@sigil.test" {
				t.Fatalf("identity %+v", res.Identity)
			}
			// The bundle must verify from its JSON, like any reader gets it.
			raw, _ := res.Bundle.Marshal()
			if !bytes.Contains(raw, []byte(`"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"`)) {
				t.Fatalf("not a v0.3 bundle: %s", raw[:80])
			}
		})
	}
}

func TestSignDSSE(t *testing.T) {
	f := fakesvc.New(t)
	st := []byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a","digest":{"sha256":"` + strings.Repeat("ab", 32) + `"}}],"predicateType":"https://slsa.dev/provenance/v1","predicate":{}}`)
	for _, v2 := range []bool{false, true} {
		s := signer(f, func(s *sign.Signer) {
			if v2 {
				s.Logs = []sign.LogClient{&sign.RekorV2{BaseURL: f.URL}}
				s.TSAs = []*sign.TSAClient{{URL: f.URL + "/api/v1/timestamp"}}
			}
		})
		res, err := s.SignDSSE(context.Background(), "application/vnd.in-toto+json", st)
		if err != nil {
			t.Fatalf("v2=%v: %v", v2, err)
		}
		if res.Verified.Statement == nil || res.Verified.Statement.PredicateType != "https://slsa.dev/provenance/v1" {
			t.Fatalf("statement %+v", res.Verified.Statement)
		}
	}
}

func TestKeySigned(t *testing.T) {
	f := fakesvc.New(t)
	k, _ := sign.NewKey("")
	s := &sign.Signer{Key: k, Logs: []sign.LogClient{&sign.RekorV1{BaseURL: f.URL}}, TrustedRoot: f.TrustedRoot}
	res, err := s.SignBlob(context.Background(), strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Bundle.PublicKey == nil || res.Certificate != nil {
		t.Fatal("want a key-signed bundle")
	}
	if _, err := verify.New(f.TrustedRoot, verify.Options{}).Verify(res.Bundle, verify.Artifact{Open: func() (verify.ReadCloser, error) { return io.NopCloser(strings.NewReader("x")), nil }}, verify.Policy{Key: k.Public()}); err != nil {
		t.Fatal(err)
	}
	// Without any log, the key-signed bundle still verifies at the current time.
	s.Logs = nil
	if _, err := s.SignBlob(context.Background(), strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
}

func TestRetriesAndErrors(t *testing.T) {
	f := fakesvc.New(t)
	f.FailNext("/api/v1/log/entries", 2)
	s := signer(f, nil)
	if _, err := s.SignBlob(context.Background(), strings.NewReader("x")); err != nil {
		t.Fatalf("transient failures should be retried: %v", err)
	}
	f.FailNext("/api/v1/log/entries", 10)
	_, err := s.SignBlob(context.Background(), strings.NewReader("x"))
	var se *sign.ServiceError
	if !errors.As(err, &se) || se.Status != 503 || !strings.Contains(err.Error(), "gave up after 3 attempts") || !strings.Contains(err.Error(), "--timeout") {
		t.Fatalf("persistent failure: %v", err)
	}
	// A caller without a --timeout flag (git) says what to do instead.
	s.Retry.MoreTime = "sign again once it is"
	f.FailNext("/api/v1/log/entries", 10)
	if _, err := s.SignBlob(context.Background(), strings.NewReader("x")); err == nil || strings.Contains(err.Error(), "--timeout") || !strings.Contains(err.Error(), "reachable, or sign again once it is)") {
		t.Fatalf("persistent failure, no --timeout: %v", err)
	}
	s.Retry.MoreTime = ""
	f.FailNext("/api/v1/log/entries", 0)
	// Token problems are explained before anything is sent.
	s.Token = func(context.Context) (string, error) {
		return fakesvc.Token(map[string]any{"sub": "bob", "email": "bob@x", "email_verified": false}), nil
	}
	if _, err := s.SignBlob(context.Background(), strings.NewReader("x")); err == nil || !strings.Contains(err.Error(), "not verified") {
		t.Fatalf("unverified email: %v", err)
	}
	s.Token = func(context.Context) (string, error) {
		return fakesvc.Token(map[string]any{"sub": "bob", "exp": time.Now().Add(-time.Minute).Unix()}), nil
	}
	if _, err := s.SignBlob(context.Background(), strings.NewReader("x")); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired token: %v", err)
	}
	// A v2 log without a TSA is refused before anything is sent.
	s2 := signer(f, func(s *sign.Signer) { s.Logs = []sign.LogClient{&sign.RekorV2{BaseURL: f.URL}} })
	if _, err := s2.SignBlob(context.Background(), strings.NewReader("x")); err == nil || !strings.Contains(err.Error(), "timestamp authority is required") {
		t.Fatalf("v2 without TSA: %v", err)
	}
	// A CA that is down: clear error naming it.
	s3 := signer(f, func(s *sign.Signer) {
		s.CA = &sign.CAClient{URL: "http://127.0.0.1:1"}
		s.Retry = sign.Retry{Attempts: 2, Timeout: 2 * time.Second}
	})
	if _, err := s3.SignBlob(context.Background(), strings.NewReader("x")); err == nil || !strings.Contains(err.Error(), "couldn't reach the CA") {
		t.Fatalf("CA down: %v", err)
	}
}

func FuzzTokenSubject(f *testing.F) {
	f.Add("a.eyJzdWIiOiJ4In0.c")
	f.Fuzz(func(t *testing.T, s string) { _, _ = sign.TokenSubject(s) })
}

// TestLoadTrustedRoot: without TrustedRoot, signing loads the trusted root
// with LoadTrustedRoot (in the background) and still hands out only a
// bundle that verifies against it; a failing or wrong trusted root fails
// the signing.
func TestLoadTrustedRoot(t *testing.T) {
	f := fakesvc.New(t)
	other := fakesvc.New(t)
	boom := errors.New("couldn't load trusted root: boom")
	for _, tc := range []struct {
		name    string
		load    func() (*trust.TrustedRoot, error)
		wantErr string
	}{
		{"loaded", func() (*trust.TrustedRoot, error) { return f.TrustedRoot, nil }, ""},
		{"load fails", func() (*trust.TrustedRoot, error) { return nil, boom }, "boom"},
		{"another instance's root", func() (*trust.TrustedRoot, error) { return other.TrustedRoot, nil }, "does not verify against the trusted root"},
		{"none", nil, "no trusted root"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := signer(f, func(s *sign.Signer) {
				s.TrustedRoot = nil
				s.LoadTrustedRoot = tc.load
				s.TSAs = []*sign.TSAClient{{URL: f.URL + "/api/v1/timestamp"}}
			})
			for _, do := range []func() (*sign.Result, error){
				func() (*sign.Result, error) { return s.SignBlob(context.Background(), strings.NewReader("x")) },
				func() (*sign.Result, error) {
					return s.SignDSSE(context.Background(), "text/plain", []byte("x"))
				},
			} {
				res, err := do()
				if tc.wantErr != "" {
					if err == nil || !strings.Contains(err.Error(), tc.wantErr) || res != nil {
						t.Fatalf("got %v, %v; want an error containing %q", res, err, tc.wantErr)
					}
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				if res.Verified == nil {
					t.Fatal("no verification result")
				}
			}
		})
	}
}

// TestResultJSON: the JSON a signing returns is the bundle's encoding, and
// it verifies as read back.
func TestResultJSON(t *testing.T) {
	f := fakesvc.New(t)
	s := signer(f, nil)
	res, err := s.SignBlob(context.Background(), strings.NewReader("artifact"))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := res.Bundle.Marshal()
	if !bytes.Equal(res.JSON, want) {
		t.Fatalf("Result.JSON differs from Bundle.Marshal:\n%s\n%s", res.JSON, want)
	}
	b, err := bundle.Parse(res.JSON)
	if err != nil {
		t.Fatal(err)
	}
	art := verify.Artifact{Open: func() (verify.ReadCloser, error) { return io.NopCloser(strings.NewReader("artifact")), nil }}
	pol := verify.Policy{Identities: []verify.Identity{{SubjectAlternativeName: verify.Matcher{Exact: "alice@sigil.test"}, Issuer: verify.Matcher{Exact: res.Identity.Issuer}}}}
	if _, err := verify.New(f.TrustedRoot, verify.Options{}).Verify(b, art, pol); err != nil {
		t.Fatal(err)
	}
}

// TestV2DuplicateWithoutIndex: rekor-tiles answers a duplicate with 409 and
// no index; the error says what happened and what to do.
func TestV2DuplicateWithoutIndex(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusConflict)
		io.WriteString(w, `{"code":6,"message":"an equivalent entry already exists in the transparency log","details":[]}`)
	}))
	defer srv.Close()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, err := (&sign.RekorV2{BaseURL: srv.URL}).Upload(context.Background(), &sign.Entry{Key: key.Public(), PublicKey: []byte{1}, Signature: []byte{2}, DigestAlgorithm: crypto.SHA256, Digest: make([]byte, 32)})
	var dup *sign.DuplicateError
	if !errors.As(err, &dup) || dup.Index != -1 || !strings.Contains(err.Error(), "use the bundle made then") {
		t.Fatalf("%v", err)
	}
}

// TestCAErrorHints: a CA refusal says what to do.
func TestCAErrorHints(t *testing.T) {
	for _, tc := range []struct {
		err  sign.CAError
		hint string
	}{
		{sign.CAError{Status: 400, Message: "There was an error processing the identity token"}, `audience is "sigstore"`},
		{sign.CAError{Status: 400, Message: "The public key supplied in the request is insecure"}, "RSA of 2048"},
		{sign.CAError{Status: 403, Message: "identity not allowed"}, "ask its operator"},
		// sigil's CA refusing a token by its issuer's claim policy: a new
		// token would not help.
		{sign.CAError{Status: 403, Message: "The identity token is not permitted by this CA's claim policy"}, "ask its operator"},
		{sign.CAError{Status: 500, Message: "internal"}, "try again later"},
	} {
		if got := tc.err.Error(); !strings.Contains(got, tc.err.Message) || !strings.Contains(got, tc.hint) || (tc.err.Status == 403 && strings.Contains(got, "get a new token")) {
			t.Errorf("%d %s: %s", tc.err.Status, tc.err.Message, got)
		}
	}
}

// TestTokenSubjectFractionalExp: exp is a NumericDate, which may have a
// fraction (RFC 7519 §2); such a token passes the token checks and the CA,
// so the proof of possession must not refuse it.
func TestTokenSubjectFractionalExp(t *testing.T) {
	live := float64(time.Now().Add(5*time.Minute).Unix()) + 0.25
	if sub, err := sign.TokenSubject(fakesvc.Token(map[string]any{"sub": "bob", "exp": live})); err != nil || sub != "bob" {
		t.Fatalf("fractional exp: %q, %v", sub, err)
	}
	dead := float64(time.Now().Add(-5*time.Minute).Unix()) + 0.25
	if _, err := sign.TokenSubject(fakesvc.Token(map[string]any{"sub": "bob", "exp": dead})); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired fractional exp: %v", err)
	}
}
