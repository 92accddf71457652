package oci

import (
	"bytes"
	"context"
	"crypto"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"

	"sigil.dev/sigil/verify"
)

// Verifier verifies what is attached to images.
type Verifier struct {
	Client   *Client
	Verifier *verify.Verifier
	// Jobs bounds how many signatures of one image are verified at once.
	// Default 4.
	Jobs int
}

// Verified is a signature or attestation that verified.
type Verified struct {
	Image name.Digest
	*Found
	Result *verify.Result
	// Statement is the in-toto statement JSON (attestations and cosign v3
	// signatures); SimpleSigning the legacy signature payload.
	Statement     json.RawMessage
	SimpleSigning *SimpleSigning
}

// VerifySignatures verifies the signatures attached to the manifest d
// names, in either scheme, against the policy. A signature counts when its
// bundle verifies and it binds this digest: the simple-signing payload's
// docker-manifest-digest, or the subject of a statement with cosign's sign
// predicate (or a message signature over the manifest). Every wanted
// annotation must be signed too. It returns every signature that verified,
// or an error wrapping ErrNoSignatures or ErrNoMatchingSignatures that
// says what was found and why each failed.
func (v *Verifier) VerifySignatures(ctx context.Context, d name.Digest, p verify.Policy, annotations map[string]string) ([]*Verified, error) {
	p.PredicateType = ""
	found, listErrs, err := v.Client.Find(ctx, d, KindSignature)
	if err != nil {
		return nil, err
	}
	return v.verifyAll(d, KindSignature, found, listErrs, "signatures", func(f *Found) (*Verified, error) {
		return v.verifySignature(d, f, p, annotations)
	})
}

// VerifyAttestations verifies the attestations attached to the manifest d
// names, in either scheme. With p.PredicateType set, only attestations of
// that type count; otherwise every attestation does (cosign's sign
// statements are signatures, not attestations). The statement's subject
// must name this digest.
func (v *Verifier) VerifyAttestations(ctx context.Context, d name.Digest, p verify.Policy) ([]*Verified, error) {
	found, listErrs, err := v.Client.Find(ctx, d, KindAttestation)
	if err != nil {
		return nil, err
	}
	what := "attestations"
	if p.PredicateType != "" {
		var keep []*Found
		var others []string
		for _, f := range found {
			if f.Err == nil && f.PredicateType != p.PredicateType {
				others = append(others, f.PredicateType)
				continue
			}
			keep = append(keep, f)
		}
		if len(keep) == 0 && len(others) > 0 {
			return nil, NoneOfType(d, p.PredicateType, others, listErrs)
		}
		what = fmt.Sprintf("attestations of type %s", p.PredicateType)
		found = keep
	}
	return v.verifyAll(d, KindAttestation, found, listErrs, what, func(f *Found) (*Verified, error) {
		return v.verifyAttestation(d, f, p)
	})
}

// NoneOfType is the error for an image with attestations of other
// predicate types than the one wanted: others are their types, as found,
// and listErrs the places that could not be searched. It wraps
// ErrNoAttestations and names the types that are attached.
func NoneOfType(d name.Digest, predicateType string, others []string, listErrs []error) error {
	var types []string
	for _, t := range others {
		if t == "" {
			t = "(unknown)"
		}
		types = append(types, t)
	}
	err := fmt.Errorf("%w: none of type %s is attached to %s; attached predicate types: %s", ErrNoAttestations, predicateType, d, strings.Join(uniq(types), ", "))
	if len(listErrs) > 0 {
		err = fmt.Errorf("%w (and some places could not be searched: %w)", err, oneLine{errors.Join(listErrs...)})
	}
	return err
}

func (v *Verifier) verifyAll(d name.Digest, kind Kind, found []*Found, listErrs []error, what string, check func(*Found) (*Verified, error)) ([]*Verified, error) {
	errNone, errNoMatch := ErrNoSignatures, ErrNoMatchingSignatures
	if kind == KindAttestation {
		errNone, errNoMatch = ErrNoAttestations, ErrNoMatchingAttestations
	}
	jobs := v.Jobs
	if jobs <= 0 {
		jobs = 4
	}
	results := make([]*Verified, len(found))
	errs := make([]error, len(found))
	var wg sync.WaitGroup
	sem := make(chan struct{}, jobs)
	for i, f := range found {
		if f.Err != nil {
			errs[i] = f.Err
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			results[i], errs[i] = check(f)
		}()
	}
	wg.Wait()
	var ok []*Verified
	// The places that failed, by reason: many signatures of another
	// signer fail alike.
	where := map[string][]string{}
	for i, r := range results {
		if r != nil {
			ok = append(ok, r)
			continue
		}
		where[errs[i].Error()] = append(where[errs[i].Error()], found[i].Source)
	}
	if len(ok) > 0 {
		return ok, nil
	}
	var why []string
	for reason, places := range where {
		sort.Strings(places)
		list := strings.Join(places, ", ")
		if len(places) > 3 {
			list = fmt.Sprintf("%s and %d more", strings.Join(places[:3], ", "), len(places)-3)
		}
		why = append(why, list+": "+reason)
	}
	var listErr error
	if len(listErrs) > 0 {
		listErr = errors.Join(listErrs...)
	}
	if len(found) == 0 {
		if listErr != nil {
			return nil, fmt.Errorf("%w: none attached to %s where sigil could look, and some places could not be searched: %w",
				errNone, d, oneLine{listErr})
		}
		return nil, fmt.Errorf("%w: no %s are attached to %s, neither under %s nor as referrers",
			errNone, what, d, LegacyTag(d, kind).TagStr())
	}
	sort.Strings(why)
	if listErr != nil {
		return nil, fmt.Errorf("%w for %s: %s found, none verified: %s (and some places could not be searched: %w)",
			errNoMatch, d, count(len(found), what), strings.Join(why, "; "), oneLine{listErr})
	}
	return nil, fmt.Errorf("%w for %s: %s found, none verified: %s", errNoMatch, d, count(len(found), what), strings.Join(why, "; "))
}

func (v *Verifier) verifySignature(d name.Digest, f *Found, p verify.Policy, annotations map[string]string) (*Verified, error) {
	out := &Verified{Image: d, Found: f}
	digest, err := hex.DecodeString(strings.TrimPrefix(d.DigestStr(), "sha256:"))
	if err != nil || !strings.HasPrefix(d.DigestStr(), "sha256:") {
		return nil, fmt.Errorf("couldn't read digest %s: only sha256 is supported", d.DigestStr())
	}
	b := f.Bundle
	switch {
	case b.MessageSignature != nil && !isBundleMediaType(f.MediaType):
		// A legacy simple-signing layer: the signature is over the
		// payload, and the payload names the digest.
		if out.Result, err = v.Verifier.Verify(b, verify.Artifact{Open: openBytes(f.Raw)}, p); err != nil {
			return nil, err
		}
		ss, err := ParseSimpleSigning(f.Raw)
		if err != nil {
			return nil, err
		}
		if ss.Critical.Image.DockerManifestDigest != d.DigestStr() {
			return nil, fmt.Errorf("the signature is for %s, not this image (moved from another digest?)", ss.Critical.Image.DockerManifestDigest)
		}
		if err := ss.CheckAnnotations(annotations); err != nil {
			return nil, err
		}
		out.SimpleSigning = ss
	case b.MessageSignature != nil:
		// A bundle signing the manifest itself.
		if out.Result, err = v.Verifier.Verify(b, verify.Artifact{DigestAlgorithm: crypto.SHA256, Digest: digest}, p); err != nil {
			return nil, err
		}
		if len(annotations) > 0 {
			return nil, errors.New("the signature is a message signature and carries no annotations")
		}
	default:
		p.PredicateType = SignPredicateType
		if out.Result, err = v.Verifier.Verify(b, verify.Artifact{DigestAlgorithm: crypto.SHA256, Digest: digest}, p); err != nil {
			return nil, err
		}
		out.Statement = b.Envelope.Payload
		if err := checkSubjectAnnotations(b.Envelope.Payload, "sha256", hex.EncodeToString(digest), annotations); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (v *Verifier) verifyAttestation(d name.Digest, f *Found, p verify.Policy) (*Verified, error) {
	out := &Verified{Image: d, Found: f}
	digest, err := hex.DecodeString(strings.TrimPrefix(d.DigestStr(), "sha256:"))
	if err != nil || !strings.HasPrefix(d.DigestStr(), "sha256:") {
		return nil, fmt.Errorf("couldn't read digest %s: only sha256 is supported", d.DigestStr())
	}
	if f.Bundle.Envelope == nil {
		return nil, errors.New("not a DSSE attestation")
	}
	if out.Result, err = v.Verifier.Verify(f.Bundle, verify.Artifact{DigestAlgorithm: crypto.SHA256, Digest: digest}, p); err != nil {
		return nil, err
	}
	out.Statement = f.Bundle.Envelope.Payload
	return out, nil
}

// checkSubjectAnnotations checks that the subject naming the digest
// carries every wanted annotation.
func checkSubjectAnnotations(stmt []byte, alg, hx string, want map[string]string) error {
	if len(want) == 0 {
		return nil
	}
	var st struct {
		Subject []struct {
			Digest      map[string]string `json:"digest"`
			Annotations map[string]any    `json:"annotations"`
		} `json:"subject"`
	}
	if err := json.Unmarshal(stmt, &st); err != nil {
		return fmt.Errorf("couldn't parse the statement: %w", err)
	}
	for _, s := range st.Subject {
		if !strings.EqualFold(s.Digest[alg], hx) {
			continue
		}
		for k, v := range want {
			got, ok := s.Annotations[k]
			if !ok {
				return fmt.Errorf("the signature has no annotation %q", k)
			}
			if fmt.Sprint(got) != v {
				return fmt.Errorf("annotation %q is %q, want %q", k, fmt.Sprint(got), v)
			}
		}
		return nil
	}
	return errors.New("no subject names the image")
}

func uniq(s []string) []string {
	sort.Strings(s)
	var out []string
	for i, x := range s {
		if i == 0 || x != s[i-1] {
			out = append(out, x)
		}
	}
	return out
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

func openBytes(b []byte) func() (verify.ReadCloser, error) {
	return func() (verify.ReadCloser, error) { return nopCloser{bytes.NewReader(b)}, nil }
}

// oneLine prints a joined error on one line.
type oneLine struct{ err error }

func (o oneLine) Error() string { return strings.ReplaceAll(o.err.Error(), "\n", "; ") }
func (o oneLine) Unwrap() error { return o.err }

// count says "1 signature" or "2 signatures" (what is plural).
func count(n int, what string) string {
	if n == 1 {
		w, rest, _ := strings.Cut(what, " ")
		w = strings.TrimSuffix(w, "s")
		if rest != "" {
			w += " " + rest
		}
		return "1 " + w
	}
	return fmt.Sprintf("%d %s", n, what)
}
