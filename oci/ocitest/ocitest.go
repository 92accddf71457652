// Package ocitest provides registries and images for tests: the
// distribution registry (Debian's docker-registry) started on loopback,
// go-containerregistry's in-process registry with fault injection, and
// random images and indexes pushed to either.
package ocitest

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/crypto/bcrypt"

	"sigil.dev/sigil/internal/oracle"
)

// InstallScript installs the distribution registry.
const InstallScript = ".ci/install-registry.sh"

// RegistryOptions configure StartRegistry.
type RegistryOptions struct {
	// User and Password, when set, require HTTP basic auth (htpasswd).
	User, Password string
}

// StartRegistry starts the distribution registry (/usr/bin/docker-registry,
// from Debian's docker-registry package) on a loopback port with a
// temporary config and storage, stops it when the test ends, and returns
// its host:port. Without the program the test fails under CI and is
// skipped elsewhere, naming the script that installs it.
func StartRegistry(t testing.TB, o RegistryOptions) string {
	t.Helper()
	bin := oracle.Find(t, "docker-registry", InstallScript)
	dir := t.TempDir()
	host := freeAddr(t)
	auth := ""
	if o.User != "" {
		h, err := bcrypt.GenerateFromPassword([]byte(o.Password), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		pw := filepath.Join(dir, "htpasswd")
		if err := os.WriteFile(pw, []byte(o.User+":"+string(h)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		auth = fmt.Sprintf("auth:\n  htpasswd:\n    realm: sigil-test\n    path: %s\n", pw)
	}
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
%s`, filepath.Join(dir, "storage"), host, auth)
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", cfgPath)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	logf, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("couldn't start %s: %v", bin, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
		logf.Close()
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + host + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
				return host
			}
		}
		select {
		case <-done:
			out, _ := os.ReadFile(logf.Name())
			t.Fatalf("docker-registry exited: %s", out)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(logf.Name())
			t.Fatalf("docker-registry did not answer on %s: %v\n%s", host, err, out)
		}
	}
}

func freeAddr(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Registry is go-containerregistry's in-process registry on loopback, with
// fault injection.
type Registry struct {
	// Host is host:port.
	Host string

	mu     sync.Mutex
	faults []*fault
	seen   []string
	page   int
	// laterPages, when set, is the status of every page but the first.
	laterPages int
}

type fault struct {
	method, contains string
	n                int
	status           int
	body             string
}

// NewRegistry starts an in-process registry; referrers says whether it
// offers the OCI 1.1 referrers API (without it, clients use the referrers
// tag schema).
func NewRegistry(t testing.TB, referrers bool) *Registry {
	r := &Registry{}
	h := registry.New(registry.Logger(log.New(io.Discard, "", 0)), registry.WithReferrersSupport(referrers))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if r.inject(w, req) {
			return
		}
		if n, fail := r.pageSize(); n > 0 && req.Method == http.MethodGet && strings.Contains(req.URL.Path, "/referrers/") {
			if fail != 0 && req.URL.Query().Has("start") {
				w.WriteHeader(fail)
				return
			}
			servePage(w, req, h, n)
			return
		}
		h.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	r.Host = strings.TrimPrefix(srv.URL, "http://")
	return r
}

// Fail makes the next n requests with the method whose path contains
// contains fail with status and body (a registry error JSON, or "").
func (r *Registry) Fail(method, contains string, n, status int, body string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.faults = append(r.faults, &fault{method, contains, n, status, body})
}

// PageReferrers makes the referrers API answer n referrers at a time,
// with a Link header naming the next page (distribution-spec "Listing
// Referrers"); 0 answers all at once. Every page but the first fails
// with laterPages when it is not 0.
func (r *Registry) PageReferrers(n, laterPages int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.page, r.laterPages = n, laterPages
}

func (r *Registry) pageSize() (int, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.page, r.laterPages
}

// servePage answers a referrers listing with the page that the start
// query parameter (a position in the whole listing) begins.
func servePage(w http.ResponseWriter, req *http.Request, h http.Handler, n int) {
	start, _ := strconv.Atoi(req.URL.Query().Get("start"))
	all := req.Clone(req.Context())
	q := all.URL.Query()
	q.Del("start")
	all.URL.RawQuery = q.Encode()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, all)
	var idx map[string]json.RawMessage
	var ms []json.RawMessage
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &idx) != nil || json.Unmarshal(idx["manifests"], &ms) != nil {
		maps.Copy(w.Header(), rec.Header())
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
		return
	}
	start = min(start, len(ms))
	end := min(start+n, len(ms))
	if end < len(ms) {
		q.Set("start", strconv.Itoa(end))
		w.Header().Set("Link", fmt.Sprintf(`<%s?%s>; rel="next"`, req.URL.Path, q.Encode()))
	}
	page, _ := json.Marshal(ms[start:end])
	idx["manifests"] = page
	body, _ := json.Marshal(idx)
	w.Header().Set("Content-Type", rec.Header().Get("Content-Type"))
	w.Write(body)
}

// Requests returns "METHOD path" of every request so far.
func (r *Registry) Requests() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.seen...)
}

func (r *Registry) inject(w http.ResponseWriter, req *http.Request) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = append(r.seen, req.Method+" "+req.URL.Path)
	for _, f := range r.faults {
		if f.n > 0 && (f.method == "" || f.method == req.Method) && strings.Contains(req.URL.Path, f.contains) {
			f.n--
			if f.body != "" {
				w.Header().Set("Content-Type", "application/json")
			}
			w.WriteHeader(f.status)
			io.WriteString(w, f.body)
			return true
		}
	}
	return false
}

// ErrorBody is a registry error response body.
func ErrorBody(code, message string) string {
	return fmt.Sprintf(`{"errors":[{"code":%q,"message":%q}]}`, code, message)
}

// PushImage pushes a random image (one small layer) as host/repo:tag and
// returns its digest reference.
func PushImage(t testing.TB, host, repo, tag string) name.Digest {
	t.Helper()
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	img = mutate.MediaType(img, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	return push(t, host, repo, tag, img)
}

func push(t testing.TB, host, repo, tag string, img v1.Image) name.Digest {
	t.Helper()
	ref, err := name.NewTag(host + "/" + repo + ":" + tag)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return ref.Context().Digest(d.String())
}

// PushIndex pushes an index of random images, one per platform
// ("linux/amd64"), as host/repo:tag and returns the index digest and the
// platform manifests' digests in order.
func PushIndex(t testing.TB, host, repo, tag string, platforms ...string) (name.Digest, []name.Digest) {
	t.Helper()
	var adds []mutate.IndexAddendum
	var kids []name.Digest
	ref, err := name.NewTag(host + "/" + repo + ":" + tag)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range platforms {
		img, err := random.Image(256, 1)
		if err != nil {
			t.Fatal(err)
		}
		img = mutate.MediaType(img, types.OCIManifestSchema1)
		img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
		plat, err := v1.ParsePlatform(p)
		if err != nil {
			t.Fatal(err)
		}
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: plat}})
		d, _ := img.Digest()
		kids = append(kids, ref.Context().Digest(d.String()))
	}
	idx := mutate.IndexMediaType(mutate.AppendManifests(emptyIndex(), adds...), types.OCIImageIndex)
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatal(err)
	}
	d, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return ref.Context().Digest(d.String()), kids
}

func emptyIndex() v1.ImageIndex { return empty.Index }

// StripReferrersAnnotations rewrites the referrers tag schema index of d
// (the sha256-<hex> tag) with its entries' annotations removed, as cosign
// v3 lists its referrers there, and returns the entries as they were.
func StripReferrersAnnotations(t testing.TB, d name.Digest) []v1.Descriptor {
	t.Helper()
	tag := d.Context().Tag(strings.Replace(d.DigestStr(), ":", "-", 1))
	idx, err := remote.Index(tag)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	before := make([]v1.Descriptor, len(im.Manifests))
	copy(before, im.Manifests)
	for i := range im.Manifests {
		im.Manifests[i].Annotations = nil
	}
	raw, err := json.Marshal(im)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Put(tag, rawIndex(raw)); err != nil {
		t.Fatal(err)
	}
	return before
}

type rawIndex []byte

func (r rawIndex) RawManifest() ([]byte, error)        { return r, nil }
func (r rawIndex) MediaType() (types.MediaType, error) { return types.OCIImageIndex, nil }
