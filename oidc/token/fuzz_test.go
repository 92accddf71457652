package token

import (
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

// FuzzParse feeds arbitrary tokens to the unverified claims decoder: it
// must not panic, and what it accepts has an issuer and round-trips through
// Check without a malformed error when fresh and for its audience.
func FuzzParse(f *testing.F) {
	f.Add(unsigned(`{"iss":"https://i","sub":"s","aud":"sigstore","exp":2000000000,"email":"a@b.c","email_verified":true}`))
	f.Add(unsigned(`{"iss":"https://i","aud":["a","sigstore"],"exp":1.5e9,"email_verified":"True"}`))
	f.Add(unsigned(`{"iss":"i","exp":-1}`))
	f.Add(unsigned(`{"iss":"i","aud":null,"iat":null}`))
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJFUzI1NiJ9..")
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := Parse(raw)
		if err != nil {
			return
		}
		if c.Issuer == "" {
			t.Fatalf("accepted %q without an issuer", raw)
		}
		if strings.Count(raw, ".") != 2 {
			t.Fatalf("accepted %q, which is not three parts", raw)
		}
		if !c.Expiry.IsZero() && len(c.Audience) > 0 {
			if _, err := Check(raw, c.Audience[0], c.Expiry.Add(-time.Second)); err != nil {
				t.Fatalf("Check of an accepted, fresh token for its own audience: %v", err)
			}
		}
		_, _ = c.ProofSubject()
	})
}

// FuzzParseCallback feeds arbitrary redirect queries to the callback
// parser: only our state yields a code or an issuer error.
func FuzzParseCallback(f *testing.F) {
	const state = "our-state"
	f.Add("code=abc&state=our-state")
	f.Add("error=access_denied&error_description=no&state=our-state")
	f.Add("code=abc&state=other")
	f.Add("state=our-state&state=x&code=")
	f.Add("%zz&code=1")
	f.Fuzz(func(t *testing.T, rawQuery string) {
		q, err := url.ParseQuery(rawQuery)
		if err != nil {
			return
		}
		code, err := parseCallback(q, state)
		if q.Get("state") != state {
			if err != errState {
				t.Fatalf("state %q: got %q, %v; want errState", q.Get("state"), code, err)
			}
			return
		}
		if (err == nil) != (code != "") {
			t.Fatalf("code %q with error %v", code, err)
		}
		if err != nil {
			if !utf8.ValidString(err.Error()) || strings.ContainsFunc(err.Error(), unicode.IsControl) {
				t.Fatalf("error message is not printable: %q", err)
			}
		}
	})
}
