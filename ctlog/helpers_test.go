package ctlog

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"io"
	"log/slog"
	"math/big"
	"net/url"
	"os"
	"testing"
	"time"

	"k8s.io/klog/v2"

	"sigil.dev/sigil/cert"
	"sigil.dev/sigil/internal/testpki"
	"sigil.dev/sigil/sct"
)

// env is a CA (testpki) and a CT log that accepts its root.
type env struct {
	pki *testpki.PKI
	svc *Service
	dir string
	url string
}

func TestMain(m *testing.M) {
	// Tessera logs through klog; keep test output to the tests.
	klog.LogToStderr(false)
	klog.SetOutput(io.Discard)
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir) // never returns
	}
	os.Exit(m.Run())
}

func newPKI(t testing.TB) *testpki.PKI {
	t.Helper()
	p, err := testpki.New(testpki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newEnv opens a log in a temporary directory.
func newEnv(t testing.TB, cfg Config) *env {
	t.Helper()
	e := &env{pki: newPKI(t), dir: t.TempDir(), url: "http://ct.sigil.test/ct"}
	if cfg.DataDir == "" {
		cfg.DataDir = e.dir
	}
	e.dir = cfg.DataDir
	if cfg.PublicURL == "" {
		cfg.PublicURL = e.url
	}
	e.url = cfg.PublicURL
	if cfg.Roots == nil {
		cfg.Roots = []*x509.Certificate{e.pki.Root}
	}
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	svc, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	e.svc = svc
	return e
}

// leafOpts shape a test leaf.
type leafOpts struct {
	precert      bool
	noPoison     bool // with precert: leave the poison out
	poison       *pkix.Extension
	eku          []x509.ExtKeyUsage
	isCA         bool
	notBefore    time.Time
	lifetime     time.Duration
	issuer       *x509.Certificate
	issuerKey    crypto.Signer
	badSignature bool // corrupt the signature
}

var poisonExt = pkix.Extension{Id: cert.OIDPrecertPoison, Critical: true, Value: []byte{0x05, 0x00}}

// template returns a Fulcio-shaped leaf template (without poison or SCT).
func template(t testing.TB, o leafOpts) *x509.Certificate {
	t.Helper()
	if o.notBefore.IsZero() {
		o.notBefore = time.Now().Add(-time.Minute).Truncate(time.Second)
	}
	if o.lifetime == 0 {
		o.lifetime = 10 * time.Minute
	}
	if o.eku == nil {
		o.eku = []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}
	}
	exts, err := cert.Render(testpki.DefaultIdentity.Extensions)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(testpki.DefaultIdentity.URI)
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 159))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		NotBefore:    o.notBefore, NotAfter: o.notBefore.Add(o.lifetime),
		KeyUsage:        x509.KeyUsageDigitalSignature,
		ExtKeyUsage:     o.eku,
		URIs:            []*url.URL{u},
		ExtraExtensions: exts,
	}
	if o.isCA {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage |= x509.KeyUsageCertSign
	}
	return tmpl
}

var leafKey = func() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}()

// leaf issues a leaf or precertificate by the intermediate (or o.issuer).
func (e *env) leaf(t testing.TB, o leafOpts) (*x509.Certificate, *x509.Certificate) {
	t.Helper()
	tmpl := template(t, o)
	if o.precert && !o.noPoison {
		p := poisonExt
		if o.poison != nil {
			p = *o.poison
		}
		tmpl.ExtraExtensions = append(append([]pkix.Extension{}, tmpl.ExtraExtensions...), p)
	}
	issuer, key := e.pki.Intermediate, crypto.Signer(e.pki.IntermediateKey)
	if o.issuer != nil {
		issuer, key = o.issuer, o.issuerKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, leafKey.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	if o.badSignature {
		der[len(der)-1] ^= 0x55 // the last byte of the ECDSA s value
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, issuer
}

// chain returns the DER chain leaf, intermediate, root.
func (e *env) chain(leaf *x509.Certificate) [][]byte {
	return [][]byte{leaf.Raw, e.pki.Intermediate.Raw, e.pki.Root.Raw}
}

// finalCert issues the certificate for precert with s embedded: the same
// template, the poison replaced by the SCT list (what the CA does).
func (e *env) finalCert(t testing.TB, precert *x509.Certificate, s *sct.SCT) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: precert.SerialNumber,
		NotBefore:    precert.NotBefore, NotAfter: precert.NotAfter,
		KeyUsage: precert.KeyUsage, ExtKeyUsage: precert.ExtKeyUsage, URIs: precert.URIs,
	}
	for _, x := range precert.Extensions {
		switch {
		case x.Id.Equal(cert.OIDPrecertPoison):
		case isStandard(x.Id):
		default:
			tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, x)
		}
	}
	list, err := sct.MarshalList([]sct.SCT{*s})
	if err != nil {
		t.Fatal(err)
	}
	tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, pkix.Extension{Id: sct.OIDSCTList, Value: list})
	der, err := x509.CreateCertificate(rand.Reader, tmpl, e.pki.Intermediate, leafKey.Public(), e.pki.IntermediateKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// isStandard reports the extensions crypto/x509 writes from template
// fields (key usage, EKU, SAN, AKI).
func isStandard(id asn1.ObjectIdentifier) bool {
	for _, s := range []asn1.ObjectIdentifier{{2, 5, 29, 15}, {2, 5, 29, 37}, {2, 5, 29, 17}, {2, 5, 29, 35}, {2, 5, 29, 14}} {
		if id.Equal(s) {
			return true
		}
	}
	return false
}

// newCA returns a self-signed root or an intermediate under parent.
func newCA(t testing.TB, cn string, parent *x509.Certificate, parentKey crypto.Signer, mutate func(*x509.Certificate)) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 159))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	if parent != nil {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}
		tmpl.MaxPathLenZero = true
	}
	if mutate != nil {
		mutate(tmpl)
	}
	if parent == nil {
		parent, parentKey = tmpl, k
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, k.Public(), parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, k
}
