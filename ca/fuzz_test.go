package ca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseRequest feeds arbitrary bodies to both API versions' request
// parsers and the key and CSR parsers behind them: they must not panic.
func FuzzParseRequest(f *testing.F) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(k.Public())
	pub := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	f.Add([]byte(`{"publicKeyRequest":{"publicKey":{"algorithm":"ECDSA","content":"` + strings.ReplaceAll(string(pub), "\n", `\n`) + `"},"proofOfPossession":"MEUCIQ=="}}`))
	f.Add([]byte(`{"certificateSigningRequest":"LS0tLS1CRUdJTiBDRVJUSUZJQ0FURSBSRVFVRVNULS0tLS0K"}`))
	f.Add([]byte(`{"publicKey":{"content":"AAAA","algorithm":"ecdsa"},"signedEmailAddress":"AAAA","certificateSigningRequest":null}`))
	f.Add([]byte(`{"credentials":{"oidc_identity_token":"a.b.c"},"public_key_request":{"public_key":{"content":""}}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest("POST", "/", nil)
		for _, parse := range []func([]byte, *http.Request) (*request, *apiError){parseV2, parseV1} {
			req, aerr := parse(body, r)
			if aerr != nil {
				if aerr.status != 400 {
					t.Fatalf("status %d", aerr.status)
				}
				continue
			}
			if pub, _, err := parsePublicKey(req.publicKey); err == nil {
				_ = validatePublicKey(pub)
				_ = verifyProof(pub, req.proof, "alice@example.com")
			}
			if csr, err := parseCSR(req.csr); err == nil {
				_ = csr.CheckSignature()
			}
		}
	})
}

// FuzzParseCSR feeds arbitrary PEM text to the CSR parser.
func FuzzParseCSR(f *testing.F) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, k)
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "NEW CERTIFICATE REQUEST", Bytes: der}))
	f.Add(der)
	f.Fuzz(func(t *testing.T, b []byte) {
		csr, err := parseCSR(b)
		if err != nil {
			return
		}
		if err := validatePublicKey(csr.PublicKey); err != nil {
			return
		}
		if csr.CheckSignature() == nil {
			_, _ = csrHash(csr.SignatureAlgorithm)
		}
	})
}

// FuzzParseDetachedSCT feeds arbitrary JSON to the detached SCT parser and
// checks that what parses marshals back to the same SCT.
func FuzzParseDetachedSCT(f *testing.F) {
	f.Add([]byte(`{"sct_version":0,"id":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","timestamp":1,"extensions":"","signature":"BAMAAA=="}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseDetachedSCT(b)
		if err != nil {
			return
		}
		again, err := MarshalDetachedSCT(s)
		if err != nil {
			t.Fatal(err)
		}
		s2, err := ParseDetachedSCT(again)
		if err != nil || s2.Timestamp != s.Timestamp || string(s2.Signature) != string(s.Signature) || s2.LogID != s.LogID {
			t.Fatalf("round trip: %v", err)
		}
	})
}

// FuzzJSONString checks the PEM fast path of jsonString against
// encoding/json.
func FuzzJSONString(f *testing.F) {
	f.Add("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----")
	f.Add("a\"b\\c<d>\x00é")
	f.Fuzz(func(t *testing.T, s string) {
		var back string
		if err := json.Unmarshal([]byte(jsonString(s)), &back); err != nil {
			t.Fatalf("%q: %v", jsonString(s), err)
		}
		if utf8.ValidString(s) && back != s {
			t.Fatalf("%q round-tripped to %q", s, back)
		}
	})
}
