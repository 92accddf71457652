package tsa

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sigil.dev/sigil/timestamp"
	"sigil.dev/sigil/trust"
)

// Config configures a TSA. The key comes from, in order: Signer (with
// ChainFile), KeyFile and ChainFile, or DataDir (loaded, or generated on
// first start).
type Config struct {
	// DataDir holds key.pem and chain.pem; both are generated when neither
	// exists. Created with mode 0700 if missing.
	DataDir string
	// KeyFile is a PEM private key (PKCS #8 "PRIVATE KEY", SEC 1 "EC
	// PRIVATE KEY" or PKCS #1 "RSA PRIVATE KEY", unencrypted; give an
	// encrypted or HSM key as Signer),
	// ChainFile the PEM chain: the TSA leaf first, the root last.
	KeyFile, ChainFile string
	// Signer, if set, is the TSA key (e.g. from PKCS #11); ChainFile is
	// then required.
	Signer crypto.Signer
	// URL is the public URL of the timestamp endpoint
	// (https://host/api/v1/timestamp), stated as the TSA's URI in the
	// trusted root. Optional.
	URL string
	// Now is the TSA's clock; default time.Now.
	Now func() time.Time

	Logger     *slog.Logger          // default: discard
	Registerer prometheus.Registerer // nil: metrics are not registered
}

// Service is a running TSA. It is safe for concurrent use.
type Service struct {
	signer   *timestamp.Signer
	chain    []*x509.Certificate // leaf first, root last
	chainPEM []byte
	url      string
	log      *slog.Logger
	metrics  *metrics
	now      func() time.Time
}

// Sentinel errors of New.
var (
	// ErrNoKey: the Config names no key source.
	ErrNoKey = errors.New("no TSA key configured")
	// ErrBadChain: the certificate chain does not fit the key or breaks
	// the RFC 3161 §2.3 profile.
	ErrBadChain = errors.New("invalid TSA certificate chain")
)

// New loads or creates the TSA key and chain, checks them, and returns the
// service.
func New(cfg Config) (*Service, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	var (
		key   crypto.Signer
		chain []*x509.Certificate
		err   error
	)
	switch {
	case cfg.Signer != nil:
		if cfg.ChainFile == "" {
			return nil, fmt.Errorf("couldn't configure TSA: a Signer needs a ChainFile")
		}
		key = cfg.Signer
		if chain, err = loadChain(cfg.ChainFile); err != nil {
			return nil, err
		}
	case cfg.KeyFile != "" || cfg.ChainFile != "":
		if cfg.KeyFile == "" || cfg.ChainFile == "" {
			return nil, fmt.Errorf("couldn't configure TSA: give both KeyFile and ChainFile")
		}
		if key, err = loadKey(cfg.KeyFile, log); err != nil {
			return nil, err
		}
		if chain, err = loadChain(cfg.ChainFile); err != nil {
			return nil, err
		}
	case cfg.DataDir != "":
		var created bool
		if key, chain, created, err = loadOrCreate(cfg.DataDir, now(), log); err != nil {
			return nil, err
		}
		if created {
			log.Info("created TSA key and certificate chain", "dir", cfg.DataDir,
				"leaf", chain[0].Subject.String(), "sha256", fingerprint(chain[0]))
		}
	default:
		return nil, fmt.Errorf("couldn't configure TSA: %w: set DataDir, KeyFile and ChainFile, or Signer", ErrNoKey)
	}

	chainPath := cfg.ChainFile
	if chainPath == "" {
		chainPath = filepath.Join(cfg.DataDir, ChainFileName)
	}
	if err := checkKeyFits(key, chain, chainPath); err != nil {
		return nil, err
	}

	s := &Service{
		signer: &timestamp.Signer{Key: key, Cert: chain[0], Chain: chain[1:], Policy: timestamp.PolicySigstore, Accuracy: time.Second, Now: now},
		chain:  chain,
		url:    cfg.URL,
		log:    log,
		now:    now,
	}
	if err := s.selfCheck(now()); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	for _, c := range chain {
		_ = pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	s.chainPEM = buf.Bytes()
	if s.metrics, err = newMetrics(cfg.Registerer); err != nil {
		return nil, err
	}
	log.Info("TSA ready", "leaf", chain[0].Subject.String(), "notAfter", chain[0].NotAfter.UTC().Format(time.RFC3339), "sha256", fingerprint(chain[0]))
	return s, nil
}

// selfCheck issues a token and verifies it against the chain as a
// Sigstore verifier would, so that a TSA whose key, certificate profile or
// chain is wrong refuses to start instead of handing out tokens that no
// client accepts.
func (s *Service) selfCheck(now time.Time) error {
	leaf := s.chain[0]
	if len(s.chain) == 1 && !selfSigned(leaf) {
		return fmt.Errorf("couldn't check TSA certificate chain: %w: it holds only the leaf; add the certificates up to the root that issued it", ErrBadChain)
	}
	if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		return fmt.Errorf("couldn't check TSA certificate: %w: the leaf is valid from %s to %s, not now (%s)",
			ErrBadChain, leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotAfter.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	var msg [32]byte
	if _, err := rand.Read(msg[:]); err != nil {
		return fmt.Errorf("couldn't check TSA: %w", err)
	}
	d := sha256.Sum256(msg[:])
	resp, err := s.signer.Respond(&timestamp.Request{HashAlgorithm: crypto.SHA256, HashedMessage: d[:]})
	if err != nil {
		return fmt.Errorf("couldn't check TSA: %w: %v", ErrBadChain, err)
	}
	tok, err := timestamp.ParseResponse(resp)
	if err != nil {
		return fmt.Errorf("couldn't check TSA: %w", err)
	}
	opts := timestamp.VerifyOptions{Roots: s.chain[len(s.chain)-1:], Leaf: leaf}
	if len(s.chain) > 2 {
		opts.Intermediates = s.chain[1 : len(s.chain)-1]
	}
	if err := tok.Verify(msg[:], opts); err != nil {
		return fmt.Errorf("couldn't check TSA certificate chain: %w: a token it signs does not verify: %v", ErrBadChain, err)
	}
	return nil
}

// checkKeyFits checks that the chain starts with the key's certificate,
// and says which certificate is the key's when the chain is out of order.
func checkKeyFits(key crypto.Signer, chain []*x509.Certificate, chainPath string) error {
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok {
		return fmt.Errorf("couldn't check TSA key: unsupported key type %T", key.Public())
	}
	if pub.Equal(chain[0].PublicKey) {
		return nil
	}
	for i, c := range chain[1:] {
		if pub.Equal(c.PublicKey) {
			return fmt.Errorf("couldn't check TSA certificate chain %s: %w: the TSA's certificate %q is certificate %d of the chain; put it first, then any intermediates, the root last",
				chainPath, ErrBadChain, c.Subject.String(), i+2)
		}
	}
	return fmt.Errorf("couldn't check TSA certificate chain %s: %w: the key does not match the first certificate of the chain (%q) nor any other; give the key of the TSA certificate, and the chain that starts with it",
		chainPath, ErrBadChain, chain[0].Subject.String())
}

// Chain returns the TSA certificate chain, leaf first, root last.
func (s *Service) Chain() []*x509.Certificate { return append([]*x509.Certificate(nil), s.chain...) }

// ChainPEM returns the chain as served by /api/v1/timestamp/certchain.
func (s *Service) ChainPEM() []byte { return append([]byte(nil), s.chainPEM...) }

// Signer returns the token signer, for in-process use (e.g. a signer that
// timestamps without an HTTP round trip).
func (s *Service) Signer() *timestamp.Signer { return s.signer }

// TrustedTSA returns the TSA as a trusted-root timestamp authority: the
// whole chain (leaf first, so verifiers find the leaf when tokens embed
// no certificates), valid from the leaf's notBefore with no end, and
// Config.URL as its URI.
func (s *Service) TrustedTSA() (*trust.CA, error) {
	ca, err := trust.NewCA(s.chain, trust.Window{Start: s.chain[0].NotBefore}, true)
	if err != nil {
		return nil, fmt.Errorf("couldn't build trusted TSA: %w", err)
	}
	ca.URI = s.url
	return ca, nil
}

// SigningConfigService returns the TSA's entry for a signing config's
// tsaUrls: Config.URL (the full timestamp endpoint URL, as signing configs
// state TSAs; sigstore/protobuf-specs SigningConfig), API version 1, valid
// from the leaf's notBefore.
func (s *Service) SigningConfigService() trust.Service {
	return trust.Service{URL: s.url, MajorAPIVersion: 1, Valid: trust.Window{Start: s.chain[0].NotBefore}}
}

func fingerprint(c *x509.Certificate) string {
	h := sha256.Sum256(c.Raw)
	return fmt.Sprintf("%x", h[:])
}

// selfSigned reports whether c names itself as issuer and its signature
// verifies with its own key (CA or not).
func selfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
}
