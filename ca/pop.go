package ca

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"sync"
)

// Client-visible messages (sigstore/fulcio pkg/server/error.go).
const (
	msgInvalidToken     = "There was an error processing the identity token"
	msgInvalidSignature = "The signature supplied in the request could not be verified"
	msgInvalidPublicKey = "The public key supplied in the request could not be parsed"
	msgInsecureKey      = "The public key supplied in the request is insecure"
	msgInvalidCSR       = "The certificate signing request could not be parsed"
	msgCTError          = "Error entering certificate in CTL"
	msgCAError          = "error communicating with CA backend"
	msgPolicy           = "The identity token is not permitted by this CA's claim policy"
	msgBothKeyAndCSR    = "couldn't parse request body: give publicKeyRequest or certificateSigningRequest, not both"
)

// parsePublicKey reads a PEM public key or, when the content is not PEM,
// raw DER PKIX (sigstore/fulcio pkg/challenges ParsePublicKey, which tries
// sigstore/sigstore pkg/cryptoutils UnmarshalPEMToPublicKey and then
// x509.ParsePKIXPublicKey). The PEM block must be a PKIX "PUBLIC KEY" or a
// PKCS#1 "RSA PUBLIC KEY", the two types UnmarshalPEMToPublicKey accepts
// (sigstore/sigstore v1.10); any other type is refused, as Fulcio refuses
// it. It returns the key and its DER SubjectPublicKeyInfo, which is PKIX
// whatever form the key came in.
func parsePublicKey(content []byte) (crypto.PublicKey, []byte, error) {
	if len(content) == 0 {
		return nil, nil, errors.New("no public key")
	}
	var pub crypto.PublicKey
	var err error
	if block, _ := pem.Decode(content); block == nil {
		pub, err = x509.ParsePKIXPublicKey(content)
	} else {
		switch block.Type {
		case "PUBLIC KEY":
			pub, err = x509.ParsePKIXPublicKey(block.Bytes)
		case "RSA PUBLIC KEY":
			pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
		default:
			err = fmt.Errorf("PEM block of type %q; want PUBLIC KEY or RSA PUBLIC KEY", block.Type)
		}
	}
	if err != nil {
		return nil, nil, err
	}
	// Re-encode so the certificate carries a canonical SPKI.
	spki, err := canonicalSPKI(pub)
	if err != nil {
		return nil, nil, err
	}
	return pub, spki, nil
}

// spkiPrefixes caches, per ECDSA curve, the DER SubjectPublicKeyInfo bytes
// that precede the uncompressed point: the outer SEQUENCE, the
// AlgorithmIdentifier (id-ecPublicKey, named curve) and the BIT STRING
// header, which are the same for every key on the curve (RFC 5480 §2).
var spkiPrefixes sync.Map // elliptic.Curve → []byte

// canonicalSPKI returns x509.MarshalPKIXPublicKey(pub). For ECDSA keys,
// after the first key of a curve, it appends the point to the curve's
// cached prefix instead of running the reflection-based ASN.1 encoder,
// which cost about 3% of the CA's CPU per certificate.
func canonicalSPKI(pub crypto.PublicKey) ([]byte, error) {
	k, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return x509.MarshalPKIXPublicKey(pub)
	}
	point, err := k.Bytes()
	if err != nil {
		return x509.MarshalPKIXPublicKey(pub)
	}
	if p, ok := spkiPrefixes.Load(k.Curve); ok {
		prefix := p.([]byte)
		return append(append(make([]byte, 0, len(prefix)+len(point)), prefix...), point...), nil
	}
	full, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	if bytes.HasSuffix(full, point) {
		spkiPrefixes.Store(k.Curve, bytes.Clone(full[:len(full)-len(point)]))
	}
	return full, nil
}

// validatePublicKey accepts RSA with a 2048-, 3072- or 4096-bit modulus,
// ECDSA on P-256, P-384 or P-521, and Ed25519 (sigstore/sigstore
// pkg/cryptoutils/publickey.go ValidatePubKey).
func validatePublicKey(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		// The modulus's exact bit length: Size() rounds up to whole bytes,
		// which would let a 2047-bit modulus pass as 2048.
		switch k.N.BitLen() {
		case 2048, 3072, 4096:
			return nil
		}
		return fmt.Errorf("RSA modulus of %d bits; must be 2048, 3072 or 4096", k.N.BitLen())
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
			return nil
		}
		return fmt.Errorf("ECDSA curve %s; must be P-256, P-384 or P-521", k.Curve.Params().Name)
	case ed25519.PublicKey:
		return nil
	}
	return fmt.Errorf("unsupported public key type %T", pub)
}

// defaultHash is the hash a proof of possession uses for a key
// (sigstore/sigstore pkg/signature LoadDefaultVerifier): SHA-256 for P-256
// and RSA, SHA-384 for P-384, SHA-512 for P-521, none (pure) for Ed25519.
func defaultHash(pub crypto.PublicKey) crypto.Hash {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P384():
			return crypto.SHA384
		case elliptic.P521():
			return crypto.SHA512
		}
		return crypto.SHA256
	case *rsa.PublicKey:
		return crypto.SHA256
	}
	return 0
}

// algorithmPermitted is Fulcio's default --client-signing-algorithms:
// ecdsa-sha2-256-nistp256, ecdsa-sha2-384-nistp384, ecdsa-sha2-512-nistp521,
// rsa-sign-pkcs1-{2048,3072,4096}-sha256, ed25519.
func algorithmPermitted(pub crypto.PublicKey, h crypto.Hash) bool {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return h == crypto.SHA256
		case elliptic.P384():
			return h == crypto.SHA384
		case elliptic.P521():
			return h == crypto.SHA512
		}
	case *rsa.PublicKey:
		return h == crypto.SHA256
	case ed25519.PublicKey:
		return h == 0
	}
	return false
}

// verifyProof checks a proof of possession: a signature over msg (the
// email or sub) with the key's default hash; ECDSA signatures are ASN.1.
func verifyProof(pub crypto.PublicKey, proof []byte, msg string) error {
	if len(proof) == 0 {
		return errors.New("no proof of possession")
	}
	h := defaultHash(pub)
	digest := []byte(msg)
	if h != 0 {
		d := h.New()
		d.Write(digest)
		digest = d.Sum(nil)
	}
	return checkSignature(pub, h, digest, proof)
}

// parseCSR reads a PEM certificate signing request (a DER one is refused,
// as sigstore/sigstore pkg/cryptoutils ParseCSR does).
func parseCSR(b []byte) (*x509.CertificateRequest, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	if block.Type != "CERTIFICATE REQUEST" && block.Type != "NEW CERTIFICATE REQUEST" {
		return nil, fmt.Errorf("PEM block is %q, not CERTIFICATE REQUEST", block.Type)
	}
	return x509.ParseCertificateRequest(block.Bytes)
}

// csrHash maps a CSR signature algorithm to its hash
// (sigstore/fulcio pkg/server/grpc_server.go getHashFuncForSignatureAlgorithm).
func csrHash(alg x509.SignatureAlgorithm) (crypto.Hash, error) {
	switch alg {
	case x509.ECDSAWithSHA256, x509.SHA256WithRSA:
		return crypto.SHA256, nil
	case x509.ECDSAWithSHA384, x509.SHA384WithRSA:
		return crypto.SHA384, nil
	case x509.ECDSAWithSHA512, x509.SHA512WithRSA:
		return crypto.SHA512, nil
	case x509.PureEd25519:
		return 0, nil
	}
	return 0, fmt.Errorf("unrecognized signature algorithm: %s", alg)
}
