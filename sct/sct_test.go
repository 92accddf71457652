package sct

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"crypto/x509"

	"sigil.dev/sigil/trust"
)

func vector(t *testing.T, name, root string) (*x509.Certificate, *trust.TrustedRoot) {
	t.Helper()
	dir := filepath.Join("..", "..", "shared", "conformance")
	raw, err := os.ReadFile(filepath.Join(dir, "bundle-verify", name, "bundle.sigstore.json"))
	if err != nil {
		t.Skipf("conformance vectors not found (%v); check out ../shared beside the repository", err)
	}
	var b struct {
		VerificationMaterial struct {
			Certificate *struct{ RawBytes string }
		}
	}
	if err := json.Unmarshal(raw, &b); err != nil {
		t.Fatal(err)
	}
	der, _ := base64.StdEncoding.DecodeString(b.VerificationMaterial.Certificate.RawBytes)
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	rootPath := filepath.Join(dir, "production_trusted_root.json")
	if root != "" {
		rootPath = filepath.Join(dir, "bundle-verify", name, root)
	}
	rb, err := os.ReadFile(rootPath)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := trust.ParseTrustedRoot(rb)
	if err != nil {
		t.Fatal(err)
	}
	return leaf, tr
}

func issuerOf(t *testing.T, leaf *x509.Certificate, tr *trust.TrustedRoot) *x509.Certificate {
	for _, ca := range tr.CAs {
		for _, c := range append(ca.Intermediates, ca.Root) {
			if leaf.CheckSignatureFrom(c) == nil {
				return c
			}
		}
	}
	t.Fatal("issuer not found")
	return nil
}

func TestVerifyProduction(t *testing.T) {
	for _, name := range []string{"happy-path-v0.3", "bundle-with-sct-with-extensions"} {
		root := ""
		if name == "bundle-with-sct-with-extensions" {
			root = "trusted_root.json"
		}
		leaf, tr := vector(t, name, root)
		if _, err := os.Stat(filepath.Join("..", "..", "shared", "conformance", "bundle-verify", name, "trusted_root.json")); err != nil {
			leaf, tr = vector(t, name, "")
		}
		issuer := issuerOf(t, leaf, tr)
		scts, err := Embedded(leaf)
		if err != nil {
			t.Fatal(err)
		}
		verified := 0
		for _, s := range scts {
			log := tr.CTLogs[hex.EncodeToString(s.LogID[:])]
			if log == nil {
				continue
			}
			if err := s.Verify(log.PublicKey, leaf, issuer.RawSubjectPublicKeyInfo); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			verified++
		}
		if verified == 0 {
			t.Fatalf("%s: no SCT verified", name)
		}
		if name == "bundle-with-sct-with-extensions" && len(scts[0].Extensions) == 0 {
			t.Fatalf("%s: expected SCT extensions", name)
		}
	}
}

func TestVerifyRejectsTampering(t *testing.T) {
	leaf, tr := vector(t, "happy-path-v0.3", "")
	issuer := issuerOf(t, leaf, tr)
	scts, err := Embedded(leaf)
	if err != nil {
		t.Fatal(err)
	}
	s := scts[0]
	log := tr.CTLogs[hex.EncodeToString(s.LogID[:])]
	s.Timestamp++
	if err := s.Verify(log.PublicKey, leaf, issuer.RawSubjectPublicKeyInfo); !errors.Is(err, ErrSignature) {
		t.Fatalf("tampered timestamp: %v", err)
	}
	s.Timestamp--
	// Wrong issuer key.
	if err := s.Verify(log.PublicKey, leaf, leaf.RawSubjectPublicKeyInfo); !errors.Is(err, ErrSignature) {
		t.Fatalf("wrong issuer: %v", err)
	}
}

func FuzzParseList(f *testing.F) {
	f.Add([]byte{0x04, 0x03, 0x00, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = ParseList(b)
		_, _ = Parse(b)
		_, _ = removeExtension(b, OIDSCTList)
	})
}
