// Package rekor defines the transparency-log entry kinds Sigstore clients
// rebuild byte for byte: the Rekor v1 canonical bodies (hashedrekord 0.0.1,
// dsse 0.0.1, intoto 0.0.2), the Rekor v2 hashedrekord 0.0.2 entry, the
// RFC 6962 leaf hash and the v1 Signed Entry Timestamp (SET) payload.
//
// The same code serves the verifier (parse a body, check it against a
// bundle, rebuild a v2 entry) and the log service (emit canonical bodies), so
// that what the log writes and what a verifier expects cannot drift apart.
//
// Canonical bodies are RFC 8785 (JCS) JSON of {apiVersion, kind, spec}
// (sigstore/rekor pkg/types/entries.go CanonicalizeEntry). The v2 entry is
// JCS of the protojson encoding of dev.sigstore.rekor.v2.Entry
// (sigstore/rekor-tiles pkg/types/hashedrekord ToEntryHash).
package rekor

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
)

// Entry kinds and versions this package understands.
const (
	KindHashedRekord = "hashedrekord"
	KindDSSE         = "dsse"
	KindIntoto       = "intoto"

	VersionHashedRekordV1 = "0.0.1"
	VersionDSSEV1         = "0.0.1"
	VersionIntotoV1       = "0.0.2"
	VersionHashedRekordV2 = "0.0.2"
)

// IsV2Entry reports whether an entry of this kind and version comes from a
// Rekor v2 log, which writes only hashedrekord 0.0.2 (a DSSE request is
// logged as a hashedrekord of its envelope).
func IsV2Entry(kind, version string) bool {
	return kind == KindHashedRekord && version == VersionHashedRekordV2
}

// ErrUnsupportedKind is returned for an entry kind/version this package does
// not parse.
var ErrUnsupportedKind = errors.New("unsupported log entry kind")

// LeafHash returns the RFC 6962 leaf hash SHA-256(0x00 || body). The Rekor v1
// entry UUID is its hex encoding.
func LeafHash(body []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte{0})
	h.Write(body)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// KeyDetails names the signing algorithm Sigstore associates with a public
// key by default, as a PublicKeyDetails enum name, and the hash it uses
// (sigstore/sigstore pkg/signature GetDefaultAlgorithmDetails with
// Ed25519ph, as sigstore-go and rekor-tiles call it): P-256 → SHA-256,
// P-384 → SHA-384, P-521 → SHA-512, Ed25519 → Ed25519ph (SHA-512), RSA
// PKCS#1 v1.5 by modulus size → SHA-256.
func KeyDetails(pub crypto.PublicKey) (name string, hash crypto.Hash, err error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return "PKIX_ECDSA_P256_SHA_256", crypto.SHA256, nil
		case elliptic.P384():
			return "PKIX_ECDSA_P384_SHA_384", crypto.SHA384, nil
		case elliptic.P521():
			return "PKIX_ECDSA_P521_SHA_512", crypto.SHA512, nil
		}
		return "", 0, fmt.Errorf("unsupported ECDSA curve %s", k.Curve.Params().Name)
	case ed25519.PublicKey:
		return "PKIX_ED25519_PH", crypto.SHA512, nil
	case *rsa.PublicKey:
		switch k.N.BitLen() {
		case 2048:
			return "PKIX_RSA_PKCS1V15_2048_SHA256", crypto.SHA256, nil
		case 3072:
			return "PKIX_RSA_PKCS1V15_3072_SHA256", crypto.SHA256, nil
		case 4096:
			return "PKIX_RSA_PKCS1V15_4096_SHA256", crypto.SHA256, nil
		}
		return "", 0, fmt.Errorf("unsupported RSA key size %d", k.N.BitLen())
	}
	return "", 0, fmt.Errorf("unsupported public key type %T", pub)
}

// HashName returns the protobuf HashAlgorithm enum name for h.
func HashName(h crypto.Hash) string {
	switch h {
	case crypto.SHA256:
		return "SHA2_256"
	case crypto.SHA384:
		return "SHA2_384"
	case crypto.SHA512:
		return "SHA2_512"
	}
	return "HASH_ALGORITHM_UNSPECIFIED"
}

// HashFromName returns the hash for a Rekor v1 algorithm name ("sha256",
// "sha384", "sha512").
func HashFromName(name string) (crypto.Hash, error) {
	switch name {
	case "sha256":
		return crypto.SHA256, nil
	case "sha384":
		return crypto.SHA384, nil
	case "sha512":
		return crypto.SHA512, nil
	}
	return 0, fmt.Errorf("unsupported hash algorithm %q", name)
}

// V1Name returns the Rekor v1 algorithm name for h.
func V1Name(h crypto.Hash) string {
	switch h {
	case crypto.SHA256:
		return "sha256"
	case crypto.SHA384:
		return "sha384"
	case crypto.SHA512:
		return "sha512"
	}
	return ""
}
