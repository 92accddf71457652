package gitsign_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"sigil.dev/sigil/gitsign"
	"sigil.dev/sigil/internal/fakesvc"
	"sigil.dev/sigil/sign"
)

// signed returns an offline signature with a timestamp over commit.
func signed(t testing.TB) (*fakesvc.Services, []byte) {
	t.Helper()
	f := fakesvc.New(t)
	out, err := newSigner(f, "alice@sigil.test", func(s *gitsign.Signer) {
		s.Signer.TSAs = []*sign.TSAClient{{URL: f.URL + "/api/v1/timestamp"}}
	}).Sign(context.Background(), []byte(commit))
	if err != nil {
		t.Fatal(err)
	}
	return f, out.PEM
}

func TestSignatureRoundTrip(t *testing.T) {
	_, p := signed(t)
	s, err := gitsign.Parse(p)
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.MarshalPEM()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, p) {
		t.Fatal("parse and marshal changed the signature")
	}
	// The DER form parses too, as gitsign accepts it.
	blk, _ := pem.Decode(p)
	if _, err := gitsign.Parse(blk.Bytes); err != nil {
		t.Fatal(err)
	}
	leaf, err := s.Signer()
	if err != nil || leaf != s.Certificates[0] {
		t.Fatalf("signer %v %v", leaf, err)
	}
	if len(s.MessageDigest) != 32 || s.SigningTime.IsZero() || time.Since(s.SigningTime) > time.Minute || len(s.LogEntries) != 1 || len(s.Timestamps) != 1 {
		t.Fatalf("parsed %+v", s)
	}
}

// The layout of gitsign's signatures, element by element (compare
// sigstore/gitsign internal/e2e/testdata/offline.commit under openssl
// asn1parse).
func TestSignatureLayout(t *testing.T) {
	_, p := signed(t)
	blk, _ := pem.Decode(p)
	var ci struct {
		Type    asn1.ObjectIdentifier
		Content asn1.RawValue `asn1:"explicit,tag:0"`
	}
	if _, err := asn1.Unmarshal(blk.Bytes, &ci); err != nil {
		t.Fatal(err)
	}
	var sd struct {
		Version     int
		DigestAlgs  []struct{ Algorithm asn1.ObjectIdentifier } `asn1:"set"`
		Encap       struct{ Type asn1.ObjectIdentifier }
		Certs       asn1.RawValue `asn1:"tag:0"`
		SignerInfos []struct {
			Version      int
			SID          struct{ Issuer, Serial asn1.RawValue }
			DigestAlg    struct{ Algorithm asn1.ObjectIdentifier }
			SignedAttrs  asn1.RawValue `asn1:"tag:0"`
			SigAlg       struct{ Algorithm asn1.ObjectIdentifier }
			Signature    []byte
			UnsignedAttr []struct {
				Type   asn1.ObjectIdentifier
				Values asn1.RawValue `asn1:"set"`
			} `asn1:"tag:1,set"`
		} `asn1:"set"`
	}
	if _, err := asn1.Unmarshal(ci.Content.Bytes, &sd); err != nil {
		t.Fatal(err)
	}
	si := sd.SignerInfos[0]
	for _, c := range []struct {
		name      string
		got, want string
	}{
		{"content type", ci.Type.String(), "1.2.840.113549.1.7.2"},
		{"version", asn1Int(sd.Version), "1"},
		{"digest algorithm", sd.DigestAlgs[0].Algorithm.String(), "2.16.840.1.101.3.4.2.1"},
		{"encapsulated type", sd.Encap.Type.String(), "1.2.840.113549.1.7.1"},
		{"signer version", asn1Int(si.Version), "1"},
		{"signer digest", si.DigestAlg.Algorithm.String(), "2.16.840.1.101.3.4.2.1"},
		{"signature algorithm", si.SigAlg.Algorithm.String(), "1.2.840.10045.4.3.2"},
		{"unsigned attributes (DER order)", si.UnsignedAttr[0].Type.String() + " " + si.UnsignedAttr[1].Type.String(), "1.3.6.1.4.1.57264.3.1 1.2.840.113549.1.9.16.2.14"},
	} {
		if c.got != c.want {
			t.Errorf("%s: %s, want %s", c.name, c.got, c.want)
		}
	}
	// Signed attributes in DER order: content type, signing time, digest.
	var attrs []struct {
		Type   asn1.ObjectIdentifier
		Values asn1.RawValue
	}
	raw := append([]byte{0x31}, si.SignedAttrs.FullBytes[1:]...)
	if _, err := asn1.UnmarshalWithParams(raw, &attrs, "set"); err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, a := range attrs {
		order = append(order, a.Type.String())
	}
	if got := strings.Join(order, " "); got != "1.2.840.113549.1.9.3 1.2.840.113549.1.9.5 1.2.840.113549.1.9.4" {
		t.Fatalf("signed attributes %s", got)
	}
}

func asn1Int(i int) string { return fmt.Sprint(i) }

func TestParseRefuses(t *testing.T) {
	_, p := signed(t)
	blk, _ := pem.Decode(p)
	der := blk.Bytes
	armor := func(typ string, b []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}) }
	mutate := func(f func(*gitsign.Signature)) []byte {
		s, err := gitsign.Parse(p)
		if err != nil {
			t.Fatal(err)
		}
		f(s)
		out, err := s.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"PGP block", armor("PGP SIGNATURE", der), `want "SIGNED MESSAGE"`},
		{"two blocks", append(append([]byte{}, p...), p...), "more than one signature block"},
		{"broken armor", []byte("-----BEGIN SIGNED MESSAGE-----\n!!!\n"), "broken PEM armor"},
		{"empty", nil, "not a DER CMS ContentInfo"},
		{"truncated", der[:len(der)-10], "not a DER CMS ContentInfo"},
		{"trailing data", append(append([]byte{}, der...), 0), "not a DER CMS ContentInfo"},
		{"not signed data", []byte{0x30, 0x0b, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01}, "not id-signedData"},
		{"no signed attributes", mutate(func(s *gitsign.Signature) { s.SignedAttributes = []byte{0x31, 0x00} }), "lack the content type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := gitsign.Parse(tc.in)
			if !errors.Is(err, gitsign.ErrMalformed) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want ErrMalformed with %q", err, tc.want)
			}
		})
	}
}

// A bag without the certificate the signer identifier names.
func TestSignerMissing(t *testing.T) {
	f, p := signed(t)
	s, err := gitsign.Parse(p)
	if err != nil {
		t.Fatal(err)
	}
	s.Certificates = []*x509.Certificate{f.PKI.Intermediate}
	if _, err := s.Signer(); !errors.Is(err, gitsign.ErrMalformed) || !strings.Contains(err.Error(), "does not carry the signer's certificate") {
		t.Fatalf("got %v", err)
	}
	if _, err := (&gitsign.Signature{}).Marshal(); err == nil {
		t.Fatal("marshalled a signature without certificate")
	}
}

func TestSignedAttributesDeterministic(t *testing.T) {
	at := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	a, b := gitsign.SignedAttributes([]byte(commit), at), gitsign.SignedAttributes([]byte(commit), at.Add(500*time.Millisecond))
	if !bytes.Equal(a, b) {
		t.Fatal("signed attributes depend on sub-second time")
	}
	// Years outside 1950–2049 are GeneralizedTime (RFC 5652 §11.3).
	late := gitsign.SignedAttributes([]byte(commit), time.Date(2051, 1, 1, 0, 0, 0, 0, time.UTC))
	if !bytes.Contains(late, []byte("20510101000000Z")) {
		t.Fatalf("no GeneralizedTime in %x", late)
	}
}

func FuzzParse(f *testing.F) {
	_, p := signed(f)
	f.Add(p)
	blk, _ := pem.Decode(p)
	f.Add(blk.Bytes)
	f.Add([]byte("-----BEGIN SIGNED MESSAGE-----\nMAA=\n-----END SIGNED MESSAGE-----\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := gitsign.Parse(b)
		if err != nil {
			return
		}
		s.Signer()
		if len(s.Certificates) > 0 {
			if out, err := s.Marshal(); err == nil {
				if _, err := gitsign.Parse(out); err != nil {
					t.Fatalf("re-encoded signature does not parse: %v", err)
				}
			}
		}
	})
}
