package tlog

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"strings"

	lru "github.com/hashicorp/golang-lru/v2"

	"sigil.dev/sigil/cert"
	"sigil.dev/sigil/rekor"
)

// ErrInvalidEntry wraps every rejection of a proposed entry: malformed
// request, unknown kind, bad signature, disallowed key. Such requests get a
// 4xx answer naming the problem.
var ErrInvalidEntry = errors.New("invalid entry")

// requestError is a client error: the HTTP status and a message that names
// the problem.
type requestError struct {
	status int
	msg    string
}

func (e *requestError) Error() string { return e.msg }
func (e *requestError) Unwrap() error { return ErrInvalidEntry }

func badRequest(format string, args ...any) error {
	return &requestError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

func tooLarge(format string, args ...any) error {
	return &requestError{http.StatusRequestEntityTooLarge, fmt.Sprintf(format, args...)}
}

// validator checks client keys and signatures against the allowed
// algorithms. Safe for concurrent use.
type validator struct {
	allowed map[string]bool
	// certs caches the public keys of recently seen DER certificates
	// (a CI job signing many artifacts submits one certificate).
	certs *lru.Cache[[32]byte, crypto.PublicKey]
	// pems caches parsed Rekor v1 verifiers by the SHA-256 of their PEM.
	pems *lru.Cache[[32]byte, *pemVerifier]
}

func newValidator(allowed []string) *validator {
	v := &validator{allowed: map[string]bool{}}
	for _, a := range allowed {
		v.allowed[a] = true
	}
	v.certs, _ = lru.New[[32]byte, crypto.PublicKey](4096)
	v.pems, _ = lru.New[[32]byte, *pemVerifier](4096)
	return v
}

// algorithm returns the signing algorithm (PublicKeyDetails name) and hash
// a key signs entries with, if it is allowed. These are the key's defaults
// (rekor.KeyDetails), as sigstore-go and cosign sign and as the verifier
// rebuilds Rekor v2 entries.
func (v *validator) algorithm(pub crypto.PublicKey) (string, crypto.Hash, error) {
	name, h, err := rekor.KeyDetails(pub)
	if err != nil {
		return "", 0, badRequest("unsupported key: %v; allowed algorithms: %s", err, strings.Join(DefaultAllowedAlgorithms, ", "))
	}
	if !v.allowed[name] {
		return "", 0, badRequest("signing algorithm %s is not allowed by this log", name)
	}
	return name, h, nil
}

// certKey parses a DER certificate and returns its public key.
func (v *validator) certKey(der []byte) (crypto.PublicKey, error) {
	sum := sha256.Sum256(der)
	if k, ok := v.certs.Get(sum); ok {
		return k, nil
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, badRequest("certificate does not parse: %v", err)
	}
	v.certs.Add(sum, c.PublicKey)
	return c.PublicKey, nil
}

// verifyDigest checks a signature over a digest computed with h: ECDSA
// (ASN.1), RSA PKCS#1 v1.5, or Ed25519ph over a SHA-512 digest (the
// algorithms of DefaultAllowedAlgorithms).
func verifyDigest(pub crypto.PublicKey, h crypto.Hash, digest, sig []byte) bool {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return ecdsa.VerifyASN1(k, digest, sig)
	case *rsa.PublicKey:
		return rsa.VerifyPKCS1v15(k, h, digest, sig) == nil
	case ed25519.PublicKey:
		return h == crypto.SHA512 && ed25519.VerifyWithOptions(k, digest, sig, &ed25519.Options{Hash: crypto.SHA512}) == nil
	}
	return false
}

// verifyMessage checks a DSSE signature over the PAE: ECDSA and RSA with
// SHA-256 (what sigstore/rekor's dsse and intoto types load the verifier
// with) or the key's default hash, Ed25519 pure.
func verifyMessage(pub crypto.PublicKey, msg, sig []byte) bool {
	if k, ok := pub.(ed25519.PublicKey); ok {
		return ed25519.Verify(k, msg, sig)
	}
	d := sha256.Sum256(msg)
	if verifyDigest(pub, crypto.SHA256, d[:], sig) {
		return true
	}
	if _, h, err := rekor.KeyDetails(pub); err == nil && h != crypto.SHA256 {
		hh := h.New()
		hh.Write(msg)
		return verifyDigest(pub, h, hh.Sum(nil), sig)
	}
	return false
}

// pemVerifier parses a Rekor v1 verifier, caching recent ones (a signer
// often logs many entries with one key or certificate). A cached verifier
// is shared and must not be modified.
func (v *validator) pemVerifier(raw []byte) (*pemVerifier, error) {
	sum := sha256.Sum256(raw)
	if pv, ok := v.pems.Get(sum); ok {
		return pv, nil
	}
	pv, err := parsePEMVerifier(raw)
	if err != nil {
		return nil, err
	}
	v.pems.Add(sum, pv)
	return pv, nil
}

// pemVerifier is a Rekor v1 verifier: a PEM public key, certificate or
// certificate chain, and its canonical PEM (sigstore/rekor pkg/pki/x509
// CanonicalValue: cryptoutils.MarshalPublicKeyToPEM /
// MarshalCertificateToPEM / MarshalCertificatesToPEM).
type pemVerifier struct {
	pub       crypto.PublicKey
	leaf      *x509.Certificate // nil for a bare key
	canonical []byte
	// Computed once, for the search keys of entries: the hex SHA-256 of
	// canonical, and the leaf certificate's identities (subjects).
	keyHash  string
	subjects []string
}

func newPEMVerifier(pub crypto.PublicKey, leaf *x509.Certificate, canonical []byte) *pemVerifier {
	kh := sha256.Sum256(canonical)
	return &pemVerifier{pub: pub, leaf: leaf, canonical: canonical, keyHash: hex.EncodeToString(kh[:]), subjects: cert.SANs(leaf)}
}

// maxChain is how many certificates a PEM chain may hold (sigstore/rekor
// pkg/pki/x509 NewPublicKey).
const maxChain = 10

// parsePEMVerifier parses a Rekor v1 verifier: a PEM "PUBLIC KEY", a PEM
// "CERTIFICATE", or up to ten concatenated certificates (leaf first, root
// last; the chain must verify).
func parsePEMVerifier(raw []byte) (*pemVerifier, error) {
	raw = bytes.TrimSpace(raw)
	blk, rest := pem.Decode(raw)
	if blk == nil {
		return nil, badRequest("invalid public key: not PEM")
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return parsePEMChain(raw)
	}
	switch blk.Type {
	case "PUBLIC KEY":
		pub, err := x509.ParsePKIXPublicKey(blk.Bytes)
		if err != nil {
			return nil, badRequest("invalid public key: %v", err)
		}
		der, _ := x509.MarshalPKIXPublicKey(pub)
		return newPEMVerifier(pub, nil, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), nil
	case "CERTIFICATE":
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, badRequest("invalid certificate: %v", err)
		}
		return newPEMVerifier(c.PublicKey, c, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})), nil
	}
	return nil, badRequest("invalid public key: PEM type %q, want PUBLIC KEY or CERTIFICATE", blk.Type)
}

func parsePEMChain(raw []byte) (*pemVerifier, error) {
	var certs []*x509.Certificate
	for len(bytes.TrimSpace(raw)) > 0 {
		var blk *pem.Block
		blk, raw = pem.Decode(raw)
		if blk == nil || blk.Type != "CERTIFICATE" {
			return nil, badRequest("invalid certificate chain: every PEM block must be a CERTIFICATE")
		}
		if len(certs) == maxChain {
			return nil, badRequest("invalid certificate chain: more than %d certificates", maxChain)
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, badRequest("invalid certificate %d of the chain: %v", len(certs), err)
		}
		certs = append(certs, c)
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(certs[len(certs)-1])
	for _, c := range certs[1 : len(certs)-1] {
		inter.AddCert(c)
	}
	if _, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}, CurrentTime: certs[0].NotBefore}); err != nil {
		return nil, badRequest("certificate chain does not verify: %v", err)
	}
	var canon []byte
	for _, c := range certs {
		canon = append(canon, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return newPEMVerifier(certs[0].PublicKey, certs[0], canon), nil
}
