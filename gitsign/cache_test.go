package gitsign_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"sigil.dev/sigil/gitsign"
	"sigil.dev/sigil/internal/fakesvc"
	"sigil.dev/sigil/sign"
)

func TestCache(t *testing.T) {
	f := fakesvc.New(t)
	s := newSigner(f, "alice@sigil.test", nil)
	key, chain, err := s.Signer.Certificate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "sigil", "git")
	now := time.Now()
	c := &gitsign.Cache{Dir: dir, Now: func() time.Time { return now }}

	if k, _, err := c.Load("k"); k != nil || err != nil {
		t.Fatalf("empty cache: %v %v", k, err)
	}
	if err := c.Store("k", key, chain); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(files) != 1 {
		t.Fatalf("files %v", files)
	}
	for p, mode := range map[string]os.FileMode{dir: 0o700, files[0]: 0o600} {
		if fi, _ := os.Stat(p); fi.Mode().Perm() != mode {
			t.Fatalf("%s: %v", p, fi.Mode())
		}
	}
	k, got, err := c.Load("k")
	if err != nil || k == nil || !got[0].Equal(chain[0]) || len(got) != len(chain) {
		t.Fatalf("load: %v %v", got, err)
	}
	if k, _, _ := c.Load("other"); k != nil {
		t.Fatal("another key's credentials")
	}

	// Less than the margin before expiry the credentials are dropped.
	now = chain[0].NotAfter.Add(-30 * time.Second)
	if k, _, err := c.Load("k"); k != nil || err != nil {
		t.Fatalf("expiring: %v %v", k, err)
	}
	if _, err := os.Stat(files[0]); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("expired credentials were not deleted")
	}

	// Files others could read, and symbolic links, are refused.
	now = time.Now()
	if err := c.Store("k", key, chain); err != nil {
		t.Fatal(err)
	}
	os.Chmod(files[0], 0o644)
	if _, _, err := c.Load("k"); !errors.Is(err, gitsign.ErrCacheUnsafe) {
		t.Fatalf("readable by others: %v", err)
	}
	os.Remove(files[0])
	os.Symlink(filepath.Join(t.TempDir(), "elsewhere"), files[0])
	if _, _, err := c.Load("k"); !errors.Is(err, gitsign.ErrCacheUnsafe) {
		t.Fatalf("symbolic link: %v", err)
	}
	os.Remove(files[0])
	os.Chmod(dir, 0o755)
	if err := c.Store("k", key, chain); !errors.Is(err, gitsign.ErrCacheUnsafe) {
		t.Fatalf("open directory: %v", err)
	}
	os.Chmod(dir, 0o700)

	// A corrupt file is a miss (and removed), not a failure to sign.
	os.WriteFile(files[0], []byte("garbage"), 0o600)
	if k, _, err := c.Load("k"); k != nil || err == nil {
		t.Fatalf("corrupt: %v %v", k, err)
	}
	if _, err := os.Stat(files[0]); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a corrupt file was kept")
	}
	// A certificate for another key is refused.
	other, _ := sign.NewKey("")
	if err := c.Store("k", other, chain); err != nil {
		t.Fatal(err)
	}
	if k, _, err := c.Load("k"); k != nil || err == nil {
		t.Fatalf("mismatched key: %v", err)
	}
}

// An unusable cache does not stop signing: the signer says so and gets a
// certificate.
func TestSignerWithUnsafeCache(t *testing.T) {
	f := fakesvc.New(t)
	dir := t.TempDir()
	os.Chmod(dir, 0o777)
	var notices []string
	s := newSigner(f, "alice@sigil.test", func(s *gitsign.Signer) {
		s.Cache, s.CacheKey = &gitsign.Cache{Dir: dir}, "k"
		s.Notice = func(m string) { notices = append(notices, m) }
	})
	if _, err := s.Sign(context.Background(), []byte(commit)); err != nil {
		t.Fatal(err)
	}
	if len(notices) == 0 {
		t.Fatal("no notice about the unsafe cache")
	}
}
