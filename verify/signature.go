package verify

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"maps"
	"slices"
	"strings"

	"sigil.dev/sigil/bundle"
	"sigil.dev/sigil/intoto"
	"sigil.dev/sigil/rekor"
)

// defaultHash is the hash a key signs with by default (rekor.KeyDetails):
// SHA-256 for P-256 and RSA, SHA-384 for P-384, SHA-512 for P-521 and
// Ed25519ph.
func defaultHash(pub crypto.PublicKey) crypto.Hash {
	if _, h, err := rekor.KeyDetails(pub); err == nil {
		return h
	}
	return crypto.SHA256
}

// verifyDigest checks a signature over a digest computed with h.
func verifyDigest(pub crypto.PublicKey, h crypto.Hash, digest, sig []byte) bool {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return ecdsa.VerifyASN1(k, digest, sig)
	case *rsa.PublicKey:
		if rsa.VerifyPKCS1v15(k, h, digest, sig) == nil {
			return true
		}
		return rsa.VerifyPSS(k, h, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto}) == nil
	case ed25519.PublicKey:
		if h != crypto.SHA512 {
			return false
		}
		return ed25519.VerifyWithOptions(k, digest, sig, &ed25519.Options{Hash: crypto.SHA512}) == nil
	}
	return false
}

// verifyMessage checks a signature over a whole message: the key's default
// hash of it, or pure Ed25519.
func verifyMessage(pub crypto.PublicKey, msg, sig []byte) bool {
	if k, ok := pub.(ed25519.PublicKey); ok {
		return ed25519.Verify(k, msg, sig)
	}
	h := defaultHash(pub)
	hh := h.New()
	hh.Write(msg)
	if verifyDigest(pub, h, hh.Sum(nil), sig) {
		return true
	}
	// Bundles v0.1–v0.3 from P-384 and P-521 keys may sign with SHA-256
	// (sigstore-go's compatibility verifier accepts both).
	if _, ok := pub.(*ecdsa.PublicKey); ok && h != crypto.SHA256 {
		d := sha256.Sum256(msg)
		return verifyDigest(pub, crypto.SHA256, d[:], sig)
	}
	return false
}

func keyID(pub crypto.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return ""
	}
	s := sha256.Sum256(der)
	return hex.EncodeToString(s[:])
}

// hashArtifact streams the artifact through the given hashes.
func hashArtifact(art Artifact, hs ...crypto.Hash) (map[crypto.Hash][]byte, error) {
	rc, err := art.Open()
	if err != nil {
		return nil, fail(CheckArtifact, "couldn't open artifact: %v", err)
	}
	defer rc.Close()
	ws := make([]io.Writer, 0, len(hs))
	hh := make(map[crypto.Hash]hash.Hash, len(hs))
	for _, h := range hs {
		if _, done := hh[h]; done || !h.Available() {
			continue
		}
		hh[h] = h.New()
		ws = append(ws, hh[h])
	}
	if _, err := io.Copy(io.MultiWriter(ws...), rc); err != nil {
		return nil, fail(CheckArtifact, "couldn't read artifact: %v", err)
	}
	out := make(map[crypto.Hash][]byte, len(hh))
	for h, x := range hh {
		out[h] = x.Sum(nil)
	}
	return out, nil
}

// verifySignature checks the bundle's signature with key and binds it to
// the artifact. For DSSE bundles it returns the in-toto statement.
func (v *Verifier) verifySignature(b *bundle.Bundle, key crypto.PublicKey, art Artifact, p Policy) (*intoto.Statement, error) {
	if b.MessageSignature != nil {
		if p.PredicateType != "" {
			// A policy that asks for an attestation is not met by a
			// signature over the artifact itself.
			return nil, fail(CheckStatement, "the policy requires an in-toto attestation of predicate type %s, but the bundle signs the artifact directly (a message signature)", p.PredicateType)
		}
		return nil, verifyMessageSignature(b.MessageSignature, key, art)
	}
	return verifyEnvelope(b, key, art, p)
}

func verifyMessageSignature(ms *bundle.MessageSignature, key crypto.PublicKey, art Artifact) error {
	if art.None {
		return fail(CheckArtifact, "a message signature can only be verified against an artifact or its digest")
	}
	h := ms.DigestAlgorithm
	if h == 0 {
		h = defaultHash(key)
	}
	if art.Open == nil {
		// Digest only.
		if ms.Digest == nil {
			return fail(CheckArtifact, "the bundle states no message digest, so it can't be verified from a digest; pass the artifact")
		}
		if art.DigestAlgorithm != ms.DigestAlgorithm {
			return fail(CheckArtifact, "the bundle signs a %s digest, not %s", ms.DigestAlgorithm, art.DigestAlgorithm)
		}
		if !bytes.Equal(art.Digest, ms.Digest) {
			return fail(CheckArtifact, "the artifact's %s digest %x does not match the digest the bundle signs, %x", art.DigestAlgorithm, art.Digest, ms.Digest)
		}
		if _, ok := key.(ed25519.PublicKey); ok && h != crypto.SHA512 {
			return fail(CheckSignature, "an Ed25519 signature can't be verified from a %s digest; pass the artifact", h)
		}
		if !verifyDigest(key, h, ms.Digest, ms.Signature) {
			return fail(CheckSignature, "signature does not verify over the digest with the %s", keyDesc(key))
		}
		return nil
	}

	if ed, ok := key.(ed25519.PublicKey); ok && ms.DigestAlgorithm != crypto.SHA512 {
		// Pure Ed25519 over the whole artifact (Ed25519ph signs a SHA-512
		// digest and is handled below).
		rc, err := art.Open()
		if err != nil {
			return fail(CheckArtifact, "couldn't open artifact: %v", err)
		}
		msg, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return fail(CheckArtifact, "couldn't read artifact: %v", err)
		}
		if !ed25519.Verify(ed, msg, ms.Signature) {
			return fail(CheckSignature, "signature does not verify over the artifact with the %s", keyDesc(key))
		}
		if ms.Digest != nil {
			hh := ms.DigestAlgorithm.New()
			hh.Write(msg)
			if !bytes.Equal(hh.Sum(nil), ms.Digest) {
				return fail(CheckArtifact, "artifact digest does not match the bundle's message digest %x", ms.Digest)
			}
		}
		return nil
	}

	digests, err := hashArtifact(art, h)
	if err != nil {
		return err
	}
	d := digests[h]
	if ms.Digest != nil && !bytes.Equal(d, ms.Digest) {
		return fail(CheckArtifact, "the artifact's %s digest %x does not match the digest the bundle signs, %x", h, d, ms.Digest)
	}
	if !verifyDigest(key, h, d, ms.Signature) {
		return fail(CheckSignature, "signature does not verify over the artifact with the %s", keyDesc(key))
	}
	return nil
}

var digestNames = map[string]crypto.Hash{"sha256": crypto.SHA256, "sha384": crypto.SHA384, "sha512": crypto.SHA512}

func digestName(h crypto.Hash) string {
	for n, x := range digestNames {
		if x == h {
			return n
		}
	}
	return h.String()
}

func verifyEnvelope(b *bundle.Bundle, key crypto.PublicKey, art Artifact, p Policy) (*intoto.Statement, error) {
	env := b.Envelope
	if !verifyMessage(key, env.PAE(), env.Signatures[0].Sig) {
		return nil, fail(CheckSignature, "DSSE envelope signature does not verify with the %s", keyDesc(key))
	}
	if env.PayloadType != intoto.PayloadType {
		if art.None && p.PredicateType == "" {
			return nil, nil
		}
		return nil, fail(CheckStatement, "DSSE payload type is %q, not an in-toto statement (%s)", env.PayloadType, intoto.PayloadType)
	}
	st, err := intoto.Parse(env.Payload)
	if err != nil {
		return nil, &Error{Check: CheckStatement, Err: err}
	}
	if p.PredicateType != "" && st.PredicateType != p.PredicateType {
		return nil, fail(CheckStatement, "predicate type is %q, want %q", st.PredicateType, p.PredicateType)
	}
	switch {
	case art.None:
	case art.Open == nil:
		if !st.MatchDigest(digestName(art.DigestAlgorithm), art.Digest) {
			return nil, fail(CheckArtifact, "no in-toto subject has %s digest %x", digestName(art.DigestAlgorithm), art.Digest)
		}
	default:
		var hs []crypto.Hash
		for _, alg := range st.DigestAlgorithms() {
			if h, ok := digestNames[alg]; ok {
				hs = append(hs, h)
			}
		}
		if len(hs) == 0 {
			return nil, fail(CheckArtifact, "no in-toto subject uses a supported digest (sha256, sha384, sha512)")
		}
		ds, err := hashArtifact(art, hs...)
		if err != nil {
			return nil, err
		}
		matched := false
		for h, d := range ds {
			if st.MatchDigest(digestName(h), d) {
				matched = true
				break
			}
		}
		if !matched {
			return nil, fail(CheckArtifact, "the artifact (%s) is not a subject of the in-toto statement, whose subjects are: %s", artifactDigestDesc(ds), subjectsDesc(st))
		}
	}
	return st, nil
}

func keyDesc(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return fmt.Sprintf("ECDSA %s key", k.Curve.Params().Name)
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA-%d key", k.N.BitLen())
	case ed25519.PublicKey:
		return "Ed25519 key"
	}
	return fmt.Sprintf("%T key", pub)
}

func subjectsDesc(st *intoto.Statement) string {
	var parts []string
	for i, sub := range st.Subject {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("and %d more", len(st.Subject)-3))
			break
		}
		algs := slices.Sorted(maps.Keys(sub.Digest))
		if len(algs) == 0 {
			continue
		}
		alg := algs[0]
		if _, ok := sub.Digest["sha256"]; ok {
			alg = "sha256"
		}
		parts = append(parts, fmt.Sprintf("%s %s:%s", sub.Name, alg, sub.Digest[alg]))
	}
	return strings.Join(parts, ", ")
}

// artifactDigestDesc names the artifact by the digest a reader compares
// with the subjects': SHA-256 if it was computed, else the strongest.
func artifactDigestDesc(ds map[crypto.Hash][]byte) string {
	for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA512, crypto.SHA384} {
		if d, ok := ds[h]; ok {
			return fmt.Sprintf("%s:%x", digestName(h), d)
		}
	}
	return "its digest"
}
