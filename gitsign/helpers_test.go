package gitsign_test

import (
	"context"
	"testing"
	"time"

	"sigil.dev/sigil/gitsign"
	"sigil.dev/sigil/internal/fakesvc"
	"sigil.dev/sigil/sign"
	"sigil.dev/sigil/verify"
)

// commit is a commit as git hands it to the signing program.
const commit = "tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n" +
	"author Alice <alice@sigil.test> 1700000000 +0000\n" +
	"committer Alice <alice@sigil.test> 1700000000 +0000\n\nInitial commit\n"

const tag = "object 4b825dc642cb6eb9a060e54bf8d69288fbee4904\ntype commit\ntag v1.0\n" +
	"tagger Alice <alice@sigil.test> 1700000000 +0000\n\nRelease 1.0\n"

func token(email string) func(context.Context) (string, error) {
	return func(context.Context) (string, error) {
		return fakesvc.Token(map[string]any{"iss": fakesvc.Issuer, "aud": "sigstore", "sub": email, "email": email, "email_verified": true,
			"exp": time.Now().Add(time.Hour).Unix()}), nil
	}
}

// newSigner signs as email against f with a Rekor v1 log.
func newSigner(f *fakesvc.Services, email string, o func(*gitsign.Signer)) *gitsign.Signer {
	s := &gitsign.Signer{Signer: &sign.Signer{
		CA:          &sign.CAClient{URL: f.URL},
		Token:       token(email),
		Logs:        []sign.LogClient{&sign.RekorV1{BaseURL: f.URL}},
		TrustedRoot: f.TrustedRoot,
		Retry:       sign.Retry{Attempts: 2, Timeout: 10 * time.Second},
	}}
	if o != nil {
		o(s)
	}
	return s
}

func identity(t testing.TB, email string) []verify.Identity {
	t.Helper()
	san, err := verify.NewMatcher(email, "")
	if err != nil {
		t.Fatal(err)
	}
	return []verify.Identity{{SubjectAlternativeName: san, Issuer: verify.Matcher{Exact: fakesvc.Issuer}}}
}
