package verify

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"sigil.dev/sigil/bundle"
	"sigil.dev/sigil/checkpoint"
	"sigil.dev/sigil/rekor"
	"sigil.dev/sigil/trust"
)

// logTime is an integrated time proven by a verified SET.
type logTime struct {
	t   time.Time
	url string
}

// verifyTlog verifies the bundle's log entries and returns the integrated
// times of entries whose SET verified (one per log).
func (v *Verifier) verifyTlog(b *bundle.Bundle, key crypto.PublicKey) ([]logTime, []VerifiedLogEntry, error) {
	threshold := v.threshold(v.opts.TlogThreshold, 1)

	// Duplicate entries could satisfy a threshold twice.
	seen := map[string]bool{}
	for _, e := range b.TlogEntries {
		k := fmt.Sprintf("%x/%d", e.GetLogId().GetKeyId(), e.GetLogIndex())
		if seen[k] {
			return nil, nil, fail(CheckTlog, "duplicate log entry %d of log %x", e.GetLogIndex(), e.GetLogId().GetKeyId())
		}
		seen[k] = true
	}

	verifiedLogs := map[string]bool{}
	timedLogs := map[string]bool{}
	var times []logTime
	var entries []VerifiedLogEntry
	var skipped []string
	skipCheck := Check("")
	for i, e := range b.TlogEntries {
		id := hex.EncodeToString(e.GetLogId().GetKeyId())
		log := v.root.TLogs[id]
		if log == nil {
			skipped = append(skipped, fmt.Sprintf("entry %d: log %s is not in the trusted root", i, id))
			skipCheck = mergeCheck(skipCheck, CheckTrustedRoot)
			continue
		}
		setOK, err := v.verifyEntry(b, key, e, log)
		if err != nil {
			var skip *skipError
			if errors.As(err, &skip) {
				skipped = append(skipped, fmt.Sprintf("entry %d (%s index %d): %v", i, log.BaseURL, e.GetLogIndex(), skip.err))
				skipCheck = mergeCheck(skipCheck, skip.check)
				continue
			}
			return nil, nil, err
		}
		// Logs of one operator count once (protobuf-specs
		// TransparencyLogInstance.operator).
		if log.Operator != "" {
			verifiedLogs["operator "+log.Operator] = true
		} else {
			verifiedLogs["log "+id] = true
		}
		entries = append(entries, VerifiedLogEntry{
			LogURL: log.BaseURL, LogIndex: e.GetLogIndex(),
			Kind: e.GetKindVersion().GetKind(), Version: e.GetKindVersion().GetVersion(),
			IntegratedTime: e.GetIntegratedTime(), Checkpoint: e.GetInclusionProof() != nil, SET: setOK,
			log: log,
		})
		if setOK && !timedLogs[id] {
			timedLogs[id] = true
			times = append(times, logTime{time.Unix(e.GetIntegratedTime(), 0).UTC(), log.BaseURL})
		}
	}
	if len(verifiedLogs) < threshold {
		if len(v.root.TLogs) == 0 {
			// Fail closed: a trusted root that lost its logs (one host's
			// part of a split deployment, a hand-edited file) must not
			// silently turn transparency off.
			return nil, nil, fail(CheckTrustedRoot, "%d of %d required transparency logs verified: %w, so no entry can be verified (disable the requirement explicitly for a deployment without logs)", len(verifiedLogs), threshold, ErrNoTrustedLogs)
		}
		why := "the bundle has no log entries"
		if len(b.TlogEntries) > 0 {
			why = fmt.Sprintf("the bundle's entries are in only %d distinct trusted logs (logs of one operator count once)", len(verifiedLogs))
		}
		check := CheckTlog
		if len(skipped) > 0 {
			why = strings.Join(skipped, "; ")
			if skipCheck != "" && len(verifiedLogs) == 0 {
				// Every entry failed the same way: name that check.
				check = skipCheck
			}
		}
		return nil, nil, fail(check, "%d of %d required transparency logs verified: %s", len(verifiedLogs), threshold, why)
	}
	return times, entries, nil
}

// mergeCheck keeps a check while all skipped entries agree on it.
func mergeCheck(have, c Check) Check {
	if have == "" || have == c {
		return c
	}
	return CheckTlog
}

// skipError marks a failure that makes an entry not count (it may still be
// outweighed by other entries) rather than fail the bundle: an unknown log
// or a SET that does not verify, as sigstore-go treats them.
type skipError struct {
	check Check
	err   error
}

func (s *skipError) Error() string { return s.err.Error() }

// verifyEntry checks one entry. It returns whether the entry's SET verified.
func (v *Verifier) verifyEntry(b *bundle.Bundle, key crypto.PublicKey, e *protorekor.TransparencyLogEntry, log *trust.Log) (bool, error) {
	kv := e.GetKindVersion()
	isV2 := rekor.IsV2Entry(kv.GetKind(), kv.GetVersion())
	hasProof := e.GetInclusionProof() != nil
	hasSET := len(e.GetInclusionPromise().GetSignedEntryTimestamp()) > 0
	if !hasProof && !hasSET {
		return false, fail(CheckInclusion, "log entry %d has neither an inclusion proof nor an inclusion promise", e.GetLogIndex())
	}
	if isV2 && !hasProof {
		return false, fail(CheckInclusion, "Rekor v2 entry %d has no inclusion proof", e.GetLogIndex())
	}

	// The entry must record this bundle's signature.
	var leaf [32]byte
	var mismatch error
	if isV2 {
		if hasSET {
			return false, fail(CheckEntry, "Rekor v2 entry %d carries an inclusion promise, which v2 logs never issue", e.GetLogIndex())
		}
		entry, err := v2Entry(b, key)
		if err != nil {
			return false, err
		}
		if body := e.GetCanonicalizedBody(); len(body) > 0 && !bytes.Equal(entry, body) {
			// The rebuilt leaf is what the proof binds; a body that
			// says something else must not pass as verified
			// (protobuf-specs: "clients MUST verify that the signature
			// referenced in the canonicalized_body matches"). The
			// inclusion proof is checked first, so that its failure,
			// explained by the difference, is what is reported.
			mismatch = v2Mismatch(entry, body)
		}
		leaf = rekor.LeafHash(entry)
	} else {
		if !isCanonicalHashedRekord(b, kv, e.GetCanonicalizedBody()) {
			body, err := rekor.ParseV1Body(e.GetCanonicalizedBody())
			if err != nil {
				// A body of another kind or version than kindVersion
				// names (a Rekor v2 body under a v1 kindVersion) is
				// reported as the contradiction it is.
				var kv2 struct {
					Kind       string `json:"kind"`
					APIVersion string `json:"apiVersion"`
				}
				if json.Unmarshal(e.GetCanonicalizedBody(), &kv2) == nil && kv2.Kind != "" && (kv2.Kind != kv.GetKind() || kv2.APIVersion != kv.GetVersion()) {
					return false, fail(CheckEntry, "body is %s %s but kindVersion says %s %s", kv2.Kind, kv2.APIVersion, kv.GetKind(), kv.GetVersion())
				}
				return false, &Error{Check: CheckEntry, Err: err}
			}
			if body.Kind != kv.GetKind() || body.APIVersion != kv.GetVersion() {
				return false, fail(CheckEntry, "body is %s %s but kindVersion says %s %s", body.Kind, body.APIVersion, kv.GetKind(), kv.GetVersion())
			}
			if err := matchV1Body(b, key, body); err != nil {
				return false, err
			}
		}
		leaf = rekor.LeafHash(e.GetCanonicalizedBody())
	}

	// Integrated time, if stated, must be within the certificate's life.
	if it := e.GetIntegratedTime(); it != 0 && b.Certificate != nil {
		t := time.Unix(it, 0)
		if !certValidAt(b.Certificate, t) {
			return false, fail(CheckCertificate, "log entry %d was integrated at %s, outside the certificate's validity (%s to %s)",
				e.GetLogIndex(), t.UTC().Format(time.RFC3339), b.Certificate.NotBefore.UTC().Format(time.RFC3339), b.Certificate.NotAfter.UTC().Format(time.RFC3339))
		}
	}

	setOK := false
	if hasSET {
		if err := verifySET(e, log); err != nil {
			return false, &skipError{CheckSET, err}
		}
		setOK = true
	}
	if hasProof {
		if err := verifyInclusion(e, log, leaf, isV2); err != nil {
			if mismatch != nil && CheckOf(err) == CheckInclusion {
				return false, mismatch
			}
			return false, err
		}
	}
	if mismatch != nil {
		return false, mismatch
	}
	return setOK, nil
}

func verifySET(e *protorekor.TransparencyLogEntry, log *trust.Log) error {
	pub, ok := log.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return fmt.Errorf("inclusion promise (SET) from a %T log key; only ECDSA logs issue SETs", log.PublicKey)
	}
	t := time.Unix(e.GetIntegratedTime(), 0)
	if !log.Valid.Contains(t) {
		return fmt.Errorf("log key was not valid at the integrated time %s", t.UTC().Format(time.RFC3339))
	}
	payload := rekor.SETPayload(e.GetCanonicalizedBody(), e.GetIntegratedTime(), e.GetLogId().GetKeyId(), e.GetLogIndex())
	d := sha256.Sum256(payload)
	if !ecdsa.VerifyASN1(pub, d[:], e.GetInclusionPromise().GetSignedEntryTimestamp()) {
		return errors.New("inclusion promise (SET) signature does not verify with the log key")
	}
	return nil
}

// verifyInclusion checks the Merkle path from leaf to the proof's root, then
// the checkpoint: signed by the log, and committing to the same tree.
func verifyInclusion(e *protorekor.TransparencyLogEntry, log *trust.Log, leaf [32]byte, isV2 bool) error {
	p := e.GetInclusionProof()
	index := p.GetLogIndex()
	if isV2 {
		// Rekor v2 proofs use the entry's own index (rekor-tiles
		// pkg/verify VerifyLogEntryWithHash); v1 proofs a shard-local one.
		index = e.GetLogIndex()
	}
	// The root is computed and compared here so that the message names
	// both roots in hex (the library's error prints byte lists).
	root, err := proof.RootFromInclusionProof(rfc6962.DefaultHasher, uint64(index), uint64(p.GetTreeSize()), leaf[:], p.GetHashes())
	if err != nil {
		return fail(CheckInclusion, "entry %d of %s: the inclusion proof of index %d in a tree of %d is malformed: %v", e.GetLogIndex(), log.BaseURL, index, p.GetTreeSize(), err)
	}
	if !bytes.Equal(root, p.GetRootHash()) {
		return fail(CheckInclusion, "entry %d of %s: the inclusion proof does not lead to root %x at tree size %d (it leads to %x)", e.GetLogIndex(), log.BaseURL, p.GetRootHash(), p.GetTreeSize(), root)
	}
	env := p.GetCheckpoint().GetEnvelope()
	if env == "" {
		return fail(CheckCheckpoint, "entry %d of %s: the inclusion proof has no checkpoint, so nothing signed commits to its root", e.GetLogIndex(), log.BaseURL)
	}
	var cp *checkpoint.Checkpoint
	text, _ := checkpoint.Split([]byte(env))
	firstLine, _, _ := strings.Cut(string(text), "\n")
	if checkpoint.IsV1Origin(firstLine) {
		cp, _, err = checkpoint.OpenV1([]byte(env), log.V1CheckpointVerifier)
	} else {
		if log.CheckpointVerifier == nil {
			return fail(CheckCheckpoint, "log %s has no usable checkpoint key name (origin %q)", log.BaseURL, log.Origin)
		}
		cp, _, err = checkpoint.Open([]byte(env), log.Origin, log.CheckpointVerifier)
	}
	if err != nil {
		return fail(CheckCheckpoint, "entry %d of %s: %v", e.GetLogIndex(), log.BaseURL, err)
	}
	if !bytes.Equal(cp.Hash, p.GetRootHash()) || cp.Size != uint64(p.GetTreeSize()) {
		return fail(CheckCheckpoint, "entry %d of %s: the checkpoint (size %d, root %x) does not match the inclusion proof (size %d, root %x)",
			e.GetLogIndex(), log.BaseURL, cp.Size, cp.Hash, p.GetTreeSize(), p.GetRootHash())
	}
	return nil
}

// matchV1Body checks that a Rekor v1 body records this bundle: the same
// signature, the same certificate or key, and the same digest (hashedrekord)
// or payload hash (dsse, intoto).
func matchV1Body(b *bundle.Bundle, key crypto.PublicKey, body *rekor.Body) error {
	// What was signed first: the digest or the envelope payload.
	switch body.Kind {
	case rekor.KindHashedRekord:
		ms := b.MessageSignature
		if ms == nil {
			return fail(CheckEntry, "a hashedrekord entry for a DSSE bundle")
		}
		if ms.Digest == nil {
			return fail(CheckEntry, "the bundle states no message digest to compare with the hashedrekord entry")
		}
		if h, _ := rekor.HashFromName(body.Hash.Algorithm); h != ms.DigestAlgorithm {
			return fail(CheckEntry, "the log entry's digest algorithm %s differs from the bundle's %s", body.Hash.Algorithm, ms.DigestAlgorithm)
		}
		if !bytes.Equal(body.Hash.Value, ms.Digest) {
			return fail(CheckEntry, "the log entry's artifact digest %x differs from the bundle's message digest %x", body.Hash.Value, ms.Digest)
		}
	case rekor.KindDSSE, rekor.KindIntoto:
		if b.Envelope == nil {
			return fail(CheckEntry, "a %s entry for a bundle without a DSSE envelope", body.Kind)
		}
		ph := sha256.Sum256(b.Envelope.Payload)
		if body.PayloadHash.Algorithm != "sha256" || !bytes.Equal(body.PayloadHash.Value, ph[:]) {
			return fail(CheckEntry, "the log entry's payload hash %x differs from the envelope payload's %x", body.PayloadHash.Value, ph)
		}
	}
	// Then who signed it, and the signature itself.
	sig := b.Signature()
	var match *rekor.BodySignature
	for i := range body.Signatures {
		if bytes.Equal(body.Signatures[i].Signature, sig) {
			match = &body.Signatures[i]
			break
		}
	}
	if match == nil {
		return fail(CheckEntry, "the log entry records a different signature than the bundle")
	}
	if err := samePEMKey(match.PEM, b.Certificate, key); err != nil {
		return &Error{Check: CheckEntry, Err: err}
	}
	return nil
}

// isCanonicalHashedRekord reports whether body is exactly the hashedrekord
// 0.0.1 body a Rekor v1 log writes for this certificate-signed bundle. That
// is the common case, and comparing bytes proves the match without parsing
// the JSON; anything else is parsed and compared field by field.
func isCanonicalHashedRekord(b *bundle.Bundle, kv *protorekor.KindVersion, body []byte) bool {
	ms := b.MessageSignature
	if ms == nil || ms.Digest == nil || b.Certificate == nil ||
		kv.GetKind() != rekor.KindHashedRekord || kv.GetVersion() != rekor.VersionHashedRekordV1 {
		return false
	}
	p := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: b.Certificate.Raw})
	return bytes.Equal(rekor.HashedRekordV001(ms.DigestAlgorithm, ms.Digest, ms.Signature, p), body)
}

// samePEMKey checks that a PEM certificate or public key from a log entry
// is the bundle's certificate, or the verification key of a key-signed
// bundle.
func samePEMKey(p []byte, leaf *x509.Certificate, key crypto.PublicKey) error {
	blk, _ := pem.Decode(p)
	if blk == nil {
		return errors.New("the log entry's key is not PEM")
	}
	switch blk.Type {
	case "CERTIFICATE":
		if leaf == nil {
			return errors.New("the log entry names a certificate but the bundle is key-signed")
		}
		if !bytes.Equal(blk.Bytes, leaf.Raw) {
			return errors.New("the log entry records a different certificate than the bundle")
		}
	case "PUBLIC KEY":
		if leaf != nil {
			return errors.New("the log entry names a public key but the bundle carries a certificate")
		}
		der, err := x509.MarshalPKIXPublicKey(key)
		if err != nil || !bytes.Equal(der, blk.Bytes) {
			return errors.New("the log entry records a different public key than the given one")
		}
	default:
		return fmt.Errorf("the log entry's key is a PEM %q block", blk.Type)
	}
	return nil
}

// v2Entry rebuilds the Rekor v2 hashedrekord 0.0.2 entry the log must have
// recorded for this bundle (sigstore-go reconstructV2EntryHash): the digest
// is the bundle's message digest, or for DSSE the key's hash of the PAE; the
// verifier is the certificate or the DER key; key details are the key's
// defaults. The leaf hash is computed from these bytes, never from the
// bundle's copy of the body, which is only compared to explain a mismatch.
func v2Entry(b *bundle.Bundle, key crypto.PublicKey) ([]byte, error) {
	details, h, err := rekor.KeyDetails(key)
	if err != nil {
		return nil, fail(CheckEntry, "couldn't rebuild the Rekor v2 entry: %v", err)
	}
	var digest []byte
	if ms := b.MessageSignature; ms != nil {
		if ms.Digest == nil {
			return nil, fail(CheckEntry, "the bundle states no message digest, which a Rekor v2 entry records")
		}
		digest = ms.Digest
	} else {
		hh := h.New()
		hh.Write(b.Envelope.PAE())
		digest = hh.Sum(nil)
	}
	vf := rekor.V2Verifier{KeyDetails: details}
	if b.Certificate != nil {
		vf.Certificate = b.Certificate.Raw
	} else {
		der, err := x509.MarshalPKIXPublicKey(key)
		if err != nil {
			return nil, fail(CheckEntry, "couldn't encode the key: %v", err)
		}
		vf.PublicKey = der
	}
	return rekor.HashedRekordV002(h, digest, b.Signature(), vf), nil
}

// v2Mismatch explains how the bundle's copy of a Rekor v2 entry differs
// from the entry rebuilt from the bundle.
func v2Mismatch(want, got []byte) error {
	w, err := rekor.ParseV2Body(want)
	if err != nil {
		return &Error{Check: CheckInternal, Err: err}
	}
	g, err := rekor.ParseV2Body(got)
	if err != nil {
		return &Error{Check: CheckEntry, Err: err}
	}
	switch {
	case !bytes.Equal(w.Digest, g.Digest) || w.DigestAlgorithm != g.DigestAlgorithm:
		return fail(CheckEntry, "the log entry records digest %s:%x, the bundle signs %s:%x", g.DigestAlgorithm, g.Digest, w.DigestAlgorithm, w.Digest)
	case !bytes.Equal(w.Signature, g.Signature):
		return fail(CheckEntry, "the log entry records a different signature than the bundle")
	case !bytes.Equal(w.Verifier.Certificate, g.Verifier.Certificate) || !bytes.Equal(w.Verifier.PublicKey, g.Verifier.PublicKey):
		return fail(CheckEntry, "the log entry records a different certificate or key than the bundle")
	case w.Verifier.KeyDetails != g.Verifier.KeyDetails:
		return fail(CheckEntry, "the log entry records key details %s, the bundle's key is %s", g.Verifier.KeyDetails, w.Verifier.KeyDetails)
	}
	return fail(CheckEntry, "the log entry body is not the canonical entry for this bundle")
}
