package ca_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"sigil.dev/sigil/ca"
)

// TestBadInput is issue 4's list of hostile and broken requests: each gets
// the reference's status, gRPC code and message (sigstore/fulcio
// pkg/server/error.go), and nothing is issued or sent to the CT log.
func TestBadInput(t *testing.T) {
	e := newEnv(t, envOptions{policy: map[string][]string{"repository": {"sigil-test/.*"}}})

	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	good := func() []byte { return v2Body(key.Public(), prove(t, key, "alice@example.com"), "") }
	claims := func(mod func(map[string]any)) map[string]any {
		c := e.iss.Claims("user-1", "alice@example.com")
		c["repository"] = "sigil-test/repo"
		if mod != nil {
			mod(c)
		}
		return c
	}
	tok := func(mod func(map[string]any)) string { return e.token(claims(mod)) }
	otherRSA, _ := rsa.GenerateKey(rand.Reader, 2048)
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	// 2047 bits: 256 bytes, so a byte-rounded size check would pass it.
	rsa2047, _ := rsa.GenerateKey(rand.Reader, 2047)
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	csr := func(k crypto.Signer, alg x509.SignatureAlgorithm, typ string) []byte {
		der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{SignatureAlgorithm: alg}, k)
		if err != nil {
			t.Fatal(err)
		}
		if typ == "" {
			return der
		}
		return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
	}
	rsa2048, _ := rsa.GenerateKey(rand.Reader, 2048)
	badSigCSR := csr(key, x509.ECDSAWithSHA256, "")
	badSigCSR[len(badSigCSR)-3] ^= 0xff
	tampered := func() string {
		parts := strings.Split(tok(nil), ".")
		p, _ := base64.RawURLEncoding.DecodeString(parts[1])
		p = bytes.Replace(p, []byte("alice"), []byte("mallo"), 1)
		parts[1] = base64.RawURLEncoding.EncodeToString(p)
		return strings.Join(parts, ".")
	}
	mustSign := func(s string, err error) string {
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	const (
		tokenMsg = "There was an error processing the identity token"
		sigMsg   = "The signature supplied in the request could not be verified"
		keyMsg   = "The public key supplied in the request could not be parsed"
		weakMsg  = "The public key supplied in the request is insecure"
		csrMsg   = "The certificate signing request could not be parsed"
	)
	for _, tc := range []struct {
		name   string
		path   string // default /api/v2/signingCert
		token  string
		body   []byte
		status int
		code   int
		msg    string
	}{
		{name: "expired token", token: tok(func(c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() }), body: good(), status: 400, code: 3, msg: tokenMsg},
		{name: "future nbf", token: tok(func(c map[string]any) { c["nbf"] = time.Now().Add(time.Hour).Unix() }), body: good(), status: 400, code: 3, msg: tokenMsg},
		{name: "wrong audience", token: tok(func(c map[string]any) { c["aud"] = "not-sigstore" }), body: good(), status: 400, code: 3, msg: tokenMsg},
		{name: "unknown issuer", token: tok(func(c map[string]any) { c["iss"] = "https://accounts.evil.example" }), body: good(), status: 400, code: 3, msg: tokenMsg},
		{name: "unknown kid", token: mustSign(e.iss.SignWith(otherRSA, jose.RS256, "unknown-kid", claims(nil))), body: good(), status: 400, code: 3, msg: tokenMsg},
		{name: "alg none", token: e.iss.Unsigned(claims(nil)), body: good(), status: 400, code: 3, msg: tokenMsg},
		{name: "HS256 signed with the RSA public key", token: e.iss.HS256WithPublicKey(claims(nil)), body: good(), status: 400, code: 3, msg: tokenMsg},
		{name: "tampered payload", token: tampered(), body: good(), status: 400, code: 3, msg: tokenMsg},
		{name: "email_verified false", token: tok(func(c map[string]any) { c["email_verified"] = false }), body: good(), status: 400, code: 3, msg: tokenMsg},
		{name: "no token", body: good(), status: 400, code: 3, msg: tokenMsg},
		{name: "proof over the wrong subject", token: tok(nil), body: v2Body(key.Public(), prove(t, key, "mallory@example.com"), ""), status: 400, code: 3, msg: sigMsg},
		{name: "proof over the sub of an email identity", token: tok(nil), body: v2Body(key.Public(), prove(t, key, "user-1"), ""), status: 400, code: 3, msg: sigMsg},
		{name: "proof by another key", token: tok(nil), body: v2Body(key.Public(), prove(t, p384, "alice@example.com"), ""), status: 400, code: 3, msg: sigMsg},
		{name: "no proof", token: tok(nil), body: v2Body(key.Public(), nil, ""), status: 400, code: 3, msg: sigMsg},
		{name: "RSA-1024", token: tok(nil), body: v2Body(rsa1024.Public(), prove(t, rsa1024, "alice@example.com"), ""), status: 400, code: 3, msg: weakMsg},
		{name: "RSA-2047", token: tok(nil), body: v2Body(rsa2047.Public(), prove(t, rsa2047, "alice@example.com"), ""), status: 400, code: 3, msg: weakMsg},
		{name: "P-224", token: tok(nil), body: v2Body(p224.Public(), prove(t, p224, "alice@example.com"), ""), status: 400, code: 3, msg: weakMsg},
		{name: "no public key", token: tok(nil), body: []byte(`{"publicKeyRequest":{"proofOfPossession":"AAAA"}}`), status: 400, code: 3, msg: keyMsg},
		{name: "garbage public key", token: tok(nil), body: []byte(`{"publicKeyRequest":{"publicKey":{"content":"hello"},"proofOfPossession":"AAAA"}}`), status: 400, code: 3, msg: keyMsg},
		{name: "RSA-PSS CSR", token: tok(nil), body: csrBody(csr(rsa2048, x509.SHA256WithRSAPSS, "CERTIFICATE REQUEST")), status: 400, code: 3, msg: "unrecognized signature algorithm: SHA256-RSAPSS"},
		{name: "DER CSR", token: tok(nil), body: csrBody(csr(key, x509.ECDSAWithSHA256, "")), status: 400, code: 3, msg: csrMsg},
		{name: "CSR in a CERTIFICATE block", token: tok(nil), body: csrBody(csr(key, x509.ECDSAWithSHA256, "CERTIFICATE")), status: 400, code: 3, msg: csrMsg},
		{name: "CSR with a bad signature", token: tok(nil), body: csrBody(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: badSigCSR})), status: 400, code: 3, msg: sigMsg},
		{name: "P-384 CSR signed with SHA-256", token: tok(nil), body: csrBody(csr(p384, x509.ECDSAWithSHA256, "CERTIFICATE REQUEST")), status: 400, code: 3, msg: "signing algorithm not permitted: *ecdsa.PublicKey, SHA-256"},
		{name: "P-224 CSR", token: tok(nil), body: csrBody(csr(p224, x509.ECDSAWithSHA256, "CERTIFICATE REQUEST")), status: 400, code: 3, msg: weakMsg},
		{name: "both a public key and a CSR", token: tok(nil), body: func() []byte {
			b := bytes.TrimSuffix(good(), []byte("}"))
			return append(b, `,"certificateSigningRequest":"`+base64.StdEncoding.EncodeToString(csr(p384, x509.ECDSAWithSHA384, "CERTIFICATE REQUEST"))+`"}`...)
		}(), status: 400, code: 3, msg: "couldn't parse request body: give publicKeyRequest or certificateSigningRequest, not both"},
		{name: "oversized body", token: tok(nil), body: append(append([]byte(`{"x":"`), bytes.Repeat([]byte("a"), 4<<20)...), `"}`...), status: 400, code: 3, msg: "http: request body too large"},
		{name: "v1 oversized body", path: "/api/v1/signingCert", token: tok(nil), body: bytes.Repeat([]byte(" "), 4<<20+1), status: 400, code: 3, msg: "http: request body too large"},
		{name: "v1 without key or CSR", path: "/api/v1/signingCert", token: tok(nil), body: []byte(`{}`), status: 400, code: 3, msg: keyMsg},
		{name: "v1 expired token", path: "/api/v1/signingCert", token: tok(func(c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() }), body: v1Body(key.Public(), prove(t, key, "alice@example.com")), status: 400, code: 3, msg: tokenMsg},
		{name: "v1 proof over the wrong subject", path: "/api/v1/signingCert", token: tok(nil), body: v1Body(key.Public(), prove(t, key, "bob@example.com")), status: 400, code: 3, msg: sigMsg},
		{name: "refused by the claim policy", token: tok(func(c map[string]any) { c["repository"] = "evil/repo" }), body: good(), status: 403, code: 7, msg: "The identity token is not permitted by this CA's claim policy"},
		{name: "claim policy, claim absent", token: tok(func(c map[string]any) { delete(c, "repository") }), body: good(), status: 403, code: 7, msg: "The identity token is not permitted by this CA's claim policy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path
			if path == "" {
				path = "/api/v2/signingCert"
			}
			before := e.ct.submissions()
			r := e.post(path, tc.token, tc.body)
			code, msg := r.apiError()
			if r.status != tc.status || code != tc.code || msg != tc.msg {
				t.Fatalf("got %d {code %d, %q}, want %d {code %d, %q}", r.status, code, msg, tc.status, tc.code, tc.msg)
			}
			if r.header.Get("Content-Type") != "application/json" {
				t.Errorf("content type %q", r.header.Get("Content-Type"))
			}
			if e.ct.submissions() != before || bytes.Contains(r.body, []byte("CERTIFICATE")) {
				t.Fatal("something was issued or logged")
			}
		})
	}
	// After all that, a good request still succeeds.
	if r := e.post("/api/v2/signingCert", tok(nil), good()); r.status != http.StatusOK {
		t.Fatalf("good request: %d %s", r.status, r.body)
	}
}

// TestAnnouncedBodyNotPreallocated: the CA does not allocate a request's
// announced Content-Length before the body arrives. A client announcing
// 4 MiB and sending a few bytes cost the server 4 MiB of heap per
// connection until the read timed out (a thousand idle connections, 4 GB
// of heap to collect). Each such request must now cost little more than
// what was sent.
func TestAnnouncedBodyNotPreallocated(t *testing.T) {
	e := newEnv(t, envOptions{noCT: true})
	h := e.ca.Handler()
	const n = 8
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := 0; i < n; i++ {
		req := httptest.NewRequest(http.MethodPost, "/api/v2/signingCert", strings.NewReader(`{"publicKeyRequest":`))
		req.ContentLength = ca.MaxRequestSize
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusBadRequest {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / n; per > 256<<10 {
		t.Fatalf("%d bytes allocated per request announcing %d bytes and sending 20", per, ca.MaxRequestSize)
	}
}
