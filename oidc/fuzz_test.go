package oidc_test

import (
	"context"
	"errors"
	"testing"

	"sigil.dev/sigil/oidc"
	"sigil.dev/sigil/oidc/oidctest"
)

// FuzzVerify feeds arbitrary tokens to a verifier whose issuer is a local
// test issuer: nothing may panic, and nothing but a genuine token of that
// issuer may verify.
func FuzzVerify(f *testing.F) {
	iss, err := oidctest.New(oidctest.Options{})
	if err != nil {
		f.Fatal(err)
	}
	defer iss.Close()
	v, err := oidc.NewVerifier(&oidc.Config{OIDCIssuers: map[string]oidc.Issuer{iss.URL: {Type: oidc.TypeEmail}}}, oidc.Options{})
	if err != nil {
		f.Fatal(err)
	}
	good, _ := iss.Token(iss.Claims("u", "a@example.com"))
	f.Add(good)
	f.Add(iss.Unsigned(iss.Claims("u", "a@example.com")))
	f.Add(iss.HS256WithPublicKey(iss.Claims("u", "a@example.com")))
	f.Add("a.b.c")
	f.Add("..")
	f.Fuzz(func(t *testing.T, tok string) {
		p, err := v.Verify(context.Background(), tok)
		if err == nil {
			if tok != good || p.SAN != "a@example.com" {
				t.Fatalf("accepted %q as %+v", tok, p)
			}
			return
		}
		for _, s := range []error{oidc.ErrInvalidToken, oidc.ErrUnknownIssuer, oidc.ErrIdentity, oidc.ErrPolicy, oidc.ErrIssuerUnavailable} {
			if errors.Is(err, s) {
				return
			}
		}
		t.Fatalf("error without a sentinel: %v", err)
	})
}

// FuzzParseConfig feeds arbitrary files to the configuration parser.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte("oidc-issuers:\n  https://accounts.example.com:\n    type: email\n"))
	f.Add([]byte(`{"OIDCIssuers":{"http://fakeoidc:8080":{"IssuerURL":"http://fakeoidc:8080","ClientID":"sigstore","Type":"email"}}}`))
	f.Add([]byte("meta-issuers:\n  https://oidc.*.example.com/id/*:\n    type: kubernetes\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg, err := oidc.ParseConfig(b)
		if err != nil {
			if !errors.Is(err, oidc.ErrConfig) {
				t.Fatalf("error without ErrConfig: %v", err)
			}
			return
		}
		if _, err := oidc.NewVerifier(cfg, oidc.Options{}); err != nil {
			t.Fatalf("validated configuration refused by NewVerifier: %v", err)
		}
		_ = cfg.Issuers()
	})
}
