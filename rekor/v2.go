package rekor

import (
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"sigil.dev/sigil/internal/jcs"
)

// V2Verifier is the verifier of a Rekor v2 hashedrekord: exactly one of
// Certificate (DER) or PublicKey (DER SubjectPublicKeyInfo), and the key
// details enum name (for example "PKIX_ECDSA_P256_SHA_256").
type V2Verifier struct {
	KeyDetails  string
	Certificate []byte
	PublicKey   []byte
}

// HashedRekordV002 returns the canonical Rekor v2 entry
// (dev.sigstore.rekor.v2.Entry, kind hashedrekord, apiVersion 0.0.2) whose
// leaf hash the log commits to. digestHash names the digest algorithm, which
// is the hash of the key details (rekor-tiles ToLogEntry).
//
// The bytes are JCS of the protojson encoding:
//
//	{"apiVersion":"0.0.2","kind":"hashedrekord","spec":{"hashedRekordV002":{
//	  "data":{"algorithm":"SHA2_256","digest":"<b64>"},
//	  "signature":{"content":"<b64>","verifier":{"keyDetails":"…",
//	    "x509Certificate":{"rawBytes":"<b64>"} | "publicKey":{"rawBytes":"<b64>"}}}}}}
func HashedRekordV002(digestHash crypto.Hash, digest, sig []byte, v V2Verifier) []byte {
	b := make([]byte, 0, 300+(len(sig)+len(digest)+len(v.Certificate)+len(v.PublicKey))*4/3)
	b = append(b, `{"apiVersion":"0.0.2","kind":"hashedrekord","spec":{"hashedRekordV002":{"data":{"algorithm":`...)
	b = jcs.AppendString(b, HashName(digestHash))
	b = append(b, `,"digest":"`...)
	b = base64.StdEncoding.AppendEncode(b, digest)
	b = append(b, `"},"signature":{"content":"`...)
	b = base64.StdEncoding.AppendEncode(b, sig)
	b = append(b, `","verifier":{"keyDetails":`...)
	b = jcs.AppendString(b, v.KeyDetails)
	if v.Certificate != nil {
		b = append(b, `,"x509Certificate":{"rawBytes":"`...)
		b = base64.StdEncoding.AppendEncode(b, v.Certificate)
	} else {
		b = append(b, `,"publicKey":{"rawBytes":"`...)
		b = base64.StdEncoding.AppendEncode(b, v.PublicKey)
	}
	return append(b, `"}}}}}}`...)
}

// V2Entry is a parsed Rekor v2 hashedrekord 0.0.2 entry.
type V2Entry struct {
	DigestAlgorithm string // enum name, e.g. "SHA2_256"
	Digest          []byte
	Signature       []byte
	Verifier        V2Verifier
}

type v2Body struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Spec       struct {
		HashedRekordV002 *struct {
			Data struct {
				Algorithm string `json:"algorithm"`
				Digest    []byte `json:"digest"`
			} `json:"data"`
			Signature struct {
				Content  []byte `json:"content"`
				Verifier struct {
					KeyDetails      string `json:"keyDetails"`
					X509Certificate *struct {
						RawBytes []byte `json:"rawBytes"`
					} `json:"x509Certificate"`
					PublicKey *struct {
						RawBytes []byte `json:"rawBytes"`
					} `json:"publicKey"`
				} `json:"verifier"`
			} `json:"signature"`
		} `json:"hashedRekordV002"`
	} `json:"spec"`
}

// ParseV2Body parses a Rekor v2 hashedrekord 0.0.2 entry. A verifier does not
// need it (it rebuilds the entry from the bundle); the log service and the
// CLI use it to show entries.
func ParseV2Body(body []byte) (*V2Entry, error) {
	var e v2Body
	if err := json.Unmarshal(body, &e); err != nil {
		return nil, fmt.Errorf("couldn't parse Rekor v2 entry: %w", err)
	}
	if e.Kind != KindHashedRekord || e.APIVersion != VersionHashedRekordV2 {
		return nil, fmt.Errorf("%w: %s %s", ErrUnsupportedKind, e.Kind, e.APIVersion)
	}
	hr := e.Spec.HashedRekordV002
	if hr == nil {
		return nil, errors.New("couldn't parse Rekor v2 entry: missing spec.hashedRekordV002")
	}
	out := &V2Entry{
		DigestAlgorithm: hr.Data.Algorithm,
		Digest:          hr.Data.Digest,
		Signature:       hr.Signature.Content,
		Verifier:        V2Verifier{KeyDetails: hr.Signature.Verifier.KeyDetails},
	}
	if c := hr.Signature.Verifier.X509Certificate; c != nil {
		out.Verifier.Certificate = c.RawBytes
	}
	if k := hr.Signature.Verifier.PublicKey; k != nil {
		out.Verifier.PublicKey = k.RawBytes
	}
	switch {
	case len(out.Digest) == 0:
		return nil, errors.New("couldn't parse Rekor v2 entry: missing digest")
	case len(out.Signature) == 0:
		return nil, errors.New("couldn't parse Rekor v2 entry: missing signature")
	case (out.Verifier.Certificate == nil) == (out.Verifier.PublicKey == nil):
		return nil, errors.New("couldn't parse Rekor v2 entry: verifier needs exactly one of x509Certificate and publicKey")
	}
	return out, nil
}
