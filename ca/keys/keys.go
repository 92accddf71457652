// Package keys makes and loads the keys and certificates of a Sigstore CA:
// a root and an intermediate in the shape Fulcio's certificate
// specification asks for (sigstore/fulcio docs/certificate-specification.md),
// password-encrypted PKCS#8 key files, and signers from a file or a PKCS#11
// token (RFC 7512 URIs, via github.com/ThalesGroup/crypto11).
//
// P-256 is the default key type: verifying a P-256 chain is about eight
// times cheaper than P-384 in Go, and every verifier accepts it. P-384 is
// an option for deployments whose policy asks for it.
package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// KeyType names a CA key algorithm.
type KeyType string

// Key types.
const (
	ECDSAP256 KeyType = "ecdsa-p256"
	ECDSAP384 KeyType = "ecdsa-p384"
)

// Curve returns the elliptic curve of t.
func (t KeyType) Curve() (elliptic.Curve, error) {
	switch t {
	case ECDSAP256, "":
		return elliptic.P256(), nil
	case ECDSAP384:
		return elliptic.P384(), nil
	}
	return nil, fmt.Errorf("unknown key type %q (ecdsa-p256 or ecdsa-p384)", t)
}

// GenerateKey makes a software key of type t.
func GenerateKey(t KeyType) (crypto.Signer, error) {
	c, err := t.Curve()
	if err != nil {
		return nil, err
	}
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("couldn't generate key: %w", err)
	}
	return k, nil
}

// ChainOptions describe a root and an intermediate.
type ChainOptions struct {
	// Organization of both subjects; default "sigil".
	Organization string
	// RootName and IntermediateName are the common names; default
	// "sigil root" and "sigil intermediate".
	RootName, IntermediateName string
	// RootValidity defaults to 10 years, IntermediateValidity to 5; an
	// intermediate never outlives its root.
	RootValidity, IntermediateValidity time.Duration
	// Now is the start of validity; default the current time minus five
	// minutes, for clock skew.
	Now time.Time
}

func (o *ChainOptions) defaults() {
	if o.Organization == "" {
		o.Organization = "sigil"
	}
	if o.RootName == "" {
		o.RootName = "sigil root"
	}
	if o.IntermediateName == "" {
		o.IntermediateName = "sigil intermediate"
	}
	if o.RootValidity == 0 {
		o.RootValidity = 10 * 365 * 24 * time.Hour
	}
	if o.IntermediateValidity == 0 {
		o.IntermediateValidity = 5 * 365 * 24 * time.Hour
	}
	if o.Now.IsZero() {
		o.Now = time.Now().Add(-5 * time.Minute)
	}
	o.Now = o.Now.UTC().Truncate(time.Second)
}

// serial returns a random positive 159-bit serial (RFC 5280 §4.1.2.2).
func serial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 159))
	if err != nil {
		return nil, err
	}
	return n.Add(n, big.NewInt(1)), nil
}

// skid is the SHA-1 of the subjectPublicKey BIT STRING (RFC 5280 §4.2.1.2
// method 1).
func skid(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	var spki struct {
		Alg pkix.AlgorithmIdentifier
		Key asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &spki); err != nil {
		return nil, err
	}
	h := sha1.Sum(spki.Key.Bytes)
	return h[:], nil
}

// NewRoot self-signs a root: CA:TRUE with path length 1, key usage
// certSign and cRLSign (critical), no extended key usage.
func NewRoot(key crypto.Signer, o ChainOptions) (*x509.Certificate, error) {
	o.defaults()
	if o.RootValidity < 0 {
		return nil, fmt.Errorf("couldn't create root certificate: negative validity %s", o.RootValidity)
	}
	sn, err := serial()
	if err != nil {
		return nil, err
	}
	id, err := skid(key.Public())
	if err != nil {
		return nil, fmt.Errorf("couldn't create root certificate: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{Organization: []string{o.Organization}, CommonName: o.RootName},
		NotBefore:             o.Now,
		NotAfter:              o.Now.Add(o.RootValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            1,
		SubjectKeyId:          id,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("couldn't create root certificate: %w", err)
	}
	return x509.ParseCertificate(der)
}

// NewIntermediate issues an intermediate for pub under root: CA:TRUE with
// path length 0, key usage certSign and cRLSign, extended key usage
// codeSigning only (Fulcio chains EKUs), valid no longer than the root.
func NewIntermediate(root *x509.Certificate, rootKey crypto.Signer, pub crypto.PublicKey, o ChainOptions) (*x509.Certificate, error) {
	o.defaults()
	if !root.IsCA {
		return nil, errors.New("couldn't create intermediate certificate: the issuer is not a CA")
	}
	if root.MaxPathLen == 0 && root.MaxPathLenZero {
		return nil, fmt.Errorf("couldn't create intermediate certificate: %q has path length 0: it may certify no CA (give the root certificate)", root.Subject)
	}
	if o.IntermediateValidity < 0 {
		return nil, fmt.Errorf("couldn't create intermediate certificate: negative validity %s", o.IntermediateValidity)
	}
	if !root.NotAfter.After(o.Now) {
		return nil, fmt.Errorf("couldn't create intermediate certificate: %q expired on %s", root.Subject, root.NotAfter.Format(time.DateOnly))
	}
	sn, err := serial()
	if err != nil {
		return nil, err
	}
	id, err := skid(pub)
	if err != nil {
		return nil, fmt.Errorf("couldn't create intermediate certificate: %w", err)
	}
	notAfter := o.Now.Add(o.IntermediateValidity)
	if notAfter.After(root.NotAfter) {
		notAfter = root.NotAfter
	}
	notBefore := o.Now
	if notBefore.Before(root.NotBefore) {
		notBefore = root.NotBefore
	}
	tmpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{Organization: []string{o.Organization}, CommonName: o.IntermediateName},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
		SubjectKeyId:          id,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, root, pub, rootKey)
	if err != nil {
		return nil, fmt.Errorf("couldn't create intermediate certificate: %w", err)
	}
	return x509.ParseCertificate(der)
}
