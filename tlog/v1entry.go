package tlog

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"

	"sigil.dev/sigil/dsse"
	"sigil.dev/sigil/intoto"
	"sigil.dev/sigil/rekor"
)

// proposedEntry is a Rekor v1 ProposedEntry: {kind, apiVersion, spec}
// (sigstore/rekor openapi.yaml). Like Rekor, unknown fields are ignored.
// The spec is decoded in the same pass, as the union of the supported
// kinds' fields; which of them must be set depends on the kind.
type proposedEntry struct {
	Kind       string  `json:"kind"`
	APIVersion string  `json:"apiVersion"`
	Spec       *v1Spec `json:"spec"`
}

type v1Spec struct {
	// hashedrekord 0.0.1
	Signature *hrSignature `json:"signature"`
	Data      *hrData      `json:"data"`

	// dsse 0.0.1
	ProposedContent *struct {
		Envelope  string   `json:"envelope"`
		Verifiers [][]byte `json:"verifiers"`
	} `json:"proposedContent"`
	Signatures   []json.RawMessage `json:"signatures"`
	EnvelopeHash *json.RawMessage  `json:"envelopeHash"`
	PayloadHash  *json.RawMessage  `json:"payloadHash"`

	// intoto 0.0.2
	Content *struct {
		Envelope *struct {
			Payload     []byte  `json:"payload"`
			PayloadType *string `json:"payloadType"`
			Signatures  []*struct {
				KeyID     string `json:"keyid"`
				Sig       []byte `json:"sig"`
				PublicKey []byte `json:"publicKey"`
			} `json:"signatures"`
		} `json:"envelope"`
		Hash *v1HashJSON `json:"hash"`
	} `json:"content"`
}

// v1Entry is a validated proposed entry: its canonical body and search keys.
type v1Entry struct {
	kind, version string
	body          []byte
	keys          []string
}

// errUnsupportedKind marks a kind/version this log does not accept, so a
// search can treat it as matching nothing.
type errUnsupportedKind struct{ *requestError }

func (e errUnsupportedKind) Unwrap() error { return e.requestError }

// canonicalizeV1 validates a proposed entry and returns its canonical body
// (byte-exact with sigstore/rekor's for the same input) and search keys.
// Supported: hashedrekord 0.0.1, dsse 0.0.1, intoto 0.0.2. Every signature
// must verify before anything is logged.
func (s *Service) canonicalizeV1(pe *proposedEntry) (*v1Entry, error) {
	if pe.Kind == "" {
		return nil, badRequest("missing kind")
	}
	if pe.Spec == nil {
		return nil, badRequest("missing spec")
	}
	switch {
	case pe.Kind == rekor.KindHashedRekord && pe.APIVersion == rekor.VersionHashedRekordV1:
		return s.hashedRekordV001(pe.Spec)
	case pe.Kind == rekor.KindDSSE && pe.APIVersion == rekor.VersionDSSEV1:
		return s.dsseV001(pe.Spec)
	case pe.Kind == rekor.KindIntoto && pe.APIVersion == rekor.VersionIntotoV1:
		return s.intotoV002(pe.Spec)
	}
	return nil, errUnsupportedKind{&requestError{http.StatusBadRequest, fmt.Sprintf("unsupported entry kind %q version %q: this log accepts hashedrekord 0.0.1, dsse 0.0.1 and intoto 0.0.2", pe.Kind, pe.APIVersion)}}
}

type hrSignature struct {
	Content   []byte       `json:"content"`
	PublicKey *hrPublicKey `json:"publicKey"`
}

type hrPublicKey struct {
	Content []byte `json:"content"`
}

type hrData struct {
	Hash *v1HashJSON `json:"hash"`
}

type v1HashJSON struct {
	Algorithm string `json:"algorithm"`
	Value     string `json:"value"`
}

// hashedRekordV001 validates a hashedrekord 0.0.1 spec (sigstore/rekor
// pkg/types/hashedrekord/v0.0.1 validate): the key or certificate parses,
// its algorithm is allowed and hashes with the stated algorithm, the
// digest has that length, the signature verifies over it. The canonical
// body keeps data.hash and the signature, with the key re-encoded as
// canonical PEM. The hex digest is written in lower case.
func (s *Service) hashedRekordV001(spec *v1Spec) (*v1Entry, error) {
	switch {
	case spec.Signature == nil || len(spec.Signature.Content) == 0:
		return nil, badRequest("hashedrekord: missing signature.content")
	case spec.Signature.PublicKey == nil || len(spec.Signature.PublicKey.Content) == 0:
		return nil, badRequest("hashedrekord: missing signature.publicKey.content")
	case spec.Data == nil || spec.Data.Hash == nil:
		return nil, badRequest("hashedrekord: missing data.hash")
	}
	h, err := rekor.HashFromName(spec.Data.Hash.Algorithm)
	if err != nil {
		return nil, badRequest("hashedrekord: data.hash.algorithm %q is not sha256, sha384 or sha512", spec.Data.Hash.Algorithm)
	}
	digest, err := hex.DecodeString(spec.Data.Hash.Value)
	if err != nil || len(digest) != h.Size() {
		return nil, badRequest("hashedrekord: data.hash.value must be %d hex characters for %s", 2*h.Size(), spec.Data.Hash.Algorithm)
	}
	v, err := s.val.pemVerifier(spec.Signature.PublicKey.Content)
	if err != nil {
		return nil, err
	}
	details, kh, err := s.val.algorithm(v.pub)
	if err != nil {
		return nil, err
	}
	if kh != h {
		return nil, badRequest("entry algorithm %s with a %s digest is not allowed (the key signs %s digests)", details, spec.Data.Hash.Algorithm, rekor.V1Name(kh))
	}
	if !verifyDigest(v.pub, h, digest, spec.Signature.Content) {
		return nil, badRequest("hashedrekord: signature does not verify over the digest with the %s key", keyName(v.pub))
	}
	e := &v1Entry{kind: rekor.KindHashedRekord, version: rekor.VersionHashedRekordV1,
		body: rekor.HashedRekordV001(h, digest, spec.Signature.Content, v.canonical)}
	// sigstore/rekor pkg/types/hashedrekord/v0.0.1 IndexKeys.
	e.keys = make([]string, 0, 2+len(v.subjects))
	e.keys = append(e.keys, v.keyHash)
	e.keys = append(e.keys, v.subjects...)
	e.keys = append(e.keys, rekor.V1Name(h)+":"+hex.EncodeToString(digest))
	e.keys = lowerKeys(e.keys)
	return e, nil
}

// envelopeJSON is a DSSE envelope keeping signatures as their base64 text,
// which dsse 0.0.1 bodies record verbatim.
type envelopeJSON struct {
	PayloadType string `json:"payloadType"`
	Payload     string `json:"payload"`
	Signatures  []struct {
		KeyID string `json:"keyid"`
		Sig   string `json:"sig"`
	} `json:"signatures"`
}

// decodeLenientB64 decodes base64 in any of the standard and URL
// alphabets, padded or not (secure-systems-lab/go-securesystemslib dsse
// b64Decode).
func decodeLenientB64(s string) ([]byte, error) {
	var err error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		var d []byte
		if d, err = enc.DecodeString(s); err == nil {
			return d, nil
		}
	}
	return nil, err
}

// maxEnvelopeSigners bounds the signatures of a dsse or intoto proposal
// and the verifiers of a dsse one. A dsse signature may have to be tried
// with every verifier, so a request of thousands of each (a few MiB) cost
// minutes of CPU before the canonical body's size limit could refuse it;
// an intoto proposal verifies each signature once, but thousands of them
// still cost seconds. Sigstore bundles carry one DSSE signature.
const maxEnvelopeSigners = 16

// dsseV001 validates a dsse 0.0.1 spec (sigstore/rekor
// pkg/types/dsse/v0.0.1 Unmarshal): proposedContent.envelope is the
// envelope as a JSON string, proposedContent.verifiers the PEM keys or
// certificates; every signature must verify with one of them, and each
// verifier consulted must verify at least one (see below). The body
// records the envelope and payload hashes and each signature with its
// verifier (rekor.DSSEV001); the envelope itself is not stored.
func (s *Service) dsseV001(spec *v1Spec) (*v1Entry, error) {
	pc := spec.ProposedContent
	if pc == nil || pc.Envelope == "" {
		return nil, badRequest("dsse: missing proposedContent.envelope")
	}
	if len(spec.Signatures) != 0 || spec.EnvelopeHash != nil || spec.PayloadHash != nil {
		return nil, badRequest("dsse: signatures, envelopeHash and payloadHash are computed by the log; send only proposedContent")
	}
	if len(pc.Verifiers) == 0 {
		return nil, badRequest("dsse: proposedContent.verifiers is empty")
	}
	if len(pc.Verifiers) > maxEnvelopeSigners {
		return nil, badRequest("dsse: proposedContent.verifiers has %d verifiers; this log accepts at most %d", len(pc.Verifiers), maxEnvelopeSigners)
	}
	var env envelopeJSON
	if err := json.Unmarshal([]byte(pc.Envelope), &env); err != nil {
		return nil, badRequest("dsse: the envelope is not JSON: %v", err)
	}
	if len(env.Signatures) == 0 {
		return nil, badRequest("dsse: the envelope must contain 1 or more signatures")
	}
	if len(env.Signatures) > maxEnvelopeSigners {
		return nil, badRequest("dsse: the envelope has %d signatures; this log accepts at most %d", len(env.Signatures), maxEnvelopeSigners)
	}
	payload, err := decodeLenientB64(env.Payload)
	if err != nil {
		return nil, badRequest("dsse: the envelope payload is not base64")
	}
	var verifiers []*pemVerifier
	for i, raw := range pc.Verifiers {
		v, err := s.val.pemVerifier(raw)
		if err != nil {
			return nil, badRequest("dsse: verifier %d: %v", i, err)
		}
		if _, _, err := s.val.algorithm(v.pub); err != nil {
			return nil, badRequest("dsse: verifier %d: %v", i, err)
		}
		verifiers = append(verifiers, v)
	}
	pae := dsse.PAE(env.PayloadType, payload)
	sigBytes := make([][]byte, len(env.Signatures))
	remaining := map[string]bool{}
	for i, sg := range env.Signatures {
		sig, err := decodeLenientB64(sg.Sig)
		if err != nil || len(sig) == 0 {
			return nil, badRequest("dsse: envelope signature %d is not base64", i)
		}
		sigBytes[i] = sig
		remaining[sg.Sig] = true
	}
	// As sigstore/rekor v1.5.4 pkg/types/dsse/v0.0.1 verifyEnvelope: the
	// verifiers are taken in order until every signature has one; each
	// verifier taken must verify at least one signature (else the request
	// is refused) and accounts for one only, the first in the envelope
	// that it verifies (go-securesystemslib's envelope verifier drops a
	// provider once it verified a signature, so two signatures by one key
	// need two verifiers, and Rekor refuses them with one); a signature
	// that several verify is recorded with the last of them.
	bySig := map[string]*pemVerifier{}
	for vi, v := range verifiers {
		if len(remaining) == 0 {
			break
		}
		accepted := false
		for i, sg := range env.Signatures {
			if verifyMessage(v.pub, pae, sigBytes[i]) {
				accepted = true
				bySig[sg.Sig] = v
				delete(remaining, sg.Sig)
				break
			}
		}
		if !accepted {
			return nil, badRequest("dsse: verifier %d verifies none of the envelope's signatures", vi)
		}
	}
	for i, sg := range env.Signatures {
		if remaining[sg.Sig] {
			return nil, badRequest("dsse: envelope signature %d does not verify with any verifier; all signatures must have a key that verifies them", i)
		}
	}
	sigs := make([]rekor.DSSESignature, 0, len(bySig))
	e := &v1Entry{kind: rekor.KindDSSE, version: rekor.VersionDSSEV1}
	for sg, v := range bySig {
		sigs = append(sigs, rekor.DSSESignature{Signature: sg, PEM: v.canonical})
	}
	sort.Slice(sigs, func(i, j int) bool { return sigs[i].Signature < sigs[j].Signature })
	for _, sg := range sigs {
		v := bySig[sg.Signature]
		e.keys = append(e.keys, "sha256:"+v.keyHash)
		e.keys = append(e.keys, v.subjects...)
	}
	e.body = rekor.DSSEV001([]byte(pc.Envelope), payload, sigs)
	ph, eh := sha256.Sum256(payload), sha256.Sum256([]byte(pc.Envelope))
	e.keys = append(e.keys, "sha256:"+hex.EncodeToString(ph[:]), "sha256:"+hex.EncodeToString(eh[:]))
	if env.PayloadType == intoto.PayloadType {
		e.keys = append(e.keys, statementKeys(payload)...)
	}
	e.keys = lowerKeys(e.keys)
	return e, nil
}

// intotoV002 validates an intoto 0.0.2 spec (sigstore/rekor
// pkg/types/intoto/v0.0.2): content.envelope carries the payload and
// signatures base64-encoded once more than DSSE (cosign's double encoding),
// each signature with its PEM key; every signature must verify;
// content.hash (the client's hash of the envelope) is required. The body
// drops the payload and adds its SHA-256 (rekor.IntotoV002).
func (s *Service) intotoV002(spec *v1Spec) (*v1Entry, error) {
	c := spec.Content
	switch {
	case c == nil || c.Envelope == nil:
		return nil, badRequest("intoto: missing content.envelope")
	case len(c.Envelope.Payload) == 0:
		return nil, badRequest("intoto: missing content.envelope.payload")
	case c.Envelope.PayloadType == nil:
		return nil, badRequest("intoto: missing content.envelope.payloadType")
	case len(c.Envelope.Signatures) == 0:
		return nil, badRequest("intoto: content.envelope.signatures is empty")
	case len(c.Envelope.Signatures) > maxEnvelopeSigners:
		return nil, badRequest("intoto: content.envelope.signatures has %d signatures; this log accepts at most %d", len(c.Envelope.Signatures), maxEnvelopeSigners)
	case c.Hash == nil || c.Hash.Algorithm != "sha256":
		return nil, badRequest("intoto: content.hash must be a sha256 hash of the envelope")
	}
	envHash, err := hex.DecodeString(c.Hash.Value)
	if err != nil || len(envHash) != sha256.Size {
		return nil, badRequest("intoto: content.hash.value must be 64 hex characters")
	}
	payload, err := decodeLenientB64(string(c.Envelope.Payload))
	if err != nil {
		return nil, badRequest("intoto: content.envelope.payload is not base64 inside")
	}
	pae := dsse.PAE(*c.Envelope.PayloadType, payload)
	e := &v1Entry{kind: rekor.KindIntoto, version: rekor.VersionIntotoV1}
	var sigs []rekor.IntotoSignature
	for i, sg := range c.Envelope.Signatures {
		if sg == nil {
			continue
		}
		if len(sg.Sig) == 0 || len(sg.PublicKey) == 0 {
			return nil, badRequest("intoto: signature %d needs sig and publicKey", i)
		}
		v, err := s.val.pemVerifier(sg.PublicKey)
		if err != nil {
			return nil, badRequest("intoto: signature %d: %v", i, err)
		}
		if _, _, err := s.val.algorithm(v.pub); err != nil {
			return nil, badRequest("intoto: signature %d: %v", i, err)
		}
		sig, err := decodeLenientB64(string(sg.Sig))
		if err != nil || !verifyMessage(v.pub, pae, sig) {
			return nil, badRequest("intoto: signature %d does not verify with its publicKey", i)
		}
		sigs = append(sigs, rekor.IntotoSignature{KeyID: sg.KeyID, Sig: string(sg.Sig), PublicKey: sg.PublicKey})
		e.keys = append(e.keys, "sha256:"+v.keyHash)
		e.keys = append(e.keys, v.subjects...)
	}
	if len(sigs) == 0 {
		return nil, badRequest("intoto: content.envelope.signatures is empty")
	}
	ph := sha256.Sum256(payload)
	e.body = rekor.IntotoV002(*c.Envelope.PayloadType, nil, sigs, envHash, ph[:])
	e.keys = append(e.keys, "sha256:"+hex.EncodeToString(ph[:]))
	if *c.Envelope.PayloadType == intoto.PayloadType {
		e.keys = append(e.keys, statementKeys(payload)...)
	}
	e.keys = lowerKeys(e.keys)
	return e, nil
}

// statementKeys returns "<alg>:<digest>" for the subjects of an in-toto
// statement and the materials of a SLSA v0.2 predicate, as Rekor indexes
// them; a payload that does not parse has none.
func statementKeys(payload []byte) []string {
	var st struct {
		Subject []struct {
			Digest map[string]string `json:"digest"`
		} `json:"subject"`
		Predicate struct {
			Materials []struct {
				Digest map[string]string `json:"digest"`
			} `json:"materials"`
		} `json:"predicate"`
	}
	if json.Unmarshal(payload, &st) != nil {
		return nil
	}
	var out []string
	for _, s := range st.Subject {
		for alg, d := range s.Digest {
			out = append(out, alg+":"+d)
		}
	}
	for _, m := range st.Predicate.Materials {
		for alg, d := range m.Digest {
			out = append(out, alg+":"+d)
		}
	}
	return out
}

// lowerKeys lower-cases keys and drops empty and repeated ones, in place.
func lowerKeys(keys []string) []string {
	var seen map[string]bool // for many keys; few are compared in turn
	if len(keys) > 16 {
		seen = make(map[string]bool, len(keys))
	}
	out := keys[:0]
	for _, k := range keys {
		k = strings.ToLower(k)
		if k == "" {
			continue
		}
		if seen != nil {
			if seen[k] {
				continue
			}
			seen[k] = true
		} else if slices.Contains(out, k) {
			continue
		}
		out = append(out, k)
	}
	return out
}

// bodyKeys returns the search keys recoverable from a canonical v1 body
// alone (used to rebuild index records after a crash; in-toto subject
// digests need the payload and are not recovered).
func bodyKeys(body []byte) []string {
	b, err := rekor.ParseV1Body(body)
	if err != nil {
		return nil
	}
	var keys []string
	for _, sg := range b.Signatures {
		v, err := parsePEMVerifier(sg.PEM)
		if err != nil {
			continue
		}
		if b.Kind == rekor.KindHashedRekord {
			keys = append(keys, v.keyHash)
		} else {
			keys = append(keys, "sha256:"+v.keyHash)
		}
		keys = append(keys, v.subjects...)
	}
	switch b.Kind {
	case rekor.KindHashedRekord:
		keys = append(keys, b.Hash.Algorithm+":"+hex.EncodeToString(b.Hash.Value))
	case rekor.KindDSSE:
		keys = append(keys, "sha256:"+hex.EncodeToString(b.PayloadHash.Value), "sha256:"+hex.EncodeToString(b.EnvelopeHash.Value))
	case rekor.KindIntoto:
		keys = append(keys, "sha256:"+hex.EncodeToString(b.PayloadHash.Value))
	}
	return lowerKeys(keys)
}
