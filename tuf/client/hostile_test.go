package client

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/secure-systems-lab/go-securesystemslib/cjson"

	"sigil.dev/sigil/tuf"
)

// resign rewrites the published metadata file name: edit changes its
// "signed" object, which is then signed by the repository's key for role
// (a compromised online key, in these tests). It returns the new bytes.
func (w *world) resign(name, role string, edit func(signed map[string]any)) []byte {
	w.t.Helper()
	return w.resignAs(name, name, role, edit)
}

// resignAs is resign writing the result to the published file out.
func (w *world) resignAs(name, out, role string, edit func(signed map[string]any)) []byte {
	w.t.Helper()
	p := filepath.Join(w.svc.Repo().PublishedPath(), name)
	var m map[string]any
	if err := json.Unmarshal(mustRead(w.t.(*testing.T), p), &m); err != nil {
		w.t.Fatal(err)
	}
	signed := m["signed"].(map[string]any)
	edit(signed)
	k, err := tuf.LoadKey(filepath.Join(w.svc.Repo().Dir(), "keys", role+".pem"), nil)
	if err != nil {
		w.t.Fatal(err)
	}
	payload, err := cjson.EncodeCanonical(signed)
	if err != nil {
		w.t.Fatal(err)
	}
	var sig []byte
	if _, ok := k.Public.(ed25519.PublicKey); ok {
		sig, err = k.Signer.Sign(rand.Reader, payload, crypto.Hash(0))
	} else {
		d := sha256.Sum256(payload)
		sig, err = k.Signer.Sign(rand.Reader, d[:], crypto.SHA256)
	}
	if err != nil {
		w.t.Fatal(err)
	}
	m["signatures"] = []any{map[string]any{"keyid": k.ID(), "sig": hex.EncodeToString(sig)}}
	b, err := json.Marshal(m)
	if err != nil {
		w.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(w.svc.Repo().PublishedPath(), out), b, 0o644); err != nil {
		w.t.Fatal(err)
	}
	return b
}

// countingBody counts the bytes a client reads from response bodies.
type countingTransport struct {
	n *atomic.Int64
}

func (c countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil {
		resp.Body = countingBody{resp.Body, c.n}
	}
	return resp, err
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

// endless answers with up to limit bytes of zeros, without a length.
func endless(rw http.ResponseWriter, limit int) {
	buf := make([]byte, 64<<10)
	for sent := 0; sent < limit; sent += len(buf) {
		if _, err := rw.Write(buf); err != nil {
			return
		}
	}
}

// TestEndlessMetadataBounded: with the online keys compromised, a mirror
// states a huge length for the snapshot (in the timestamp) or the targets
// metadata (in the snapshot) and serves endless data: the client reads no
// more than go-tuf's default bound for the role (SnapshotMaxLength 2 MB,
// TargetsMaxLength 5 MB) and refuses it, instead of reading whatever the
// compromised metadata allows into memory.
func TestEndlessMetadataBounded(t *testing.T) {
	for _, role := range []string{tuf.RoleSnapshot, tuf.RoleTargets} {
		t.Run(role, func(t *testing.T) {
			w := newWorld(t)
			w.init()
			meta := func(s map[string]any, name string) map[string]any {
				return s["meta"].(map[string]any)[name].(map[string]any)
			}
			var snap []byte
			if role == tuf.RoleTargets {
				ts := map[string]any{}
				if err := json.Unmarshal(mustRead(t, filepath.Join(w.svc.Repo().PublishedPath(), "timestamp.json")), &ts); err != nil {
					t.Fatal(err)
				}
				v := int(meta(ts["signed"].(map[string]any), "snapshot.json")["version"].(float64))
				snap = w.resignAs(fmt.Sprintf("%d.snapshot.json", v), "100.snapshot.json", tuf.RoleSnapshot, func(s map[string]any) {
					s["version"] = float64(100)
					m := meta(s, "targets.json")
					m["length"], m["version"] = float64(1<<40), float64(100)
				})
			}
			w.resign("timestamp.json", tuf.RoleTimestamp, func(s map[string]any) {
				s["version"] = s["version"].(float64) + 1
				m := meta(s, "snapshot.json")
				m["version"] = float64(100)
				if snap == nil {
					m["length"] = float64(1 << 40)
				} else {
					d := sha256.Sum256(snap)
					m["length"], m["hashes"] = float64(len(snap)), map[string]any{"sha256": hex.EncodeToString(d[:])}
				}
			})
			hook := func(rw http.ResponseWriter, r *http.Request) bool {
				if !strings.HasSuffix(r.URL.Path, "/100."+role+".json") {
					return false
				}
				endless(rw, 64<<20)
				return true
			}
			w.hook.Store(&hook)
			var read atomic.Int64
			w.opts.HTTPClient = &http.Client{Transport: countingTransport{&read}}
			_, err := LoadTrustedRoot(w.opts)
			if n := read.Load(); n > 6<<20 {
				t.Errorf("the client read %d bytes from the mirror", n)
			}
			if err == nil || !strings.Contains(err.Error(), "larger than expected") {
				t.Fatalf("LoadTrustedRoot = %v, want a length error", err)
			}
		})
	}
}

// TestRefusedDataSaysSo: a mirror that serves an oversized timestamp.json
// (endless data) or something that is not TUF metadata at all (an HTML
// page) is reported as serving refused data, naming the file, not as a
// mirror that cannot be reached (with --offline as the way out).
func TestRefusedDataSaysSo(t *testing.T) {
	for name, body := range map[string]string{
		"oversized": `{"signed":{"_type":"timestamp"},"pad":"` + strings.Repeat("x", 20000) + `"}`,
		"html":      "<html><body>Welcome</body></html>",
	} {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			w.init()
			hook := func(rw http.ResponseWriter, r *http.Request) bool {
				if !strings.HasSuffix(r.URL.Path, "/timestamp.json") {
					return false
				}
				io.WriteString(rw, body) //nolint:errcheck
				return true
			}
			w.hook.Store(&hook)
			_, err := LoadTrustedRoot(w.opts)
			if err == nil || !strings.Contains(err.Error(), "does not verify, which was refused") || strings.Contains(err.Error(), "reachable") || !strings.Contains(err.Error(), "timestamp.json") {
				t.Fatalf("LoadTrustedRoot = %v", err)
			}
		})
	}
}

// TestInitNotRevertedByConcurrentUpdate: a command that opened the cache
// before a trust init to another mirror, and updates after it, does not
// write the old mirror back into config.json: later commands use the
// mirror trust init set up.
func TestInitNotRevertedByConcurrentUpdate(t *testing.T) {
	a, b := newWorld(t), newWorld(t)
	b.opts.CacheDir = a.opts.CacheDir
	a.init()
	c, err := Open(a.opts)
	if err != nil {
		t.Fatal(err)
	}
	b.init()
	if _, err := c.TrustedRoot(); err != nil {
		t.Fatal(err)
	}
	c, err = Open(a.opts)
	if err != nil {
		t.Fatal(err)
	}
	if c.Mirror() != b.mirror {
		t.Errorf("config.json names %s after trust init with %s", c.Mirror(), b.mirror)
	}
}
