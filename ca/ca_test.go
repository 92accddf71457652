package ca_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"

	"sigil.dev/sigil/bundle"
	"sigil.dev/sigil/ca"
	"sigil.dev/sigil/cert"
	"sigil.dev/sigil/internal/testpki"
	"sigil.dev/sigil/oidc"
	"sigil.dev/sigil/rekor"
	"sigil.dev/sigil/sct"
	"sigil.dev/sigil/trust"
	"sigil.dev/sigil/verify"
)

// TestIssueV2KeyTypes issues through the v2 API for every accepted key type,
// PEM and DER, with the token in the body or the header and any algorithm
// string, and checks the profile of each certificate.
func TestIssueV2KeyTypes(t *testing.T) {
	e := newEnv(t, envOptions{})
	gen := map[string]func() crypto.Signer{
		"P-256":    func() crypto.Signer { k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader); return k },
		"P-384":    func() crypto.Signer { k, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader); return k },
		"P-521":    func() crypto.Signer { k, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader); return k },
		"RSA-2048": func() crypto.Signer { k, _ := rsa.GenerateKey(rand.Reader, 2048); return k },
		"RSA-3072": func() crypto.Signer { k, _ := rsa.GenerateKey(rand.Reader, 3072); return k },
		"Ed25519":  func() crypto.Signer { _, k, _ := ed25519.GenerateKey(rand.Reader); return k },
	}
	for name, g := range gen {
		for _, form := range []string{"PEM body token", "header token, odd algorithm, URL-safe proof"} {
			t.Run(name+" "+form, func(t *testing.T) {
				key := g()
				proof := prove(t, key, "alice@example.com")
				var r *response
				if form == "PEM body token" {
					r = e.post("/api/v2/signingCert", "", v2Body(key.Public(), proof, e.emailToken()))
				} else {
					// DER cannot travel in a JSON string (v2 content is a
					// string); the v1 test sends DER bytes.
					body, _ := json.Marshal(map[string]any{"publicKeyRequest": map[string]any{
						"publicKey":         map[string]any{"algorithm": "RSA", "content": string(testpki.PublicKeyPEM(key.Public()))},
						"proofOfPossession": base64.RawURLEncoding.EncodeToString(proof),
					}})
					r = e.post("/api/v2/signingCert", e.emailToken(), body)
				}
				if ct := r.header.Get("Content-Type"); r.status == 200 && ct != "application/json" {
					t.Errorf("content type %q", ct)
				}
				chain, embedded, _ := chainOf(t, r)
				if !embedded || len(chain) != 3 {
					t.Fatalf("embedded %v, chain of %d", embedded, len(chain))
				}
				checkProfile(t, e, chain[0], key.Public())
				if !chain[1].Equal(e.pki.Intermediate) || !chain[2].Equal(e.pki.Root) {
					t.Error("chain is not intermediate, root")
				}
			})
		}
	}
}

// checkProfile checks the Fulcio leaf profile and the embedded SCT.
func checkProfile(t *testing.T, e *env, leaf *x509.Certificate, pub crypto.PublicKey) {
	t.Helper()
	if d := leaf.NotAfter.Sub(leaf.NotBefore); d != 10*time.Minute {
		t.Errorf("lifetime %s", d)
	}
	if time.Since(leaf.NotBefore) > time.Minute || time.Until(leaf.NotBefore) > time.Second {
		t.Errorf("notBefore %s is not now", leaf.NotBefore)
	}
	if len(leaf.Subject.Names) != 0 || len(leaf.RawSubject) != 2 {
		t.Errorf("subject %q is not empty", leaf.Subject)
	}
	if leaf.KeyUsage != x509.KeyUsageDigitalSignature || len(leaf.ExtKeyUsage) != 1 || leaf.ExtKeyUsage[0] != x509.ExtKeyUsageCodeSigning {
		t.Errorf("key usage %v, ext key usage %v", leaf.KeyUsage, leaf.ExtKeyUsage)
	}
	if leaf.IsCA || leaf.BasicConstraintsValid || len(leaf.SubjectKeyId) != 0 {
		t.Errorf("CA %v, basic constraints %v, SKID %x", leaf.IsCA, leaf.BasicConstraintsValid, leaf.SubjectKeyId)
	}
	if !bytes.Equal(leaf.AuthorityKeyId, e.pki.Intermediate.SubjectKeyId) {
		t.Errorf("AKID %x", leaf.AuthorityKeyId)
	}
	if leaf.SerialNumber.Sign() <= 0 || leaf.SerialNumber.BitLen() > 159 {
		t.Errorf("serial %x", leaf.SerialNumber)
	}
	if err := leaf.CheckSignatureFrom(e.pki.Intermediate); err != nil {
		t.Error(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(pub)
	if !bytes.Equal(leaf.RawSubjectPublicKeyInfo, der) {
		t.Error("certified key differs")
	}
	critical := map[string]bool{}
	for _, x := range leaf.Extensions {
		critical[x.Id.String()] = x.Critical
	}
	if !critical[cert.OIDSAN.String()] || !critical["2.5.29.15"] {
		t.Errorf("SAN or key usage not critical: %v", critical)
	}
	if leaf.Extensions[len(leaf.Extensions)-1].Id.Equal(cert.OIDSCTList) {
		scts, err := sct.Embedded(leaf)
		if err != nil || len(scts) != 1 {
			t.Fatalf("SCTs %v: %v", scts, err)
		}
		if err := scts[0].Verify(e.ct.key.Public(), leaf, e.pki.Intermediate.RawSubjectPublicKeyInfo); err != nil {
			t.Errorf("embedded SCT: %v", err)
		}
		if scts[0].LogID != e.ct.id {
			t.Error("SCT log ID")
		}
	}
}

// TestPrecertificateMatchesFinal checks RFC 6962 §3.1: the precertificate
// the CA submitted, minus the poison, has the final certificate's TBS minus
// the SCT list; the poison is critical NULL, the SCT list last.
func TestPrecertificateMatchesFinal(t *testing.T) {
	e := newEnv(t, envOptions{ctKey: true})
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	chain, _, _ := chainOf(t, e.post("/api/v2/signingCert", e.emailToken(), v2Body(key.Public(), prove(t, key, "alice@example.com"), "")))
	if len(e.ct.preChains) != 1 || len(e.ct.chains) != 0 {
		t.Fatalf("submissions: %d precert, %d cert", len(e.ct.preChains), len(e.ct.chains))
	}
	sub := e.ct.preChains[0]
	if len(sub) != 3 || !bytes.Equal(sub[1], e.pki.Intermediate.Raw) || !bytes.Equal(sub[2], e.pki.Root.Raw) {
		t.Fatal("precert chain is not precert, intermediate, root")
	}
	pre, err := x509.ParseCertificate(sub[0])
	if err != nil {
		t.Fatal(err)
	}
	last := pre.Extensions[len(pre.Extensions)-1]
	if !last.Id.Equal(cert.OIDPrecertPoison) || !last.Critical || !bytes.Equal(last.Value, []byte{5, 0}) {
		t.Fatalf("poison extension %+v", last)
	}
	if err := pre.CheckSignatureFrom(e.pki.Intermediate); err != nil {
		t.Fatal("precertificate not signed by the CA key:", err)
	}
	a, err := sct.RemoveExtension(pre.RawTBSCertificate, cert.OIDPrecertPoison)
	if err != nil {
		t.Fatal(err)
	}
	b, err := sct.RemoveExtension(chain[0].RawTBSCertificate, cert.OIDSCTList)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatal("TBS(precert) - poison != TBS(final) - SCT list")
	}
	if !chain[0].Extensions[len(chain[0].Extensions)-1].Id.Equal(cert.OIDSCTList) || chain[0].Extensions[len(chain[0].Extensions)-1].Critical {
		t.Fatal("SCT list is not the last, non-critical extension")
	}
}

// TestMatchesCreateCertificate checks that the hand-made encoding is the one
// x509.CreateCertificate writes for the same template, for each SAN kind,
// with and without the poison, for P-256, P-384 and Ed25519 CA keys.
func TestMatchesCreateCertificate(t *testing.T) {
	for _, curve := range []elliptic.Curve{elliptic.P256(), elliptic.P384()} {
		e := newEnv(t, envOptions{noCT: true, curve: curve})
		for _, id := range []struct {
			name string
			p    oidc.Principal
		}{
			{"email", oidc.Principal{SANType: oidc.SANEmail, SAN: "alice@example.com", Extensions: cert.Extensions{Issuer: "https://issuer.example", TokenSubject: "123"}}},
			{"uri", oidc.Principal{SANType: oidc.SANURI, SAN: "https://github.com/o/r/.github/workflows/x.yml@refs/heads/main", Extensions: testpki.DefaultIdentity.Extensions}},
			{"username", oidc.Principal{SANType: oidc.SANUsername, SAN: "alice!example.com", Extensions: cert.Extensions{Issuer: "https://issuer.example", TokenSubject: "alice"}}},
		} {
			t.Run(curve.Params().Name+" "+id.name, func(t *testing.T) {
				key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
				got, err := ca.ExportedBuildTBS(e.ca, &id.p, key.Public(), time.Now(), false)
				if err != nil {
					t.Fatal(err)
				}
				gotTBS, serial, notBefore := got.TBS, got.Serial, got.NotBefore
				exts, _ := cert.Render(id.p.Extensions)
				tmpl := &x509.Certificate{
					SerialNumber: serial, NotBefore: notBefore, NotAfter: notBefore.Add(10 * time.Minute),
					KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
				}
				switch id.p.SANType {
				case oidc.SANEmail:
					tmpl.EmailAddresses = []string{id.p.SAN}
				case oidc.SANURI:
					u, _ := urlParse(id.p.SAN)
					tmpl.URIs = append(tmpl.URIs, u)
				case oidc.SANUsername:
					v, _ := cert.MarshalOtherNameSAN(id.p.SAN)
					exts = append([]pkix.Extension{{Id: cert.OIDSAN, Critical: true, Value: v}}, exts...)
				}
				tmpl.ExtraExtensions = exts
				der, err := x509.CreateCertificate(rand.Reader, tmpl, e.pki.Intermediate, key.Public(), e.pki.IntermediateKey)
				if err != nil {
					t.Fatal(err)
				}
				want, _ := x509.ParseCertificate(der)
				if !bytes.Equal(gotTBS, want.RawTBSCertificate) {
					t.Fatalf("TBS differs from x509.CreateCertificate's\n got %x\nwant %x", gotTBS, want.RawTBSCertificate)
				}
				pre, _ := ca.ExportedBuildTBS(e.ca, &id.p, key.Public(), notBefore, true)
				tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, pkix.Extension{Id: cert.OIDPrecertPoison, Critical: true, Value: []byte{5, 0}})
				tmpl.SerialNumber = pre.Serial
				der, _ = x509.CreateCertificate(rand.Reader, tmpl, e.pki.Intermediate, key.Public(), e.pki.IntermediateKey)
				want, _ = x509.ParseCertificate(der)
				if !bytes.Equal(pre.TBS, want.RawTBSCertificate) {
					t.Fatal("precertificate TBS differs from x509.CreateCertificate's")
				}
			})
		}
	}
}

// TestVerifiesWithVerifier signs an artifact with a certified key, logs it
// in a test Rekor v1 log and verifies the bundle with package verify against
// a trusted root built from the CA's TrustedCA and the CT key: chain, SCT,
// identity and signature as a real verifier checks them.
func TestVerifiesWithVerifier(t *testing.T) {
	for _, detached := range []bool{false, true} {
		t.Run(fmt.Sprintf("detached=%v", detached), func(t *testing.T) {
			e := newEnv(t, envOptions{detached: detached, ctKey: true})
			key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			chain, embedded, det := chainOf(t, e.post("/api/v2/signingCert", e.emailToken(), v2Body(key.Public(), prove(t, key, "alice@example.com"), "")))
			if embedded == detached {
				t.Fatalf("embedded %v", embedded)
			}
			root := trustedRoot(t, e)
			opts := verify.Options{}
			if detached {
				// The verifier checks embedded SCTs only; check the detached
				// one against the CT key here.
				s, err := ca.ParseDetachedSCT(det)
				if err != nil {
					t.Fatal(err)
				}
				if err := ca.VerifyDetachedSCT(s, e.ct.key.Public(), chain[0].Raw); err != nil {
					t.Fatal(err)
				}
				opts.SCTThreshold = verify.Off
			}
			b := signAndLog(t, e, key, chain[0], []byte("hello"))
			res, err := verify.New(root, opts).Verify(b, verify.Artifact{Open: openBytes([]byte("hello"))}, verify.Policy{Identities: []verify.Identity{{
				SubjectAlternativeName: verify.Matcher{Exact: "alice@example.com"},
				Issuer:                 verify.Matcher{Exact: e.iss.URL},
			}}})
			if err != nil {
				t.Fatal(err)
			}
			if res.VerifiedIdentity == nil {
				t.Fatal("no verified identity")
			}
		})
	}
}

func trustedRoot(t *testing.T, e *env) *trust.TrustedRoot {
	t.Helper()
	w := trust.Window{Start: e.pki.Start}
	tr := &trust.TrustedRoot{MediaType: trust.TrustedRootMediaTypeLegacy, TLogs: map[string]*trust.Log{}, CTLogs: map[string]*trust.Log{}}
	tl, err := trust.NewLog(e.pki.RekorV1.BaseURL, e.pki.RekorV1.Key.Public(), e.pki.RekorV1.ID, w)
	if err != nil {
		t.Fatal(err)
	}
	tr.TLogs[tl.HexID()] = tl
	ct, err := trust.NewLog("https://ct.sigil.test", e.ct.key.Public(), nil, w)
	if err != nil {
		t.Fatal(err)
	}
	tr.CTLogs[ct.HexID()] = ct
	c, err := e.ca.TrustedCA()
	if err != nil {
		t.Fatal(err)
	}
	tr.CAs = []*trust.CA{c}
	raw, err := tr.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	out, err := trust.ParseTrustedRoot(raw)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func signAndLog(t *testing.T, e *env, key *ecdsa.PrivateKey, leaf *x509.Certificate, artifact []byte) *bundle.Bundle {
	t.Helper()
	d := sha256.Sum256(artifact)
	sig, err := ecdsa.SignASN1(rand.Reader, key, d[:])
	if err != nil {
		t.Fatal(err)
	}
	body := rekor.HashedRekordV001(crypto.SHA256, d[:], sig, testpki.PEM(leaf))
	i := e.pki.RekorV1.Append(body)
	entry, err := e.pki.RekorV1.Entry(i, body, testpki.EntryOptions{Kind: rekor.KindHashedRekord, Version: rekor.VersionHashedRekordV1})
	if err != nil {
		t.Fatal(err)
	}
	b, err := bundle.New(leaf.Raw, nil, &bundle.MessageSignature{DigestAlgorithm: crypto.SHA256, Digest: d[:], Signature: sig}, nil, []*protoEntry{entry}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type protoEntry = protorekor.TransparencyLogEntry

var urlParse = url.Parse

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

func openBytes(b []byte) func() (verify.ReadCloser, error) {
	return func() (verify.ReadCloser, error) { return readCloser{bytes.NewReader(b)}, nil }
}

// TestV1API covers the legacy API as cosign v2 and gitsign call it: 201,
// a PEM chain, and the SCT header in the detached flow.
func TestV1API(t *testing.T) {
	for _, detached := range []bool{false, true} {
		t.Run(fmt.Sprintf("detached=%v", detached), func(t *testing.T) {
			e := newEnv(t, envOptions{detached: detached})
			key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			r := e.post("/api/v1/signingCert", e.emailToken(), v1Body(key.Public(), prove(t, key, "alice@example.com")))
			if r.status != http.StatusCreated || r.header.Get("Content-Type") != "application/pem-certificate-chain" {
				t.Fatalf("status %d %q: %s", r.status, r.header.Get("Content-Type"), r.body)
			}
			if strings.TrimSpace(string(r.body)) != string(r.body) {
				t.Error("body is not trimmed")
			}
			chain := parsePEM(t, r.body)
			if len(chain) != 3 {
				t.Fatalf("chain of %d", len(chain))
			}
			checkProfile(t, e, chain[0], key.Public())
			h := r.header.Get("SCT")
			if detached != (h != "") {
				t.Fatalf("SCT header %q", h)
			}
			if detached {
				raw, err := base64.StdEncoding.DecodeString(h)
				if err != nil {
					t.Fatal(err)
				}
				var fields map[string]any
				if err := json.Unmarshal(raw, &fields); err != nil {
					t.Fatal(err)
				}
				for _, k := range []string{"sct_version", "id", "timestamp", "extensions", "signature"} {
					if _, ok := fields[k]; !ok {
						t.Errorf("detached SCT lacks %q: %s", k, raw)
					}
				}
				s, err := ca.ParseDetachedSCT(raw)
				if err != nil {
					t.Fatal(err)
				}
				if err := ca.VerifyDetachedSCT(s, e.ct.key.Public(), chain[0].Raw); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
	t.Run("gitsign form: DER key bytes", func(t *testing.T) {
		e := newEnv(t, envOptions{})
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		der, _ := x509.MarshalPKIXPublicKey(key.Public())
		body, _ := json.Marshal(map[string]any{
			"publicKey":          map[string]any{"content": base64.StdEncoding.EncodeToString(der), "algorithm": "ecdsa"},
			"signedEmailAddress": base64.StdEncoding.EncodeToString(prove(t, key, "alice@example.com")),
		})
		if r := e.post("/api/v1/signingCert", e.emailToken(), body); r.status != http.StatusCreated {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
	})
	t.Run("token in the body is not read", func(t *testing.T) {
		e := newEnv(t, envOptions{})
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		r := e.post("/api/v1/signingCert", "", v2Body(key.Public(), prove(t, key, "alice@example.com"), e.emailToken()))
		if r.status != http.StatusBadRequest {
			t.Fatalf("status %d", r.status)
		}
	})
}

// TestPublicKeyPEMTypes: the key may come as a PKIX "PUBLIC KEY" or a
// PKCS#1 "RSA PUBLIC KEY" PEM block, as Fulcio accepts both
// (cryptoutils.UnmarshalPEMToPublicKey); another PEM type is a 400.
func TestPublicKeyPEMTypes(t *testing.T) {
	e := newEnv(t, envOptions{})
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pkix, _ := x509.MarshalPKIXPublicKey(ecKey.Public())
	for _, c := range []struct {
		name  string
		key   crypto.Signer
		block *pem.Block
		want  int
	}{
		{"PKCS#1 RSA", rsaKey, &pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&rsaKey.PublicKey)}, http.StatusOK},
		{"PKIX ECDSA", ecKey, &pem.Block{Type: "PUBLIC KEY", Bytes: pkix}, http.StatusOK},
		{"PKIX bytes labelled CERTIFICATE", ecKey, &pem.Block{Type: "CERTIFICATE", Bytes: pkix}, http.StatusBadRequest},
		{"PKIX bytes labelled RSA PUBLIC KEY", ecKey, &pem.Block{Type: "RSA PUBLIC KEY", Bytes: pkix}, http.StatusBadRequest},
	} {
		t.Run(c.name, func(t *testing.T) {
			body, _ := json.Marshal(map[string]any{"publicKeyRequest": map[string]any{
				"publicKey":         map[string]any{"algorithm": "RSA", "content": string(pem.EncodeToMemory(c.block))},
				"proofOfPossession": base64.StdEncoding.EncodeToString(prove(t, c.key, "alice@example.com")),
			}})
			r := e.post("/api/v2/signingCert", e.emailToken(), body)
			if r.status != c.want {
				t.Fatalf("status %d, want %d: %s", r.status, c.want, r.body)
			}
			if c.want != http.StatusOK {
				if !strings.Contains(string(r.body), "could not be parsed") {
					t.Errorf("message %s", r.body)
				}
				return
			}
			chain, _, _ := chainOf(t, r)
			checkProfile(t, e, chain[0], c.key.Public())
		})
	}
}

func TestNoCT(t *testing.T) {
	e := newEnv(t, envOptions{noCT: true})
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	r := e.post("/api/v2/signingCert", e.emailToken(), v2Body(key.Public(), prove(t, key, "alice@example.com"), ""))
	chain, embedded, det := chainOf(t, r)
	if embedded || len(det) != 0 || len(chain) != 3 {
		t.Fatalf("embedded %v, detached SCT %q, chain %d", embedded, det, len(chain))
	}
	if !bytes.Contains(r.body, []byte(`"signedCertificateTimestamp":""`)) {
		t.Errorf("detached form without CT must carry an empty SCT: %s", r.body)
	}
	for _, x := range chain[0].Extensions {
		if x.Id.Equal(cert.OIDSCTList) || x.Id.Equal(cert.OIDPrecertPoison) {
			t.Error("SCT or poison in a certificate issued without CT")
		}
	}
}

func TestCSR(t *testing.T) {
	e := newEnv(t, envOptions{})
	mk := func(key crypto.Signer, alg x509.SignatureAlgorithm) []byte {
		der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{SignatureAlgorithm: alg}, key)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
	}
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	for _, tc := range []struct {
		name string
		csr  []byte
		key  crypto.Signer
	}{
		{"P-256 SHA-256 (sigstore-python)", mk(p256, x509.ECDSAWithSHA256), p256},
		{"P-384 SHA-384", mk(p384, x509.ECDSAWithSHA384), p384},
		{"Ed25519", mk(ed, x509.PureEd25519), ed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			chain, embedded, _ := chainOf(t, e.post("/api/v2/signingCert", e.emailToken(), csrBody(tc.csr)))
			if !embedded || len(chain) < 2 {
				t.Fatal("sigstore-python needs an embedded SCT and a chain of at least 2")
			}
			checkProfile(t, e, chain[0], tc.key.Public())
			// The subject and extensions of the CSR are ignored.
			if len(chain[0].Subject.Names) != 0 {
				t.Error("subject copied from the CSR")
			}
		})
	}
	t.Run("v1 CSR", func(t *testing.T) {
		r := e.post("/api/v1/signingCert", e.emailToken(), csrBody(mk(p256, x509.ECDSAWithSHA256)))
		if r.status != http.StatusCreated {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
	})
}

func TestEndpoints(t *testing.T) {
	e := newEnv(t, envOptions{})
	t.Run("trustBundle", func(t *testing.T) {
		r := e.get("/api/v2/trustBundle")
		var v struct {
			Chains []struct{ Certificates []string } `json:"chains"`
		}
		if err := json.Unmarshal(r.body, &v); err != nil || r.status != 200 || r.header.Get("Content-Type") != "application/json" {
			t.Fatalf("%d %s: %v", r.status, r.body, err)
		}
		if len(v.Chains) != 1 || len(v.Chains[0].Certificates) != 2 {
			t.Fatalf("bundle %s", r.body)
		}
		for i, want := range []*x509.Certificate{e.pki.Intermediate, e.pki.Root} {
			if p := v.Chains[0].Certificates[i]; p != string(testpki.PEM(want)) {
				t.Errorf("certificate %d: %q", i, p)
			}
		}
	})
	t.Run("rootCert", func(t *testing.T) {
		r := e.get("/api/v1/rootCert")
		if r.status != 200 || r.header.Get("Content-Type") != "application/pem-certificate-chain" {
			t.Fatalf("%d %q", r.status, r.header.Get("Content-Type"))
		}
		want := strings.TrimSpace(string(testpki.PEM(e.pki.Intermediate))) + "\n" + strings.TrimSpace(string(testpki.PEM(e.pki.Root)))
		if string(r.body) != want {
			t.Fatalf("body %q", r.body)
		}
	})
	t.Run("configuration", func(t *testing.T) {
		r := e.get("/api/v2/configuration")
		want := `{"issuers":[{"issuerUrl":"` + e.iss.URL + `","audience":"sigstore","challengeClaim":"email","spiffeTrustDomain":"","issuerType":"email","subjectDomain":"","skipEmailVerification":false}]}`
		if r.status != 200 || string(r.body) != want {
			t.Fatalf("%d\n got %s\nwant %s", r.status, r.body, want)
		}
	})
	t.Run("unknown path", func(t *testing.T) {
		if r := e.get("/api/v2/nothing"); r.status != http.StatusNotFound || r.header.Get("Content-Type") != "application/json" || !strings.Contains(string(r.body), `"code":5`) {
			t.Fatalf("%d %q %s", r.status, r.header.Get("Content-Type"), r.body)
		}
	})
	t.Run("wrong method", func(t *testing.T) {
		if r := e.get("/api/v2/signingCert"); r.status != http.StatusMethodNotAllowed {
			t.Fatalf("status %d", r.status)
		}
		if r := e.post("/api/v2/trustBundle", "", nil); r.status != http.StatusMethodNotAllowed {
			t.Fatalf("status %d", r.status)
		}
	})
}

func TestMetrics(t *testing.T) {
	e := newEnv(t, envOptions{})
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	e.post("/api/v2/signingCert", e.emailToken(), v2Body(key.Public(), prove(t, key, "alice@example.com"), ""))
	e.post("/api/v2/signingCert", "bad", v2Body(key.Public(), prove(t, key, "alice@example.com"), ""))
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, mf := range mfs {
		got[mf.GetName()] = len(mf.GetMetric())
	}
	// issued{v2,embedded}; requests{v2,ok} and {v2,400}; latency{v2}.
	if got["sigil_ca_certificates_issued_total"] != 1 || got["sigil_ca_signing_cert_requests_total"] != 2 || got["sigil_ca_signing_cert_duration_seconds"] != 1 {
		t.Fatalf("series %v", got)
	}
}

func TestNewRefusesBadChains(t *testing.T) {
	e := newEnv(t, envOptions{noCT: true})
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for _, tc := range []struct {
		name string
		cfg  ca.Config
	}{
		{"no signer", ca.Config{Chain: []*x509.Certificate{e.pki.Intermediate, e.pki.Root}, Identity: e.verify}},
		{"no chain", ca.Config{Signer: e.pki.IntermediateKey, Identity: e.verify}},
		{"wrong key", ca.Config{Signer: other, Chain: []*x509.Certificate{e.pki.Intermediate, e.pki.Root}, Identity: e.verify}},
		{"broken chain", ca.Config{Signer: e.pki.IntermediateKey, Chain: []*x509.Certificate{e.pki.Intermediate, e.pki.TSARoot}, Identity: e.verify}},
		{"issuer not a CA", ca.Config{Signer: e.pki.TSAKey, Chain: []*x509.Certificate{e.pki.TSACrt, e.pki.TSARoot}, Identity: e.verify}},
		{"no identity", ca.Config{Signer: e.pki.IntermediateKey, Chain: []*x509.Certificate{e.pki.Intermediate, e.pki.Root}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ca.New(tc.cfg); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	// A root alone may issue (Fulcio's ephemeral CA).
	if _, err := ca.New(ca.Config{Signer: e.pki.RootKey, Chain: []*x509.Certificate{e.pki.Root}, Identity: e.verify}); err != nil {
		t.Fatal(err)
	}
}

// TestCTFailure: nothing is issued when the CT log fails, or when it
// returns an SCT whose signature verifies with the configured CT key but
// that names another log ID (verifiers look the log up by that ID in the
// trusted root and would refuse every certificate).
func TestCTFailure(t *testing.T) {
	for _, tc := range []struct {
		name   string
		ctKey  bool
		break_ func(*fakeCT)
	}{
		{"log down", false, func(f *fakeCT) { f.fail = errCTDown }},
		{"SCT of another log", true, func(f *fakeCT) { f.id[0] ^= 1 }},
	} {
		for _, detached := range []bool{false, true} {
			e := newEnv(t, envOptions{detached: detached, ctKey: tc.ctKey})
			tc.break_(e.ct)
			key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			r := e.post("/api/v2/signingCert", e.emailToken(), v2Body(key.Public(), prove(t, key, "alice@example.com"), ""))
			if code, msg := r.apiError(); r.status != 500 || code != 13 || msg != "Error entering certificate in CTL" {
				t.Fatalf("%s, detached=%v: %d %d %q", tc.name, detached, r.status, code, msg)
			}
			if bytes.Contains(r.body, []byte("CERTIFICATE")) {
				t.Fatalf("%s, detached=%v: a certificate was returned", tc.name, detached)
			}
		}
	}
}

// TestIssuerValidity: a leaf never outlives its issuer, and an expired
// issuer issues nothing.
func TestIssuerValidity(t *testing.T) {
	e := newEnv(t, envOptions{noCT: true})
	for _, tc := range []struct {
		name   string
		now    time.Time
		status int
	}{
		{"five minutes before the issuer expires", e.pki.Intermediate.NotAfter.Add(-5 * time.Minute), 200},
		{"after the issuer expired", e.pki.Intermediate.NotAfter.Add(time.Minute), 500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc, err := ca.New(ca.Config{Signer: e.pki.IntermediateKey, Chain: []*x509.Certificate{e.pki.Intermediate, e.pki.Root}, Identity: e.verify, Now: func() time.Time { return tc.now }})
			if err != nil {
				t.Fatal(err)
			}
			e.srv.Config.Handler = svc.Handler()
			key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			r := e.post("/api/v2/signingCert", e.emailToken(), v2Body(key.Public(), prove(t, key, "alice@example.com"), ""))
			if r.status != tc.status {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			if tc.status == 200 {
				chain, _, _ := chainOf(t, r)
				if !chain[0].NotAfter.Equal(e.pki.Intermediate.NotAfter) {
					t.Fatalf("leaf until %s, issuer until %s", chain[0].NotAfter, e.pki.Intermediate.NotAfter)
				}
			}
		})
	}
}
