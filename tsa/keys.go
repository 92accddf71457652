package tsa

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"sigil.dev/sigil/internal/fsutil"
)

// File names in Config.DataDir.
const (
	KeyFileName   = "key.pem"
	ChainFileName = "chain.pem"
)

// Validity of generated certificates.
const (
	rootLifetime = 20 * 365 * 24 * time.Hour
	leafLifetime = 10 * 365 * 24 * time.Hour
	// backdate covers clocks slightly behind the TSA's.
	backdate = time.Hour
)

var (
	oidExtKeyUsage    = asn1.ObjectIdentifier{2, 5, 29, 37}
	oidKPTimeStamping = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 8}
)

// loadOrCreate loads key.pem and chain.pem from dir, or generates both
// when neither exists. One without the other is an error: the TSA never
// overwrites a key.
func loadOrCreate(dir string, now time.Time, log *slog.Logger) (crypto.Signer, []*x509.Certificate, bool, error) {
	keyPath, chainPath := filepath.Join(dir, KeyFileName), filepath.Join(dir, ChainFileName)
	_, kerr := os.Stat(keyPath)
	_, cerr := os.Stat(chainPath)
	switch {
	case kerr == nil && cerr == nil:
		key, err := loadKey(keyPath, log)
		if err != nil {
			return nil, nil, false, err
		}
		chain, err := loadChain(chainPath)
		if err != nil {
			return nil, nil, false, err
		}
		return key, chain, false, nil
	case errors.Is(kerr, fs.ErrNotExist) && errors.Is(cerr, fs.ErrNotExist):
	case kerr == nil:
		return nil, nil, false, fmt.Errorf("couldn't load TSA state: %s exists but %s does not; restore it, or remove %s to generate a new TSA key and chain", keyPath, chainPath, keyPath)
	case cerr == nil:
		return nil, nil, false, fmt.Errorf("couldn't load TSA state: %s exists but %s does not; restore it, or remove %s to generate a new TSA key and chain", chainPath, keyPath, chainPath)
	default:
		return nil, nil, false, fmt.Errorf("couldn't load TSA state: %w", errors.Join(kerr, cerr))
	}

	key, chain, err := Generate(now)
	if err != nil {
		return nil, nil, false, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, false, fmt.Errorf("couldn't create TSA directory: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, false, fmt.Errorf("couldn't encode TSA key: %w", err)
	}
	var chainPEM []byte
	for _, c := range chain {
		chainPEM = append(chainPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	// The chain is written first: a crash between the two writes leaves a
	// chain without a key, which the next start reports, and no key is
	// ever left behind without the certificate that names it.
	if err := writeFileAtomic(chainPath, chainPEM, 0o644); err != nil {
		return nil, nil, false, err
	}
	if err := writeFileAtomic(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return nil, nil, false, err
	}
	return key, chain, true, nil
}

// Generate creates a P-256 TSA key and a two-certificate chain for it: a
// leaf with a critical id-kp-timeStamping EKU (its only one) and
// digitalSignature usage, under a new self-signed root whose key is
// discarded. The chain is returned leaf first.
func Generate(now time.Time) (*ecdsa.PrivateKey, []*x509.Certificate, error) {
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("couldn't generate TSA root key: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("couldn't generate TSA key: %w", err)
	}
	start := now.Add(-backdate).UTC().Truncate(time.Second)
	rootTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{Organization: []string{"sigil"}, CommonName: "sigil TSA root"},
		NotBefore:             start,
		NotAfter:              start.Add(rootLifetime),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	rootDER, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, rootKey.Public(), rootKey)
	if err != nil {
		return nil, nil, fmt.Errorf("couldn't create TSA root certificate: %w", err)
	}
	root, err := x509.ParseCertificate(rootDER)
	if err != nil {
		return nil, nil, fmt.Errorf("couldn't parse TSA root certificate: %w", err)
	}
	// RFC 3161 §2.3: exactly one EKU, id-kp-timeStamping, critical. Go's
	// ExtKeyUsage field makes a non-critical extension, so it is written
	// by hand.
	eku, err := asn1.Marshal([]asn1.ObjectIdentifier{oidKPTimeStamping})
	if err != nil {
		return nil, nil, fmt.Errorf("couldn't encode EKU: %w", err)
	}
	// RFC 5280 §4.2.1.2: end-entity certificates SHOULD carry a subject
	// key identifier (Go makes one only for CAs); RFC 7093 §2 method 1,
	// as Go does for CAs: the leftmost 160 bits of the SHA-256 of the
	// subjectPublicKey bit string (the uncompressed point).
	point, err := key.PublicKey.Bytes()
	if err != nil {
		return nil, nil, fmt.Errorf("couldn't encode TSA public key: %w", err)
	}
	skid := sha256.Sum256(point)
	leafTmpl := &x509.Certificate{
		SubjectKeyId:          skid[:20],
		SerialNumber:          serial(),
		Subject:               pkix.Name{Organization: []string{"sigil"}, CommonName: "sigil TSA"},
		NotBefore:             start,
		NotAfter:              start.Add(leafLifetime),
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtraExtensions:       []pkix.Extension{{Id: oidExtKeyUsage, Critical: true, Value: eku}},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, root, key.Public(), rootKey)
	if err != nil {
		return nil, nil, fmt.Errorf("couldn't create TSA certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(leafDER)
	if err != nil {
		return nil, nil, fmt.Errorf("couldn't parse TSA certificate: %w", err)
	}
	return key, []*x509.Certificate{leaf, root}, nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	return n.Add(n, big.NewInt(1))
}

// loadKey reads an unencrypted PEM private key, after an EC PARAMETERS
// block if there is one.
func loadKey(path string, log *slog.Logger) (crypto.Signer, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("couldn't read TSA key: %w", err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		log.Warn("TSA key file is readable by other users; chmod 600 it", "path", path, "mode", fi.Mode().Perm().String())
	}
	blk, rest := pem.Decode(raw)
	if blk != nil && blk.Type == "EC PARAMETERS" {
		// openssl ecparam -genkey writes the curve before the key.
		blk, _ = pem.Decode(rest)
	}
	if blk == nil {
		return nil, fmt.Errorf("couldn't read TSA key %s: no PEM block", path)
	}
	var k any
	switch blk.Type {
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(blk.Bytes)
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
	case "ENCRYPTED PRIVATE KEY":
		return nil, fmt.Errorf("couldn't read TSA key %s: it is encrypted; load it yourself and pass it as Config.Signer", path)
	default:
		return nil, fmt.Errorf("couldn't read TSA key %s: PEM block %q, want PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY", path, blk.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("couldn't parse TSA key %s: %w", path, err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("couldn't use TSA key %s: %T cannot sign", path, k)
	}
	return s, nil
}

// loadChain reads PEM certificates, leaf first, root last.
func loadChain(path string) ([]*x509.Certificate, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("couldn't read TSA certificate chain: %w", err)
	}
	chain, err := ParseChainPEM(raw)
	if err != nil {
		return nil, fmt.Errorf("couldn't load TSA certificate chain %s: %w", path, err)
	}
	return chain, nil
}

// ParseChainPEM parses PEM certificates (other PEM blocks are an error),
// in order. The answer of /api/v1/timestamp/certchain parses with it.
func ParseChainPEM(raw []byte) ([]*x509.Certificate, error) {
	var chain []*x509.Certificate
	for {
		var blk *pem.Block
		blk, raw = pem.Decode(raw)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("%w: PEM block %q, want CERTIFICATE", ErrBadChain, blk.Type)
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: certificate %d: %v", ErrBadChain, len(chain), err)
		}
		chain = append(chain, c)
	}
	if len(chain) == 0 {
		return nil, fmt.Errorf("%w: no certificates", ErrBadChain)
	}
	return chain, nil
}

// writeFileAtomic writes a file through a synced temporary file renamed
// into place (fsutil.WriteFileAtomic).
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	return fsutil.WriteFileAtomic(path, data, mode)
}
