// Package ca is a Sigstore certificate authority, wire-compatible with
// Fulcio: it checks an OIDC identity token and a proof of possession of a
// private key, and issues a short-lived code-signing certificate that names
// the identity, with an embedded (or detached) SCT from a certificate
// transparency log.
//
// HTTP API (sigstore/fulcio fulcio.proto, fulcio_legacy.proto; reference
// facts in ca.md of the project's shared notes):
//
//	POST /api/v2/signingCert    200 application/json  SigningCertificate
//	GET  /api/v2/trustBundle    200 application/json  {"chains":[{"certificates":[PEM…]}]}
//	GET  /api/v2/configuration  200 application/json  {"issuers":[…]}
//	POST /api/v1/signingCert    201 application/pem-certificate-chain (+ SCT header when detached)
//	GET  /api/v1/rootCert       200 application/pem-certificate-chain
//
// Errors are grpc-gateway's JSON, {"code":<gRPC code>,"message":…,"details":[]},
// with the messages Fulcio uses (sigstore/fulcio pkg/server/error.go): a bad
// token, key, proof or CSR is 400, never 401; a CA or CT failure is 500. sigil
// adds one: a token refused by the issuer's claim policy is 403 (gRPC
// PermissionDenied).
//
// Certificate profile (sigstore/fulcio pkg/ca/common.go, baseca.go): serial
// 20 random bytes with the top bit clear; validity now to now+Lifetime
// (10 minutes); empty subject; one SAN, critical; KeyUsage digitalSignature
// (critical); ExtKeyUsage codeSigning; AuthorityKeyId = the issuer's
// SubjectKeyId; no SubjectKeyId; then the Fulcio extensions (cert.Render:
// .1, .2–.6, .8, .9–.23, .24), an OtherName SAN first for usernames. The
// certificate is signed by the first certificate of the chain, with the
// default algorithm of its key (ecdsa-with-SHA256/384/512 by curve,
// sha256WithRSAEncryption, Ed25519).
//
// Embedded SCTs (RFC 6962 §3.1, sigstore/fulcio pkg/ca/baseca/baseca.go):
// the precertificate is the final certificate's TBSCertificate plus the
// critical poison extension (1.3.6.1.4.1.11129.2.4.3, value NULL) appended
// last, signed by the CA key itself; the final certificate replaces the
// poison with the SCT list extension (1.3.6.1.4.1.11129.2.4.2), so
// TBS(final) minus the SCT list equals TBS(precert) minus the poison.
package ca

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sigil.dev/sigil/oidc"
	"sigil.dev/sigil/sct"
	"sigil.dev/sigil/trust"
)

// Submitter is a certificate transparency log (implemented in process and
// over RFC 6962 HTTP by package ctlog).
type Submitter interface {
	// AddPreChain submits a precertificate (DER, poison extension)
	// followed by its issuer chain up to the root, and returns the SCT.
	AddPreChain(ctx context.Context, chain [][]byte) (*sct.SCT, error)
	// AddChain submits a final certificate chain (detached-SCT flow).
	AddChain(ctx context.Context, chain [][]byte) (*sct.SCT, error)
}

// IssuedSubmitter is a Submitter in the same process as the CA
// (*ctlog.Service): it takes the precertificate the CA has just signed
// without verifying that signature again. The CA uses it when CT has it.
type IssuedSubmitter interface {
	AddIssuedPreChain(ctx context.Context, chain [][]byte) (*sct.SCT, error)
}

// Authenticator verifies identity tokens; *oidc.Verifier is one.
type Authenticator interface {
	Verify(ctx context.Context, token string) (*oidc.Principal, error)
	Issuers() []oidc.IssuerInfo
}

// Config configures a Service.
type Config struct {
	// Signer is the issuing key (file or PKCS#11); its public key must be
	// that of Chain[0].
	Signer crypto.Signer
	// Chain is the issuing certificate first, the root last.
	Chain []*x509.Certificate
	// Identity verifies tokens and maps them to principals.
	Identity Authenticator
	// CT is the certificate transparency log; nil issues without SCTs.
	CT Submitter
	// CTKey, if set, is the CT log's public key: every SCT is verified
	// with it before the certificate is returned (fail closed). Set it
	// for a remote log; a log in the same process signs with the key it
	// holds, so checking its SCTs again only costs a verification.
	CTKey crypto.PublicKey
	// DetachedSCT embeds nothing and returns the SCT of the final
	// certificate beside it (v1: SCT header; v2:
	// signedCertificateDetachedSct). sigstore-python requires embedded
	// SCTs, so leave this off unless a client needs it.
	DetachedSCT bool
	// Lifetime of leaf certificates; default 10 minutes.
	Lifetime time.Duration
	// URL is the CA's public base URL, stated by TrustedCA.
	URL string

	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// Now returns the current time; default time.Now.
	Now func() time.Time
}

// Service is a running CA. It is safe for concurrent use.
type Service struct {
	cfg       Config
	issuer    *x509.Certificate
	algID     []byte      // DER AlgorithmIdentifier of leaf signatures
	hash      crypto.Hash // 0 for Ed25519
	selfCheck bool        // verify each signature (signers outside the Go standard library)
	authKeyID []byte      // DER value of the AuthorityKeyIdentifier extension, or nil
	chainDER  [][]byte    // Chain as DER, for CT submissions
	chainPEM  []string    // Chain as trimmed PEM, for responses
	rootPEM   string      // /api/v1/rootCert body
	bundle    []byte      // /api/v2/trustBundle body
	log       *slog.Logger
	m         *metrics
}

// Sentinel errors of New.
var (
	ErrChain = errors.New("invalid CA certificate chain")
	ErrKey   = errors.New("invalid CA key")
)

// New checks the configuration and returns the service. The chain must
// verify up to its last certificate; the issuing certificate must be a CA
// allowed to sign certificates and, below a root, carry the codeSigning
// EKU (EKU chaining); the signer must hold the issuing certificate's key
// (sigstore/fulcio pkg/ca/common.go VerifyCertChain).
func New(cfg Config) (*Service, error) {
	if cfg.Signer == nil {
		return nil, fmt.Errorf("couldn't create CA: %w: no signer", ErrKey)
	}
	if cfg.Identity == nil {
		return nil, errors.New("couldn't create CA: no identity token verifier")
	}
	if cfg.Lifetime == 0 {
		cfg.Lifetime = 10 * time.Minute
	}
	if cfg.Lifetime < 0 {
		return nil, fmt.Errorf("couldn't create CA: negative lifetime %s", cfg.Lifetime)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if err := checkChain(cfg.Chain, cfg.Signer); err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, issuer: cfg.Chain[0], log: cfg.Logger}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	var err error
	if s.algID, s.hash, err = signatureAlgorithm(cfg.Signer.Public()); err != nil {
		return nil, fmt.Errorf("couldn't create CA: %w: %v", ErrKey, err)
	}
	switch cfg.Signer.(type) {
	case *ecdsa.PrivateKey, *rsa.PrivateKey, ed25519.PrivateKey:
	default:
		s.selfCheck = true
	}
	if len(s.issuer.SubjectKeyId) > 0 {
		s.authKeyID = marshalAuthorityKeyID(s.issuer.SubjectKeyId)
	}
	var bundle strings.Builder
	bundle.WriteString(`{"chains":[{"certificates":[`)
	var root []string
	for i, c := range cfg.Chain {
		s.chainDER = append(s.chainDER, c.Raw)
		p := strings.TrimSpace(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})))
		s.chainPEM = append(s.chainPEM, p)
		root = append(root, p)
		if i > 0 {
			bundle.WriteByte(',')
		}
		bundle.WriteString(jsonString(p + "\n"))
	}
	bundle.WriteString("]}]}")
	s.bundle = []byte(bundle.String())
	s.rootPEM = strings.Join(root, "\n")
	s.m = newMetrics(cfg.Registerer)
	return s, nil
}

func checkChain(chain []*x509.Certificate, signer crypto.Signer) error {
	if len(chain) == 0 {
		return fmt.Errorf("couldn't create CA: %w: empty", ErrChain)
	}
	issuer, root := chain[0], chain[len(chain)-1]
	if !issuer.IsCA || !issuer.BasicConstraintsValid {
		return fmt.Errorf("couldn't create CA: %w: %q is not a CA certificate", ErrChain, issuer.Subject)
	}
	if issuer.KeyUsage != 0 && issuer.KeyUsage&x509.KeyUsageCertSign == 0 {
		return fmt.Errorf("couldn't create CA: %w: %q may not sign certificates (no certSign key usage)", ErrChain, issuer.Subject)
	}
	if len(chain) > 1 && !hasCodeSigning(issuer) {
		return fmt.Errorf("couldn't create CA: %w: intermediate %q lacks the codeSigning extended key usage", ErrChain, issuer.Subject)
	}
	roots := x509.NewCertPool()
	roots.AddCert(root)
	inter := x509.NewCertPool()
	for i := 1; i < len(chain)-1; i++ {
		inter.AddCert(chain[i])
	}
	if _, err := issuer.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}}); err != nil {
		return fmt.Errorf("couldn't create CA: %w: %v", ErrChain, err)
	}
	pub, err := x509.MarshalPKIXPublicKey(signer.Public())
	if err != nil {
		return fmt.Errorf("couldn't create CA: %w: %v", ErrKey, err)
	}
	if !bytes.Equal(pub, issuer.RawSubjectPublicKeyInfo) {
		return fmt.Errorf("couldn't create CA: %w: the signer's key is not the key of %q", ErrKey, issuer.Subject)
	}
	if err := validatePublicKey(signer.Public()); err != nil {
		return fmt.Errorf("couldn't create CA: %w: %v", ErrKey, err)
	}
	return nil
}

func hasCodeSigning(c *x509.Certificate) bool {
	for _, u := range c.ExtKeyUsage {
		if u == x509.ExtKeyUsageCodeSigning || u == x509.ExtKeyUsageAny {
			return true
		}
	}
	return false
}

// TrustedCA returns the CA as a trusted root lists it: the chain from the
// issuing certificate to the root, valid from the issuing certificate's
// notBefore.
func (s *Service) TrustedCA() (*trust.CA, error) {
	ca, err := trust.NewCA(s.cfg.Chain, trust.Window{Start: s.issuer.NotBefore}, false)
	if err != nil {
		return nil, fmt.Errorf("couldn't describe CA: %w", err)
	}
	ca.URI = s.cfg.URL
	return ca, nil
}

// Chain returns the CA chain, issuing certificate first.
func (s *Service) Chain() []*x509.Certificate { return s.cfg.Chain }
