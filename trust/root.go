// Package trust reads and writes the documents that say whom a Sigstore
// client trusts and where it sends requests: the trusted root
// (dev.sigstore.trustroot.v1.TrustedRoot) and the signing config v0.2.
//
// A trusted root lists, each with a validity window:
//   - transparency logs (tlogs) and certificate-transparency logs (ctlogs):
//     base URL, public key, log ID;
//   - certificate authorities (Fulcio) and timestamp authorities: a chain
//     whose last certificate is the trust anchor.
//
// Validity windows are closed intervals [start, end]; end may be absent.
// Instances overlap and may be future-dated; all historical ones are kept
// (sigstore/protobuf-specs protos/sigstore_trustroot.proto).
//
// Media types: the proto says v0.2 is "application/vnd.dev.sigstore.trustedroot.v0.2+json",
// but sigstore-go accepts only the legacy "application/vnd.dev.sigstore.trustedroot+json;version=0.1"
// and the public roots use it, so Marshal emits the legacy string and Parse accepts all three.
//
// Parsing follows sigstore-go pkg/root/trusted_root.go: a log must use
// SHA2_256, have a log ID and key bytes, and have a validity window with a
// start (the conformance vector trust-root-tlog-missing-validity-start_fail).
package trust

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"time"

	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	prototrust "github.com/sigstore/protobuf-specs/gen/pb-go/trustroot/v1"
	"golang.org/x/mod/sumdb/note"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	"sigil.dev/sigil/checkpoint"
)

// Trusted root media types.
const (
	TrustedRootMediaTypeLegacy = "application/vnd.dev.sigstore.trustedroot+json;version=0.1"
	TrustedRootMediaTypeV01    = "application/vnd.dev.sigstore.trustedroot.v0.1+json"
	TrustedRootMediaTypeV02    = "application/vnd.dev.sigstore.trustedroot.v0.2+json"
)

// ErrTrustedRoot wraps every error about a malformed trusted root.
var ErrTrustedRoot = errors.New("invalid trusted root")

// TrustedRoot is a parsed trusted root.
type TrustedRoot struct {
	MediaType string
	// TLogs and CTLogs are keyed by the hex log ID.
	TLogs  map[string]*Log
	CTLogs map[string]*Log
	CAs    []*CA
	TSAs   []*CA
}

// Window is a closed validity interval; a zero End means open-ended.
type Window struct {
	Start, End time.Time
}

// Contains reports whether t is within [Start, End].
func (w Window) Contains(t time.Time) bool {
	if t.Before(w.Start) {
		return false
	}
	return w.End.IsZero() || !t.After(w.End)
}

// String shows a window as [start, end] in RFC 3339 (end "open" when
// absent).
func (w Window) String() string {
	end := "open"
	if !w.End.IsZero() {
		end = w.End.UTC().Format("2006-01-02T15:04:05Z")
	}
	return "[" + w.Start.UTC().Format("2006-01-02T15:04:05Z") + ", " + end + "]"
}

// Log is a transparency or certificate-transparency log instance.
type Log struct {
	BaseURL    string
	PublicKey  crypto.PublicKey
	KeyDetails protocommon.PublicKeyDetails
	KeyDER     []byte
	ID         []byte
	Valid      Window
	// Origin is the host of BaseURL: the checkpoint origin of a Rekor v2
	// log and the key name of its signatures.
	Origin   string
	Operator string

	// CheckpointVerifier verifies Rekor v2 checkpoints (name = Origin);
	// nil if Origin is not a valid key name.
	CheckpointVerifier note.Verifier
	// V1CheckpointVerifier verifies Rekor v1 checkpoints, whose
	// signatures are matched by key hash alone.
	V1CheckpointVerifier note.Verifier
}

// HexID returns the hex log ID, the key of TLogs and CTLogs.
func (l *Log) HexID() string { return hex.EncodeToString(l.ID) }

// CA is a certificate or timestamp authority: a chain anchored in Root.
type CA struct {
	Organization, CommonName string
	URI                      string
	Root                     *x509.Certificate
	Intermediates            []*x509.Certificate
	// Leaf is the TSA signing certificate (TSAs only): the first
	// certificate of the chain when it is not a CA.
	Leaf     *x509.Certificate
	Valid    Window
	Operator string

	roots, intermediates *x509.CertPool
}

// Pools returns the root and intermediate pools of the CA, built once.
func (c *CA) Pools() (roots, intermediates *x509.CertPool) {
	return c.roots, c.intermediates
}

// ParseTrustedRoot parses a trusted root in its JSON form.
func ParseTrustedRoot(data []byte) (*TrustedRoot, error) {
	var pb prototrust.TrustedRoot
	if err := protojson.Unmarshal(data, &pb); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTrustedRoot, err)
	}
	return FromProto(&pb)
}

// FromProto converts a trusted root message.
func FromProto(pb *prototrust.TrustedRoot) (*TrustedRoot, error) {
	switch pb.GetMediaType() {
	case TrustedRootMediaTypeLegacy, TrustedRootMediaTypeV01, TrustedRootMediaTypeV02:
	default:
		return nil, fmt.Errorf("%w: unsupported media type %q", ErrTrustedRoot, pb.GetMediaType())
	}
	tr := &TrustedRoot{MediaType: pb.GetMediaType()}
	var err error
	if tr.TLogs, err = parseLogs(pb.GetTlogs(), "tlog"); err != nil {
		return nil, err
	}
	if tr.CTLogs, err = parseLogs(pb.GetCtlogs(), "ctlog"); err != nil {
		return nil, err
	}
	for i, ca := range pb.GetCertificateAuthorities() {
		c, err := parseCA(ca, false)
		if err != nil {
			return nil, fmt.Errorf("%w: certificate authority %d: %v", ErrTrustedRoot, i, err)
		}
		tr.CAs = append(tr.CAs, c)
	}
	for i, ca := range pb.GetTimestampAuthorities() {
		c, err := parseCA(ca, true)
		if err != nil {
			return nil, fmt.Errorf("%w: timestamp authority %d: %v", ErrTrustedRoot, i, err)
		}
		tr.TSAs = append(tr.TSAs, c)
	}
	return tr, nil
}

func parseLogs(in []*prototrust.TransparencyLogInstance, what string) (map[string]*Log, error) {
	out := make(map[string]*Log, len(in))
	for i, tl := range in {
		l, err := parseLog(tl)
		if err != nil {
			return nil, fmt.Errorf("%w: %s %d (%s): %v", ErrTrustedRoot, what, i, tl.GetBaseUrl(), err)
		}
		out[l.HexID()] = l
	}
	return out, nil
}

func parseLog(tl *prototrust.TransparencyLogInstance) (*Log, error) {
	if tl.GetHashAlgorithm() != protocommon.HashAlgorithm_SHA2_256 {
		return nil, fmt.Errorf("unsupported hash algorithm %s", tl.GetHashAlgorithm())
	}
	if len(tl.GetLogId().GetKeyId()) == 0 {
		return nil, errors.New("missing log ID")
	}
	pk := tl.GetPublicKey()
	if len(pk.GetRawBytes()) == 0 {
		return nil, errors.New("missing public key")
	}
	vf := pk.GetValidFor()
	if vf == nil {
		return nil, errors.New("public key has no validity period")
	}
	if vf.GetStart() == nil {
		return nil, errors.New("public key validity period has no start")
	}
	l := &Log{
		BaseURL:    tl.GetBaseUrl(),
		KeyDetails: pk.GetKeyDetails(),
		KeyDER:     pk.GetRawBytes(),
		ID:         tl.GetLogId().GetKeyId(),
		Valid:      window(vf),
		Operator:   tl.GetOperator(),
	}
	var err error
	if pk.GetKeyDetails() == protocommon.PublicKeyDetails_PKCS1_RSA_PKCS1V5 { //nolint:staticcheck // still used by the staging instance
		l.PublicKey, err = x509.ParsePKCS1PublicKey(pk.GetRawBytes())
	} else {
		l.PublicKey, err = x509.ParsePKIXPublicKey(pk.GetRawBytes())
	}
	if err != nil {
		return nil, fmt.Errorf("couldn't parse public key: %w", err)
	}
	if err := checkKeyDetails(l.PublicKey, pk.GetKeyDetails()); err != nil {
		return nil, err
	}
	if u, err := url.Parse(l.BaseURL); err == nil && u.Host != "" {
		l.Origin = u.Hostname()
	} else {
		l.Origin = l.BaseURL // scheme-less base URLs are allowed
	}
	if v, err := checkpoint.NewVerifier(l.Origin, l.PublicKey); err == nil {
		l.CheckpointVerifier = v
	}
	if v, err := checkpoint.NewVerifier("log", l.PublicKey); err == nil {
		l.V1CheckpointVerifier = v
	}
	return l, nil
}

func checkKeyDetails(pub crypto.PublicKey, d protocommon.PublicKeyDetails) error {
	ok := false
	switch d {
	case protocommon.PublicKeyDetails_PKIX_ECDSA_P256_SHA_256, protocommon.PublicKeyDetails_PKIX_ECDSA_P384_SHA_384, protocommon.PublicKeyDetails_PKIX_ECDSA_P521_SHA_512:
		_, ok = pub.(*ecdsa.PublicKey)
	case protocommon.PublicKeyDetails_PKIX_ED25519:
		_, ok = pub.(ed25519.PublicKey)
	case protocommon.PublicKeyDetails_PKIX_RSA_PKCS1V15_2048_SHA256, protocommon.PublicKeyDetails_PKIX_RSA_PKCS1V15_3072_SHA256,
		protocommon.PublicKeyDetails_PKIX_RSA_PKCS1V15_4096_SHA256, protocommon.PublicKeyDetails_PKCS1_RSA_PKCS1V5: //nolint:staticcheck
		_, ok = pub.(*rsa.PublicKey)
	default:
		return fmt.Errorf("unsupported key details %s", d)
	}
	if !ok {
		return fmt.Errorf("key is %T, not %s", pub, d)
	}
	return nil
}

func window(tr *protocommon.TimeRange) Window {
	var w Window
	if tr.GetStart() != nil {
		w.Start = tr.GetStart().AsTime()
	}
	if tr.GetEnd() != nil {
		w.End = tr.GetEnd().AsTime()
	}
	return w
}

func parseCA(ca *prototrust.CertificateAuthority, tsa bool) (*CA, error) {
	certs := ca.GetCertChain().GetCertificates()
	if len(certs) == 0 {
		return nil, errors.New("empty certificate chain")
	}
	c := &CA{
		Organization: ca.GetSubject().GetOrganization(),
		CommonName:   ca.GetSubject().GetCommonName(),
		URI:          ca.GetUri(),
		Valid:        window(ca.GetValidFor()),
		Operator:     ca.GetOperator(),
	}
	for i, raw := range certs {
		x, err := x509.ParseCertificate(raw.GetRawBytes())
		if err != nil {
			return nil, fmt.Errorf("couldn't parse certificate %d: %w", i, err)
		}
		switch {
		case i == len(certs)-1:
			c.Root = x
		case tsa && i == 0 && !x.IsCA:
			c.Leaf = x
		default:
			c.Intermediates = append(c.Intermediates, x)
		}
	}
	if tsa && c.Leaf == nil && !c.Root.IsCA {
		// A single self-signed, non-CA TSA certificate is both. Anything
		// else is a chain that lacks its anchor (a leaf alone, or a
		// chain given root first), which sigstore-go refuses too.
		if !bytes.Equal(c.Root.RawSubject, c.Root.RawIssuer) || c.Root.CheckSignature(c.Root.SignatureAlgorithm, c.Root.RawTBSCertificate, c.Root.Signature) != nil {
			return nil, fmt.Errorf("the timestamp authority's last certificate %q is neither a CA nor self-signed: the chain lacks its trust anchor (or is not ordered leaf first)", c.Root.Subject)
		}
		c.Leaf = c.Root
	}
	c.roots = x509.NewCertPool()
	c.roots.AddCert(c.Root)
	c.intermediates = x509.NewCertPool()
	for _, x := range c.Intermediates {
		c.intermediates.AddCert(x)
	}
	return c, nil
}

// Proto converts the trusted root back to its message form, with the given
// media type (TrustedRootMediaTypeLegacy when empty).
func (tr *TrustedRoot) Proto() *prototrust.TrustedRoot {
	mt := tr.MediaType
	if mt == "" {
		mt = TrustedRootMediaTypeLegacy
	}
	pb := &prototrust.TrustedRoot{MediaType: mt}
	for _, l := range sortedLogs(tr.TLogs) {
		pb.Tlogs = append(pb.Tlogs, l.proto())
	}
	for _, l := range sortedLogs(tr.CTLogs) {
		pb.Ctlogs = append(pb.Ctlogs, l.proto())
	}
	for _, c := range tr.CAs {
		pb.CertificateAuthorities = append(pb.CertificateAuthorities, c.proto())
	}
	for _, c := range tr.TSAs {
		pb.TimestampAuthorities = append(pb.TimestampAuthorities, c.proto())
	}
	return pb
}

// Marshal returns the trusted root as indented JSON.
func (tr *TrustedRoot) Marshal() ([]byte, error) {
	return protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(tr.Proto())
}

func sortedLogs(m map[string]*Log) []*Log {
	out := make([]*Log, 0, len(m))
	for _, l := range m {
		out = append(out, l)
	}
	// Oldest first, as the specification asks; ties by ID for stable output.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && less(out[j], out[j-1]); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func less(a, b *Log) bool {
	if !a.Valid.Start.Equal(b.Valid.Start) {
		return a.Valid.Start.Before(b.Valid.Start)
	}
	return a.HexID() < b.HexID()
}

func (w Window) proto() *protocommon.TimeRange {
	tr := &protocommon.TimeRange{}
	if !w.Start.IsZero() {
		tr.Start = timestamppb.New(w.Start)
	}
	if !w.End.IsZero() {
		tr.End = timestamppb.New(w.End)
	}
	return tr
}

func (l *Log) proto() *prototrust.TransparencyLogInstance {
	return &prototrust.TransparencyLogInstance{
		BaseUrl:       l.BaseURL,
		HashAlgorithm: protocommon.HashAlgorithm_SHA2_256,
		PublicKey: &protocommon.PublicKey{
			RawBytes:   l.KeyDER,
			KeyDetails: l.KeyDetails,
			ValidFor:   l.Valid.proto(),
		},
		LogId:    &protocommon.LogId{KeyId: l.ID},
		Operator: l.Operator,
	}
}

func (c *CA) proto() *prototrust.CertificateAuthority {
	pb := &prototrust.CertificateAuthority{
		Subject:   &protocommon.DistinguishedName{Organization: c.Organization, CommonName: c.CommonName},
		Uri:       c.URI,
		CertChain: &protocommon.X509CertificateChain{},
		ValidFor:  c.Valid.proto(),
		Operator:  c.Operator,
	}
	add := func(x *x509.Certificate) {
		pb.CertChain.Certificates = append(pb.CertChain.Certificates, &protocommon.X509Certificate{RawBytes: x.Raw})
	}
	if c.Leaf != nil && c.Leaf != c.Root {
		add(c.Leaf)
	}
	for _, x := range c.Intermediates {
		add(x)
	}
	add(c.Root)
	return pb
}

// NewCA builds a CA from a chain ordered leaf-or-issuer first, anchor last.
// For a TSA the first certificate is the signing leaf when it is not a CA.
func NewCA(chain []*x509.Certificate, valid Window, tsa bool) (*CA, error) {
	pb := &prototrust.CertificateAuthority{CertChain: &protocommon.X509CertificateChain{}, ValidFor: valid.proto()}
	for _, x := range chain {
		pb.CertChain.Certificates = append(pb.CertChain.Certificates, &protocommon.X509Certificate{RawBytes: x.Raw})
	}
	if len(chain) > 0 {
		pb.Subject = &protocommon.DistinguishedName{CommonName: chain[0].Subject.CommonName}
		if o := chain[0].Subject.Organization; len(o) > 0 {
			pb.Subject.Organization = o[0]
		}
	}
	return parseCA(pb, tsa)
}

// NewLog builds a log instance from its key. The log ID is SHA-256 of the
// DER key unless id is given (Rekor v2 logs use the checkpoint key ID, see
// package checkpoint).
func NewLog(baseURL string, pub crypto.PublicKey, id []byte, valid Window) (*Log, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("couldn't encode log key: %w", err)
	}
	details, err := keyDetails(pub)
	if err != nil {
		return nil, err
	}
	if id == nil {
		s := sha256Sum(der)
		id = s[:]
	}
	return parseLog(&prototrust.TransparencyLogInstance{
		BaseUrl:       baseURL,
		HashAlgorithm: protocommon.HashAlgorithm_SHA2_256,
		PublicKey:     &protocommon.PublicKey{RawBytes: der, KeyDetails: details, ValidFor: valid.proto()},
		LogId:         &protocommon.LogId{KeyId: id},
	})
}
