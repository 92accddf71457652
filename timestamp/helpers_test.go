package timestamp

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// epoch is when every test PKI starts; test tokens are issued at testNow.
var (
	epoch   = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	testNow = epoch.Add(30 * 24 * time.Hour)
	testMsg = []byte("the signature bytes a Sigstore client stamps")
)

var (
	oidEKUTimeStamping = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 8}
	oidEKUCodeSigning  = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 3}
	oidEKUUnknown      = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 99}
)

// keyAlg names a key type for a test PKI.
type keyAlg string

const (
	algP256    keyAlg = "P-256"
	algP384    keyAlg = "P-384"
	algP521    keyAlg = "P-521"
	algEd25519 keyAlg = "Ed25519"
	algRSA     keyAlg = "RSA"     // PKCS #1 v1.5 signatures
	algRSAPSS  keyAlg = "RSA-PSS" // RSA key, RSASSA-PSS signatures
)

var (
	keyMu    sync.Mutex
	keyCache = map[string]crypto.Signer{}
)

// testKey returns the i-th key of type alg, generated once per test binary
// (RSA key generation is slow).
func testKey(tb testing.TB, alg keyAlg, i int) crypto.Signer {
	tb.Helper()
	if alg == algRSAPSS {
		alg = algRSA
	}
	keyMu.Lock()
	defer keyMu.Unlock()
	name := fmt.Sprintf("%s/%d", alg, i)
	if k, ok := keyCache[name]; ok {
		return k
	}
	var k crypto.Signer
	var err error
	switch alg {
	case algP256:
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case algP384:
		k, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case algP521:
		k, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case algEd25519:
		_, k, err = ed25519.GenerateKey(rand.Reader)
	case algRSA:
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		tb.Fatalf("unknown key type %q", alg)
	}
	if err != nil {
		tb.Fatal(err)
	}
	keyCache[name] = k
	return k
}

// ekuExtension is an extended key usage extension with the given purposes.
func ekuExtension(critical bool, purposes ...asn1.ObjectIdentifier) pkix.Extension {
	v, err := asn1.Marshal(purposes)
	if err != nil {
		panic(err)
	}
	return pkix.Extension{Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Critical: critical, Value: v}
}

// pkiConfig describes a TSA certificate hierarchy.
type pkiConfig struct {
	alg          keyAlg
	intermediate bool
	keyIndex     int                     // distinct key sets for distinct PKIs
	editLeaf     func(*x509.Certificate) // adjust the leaf template
	editInter    func(*x509.Certificate) // adjust the intermediate template
}

type testPKI struct {
	cfg                        pkiConfig
	root, inter, leaf          *x509.Certificate
	rootKey, interKey, leafKey crypto.Signer
}

var serialCounter struct {
	sync.Mutex
	n int64
}

func nextSerial() *big.Int {
	serialCounter.Lock()
	defer serialCounter.Unlock()
	serialCounter.n++
	return big.NewInt(1000 + serialCounter.n)
}

func issueCert(tb testing.TB, tmpl, parent *x509.Certificate, pub crypto.PublicKey, parentKey crypto.Signer) *x509.Certificate {
	tb.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, parentKey)
	if err != nil {
		tb.Fatalf("creating %q: %v", tmpl.Subject.CommonName, err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// newPKI builds root → [intermediate →] leaf. The default leaf is what RFC
// 3161 §2.3 asks for: not a CA, one critical id-kp-timeStamping EKU. It is
// valid for a year from epoch; the CAs for ten.
func newPKI(tb testing.TB, cfg pkiConfig) *testPKI {
	tb.Helper()
	if cfg.alg == "" {
		cfg.alg = algP256
	}
	p := &testPKI{cfg: cfg}
	p.rootKey = testKey(tb, cfg.alg, 3*cfg.keyIndex)
	p.interKey = testKey(tb, cfg.alg, 3*cfg.keyIndex+1)
	p.leafKey = testKey(tb, cfg.alg, 3*cfg.keyIndex+2)
	name := fmt.Sprintf("%s #%d", cfg.alg, cfg.keyIndex)

	rootTmpl := &x509.Certificate{
		SerialNumber:          nextSerial(),
		Subject:               pkix.Name{Organization: []string{"sigil test"}, CommonName: "TSA root " + name},
		NotBefore:             epoch,
		NotAfter:              epoch.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	p.root = issueCert(tb, rootTmpl, rootTmpl, p.rootKey.Public(), p.rootKey)
	parent, parentKey := p.root, p.rootKey
	if cfg.intermediate {
		interTmpl := &x509.Certificate{
			SerialNumber:          nextSerial(),
			Subject:               pkix.Name{Organization: []string{"sigil test"}, CommonName: "TSA intermediate " + name},
			NotBefore:             epoch,
			NotAfter:              epoch.AddDate(10, 0, 0),
			KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
			ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping},
			BasicConstraintsValid: true,
			IsCA:                  true,
		}
		if cfg.editInter != nil {
			cfg.editInter(interTmpl)
		}
		p.inter = issueCert(tb, interTmpl, p.root, p.interKey.Public(), p.rootKey)
		parent, parentKey = p.inter, p.interKey
	}
	ski := sha256.Sum256([]byte(name))
	leafTmpl := &x509.Certificate{
		SerialNumber:          nextSerial(),
		Subject:               pkix.Name{Organization: []string{"sigil test"}, CommonName: "TSA " + name},
		NotBefore:             epoch,
		NotAfter:              epoch.AddDate(1, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtraExtensions:       []pkix.Extension{ekuExtension(true, oidEKUTimeStamping)},
		BasicConstraintsValid: true,
		SubjectKeyId:          ski[:20],
	}
	if cfg.editLeaf != nil {
		cfg.editLeaf(leafTmpl)
	}
	p.leaf = issueCert(tb, leafTmpl, parent, p.leafKey.Public(), parentKey)
	return p
}

// chain is what the TSA embeds after its leaf.
func (p *testPKI) chain() []*x509.Certificate {
	if p.inter != nil {
		return []*x509.Certificate{p.inter, p.root}
	}
	return []*x509.Certificate{p.root}
}

func (p *testPKI) signer(now time.Time) *Signer {
	s := &Signer{Key: p.leafKey, Cert: p.leaf, Chain: p.chain(), Now: func() time.Time { return now }}
	if p.cfg.alg == algRSAPSS {
		s.SignerOpts = &rsa.PSSOptions{Hash: crypto.SHA256}
	}
	return s
}

// opts is what a Sigstore trusted root would give for this TSA.
func (p *testPKI) opts(withLeaf bool) VerifyOptions {
	o := VerifyOptions{Roots: []*x509.Certificate{p.root}}
	if p.inter != nil {
		o.Intermediates = []*x509.Certificate{p.inter}
	}
	if withLeaf {
		o.Leaf = p.leaf
	}
	return o
}

func sha256Request(msg []byte, certReq bool, nonce *big.Int) *Request {
	d := sha256.Sum256(msg)
	return &Request{HashAlgorithm: crypto.SHA256, HashedMessage: d[:], CertReq: certReq, Nonce: nonce}
}

// tokenParts are the fields of a TimeStampToken's SignedData as DER
// elements, for tests that edit the structure ("DER surgery").
type tokenParts struct {
	version, digestAlgs, eci []byte
	certs                    [][]byte // elements of the certificates field; nil: field absent
	signerInfos              [][]byte // elements of the signerInfos SET
}

func splitToken(tb testing.TB, der []byte) tokenParts {
	tb.Helper()
	s := cryptobyte.String(der)
	var ci, oid, exp, sd cryptobyte.String
	if !s.ReadASN1(&ci, cbasn1.SEQUENCE) || !ci.ReadASN1(&oid, cbasn1.OBJECT_IDENTIFIER) ||
		!ci.ReadASN1(&exp, cbasn1.Tag(0).Constructed().ContextSpecific()) || !exp.ReadASN1(&sd, cbasn1.SEQUENCE) {
		tb.Fatal("splitToken: not a ContentInfo")
	}
	var p tokenParts
	var e cryptobyte.String
	var tag cbasn1.Tag
	for _, out := range []*[]byte{&p.version, &p.digestAlgs, &p.eci} {
		if !sd.ReadAnyASN1Element(&e, &tag) {
			tb.Fatal("splitToken: short SignedData")
		}
		*out = e
	}
	if sd.PeekASN1Tag(cbasn1.Tag(0).Constructed().ContextSpecific()) {
		var certs cryptobyte.String
		sd.ReadASN1(&certs, cbasn1.Tag(0).Constructed().ContextSpecific())
		p.certs = [][]byte{}
		for !certs.Empty() {
			certs.ReadAnyASN1Element(&e, &tag)
			p.certs = append(p.certs, e)
		}
	}
	var sis cryptobyte.String
	if !sd.ReadASN1(&sis, cbasn1.SET) {
		tb.Fatal("splitToken: no signerInfos")
	}
	for !sis.Empty() {
		sis.ReadAnyASN1Element(&e, &tag)
		p.signerInfos = append(p.signerInfos, e)
	}
	return p
}

func (p tokenParts) join() []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		addOID(b, oidSignedData)
		b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddBytes(p.version)
				b.AddBytes(p.digestAlgs)
				b.AddBytes(p.eci)
				if p.certs != nil {
					b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
						for _, c := range p.certs {
							b.AddBytes(c)
						}
					})
				}
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
					for _, si := range p.signerInfos {
						b.AddBytes(si)
					}
				})
			})
		})
	})
	return b.BytesOrPanic()
}

// wrapResponse wraps a token in a granted TimeStampResp.
func wrapResponse(tok []byte) []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1Int64(0) })
		b.AddBytes(tok)
	})
	return b.BytesOrPanic()
}

// attribute builds a DER Attribute with one value.
func attribute(oid []byte, value func(*cryptobyte.Builder)) []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		addOID(b, oid)
		b.AddASN1(cbasn1.SET, value)
	})
	return b.BytesOrPanic()
}

// attrOID returns the type of a DER Attribute.
func attrOID(attr []byte) []byte {
	s := cryptobyte.String(attr)
	var seq, oid cryptobyte.String
	s.ReadASN1(&seq, cbasn1.SEQUENCE)
	seq.ReadASN1(&oid, cbasn1.OBJECT_IDENTIFIER)
	return oid
}

// replaceAttr returns an editAttrs hook that drops attributes of type oid
// and, if repl is not nil, adds repl.
func replaceAttr(oid []byte, repl []byte) func([][]byte) [][]byte {
	return func(attrs [][]byte) [][]byte {
		var out [][]byte
		for _, a := range attrs {
			if string(attrOID(a)) != string(oid) {
				out = append(out, a)
			}
		}
		if repl != nil {
			out = append(out, repl)
		}
		return out
	}
}

// readElements splits the content of a SET OF or SEQUENCE OF into its
// elements (each with header).
func readElements(s cryptobyte.String, max int) ([]cryptobyte.String, bool) {
	var out []cryptobyte.String
	for !s.Empty() {
		if len(out) == max {
			return nil, false
		}
		var e cryptobyte.String
		var tag cbasn1.Tag
		if !s.ReadAnyASN1Element(&e, &tag) {
			return nil, false
		}
		out = append(out, e)
	}
	return out, true
}
