package tuf

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// FuzzParseKey: key files never panic the parser; what parses is a usable
// key with a stable ID.
func FuzzParseKey(f *testing.F) {
	for _, typ := range []string{KeyEd25519, KeyECDSAP256} {
		k, _ := GenerateKey(typ)
		priv, _ := k.MarshalPrivateKey(nil)
		pub, _ := k.MarshalPublicKey()
		f.Add(priv)
		f.Add(pub)
	}
	f.Add([]byte("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := ParseKey(data, nil)
		if err != nil {
			return
		}
		if len(k.ID()) != 64 || k.Metadata() == nil {
			t.Fatalf("key %q", k.ID())
		}
	})
}

// FuzzCheckSignatures: signature checking of root metadata from anywhere
// (a copied repository) never panics, and never counts a signature of a
// key the role does not list.
func FuzzCheckSignatures(f *testing.F) {
	k, _ := GenerateKey(KeyEd25519)
	e, _ := GenerateKey(KeyECDSAP256)
	root := metadata.Root()
	for _, role := range []string{RoleRoot, RoleTargets, RoleSnapshot, RoleTimestamp} {
		_ = root.Signed.AddKey(k.Metadata(), role)
	}
	_ = root.Signed.AddKey(e.Metadata(), RoleRoot)
	_ = signWith(root, k)
	_ = signWith(root, e)
	b, _ := root.ToBytes(false)
	f.Add(b)
	f.Add([]byte(`{"signed":{"_type":"root","spec_version":"1.0","version":1,"expires":"2030-01-01T00:00:00Z","keys":{},"roles":{},"consistent_snapshot":true},"signatures":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := metadata.Root().FromBytes(data)
		if err != nil {
			return
		}
		for _, role := range []string{RoleRoot, RoleTargets} {
			s, err := check(&m.Signed, role, m)
			if err != nil {
				continue
			}
			for _, id := range s.SignedBy {
				found := false
				for _, rid := range roleKeyIDs(&m.Signed, role) {
					found = found || rid == id
				}
				if !found {
					t.Fatalf("counted key %s outside role %s", id, role)
				}
			}
		}
	})
}

// FuzzHandlerPath: whatever the request path, the handler serves only
// files of the published tree — never keys, staging or anything outside.
func FuzzHandlerPath(f *testing.F) {
	dir := f.TempDir()
	s, err := New(Config{Dir: dir, Dev: true})
	if err != nil {
		f.Fatal(err)
	}
	h := s.Handler()
	pub := s.Repo().PublishedPath()
	for _, p := range []string{"/root.json", "/1.root.json", "/timestamp.json", "/../keys/root.pem", "/targets/../1.root.json", "/%2e%2e/keys/root.pem", "/.lock"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, path string) {
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \r\n\t#?") {
			return
		}
		req, err := http.NewRequest(http.MethodGet, "http://x"+path, nil)
		if err != nil {
			return
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			return
		}
		name := strings.TrimPrefix(req.URL.Path, "/")
		want, err := os.ReadFile(filepath.Join(pub, filepath.FromSlash(name)))
		if err != nil || string(want) != w.Body.String() || !filepath.IsLocal(name) {
			t.Fatalf("served %q (%d bytes) for %q", name, w.Body.Len(), path)
		}
		if strings.Contains(w.Body.String(), "PRIVATE KEY") {
			t.Fatalf("served a private key for %q", path)
		}
	})
}
