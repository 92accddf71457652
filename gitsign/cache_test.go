package gitsign_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"math/big"
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

// TestCacheSweepsExpired: Load deleted only the credentials of the key it
// was asked for, and the key changes with each token from the environment
// (SIGSTORE_ID_TOKEN, a CI job's token), so every such signature left an
// ephemeral private key in the cache for good. Storing new credentials now
// deletes the ones no longer usable.
func TestCacheSweepsExpired(t *testing.T) {
	start := time.Now()
	cred := func(notAfter time.Time) (crypto.Signer, []*x509.Certificate) {
		k, err := sign.NewKey("")
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: start.Add(-time.Minute), NotAfter: notAfter}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
		if err != nil {
			t.Fatal(err)
		}
		crt, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return k, []*x509.Certificate{crt}
	}
	dir := filepath.Join(t.TempDir(), "sigil", "git")
	now := start
	c := &gitsign.Cache{Dir: dir, Now: func() time.Time { return now }}
	for _, k := range []string{"token 1", "token 2"} {
		key, chain := cred(start.Add(10 * time.Minute))
		if err := c.Store(k, key, chain); err != nil {
			t.Fatal(err)
		}
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "*.pem")); len(files) != 2 {
		t.Fatalf("valid credentials of two keys: %v", files)
	}
	now = start.Add(11 * time.Minute)
	key, chain := cred(now.Add(10 * time.Minute))
	if err := c.Store("token 3", key, chain); err != nil {
		t.Fatal(err)
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "*.pem")); len(files) != 1 {
		t.Fatalf("after the certificates of tokens 1 and 2 expired, the cache holds %d files, want only token 3's", len(files))
	}
	if k, _, err := c.Load("token 3"); k == nil || err != nil {
		t.Fatalf("token 3's credentials: %v %v", k, err)
	}
	// A Store interrupted before its rename leaves a temporary file with
	// a key: swept once older than a Store could take, kept while young.
	stale, fresh := filepath.Join(dir, ".tmp-stale"), filepath.Join(dir, ".tmp-fresh")
	for _, p := range []string{stale, fresh} {
		if err := os.WriteFile(p, []byte("key"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chtimes(stale, now.Add(-time.Hour), now.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(fresh, now, now); err != nil {
		t.Fatal(err)
	}
	key, chain = cred(now.Add(10 * time.Minute))
	if err := c.Store("token 4", key, chain); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a stale temporary file was kept: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("a temporary file another Store may be writing was removed: %v", err)
	}
}

// A clock behind the CA's sees a new certificate as not valid yet: the
// cache still serves it, or every signature of a series (a rebase) got a
// new certificate and a new sign-in. The log's time, not the local clock,
// is what the certificate's validity is checked against.
func TestCacheClockBehindCA(t *testing.T) {
	f := fakesvc.New(t)
	// The CA's clock is 90 s ahead; it dates certificates a minute back
	// (sigil's CA and Fulcio do not), so they are valid from 30 s ahead.
	f.Clock = func() time.Time { return time.Now().Add(90 * time.Second) }
	tokens := 0
	s := newSigner(f, "alice@sigil.test", func(s *gitsign.Signer) {
		s.Cache, s.CacheKey = &gitsign.Cache{Dir: filepath.Join(t.TempDir(), "git")}, "k"
		tok := s.Signer.Token
		s.Signer.Token = func(ctx context.Context) (string, error) { tokens++; return tok(ctx) }
	})
	first, err := s.Sign(context.Background(), []byte(commit))
	if err != nil {
		t.Fatal(err)
	}
	if !first.Certificate.NotBefore.After(time.Now()) {
		t.Fatalf("the certificate is valid from %s, not later than now", first.Certificate.NotBefore)
	}
	second, err := s.Sign(context.Background(), []byte(commit))
	if err != nil {
		t.Fatal(err)
	}
	if !second.Cached || !second.Certificate.Equal(first.Certificate) || tokens != 1 {
		t.Fatalf("second signature: cached %v, same certificate %v, %d sign-ins", second.Cached, second.Certificate.Equal(first.Certificate), tokens)
	}
}
