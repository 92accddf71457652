package verify

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"

	"sigil.dev/sigil/bundle"
	"sigil.dev/sigil/cert"
	"sigil.dev/sigil/internal/testpki"
	"sigil.dev/sigil/trust"
)

var artifact = []byte("hello, sigil\n")

func fileArtifact(b []byte) Artifact {
	return Artifact{Open: func() (ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }}
}

func digestArtifact(b []byte) Artifact {
	d := sha256.Sum256(b)
	return Artifact{DigestAlgorithm: crypto.SHA256, Digest: d[:]}
}

func newPKI(t *testing.T) (*testpki.PKI, *trust.TrustedRoot) {
	t.Helper()
	p, err := testpki.New(testpki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := p.TrustedRoot()
	if err != nil {
		t.Fatal(err)
	}
	return p, tr
}

func defaultPolicy() Policy {
	return Policy{Identities: []Identity{{
		SubjectAlternativeName: Matcher{Exact: testpki.DefaultIdentity.URI},
		Issuer:                 Matcher{Exact: testpki.DefaultIdentity.Issuer},
	}}}
}

// roundTrip serialises and re-parses a bundle, as a file would.
func roundTrip(t *testing.T, b *bundle.Bundle) *bundle.Bundle {
	t.Helper()
	raw, err := b.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	out, err := bundle.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestHarnessShapes(t *testing.T) {
	p, tr := newPKI(t)
	ed := func() crypto.Signer { _, k, _ := ed25519.GenerateKey(rand.Reader); return k }()
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	for _, tc := range []struct {
		name string
		o    testpki.SignOptions
	}{
		{"rekor v1 hashedrekord", testpki.SignOptions{}},
		{"rekor v1 with timestamp", testpki.SignOptions{Timestamp: true}},
		{"rekor v2 hashedrekord", testpki.SignOptions{V2: true}},
		{"rekor v1 dsse", testpki.SignOptions{DSSE: true}},
		{"rekor v2 dsse", testpki.SignOptions{DSSE: true, V2: true}},
		{"P-384 signing key", testpki.SignOptions{Key: p384, V2: true}},
		{"Ed25519ph signing key v2", testpki.SignOptions{Key: ed, V2: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := p.Sign(artifact, tc.o)
			if err != nil {
				t.Fatal(err)
			}
			b := roundTrip(t, s.Bundle)
			v := New(tr, Options{})
			dig := digestArtifact(artifact)
			if ms := b.MessageSignature; ms != nil && ms.DigestAlgorithm != crypto.SHA256 {
				h := ms.DigestAlgorithm.New()
				h.Write(artifact)
				dig = Artifact{DigestAlgorithm: ms.DigestAlgorithm, Digest: h.Sum(nil)}
			}
			for _, art := range []Artifact{fileArtifact(artifact), dig} {
				res, err := v.Verify(b, art, defaultPolicy())
				if err != nil {
					t.Fatal(err)
				}
				if res.Signature.Certificate.SubjectAlternativeName != testpki.DefaultIdentity.URI || len(res.VerifiedTimestamps) == 0 || len(res.TlogEntries) != 1 {
					t.Fatalf("result %+v", res)
				}
				// The matched policy, as plain strings (it was Go-quoted).
				if id := res.VerifiedIdentity; id == nil || id.SubjectAlternativeName != (MatcherSummary{Exact: testpki.DefaultIdentity.URI}) || id.Issuer != (MatcherSummary{Exact: testpki.DefaultIdentity.Issuer}) {
					t.Fatalf("verified identity %+v", res.VerifiedIdentity)
				}
			}
			_, err = v.Verify(b, fileArtifact([]byte("other")), defaultPolicy())
			if CheckOf(err) != CheckArtifact {
				t.Fatalf("wrong artifact: %v", err)
			}
			// For a statement, the message names the artifact's digest
			// beside the subjects'.
			other, mine := sha256.Sum256([]byte("other")), sha256.Sum256(artifact)
			if tc.o.DSSE && (!strings.Contains(err.Error(), fmt.Sprintf("the artifact (sha256:%x) is not a subject", other)) || !strings.Contains(err.Error(), fmt.Sprintf("sha256:%x", mine))) {
				t.Fatalf("wrong artifact: %v", err)
			}
		})
	}
}

func TestIdentityPolicy(t *testing.T) {
	p, tr := newPKI(t)
	s, err := p.Sign(artifact, testpki.SignOptions{})
	if err != nil {
		t.Fatal(err)
	}
	v := New(tr, Options{})
	field := func(name string) cert.Field { f, _ := cert.FieldByName(name); return f }
	for _, tc := range []struct {
		name string
		id   Identity
		ok   bool
		msg  string
	}{
		{"exact", Identity{SubjectAlternativeName: Matcher{Exact: testpki.DefaultIdentity.URI}, Issuer: Matcher{Exact: testpki.DefaultIdentity.Issuer}}, true, ""},
		{"regexp", Identity{SubjectAlternativeName: Matcher{Regexp: regexp.MustCompile(`^https://github\.com/sigil-test/`)}, Issuer: Matcher{Regexp: regexp.MustCompile(`githubusercontent`)}}, true, ""},
		{"wrong san", Identity{SubjectAlternativeName: Matcher{Exact: "https://github.com/evil/repo"}, Issuer: Matcher{Exact: testpki.DefaultIdentity.Issuer}}, false,
			`certificate identity mismatch: got "` + testpki.DefaultIdentity.URI + `", want "https://github.com/evil/repo"`},
		{"wrong issuer", Identity{SubjectAlternativeName: Matcher{Exact: testpki.DefaultIdentity.URI}, Issuer: Matcher{Exact: "https://accounts.google.com"}}, false, "certificate OIDC issuer mismatch"},
		{"extension ok", Identity{SubjectAlternativeName: Matcher{Exact: testpki.DefaultIdentity.URI}, Issuer: Matcher{Exact: testpki.DefaultIdentity.Issuer},
			Extensions: []ExtensionMatcher{{field("githubWorkflowTrigger"), Matcher{Exact: "push"}}, {field("sourceRepositoryURI"), Matcher{Regexp: regexp.MustCompile(`sigil-test/repo$`)}}}}, true, ""},
		{"extension wrong", Identity{SubjectAlternativeName: Matcher{Exact: testpki.DefaultIdentity.URI}, Issuer: Matcher{Exact: testpki.DefaultIdentity.Issuer},
			Extensions: []ExtensionMatcher{{field("githubWorkflowRef"), Matcher{Exact: "refs/heads/dev"}}}}, false, "certificate extension githubWorkflowRef mismatch"},
		{"unanchored regexp needs anchors", Identity{SubjectAlternativeName: Matcher{Regexp: regexp.MustCompile(`^https://github\.com/sigil$`)}, Issuer: Matcher{Exact: testpki.DefaultIdentity.Issuer}}, false, "identity mismatch"},
	} {
		_, err := v.Verify(s.Bundle, fileArtifact(artifact), Policy{Identities: []Identity{tc.id}})
		if tc.ok != (err == nil) {
			t.Errorf("%s: err = %v", tc.name, err)
			continue
		}
		if !tc.ok && (CheckOf(err) != CheckIdentity || !strings.Contains(err.Error(), tc.msg)) {
			t.Errorf("%s: %v, want identity failure mentioning %q", tc.name, err, tc.msg)
		}
	}
	// Any of several identities may match.
	ids := []Identity{{SubjectAlternativeName: Matcher{Exact: "x"}, Issuer: Matcher{Exact: "y"}}, defaultPolicy().Identities[0]}
	if _, err := v.Verify(s.Bundle, fileArtifact(artifact), Policy{Identities: ids}); err != nil {
		t.Fatal(err)
	}
	// No policy at all is refused.
	if _, err := v.Verify(s.Bundle, fileArtifact(artifact), Policy{}); CheckOf(err) != CheckPolicy {
		t.Fatalf("empty policy: %v", err)
	}
	// A policy without an issuer is refused.
	if _, err := v.Verify(s.Bundle, fileArtifact(artifact), Policy{Identities: []Identity{{SubjectAlternativeName: Matcher{Exact: testpki.DefaultIdentity.URI}}}}); CheckOf(err) != CheckPolicy {
		t.Fatalf("policy without issuer: %v", err)
	}
}

func TestOtherNameAndEmail(t *testing.T) {
	p, tr := newPKI(t)
	v := New(tr, Options{})
	for _, id := range []testpki.Identity{
		{Username: "alice!sigil.test", Extensions: cert.Extensions{Issuer: "https://dex.sigil.test"}},
		{Email: "alice@sigil.test", Extensions: cert.Extensions{Issuer: "https://accounts.google.com"}},
	} {
		s, err := p.Sign(artifact, testpki.SignOptions{Identity: &id})
		if err != nil {
			t.Fatal(err)
		}
		want := id.Username + id.Email
		pol := Policy{Identities: []Identity{{SubjectAlternativeName: Matcher{Exact: want}, Issuer: Matcher{Exact: id.Issuer}}}}
		res, err := v.Verify(roundTrip(t, s.Bundle), fileArtifact(artifact), pol)
		if err != nil {
			t.Fatalf("%s: %v", want, err)
		}
		if res.Signature.Certificate.SubjectAlternativeName != want {
			t.Fatalf("SAN %q", res.Signature.Certificate.SubjectAlternativeName)
		}
	}
}

func TestKeySigned(t *testing.T) {
	p, tr := newPKI(t)
	s, err := p.Sign(artifact, testpki.SignOptions{KeySigned: true})
	if err != nil {
		t.Fatal(err)
	}
	v := New(tr, Options{})
	if _, err := v.Verify(s.Bundle, fileArtifact(artifact), Policy{Key: s.Key.Public()}); err != nil {
		t.Fatal(err)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if _, err := v.Verify(s.Bundle, fileArtifact(artifact), Policy{Key: other.Public()}); CheckOf(err) != CheckSignature {
		t.Fatalf("wrong key: %v", err)
	}
	if _, err := v.Verify(s.Bundle, fileArtifact(artifact), defaultPolicy()); CheckOf(err) != CheckPolicy {
		t.Fatalf("identity policy on a key bundle: %v", err)
	}
	// Not logged: refused unless the current time is allowed.
	s2, err := p.Sign(artifact, testpki.SignOptions{KeySigned: true, NoTlog: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(s2.Bundle, fileArtifact(artifact), Policy{Key: s2.Key.Public()}); CheckOf(err) != CheckTlog {
		t.Fatalf("unlogged key bundle: %v", err)
	}
	v2 := New(tr, Options{TlogThreshold: Off, UseCurrentTime: true})
	res, err := v2.Verify(s2.Bundle, fileArtifact(artifact), Policy{Key: s2.Key.Public()})
	if err != nil || res.VerifiedTimestamps[0].Type != "CurrentTime" {
		t.Fatalf("unlogged key bundle with current time: %v %+v", err, res)
	}
	// The current time never stands in for a certificate's.
	s3, err := p.Sign(artifact, testpki.SignOptions{NoTlog: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v2.Verify(s3.Bundle, fileArtifact(artifact), defaultPolicy()); CheckOf(err) != CheckTimestamp {
		t.Fatalf("unlogged certificate bundle: %v", err)
	}
}

func TestTimeAndThresholds(t *testing.T) {
	p, tr := newPKI(t)
	// A timestamp after the certificate expired: the chain fails at that time.
	s, err := p.Sign(artifact, testpki.SignOptions{V2: true, TimestampAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(tr, Options{}).Verify(s.Bundle, fileArtifact(artifact), defaultPolicy()); CheckOf(err) != CheckCertificate {
		t.Fatalf("late timestamp: %v", err)
	}
	// Two logs required, one present.
	s, err = p.Sign(artifact, testpki.SignOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(tr, Options{TlogThreshold: 2}).Verify(s.Bundle, fileArtifact(artifact), defaultPolicy()); CheckOf(err) != CheckTlog || !strings.Contains(err.Error(), "1 of 2 required transparency logs verified: the bundle's entries are in only 1 distinct trusted logs") {
		t.Fatalf("threshold 2: %v", err)
	}
	// A signed timestamp required, none present.
	if _, err := New(tr, Options{SignedTimestampThreshold: 1}).Verify(s.Bundle, fileArtifact(artifact), defaultPolicy()); CheckOf(err) != CheckTimestamp {
		t.Fatalf("timestamp threshold: %v", err)
	}
	// One of each, two required: the message says how many there were.
	if _, err := New(tr, Options{SCTThreshold: 2}).Verify(s.Bundle, fileArtifact(artifact), defaultPolicy()); CheckOf(err) != CheckSCT || !strings.Contains(err.Error(), "1 of 2 required SCTs verified: the certificate embeds only 1") {
		t.Fatalf("SCT threshold 2: %v", err)
	}
	s2, err := p.Sign(artifact, testpki.SignOptions{V2: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(tr, Options{SignedTimestampThreshold: 2}).Verify(s2.Bundle, fileArtifact(artifact), defaultPolicy()); CheckOf(err) != CheckTimestamp || !strings.Contains(err.Error(), "1 of 2 required RFC 3161 timestamps verified: the bundle carries only 1") {
		t.Fatalf("timestamp threshold 2: %v", err)
	}
	// SCT from an unknown CT log.
	ct, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	s, err = p.Sign(artifact, testpki.SignOptions{Leaf: testpki.LeafOptions{CTKey: ct}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(tr, Options{}).Verify(s.Bundle, fileArtifact(artifact), defaultPolicy()); CheckOf(err) != CheckSCT {
		t.Fatalf("unknown CT log: %v", err)
	}
	if _, err := New(tr, Options{SCTThreshold: Off}).Verify(s.Bundle, fileArtifact(artifact), defaultPolicy()); err != nil {
		t.Fatalf("SCTs off: %v", err)
	}
	// An entry with a proof but no SET, in Rekor v1: the log verified it but
	// gives no time, and there is no timestamp.
	s, err = p.Sign(artifact, testpki.SignOptions{Entry: testpki.EntryOptions{NoSET: true}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(tr, Options{}).Verify(s.Bundle, fileArtifact(artifact), defaultPolicy()); CheckOf(err) != CheckTimestamp {
		t.Fatalf("no time: %v", err)
	}
}

func TestP384CA(t *testing.T) {
	p, err := testpki.New(testpki.Options{CAKeyCurve: elliptic.P384()})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := p.TrustedRoot()
	if err != nil {
		t.Fatal(err)
	}
	s, err := p.Sign(artifact, testpki.SignOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(tr, Options{}).Verify(s.Bundle, fileArtifact(artifact), defaultPolicy()); err != nil {
		t.Fatal(err)
	}
}

func TestAttestationPolicy(t *testing.T) {
	p, tr := newPKI(t)
	s, err := p.Sign(artifact, testpki.SignOptions{DSSE: true, PredicateType: "https://slsa.dev/provenance/v1"})
	if err != nil {
		t.Fatal(err)
	}
	v := New(tr, Options{})
	pol := defaultPolicy()
	pol.PredicateType = "https://slsa.dev/provenance/v1"
	res, err := v.Verify(s.Bundle, Artifact{None: true}, pol)
	if err != nil || res.Statement == nil || res.Statement.PredicateType != pol.PredicateType {
		t.Fatalf("%v %+v", err, res)
	}
	pol.PredicateType = "https://spdx.dev/Document"
	if _, err := v.Verify(s.Bundle, fileArtifact(artifact), pol); CheckOf(err) != CheckStatement {
		t.Fatalf("wrong predicate type: %v", err)
	}
}

func TestUnknownCriticalExtension(t *testing.T) {
	p, tr := newPKI(t)
	s, err := p.Sign(artifact, testpki.SignOptions{Leaf: testpki.LeafOptions{ExtraExtensions: []pkix.Extension{
		{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1}, Critical: true, Value: []byte{0x05, 0x00}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(tr, Options{}).Verify(s.Bundle, fileArtifact(artifact), defaultPolicy())
	if CheckOf(err) != CheckCertificate || !strings.Contains(err.Error(), "unhandled critical extension") {
		t.Fatalf("unknown critical extension: %v", err)
	}
	// The same extension, not critical, is fine.
	s, err = p.Sign(artifact, testpki.SignOptions{Leaf: testpki.LeafOptions{ExtraExtensions: []pkix.Extension{
		{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1}, Value: []byte{0x05, 0x00}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(tr, Options{}).Verify(s.Bundle, fileArtifact(artifact), defaultPolicy()); err != nil {
		t.Fatal(err)
	}
}

// A Rekor v2 entry is proven only by a checkpoint, so the log key must be
// valid at the verified signing time: ending a retired or compromised log
// key in the trusted root stops its checkpoints from vouching for later
// signatures (before, only a SET's integrated time was held to the window).
func TestLogKeyWindowWithoutSET(t *testing.T) {
	p, tr := newPKI(t)
	s, err := p.Sign(artifact, testpki.SignOptions{V2: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(tr, Options{}).Verify(s.Bundle, fileArtifact(artifact), defaultPolicy()); err != nil {
		t.Fatal(err)
	}
	for name, w := range map[string]trust.Window{
		"ended":       {Start: p.Start, End: time.Now().Add(-time.Hour)},
		"not started": {Start: time.Now().Add(time.Hour)},
	} {
		narrowed := *tr
		narrowed.TLogs = map[string]*trust.Log{}
		for id, l := range tr.TLogs {
			c := *l
			c.Valid = w
			narrowed.TLogs[id] = &c
		}
		if _, err := New(&narrowed, Options{}).Verify(s.Bundle, fileArtifact(artifact), defaultPolicy()); CheckOf(err) != CheckTlog || !strings.Contains(err.Error(), "not at the verified time") {
			t.Errorf("log key %s: %v", name, err)
		}
	}
}

// A Rekor v2 entry's canonicalizedBody must be the entry the verifier
// rebuilds from the bundle (the proof binds the rebuilt one): a bundle
// carrying garbage or another body there no longer passes as verified.
func TestV2BodyMustBeTheEntry(t *testing.T) {
	p, tr := newPKI(t)
	for name, edit := range map[string]func([]byte) []byte{
		"garbage": func([]byte) []byte { return []byte("not json") },
		"extra field": func(b []byte) []byte {
			return append(bytes.TrimSuffix(bytes.TrimSpace(b), []byte("}")), []byte(`,"x":1}`)...)
		},
	} {
		s, err := p.Sign(artifact, testpki.SignOptions{V2: true})
		if err != nil {
			t.Fatal(err)
		}
		e := s.Bundle.TlogEntries[0]
		e.CanonicalizedBody = edit(e.CanonicalizedBody)
		if _, err := New(tr, Options{}).Verify(s.Bundle, fileArtifact(artifact), defaultPolicy()); CheckOf(err) != CheckEntry {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestLeafIssuedByTheRoot: a CA listed as [intermediate, root] whose root
// also issued a leaf directly verifies it, as x509.Verify over the whole
// chain does (sigstore-go); a leaf whose issuer names a certificate of the
// chain but was signed by another key still fails.
func TestLeafIssuedByTheRoot(t *testing.T) {
	p, tr := newPKI(t)
	byRoot := *p
	byRoot.Intermediate, byRoot.IntermediateKey = p.Root, p.RootKey
	s, err := byRoot.Sign(artifact, testpki.SignOptions{})
	if err != nil {
		t.Fatal(err)
	}
	v := New(tr, Options{})
	if _, err := v.Verify(roundTrip(t, s.Bundle), fileArtifact(artifact), defaultPolicy()); err != nil {
		t.Fatalf("leaf issued by the root: %v", err)
	}
	// An impostor CA certificate with the intermediate's name and
	// another key.
	forged := *p
	forged.IntermediateKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	impostor := *p.Intermediate
	impostor.PublicKey = forged.IntermediateKey.Public()
	der, err := x509.CreateCertificate(rand.Reader, &impostor, &impostor, forged.IntermediateKey.Public(), forged.IntermediateKey)
	if err != nil {
		t.Fatal(err)
	}
	if forged.Intermediate, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	s, err = forged.Sign(artifact, testpki.SignOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(roundTrip(t, s.Bundle), fileArtifact(artifact), defaultPolicy()); CheckOf(err) != CheckCertificate {
		t.Fatalf("leaf signed by another key under the intermediate's name: %v", err)
	}
}

// TestNameConstraintsAboveTheIssuer: name constraints of a certificate
// above the one that issued the leaf (a root that constrains its
// intermediate to a domain) hold for the leaf's names, as x509.Verify over
// the whole chain (sigstore-go) applies them. They were not checked: the
// leaf was verified against its issuing certificate alone, and the links
// above it without the leaf, so a leaf outside the root's constraints
// verified.
func TestNameConstraintsAboveTheIssuer(t *testing.T) {
	p, _ := newPKI(t)
	root := *p.Root
	root.PermittedURIDomains = []string{"example.com"}
	root.PermittedEmailAddresses = []string{"example.com"}
	der, err := x509.CreateCertificate(rand.Reader, &root, &root, p.RootKey.Public(), p.RootKey)
	if err != nil {
		t.Fatal(err)
	}
	if p.Root, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	inter := *p.Intermediate
	if der, err = x509.CreateCertificate(rand.Reader, &inter, p.Root, p.IntermediateKey.Public(), p.RootKey); err != nil {
		t.Fatal(err)
	}
	if p.Intermediate, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	tr, err := p.TrustedRoot()
	if err != nil {
		t.Fatal(err)
	}
	v := New(tr, Options{})
	for _, tc := range []struct {
		uri, email string
		ok         bool
	}{
		{uri: testpki.DefaultIdentity.URI},
		{email: "someone@elsewhere.test"},
		{uri: "https://example.com/ci/release.yml@refs/heads/main", ok: true},
		{email: "release@example.com", ok: true},
	} {
		id := testpki.DefaultIdentity
		id.URI, id.Email = tc.uri, tc.email
		s, err := p.Sign(artifact, testpki.SignOptions{Identity: &id})
		if err != nil {
			t.Fatal(err)
		}
		pol := Policy{Identities: []Identity{{SubjectAlternativeName: Matcher{Exact: tc.uri + tc.email}, Issuer: Matcher{Exact: id.Issuer}}}}
		_, err = v.Verify(roundTrip(t, s.Bundle), fileArtifact(artifact), pol)
		switch {
		case tc.ok && err != nil:
			t.Errorf("%s%s, within the root's name constraints: %v", tc.uri, tc.email, err)
		case !tc.ok && (CheckOf(err) != CheckCertificate || !strings.Contains(err.Error(), "not permitted")):
			t.Errorf("%s%s, outside the root's name constraints: %v", tc.uri, tc.email, err)
		}
	}
}

// TestNoVerifiedTimeNoCertificate: with the observer threshold disabled, a
// bundle that proves no time left the certificate unchecked: the chain
// loop ran over no times, so a certificate from a CA the trusted root does
// not list verified (with SCTs off), and with SCTs required the verifier
// panicked on the missing issuer. A certificate needs a verified time.
func TestNoVerifiedTimeNoCertificate(t *testing.T) {
	p, tr := newPKI(t)
	other, _ := newPKI(t)
	untrusted, err := other.Sign(artifact, testpki.SignOptions{V2: true, Timestamp: true})
	if err != nil {
		t.Fatal(err)
	}
	// A bundle of the trusted domain whose timestamp was removed.
	trusted, err := p.Sign(artifact, testpki.SignOptions{V2: true, Timestamp: true})
	if err != nil {
		t.Fatal(err)
	}
	trusted.Bundle.Timestamps = nil
	for _, tc := range []struct {
		name string
		b    *bundle.Bundle
		sct  int
	}{
		{"untrusted CA, SCTs off", untrusted.Bundle, Off},
		{"trusted CA, SCT required", trusted.Bundle, 0},
	} {
		v := New(tr, Options{TlogThreshold: Off, SignedTimestampThreshold: Off, ObserverTimestampThreshold: Off, SCTThreshold: tc.sct})
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("%s: panic: %v", tc.name, r)
				}
			}()
			if _, err := v.Verify(tc.b, fileArtifact(artifact), defaultPolicy()); CheckOf(err) != CheckTimestamp {
				t.Errorf("%s: a certificate without a verified time: %v", tc.name, err)
			}
		}()
	}
}

// Timestamps count once per authority, not once per trusted-root entry:
// a TSA listed twice under one URI (a rotated chain kept for older
// bundles) or two TSAs of one operator meet a threshold of two only once
// (sigstore-go compares URIs; protobuf-specs: TSAs of one operator count
// as one).
func TestTimestampThresholdCountsAuthorities(t *testing.T) {
	p, tr := newPKI(t)
	p2, tr2 := newPKI(t) // another TSA chain
	s, err := p.Sign(artifact, testpki.SignOptions{Timestamp: true})
	if err != nil {
		t.Fatal(err)
	}
	ts2, err := p2.Timestamp(s.Bundle.Signature(), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	tvd := s.Bundle.Proto().GetVerificationMaterial().GetTimestampVerificationData()
	tvd.Rfc3161Timestamps = append(tvd.Rfc3161Timestamps, &protocommon.RFC3161SignedTimestamp{SignedTimestamp: ts2})
	b := roundTrip(t, s.Bundle)
	if len(b.Timestamps) != 2 {
		t.Fatalf("%d timestamps", len(b.Timestamps))
	}
	second := tr2.TSAs[0]
	tr.TSAs = append(tr.TSAs, second)
	opts := Options{SignedTimestampThreshold: 2}

	// The same URI: one authority.
	second.URI = tr.TSAs[0].URI
	if _, err := New(tr, opts).Verify(b, fileArtifact(artifact), defaultPolicy()); CheckOf(err) != CheckTimestamp || !strings.Contains(err.Error(), "same authority") {
		t.Fatalf("same URI: %v", err)
	}
	// Two URIs, one operator: one authority.
	second.URI = "https://tsa2.sigil.test/api/v1/timestamp"
	tr.TSAs[0].Operator, second.Operator = "sigil.test", "sigil.test"
	if _, err := New(tr, opts).Verify(b, fileArtifact(artifact), defaultPolicy()); CheckOf(err) != CheckTimestamp || !strings.Contains(err.Error(), "same authority") {
		t.Fatalf("same operator: %v", err)
	}
	// One operator named, the other not, one URI: still one authority.
	second.Operator, second.URI = "", tr.TSAs[0].URI
	if _, err := New(tr, opts).Verify(b, fileArtifact(artifact), defaultPolicy()); CheckOf(err) != CheckTimestamp {
		t.Fatalf("same URI, one operator: %v", err)
	}
	// Two authorities.
	second.URI = "https://tsa2.sigil.test/api/v1/timestamp"
	second.Operator = "other.test"
	if _, err := New(tr, opts).Verify(b, fileArtifact(artifact), defaultPolicy()); err != nil {
		t.Fatalf("two authorities: %v", err)
	}
}

// Logs of one operator count once toward the transparency-log threshold
// (protobuf-specs TransparencyLogInstance.operator: "two proofs from log
// deployments operated by the same operator should count as only one").
func TestTlogThresholdCountsOperators(t *testing.T) {
	p, tr := newPKI(t)
	s, err := p.Sign(artifact, testpki.SignOptions{})
	if err != nil {
		t.Fatal(err)
	}
	first := s.Bundle.TlogEntries[0]
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	other, err := testpki.NewLog("https://rekor2.sigil.test", key, true)
	if err != nil {
		t.Fatal(err)
	}
	i := other.Append(first.GetCanonicalizedBody())
	e, err := other.Entry(i, first.GetCanonicalizedBody(), testpki.EntryOptions{Kind: first.GetKindVersion().GetKind(), Version: first.GetKindVersion().GetVersion()})
	if err != nil {
		t.Fatal(err)
	}
	vm := s.Bundle.Proto().GetVerificationMaterial()
	vm.TlogEntries = append(vm.TlogEntries, e)
	b := roundTrip(t, s.Bundle)
	l, err := trust.NewLog(other.BaseURL, key.Public(), other.ID, trust.Window{Start: p.Start})
	if err != nil {
		t.Fatal(err)
	}
	tr.TLogs[l.HexID()] = l
	opts := Options{TlogThreshold: 2}
	if _, err := New(tr, opts).Verify(b, fileArtifact(artifact), defaultPolicy()); err != nil {
		t.Fatalf("two logs: %v", err)
	}
	for _, x := range tr.TLogs {
		x.Operator = "sigil.test"
	}
	if _, err := New(tr, opts).Verify(b, fileArtifact(artifact), defaultPolicy()); CheckOf(err) != CheckTlog || !strings.Contains(err.Error(), "1 of 2 required") {
		t.Fatalf("two logs of one operator: %v", err)
	}
	l.Operator = "other.test"
	if _, err := New(tr, opts).Verify(b, fileArtifact(artifact), defaultPolicy()); err != nil {
		t.Fatalf("two operators: %v", err)
	}
}
