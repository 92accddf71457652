// Package testpki mints a complete, private Sigstore trust domain for tests:
// a Fulcio-style CA (root, intermediate, ten-minute leaves with identity
// extensions and embedded SCTs), a CT log key, a Rekor v1 log (ECDSA, SETs,
// "<host> - <tree ID>" checkpoints), a Rekor v2 log (Ed25519 C2SP
// checkpoints) and an RFC 3161 TSA, and assembles bundles from them. Every
// piece can be made wrong on purpose, so tests can build valid and invalid
// bundles freely.
package testpki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/url"
	"time"

	"sigil.dev/sigil/cert"
	"sigil.dev/sigil/sct"
	"sigil.dev/sigil/timestamp"
	"sigil.dev/sigil/trust"
)

// PKI is a private trust domain.
type PKI struct {
	// Start is when every key's validity in the trusted root begins.
	Start time.Time

	RootKey, IntermediateKey *ecdsa.PrivateKey
	Root, Intermediate       *x509.Certificate

	CTKey *ecdsa.PrivateKey

	RekorV1 *Log
	RekorV2 *Log

	TSAKey          *ecdsa.PrivateKey
	TSARoot, TSACrt *x509.Certificate
	TSA             *timestamp.Signer
}

// Options tune New.
type Options struct {
	// Start is the beginning of every validity window; default one year
	// before now.
	Start time.Time
	// CAKeyCurve is the curve of the CA keys; default P-256.
	CAKeyCurve elliptic.Curve
}

// New mints a trust domain.
func New(opts Options) (*PKI, error) {
	if opts.Start.IsZero() {
		opts.Start = time.Now().Add(-365 * 24 * time.Hour).Truncate(time.Second)
	}
	if opts.CAKeyCurve == nil {
		opts.CAKeyCurve = elliptic.P256()
	}
	p := &PKI{Start: opts.Start}
	var err error
	end := opts.Start.Add(20 * 365 * 24 * time.Hour)
	if p.RootKey, err = ecdsa.GenerateKey(opts.CAKeyCurve, rand.Reader); err != nil {
		return nil, err
	}
	if p.IntermediateKey, err = ecdsa.GenerateKey(opts.CAKeyCurve, rand.Reader); err != nil {
		return nil, err
	}
	if p.Root, err = createCA(&x509.Certificate{
		Subject: pkix.Name{Organization: []string{"sigil test"}, CommonName: "sigil test root"}, NotBefore: opts.Start, NotAfter: end,
		MaxPathLen: 1,
	}, nil, p.RootKey, p.RootKey); err != nil {
		return nil, err
	}
	if p.Intermediate, err = createCA(&x509.Certificate{
		Subject: pkix.Name{Organization: []string{"sigil test"}, CommonName: "sigil test intermediate"}, NotBefore: opts.Start, NotAfter: end,
		MaxPathLen: 0, MaxPathLenZero: true, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	}, p.Root, p.RootKey, p.IntermediateKey); err != nil {
		return nil, err
	}
	if p.CTKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return nil, err
	}
	v1key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	if p.RekorV1, err = NewLog("https://rekor.sigil.test", v1key, true); err != nil {
		return nil, err
	}
	_, v2key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	if p.RekorV2, err = NewLog("https://log2026.sigil.test", v2key, false); err != nil {
		return nil, err
	}
	if p.TSAKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return nil, err
	}
	tsaRootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	if p.TSARoot, err = createCA(&x509.Certificate{Subject: pkix.Name{CommonName: "sigil test TSA root"}, NotBefore: opts.Start, NotAfter: end, MaxPathLen: 0, MaxPathLenZero: true}, nil, tsaRootKey, tsaRootKey); err != nil {
		return nil, err
	}
	if p.TSACrt, err = CreateTSALeaf(p.TSARoot, tsaRootKey, p.TSAKey.Public(), opts.Start, end, true); err != nil {
		return nil, err
	}
	p.TSA = &timestamp.Signer{Key: p.TSAKey, Cert: p.TSACrt, Chain: []*x509.Certificate{p.TSARoot}}
	return p, nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 159))
	return n
}

func createCA(tmpl, parent *x509.Certificate, parentKey crypto.Signer, key crypto.Signer) (*x509.Certificate, error) {
	tmpl.SerialNumber = serial()
	tmpl.IsCA = true
	tmpl.BasicConstraintsValid = true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// CreateTSALeaf issues a TSA signing certificate with a timeStamping EKU,
// critical when critical is true (as verifiers require).
func CreateTSALeaf(issuer *x509.Certificate, issuerKey crypto.Signer, pub crypto.PublicKey, from, to time.Time, critical bool) (*x509.Certificate, error) {
	eku, err := asn1.Marshal([]asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 8}})
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: "sigil test TSA"},
		NotBefore: from, NotAfter: to, KeyUsage: x509.KeyUsageDigitalSignature, BasicConstraintsValid: true,
		ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Critical: critical, Value: eku}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, pub, issuerKey)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// Identity is what a leaf certificate states.
type Identity struct {
	URI, Email string // the SAN: one of them
	Username   string // an OtherName SAN instead
	cert.Extensions
}

// DefaultIdentity is a GitHub Actions workflow identity.
var DefaultIdentity = Identity{
	URI: "https://github.com/sigil-test/repo/.github/workflows/release.yml@refs/heads/main",
	Extensions: cert.Extensions{
		Issuer:                   "https://token.actions.githubusercontent.com",
		GithubWorkflowTrigger:    "push",
		GithubWorkflowSHA:        "0123456789abcdef0123456789abcdef01234567",
		GithubWorkflowName:       "release",
		GithubWorkflowRepository: "sigil-test/repo",
		GithubWorkflowRef:        "refs/heads/main",
		SourceRepositoryURI:      "https://github.com/sigil-test/repo",
		BuildTrigger:             "push",
	},
}

// LeafOptions tune Leaf.
type LeafOptions struct {
	NotBefore time.Time // default now
	Lifetime  time.Duration
	NoSCT     bool
	// CTKey signs the SCT instead of the PKI's CT key.
	CTKey *ecdsa.PrivateKey
	// SubmitPrecert, when set, gets the embedded SCT from a CT log as a CA
	// does: Leaf signs a precertificate (the leaf with the critical poison
	// extension 1.3.6.1.4.1.11129.2.4.3 appended) and passes it with the
	// intermediate and the root, then embeds the SCT it returns.
	SubmitPrecert func(chain [][]byte) (*sct.SCT, error)
	// ExtraExtensions are added to the leaf.
	ExtraExtensions []pkix.Extension
}

// Leaf issues a ten-minute code-signing certificate for pub with an
// embedded SCT, as Fulcio does.
func (p *PKI) Leaf(id Identity, pub crypto.PublicKey, o LeafOptions) (*x509.Certificate, error) {
	if o.NotBefore.IsZero() {
		o.NotBefore = time.Now().Add(-time.Minute).Truncate(time.Second)
	}
	if o.Lifetime == 0 {
		o.Lifetime = 10 * time.Minute
	}
	exts, err := cert.Render(id.Extensions)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		NotBefore:    o.NotBefore, NotAfter: o.NotBefore.Add(o.Lifetime),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	}
	switch {
	case id.URI != "":
		u, err := url.Parse(id.URI)
		if err != nil {
			return nil, err
		}
		tmpl.URIs = []*url.URL{u}
	case id.Email != "":
		tmpl.EmailAddresses = []string{id.Email}
	case id.Username != "":
		v, err := cert.MarshalOtherNameSAN(id.Username)
		if err != nil {
			return nil, err
		}
		exts = append([]pkix.Extension{{Id: cert.OIDSAN, Critical: true, Value: v}}, exts...)
	}
	exts = append(exts, o.ExtraExtensions...)
	tmpl.ExtraExtensions = exts
	if o.NoSCT {
		return p.sign(tmpl, pub)
	}
	if o.SubmitPrecert != nil {
		tmpl.ExtraExtensions = append(append([]pkix.Extension{}, exts...), pkix.Extension{Id: cert.OIDPrecertPoison, Critical: true, Value: []byte{0x05, 0x00}})
		pre, err := p.sign(tmpl, pub)
		if err != nil {
			return nil, err
		}
		s, err := o.SubmitPrecert([][]byte{pre.Raw, p.Intermediate.Raw, p.Root.Raw})
		if err != nil {
			return nil, err
		}
		list, err := sct.MarshalList([]sct.SCT{*s})
		if err != nil {
			return nil, err
		}
		tmpl.ExtraExtensions = append(append([]pkix.Extension{}, exts...), pkix.Extension{Id: sct.OIDSCTList, Value: list})
		return p.sign(tmpl, pub)
	}
	// The SCT signs the TBS without the SCT extension; build that first.
	pre, err := p.sign(tmpl, pub)
	if err != nil {
		return nil, err
	}
	ctKey := p.CTKey
	if o.CTKey != nil {
		ctKey = o.CTKey
	}
	s := sct.SCT{Timestamp: uint64(o.NotBefore.UnixMilli()), HashAlg: 4, SigAlg: 3}
	s.LogID = KeyID(ctKey.Public())
	data, err := sct.PrecertSignedData(s.Timestamp, p.Intermediate.RawSubjectPublicKeyInfo, pre.RawTBSCertificate, nil)
	if err != nil {
		return nil, err
	}
	d := sha256.Sum256(data)
	if s.Signature, err = ecdsa.SignASN1(rand.Reader, ctKey, d[:]); err != nil {
		return nil, err
	}
	list, err := sct.MarshalList([]sct.SCT{s})
	if err != nil {
		return nil, err
	}
	tmpl.ExtraExtensions = append(append([]pkix.Extension{}, exts...), pkix.Extension{Id: sct.OIDSCTList, Value: list})
	return p.sign(tmpl, pub)
}

func (p *PKI) sign(tmpl *x509.Certificate, pub crypto.PublicKey) (*x509.Certificate, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.Intermediate, pub, p.IntermediateKey)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// KeyID returns SHA-256 of the DER SubjectPublicKeyInfo.
func KeyID(pub crypto.PublicKey) [32]byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		panic(err)
	}
	return sha256.Sum256(der)
}

// TrustedRoot returns the trusted root of the domain.
func (p *PKI) TrustedRoot() (*trust.TrustedRoot, error) {
	w := trust.Window{Start: p.Start}
	tr := &trust.TrustedRoot{MediaType: trust.TrustedRootMediaTypeLegacy, TLogs: map[string]*trust.Log{}, CTLogs: map[string]*trust.Log{}}
	for _, l := range []*Log{p.RekorV1, p.RekorV2} {
		tl, err := trust.NewLog(l.BaseURL, l.Key.Public(), l.ID, w)
		if err != nil {
			return nil, err
		}
		tr.TLogs[tl.HexID()] = tl
	}
	ct, err := trust.NewLog("https://ct.sigil.test", p.CTKey.Public(), nil, w)
	if err != nil {
		return nil, err
	}
	tr.CTLogs[ct.HexID()] = ct
	ca, err := trust.NewCA([]*x509.Certificate{p.Intermediate, p.Root}, w, false)
	if err != nil {
		return nil, err
	}
	ca.URI = "https://fulcio.sigil.test"
	tr.CAs = []*trust.CA{ca}
	tsa, err := trust.NewCA([]*x509.Certificate{p.TSACrt, p.TSARoot}, w, true)
	if err != nil {
		return nil, err
	}
	tsa.URI = "https://tsa.sigil.test/api/v1/timestamp"
	tr.TSAs = []*trust.CA{tsa}
	// Round-trip through JSON so tests see exactly what a file gives.
	raw, err := tr.Marshal()
	if err != nil {
		return nil, err
	}
	return trust.ParseTrustedRoot(raw)
}

// Timestamp returns an RFC 3161 response over SHA-256(sig) at time at.
func (p *PKI) Timestamp(sig []byte, at time.Time) ([]byte, error) {
	d := sha256.Sum256(sig)
	s := *p.TSA
	if !at.IsZero() {
		s.Now = func() time.Time { return at }
	}
	return s.Respond(&timestamp.Request{HashAlgorithm: crypto.SHA256, HashedMessage: d[:], CertReq: true})
}

// PEM returns the PEM encoding of a certificate.
func PEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// PublicKeyPEM returns the PEM encoding of a public key.
func PublicKeyPEM(pub crypto.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		panic(fmt.Sprintf("couldn't encode key: %v", err))
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}
