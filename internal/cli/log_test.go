package cli

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"sigil.dev/sigil/bundle"
	"sigil.dev/sigil/cert"
	"sigil.dev/sigil/checkpoint"
	"sigil.dev/sigil/dsse"
	"sigil.dev/sigil/internal/testpki"
	"sigil.dev/sigil/rekor"
	"sigil.dev/sigil/tlog"
	"sigil.dev/sigil/trust"
)

// logFixture is a running transparency log with a few entries, and files
// describing it.
type logFixture struct {
	url, root, v1Key, v2Key, dir string
	pki                          *testpki.PKI
	key                          crypto.Signer
	// v2Signer is the v2 log's own key, to forge what only a
	// misbehaving log could sign.
	v2Signer ed25519.PrivateKey
}

func newLogFixture(t *testing.T) *logFixture {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	u := "http://" + srv.Listener.Addr().String()
	_, v2Signer, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(v2Signer)
	v2KeyFile := filepath.Join(t.TempDir(), "v2.pem")
	os.WriteFile(v2KeyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600) //nolint:errcheck
	svc, err := tlog.New(context.Background(), tlog.Config{DataDir: t.TempDir(), V2PublicURL: u, V1PublicURL: u, V2KeyFile: v2KeyFile, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = svc.Handler()
	srv.Start()
	t.Cleanup(func() { srv.Close(); svc.Close() })
	p, err := testpki.New(testpki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tr, _ := p.TrustedRoot()
	logs, err := svc.TrustedLogs()
	if err != nil {
		t.Fatal(err)
	}
	tr.TLogs = map[string]*trust.Log{}
	for _, l := range logs {
		tr.TLogs[l.HexID()] = l
	}
	raw, _ := tr.Marshal()
	dir := t.TempDir()
	f := &logFixture{url: u, root: filepath.Join(dir, "trusted_root.json"), v1Key: filepath.Join(dir, "v1.pub"), v2Key: filepath.Join(dir, "v2.pub"), dir: dir, pki: p, v2Signer: v2Signer}
	os.WriteFile(f.root, raw, 0o644)                                      //nolint:errcheck
	os.WriteFile(f.v1Key, testpki.PublicKeyPEM(logs[1].PublicKey), 0o644) //nolint:errcheck
	os.WriteFile(f.v2Key, testpki.PublicKeyPEM(logs[0].PublicKey), 0o644) //nolint:errcheck
	f.key, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for i := 0; i < 3; i++ {
		f.write(t, []byte{byte(i)})
	}
	return f
}

// write logs an artifact through both APIs and returns the entries.
func (f *logFixture) write(t *testing.T, art []byte) (v2, v1 []byte) {
	t.Helper()
	_, h, _ := rekor.KeyDetails(f.key.Public())
	hh := h.New()
	hh.Write(art)
	d := hh.Sum(nil)
	sig, _ := f.key.Sign(rand.Reader, d, h)
	der, _ := x509.MarshalPKIXPublicKey(f.key.Public())
	req2, _ := json.Marshal(map[string]any{"hashedRekordRequestV002": map[string]any{"digest": d, "signature": map[string]any{"content": sig,
		"verifier": map[string]any{"publicKey": map[string]any{"rawBytes": der}, "keyDetails": "PKIX_ECDSA_P256_SHA_256"}}}})
	req1, _ := json.Marshal(map[string]any{"kind": "hashedrekord", "apiVersion": "0.0.1", "spec": map[string]any{
		"signature": map[string]any{"content": sig, "publicKey": map[string]any{"content": testpki.PublicKeyPEM(f.key.Public())}},
		"data":      map[string]any{"hash": map[string]any{"algorithm": "sha256", "value": hex.EncodeToString(d)}}}})
	post := func(path string, body []byte) []byte {
		resp, err := http.Post(f.url+path, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, b)
		}
		return b
	}
	return post("/api/v2/log/entries", req2), post("/api/v1/log/entries", req1)
}

// writeV1 logs a hashedrekord 0.0.1 entry over SHA-256 of artifact,
// signed by k and naming verifierPEM (its public key, or a certificate for
// it), through the Rekor v1 API, and returns the digest.
func (f *logFixture) writeV1(t *testing.T, k crypto.Signer, verifierPEM, artifact []byte) []byte {
	t.Helper()
	d := sha256Of(artifact)
	sig, err := k.Sign(rand.Reader, d, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := json.Marshal(map[string]any{"kind": "hashedrekord", "apiVersion": "0.0.1", "spec": map[string]any{
		"signature": map[string]any{"content": sig, "publicKey": map[string]any{"content": verifierPEM}},
		"data":      map[string]any{"hash": map[string]any{"algorithm": "sha256", "value": hex.EncodeToString(d)}}}})
	resp, err := http.Post(f.url+"/api/v1/log/entries", "application/json", bytes.NewReader(req))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		msg, _ := io.ReadAll(resp.Body)
		t.Fatalf("logging %q: %s %s", artifact, resp.Status, msg)
	}
	return d
}

// selfSigned returns a self-signed code-signing certificate (DER) for k
// naming email: what anyone can log under, as no trusted CA issued it.
func selfSigned(t *testing.T, k *ecdsa.PrivateKey, email string) []byte {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), EmailAddresses: []string{email}, NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// entryID returns the entry ID of a Rekor v1 create answer (its one key).
func entryID(answer []byte) string {
	var m map[string]json.RawMessage
	json.Unmarshal(answer, &m) //nolint:errcheck
	for k := range m {
		return k
	}
	return ""
}

func TestLogInfo(t *testing.T) {
	f := newLogFixture(t)
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"v1 by trusted root", []string{"--api", "1", "--trusted-root", f.root}, []string{"Rekor v1", "tree size   3", " - ", "signature verified"}},
		{"v2 by trusted root", []string{"--api", "2", "--trusted-root", f.root}, []string{"Rekor v2", "tree size   3", "origin      127.0.0.1\n"}},
		{"v1 by key", []string{"--api", "1", "--public-key", f.v1Key}, []string{"tree size   3"}},
		{"v2 by key, API detected", []string{"--public-key", f.v2Key}, []string{"Rekor v2"}},
	} {
		code, out, errOut := run(append([]string{"log", "info", "--rekor-url", f.url}, tc.args...)...)
		if code != 0 {
			t.Errorf("%s: exit %d: %s", tc.name, code, errOut)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: output lacks %q:\n%s", tc.name, w, out)
			}
		}
	}
	// The wrong key is refused; so is no key at all.
	code, _, errOut := run("log", "info", "--rekor-url", f.url, "--api", "1", "--public-key", f.v2Key)
	if code == 0 || !strings.Contains(errOut, "log verification failed") {
		t.Errorf("wrong key: exit %d: %s", code, errOut)
	}
	code, _, errOut = run("log", "info", "--rekor-url", f.url, "--api", "3", "--public-key", f.v2Key)
	if code == 0 || !strings.Contains(errOut, "--api must be 1 or 2") {
		t.Errorf("bad --api: exit %d: %s", code, errOut)
	}
	// Without a trusted root, a log key or sigil trust init, the error
	// says once what to pass.
	t.Setenv("SIGIL_TUF_CACHE", t.TempDir())
	code, _, errOut = run("log", "info", "--rekor-url", f.url, "--api", "1")
	if code == 0 || strings.Count(errOut, "--trusted-root") != 1 || !strings.Contains(errOut, "--public-key") || !strings.Contains(errOut, "sigil trust init") {
		t.Errorf("no trust: exit %d: %s", code, errOut)
	}
	code, out, _ := run("log", "info", "--rekor-url", f.url, "--api", "1", "--trusted-root", f.root, "-o", "json")
	var info map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &info) != nil || info["treeSize"] != float64(3) || info["treeID"] == nil {
		t.Errorf("json output: %d %s", code, out)
	}
}

func TestLogGet(t *testing.T) {
	f := newLogFixture(t)
	v2, v1 := f.write(t, []byte("get me"))
	id := entryID(v1)
	code, out, errOut := run("log", "get", "--rekor-url", f.url, "--api", "1", "--trusted-root", f.root, "--uuid", id)
	if code != 0 || !strings.Contains(out, "index            3") || !strings.Contains(out, "SET verified") || !strings.Contains(out, `"kind": "hashedrekord"`) {
		t.Errorf("get --uuid: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = run("log", "get", "--rekor-url", f.url, "--api", "1", "--trusted-root", f.root, "--index", "3", "-o", "json")
	var e protorekor.TransparencyLogEntry
	if code != 0 || protojson.Unmarshal([]byte(out), &e) != nil || e.GetLogIndex() != 3 || len(e.GetInclusionPromise().GetSignedEntryTimestamp()) == 0 {
		t.Errorf("get --index -o json: exit %d\n%s%s", code, out, errOut)
	}
	var want protorekor.TransparencyLogEntry
	protojson.Unmarshal(v2, &want) //nolint:errcheck
	code, out, errOut = run("log", "get", "--rekor-url", f.url, "--api", "2", "--public-key", f.v2Key, "--index", "3", "-o", "json")
	if code != 0 || protojson.Unmarshal([]byte(out), &e) != nil || !bytes.Equal(e.GetCanonicalizedBody(), want.GetCanonicalizedBody()) || !bytes.Equal(e.GetLogId().GetKeyId(), want.GetLogId().GetKeyId()) {
		t.Errorf("v2 get: exit %d\n%s%s", code, out, errOut)
	}
	for _, args := range [][]string{
		{"--api", "1", "--index", "99"},
		{"--api", "2", "--index", "99"},
		{"--api", "2", "--uuid", id},
		{"--api", "1"},
		{"--api", "1", "--index", "1", "--uuid", id},
	} {
		if code, _, _ := run(append([]string{"log", "get", "--rekor-url", f.url, "--trusted-root", f.root}, args...)...); code == 0 {
			t.Errorf("get %v succeeded", args)
		}
	}
}

func TestLogVerifyConsistency(t *testing.T) {
	f := newLogFixture(t)
	for _, api := range []string{"1", "2"} {
		saved := filepath.Join(f.dir, "cp"+api)
		if code, _, errOut := run("log", "info", "--rekor-url", f.url, "--api", api, "--trusted-root", f.root, "--save", saved); code != 0 {
			t.Fatal(errOut)
		}
		f.write(t, []byte("more "+api))
		old, _ := os.ReadFile(saved)
		code, out, errOut := run("log", "verify-consistency", "--rekor-url", f.url, "--api", api, "--trusted-root", f.root, "--from", saved, "--update")
		if code != 0 || !strings.Contains(out, "consistent:") {
			t.Fatalf("v%s: exit %d\n%s%s", api, code, out, errOut)
		}
		if now, _ := os.ReadFile(saved); bytes.Equal(now, old) {
			t.Errorf("v%s: --update did not replace the checkpoint", api)
		}
		// A checkpoint the log never signed is refused.
		lines := bytes.SplitN(old, []byte("\n"), 3)
		forged := bytes.Join([][]byte{lines[0], []byte("2"), lines[2]}, []byte("\n"))
		os.WriteFile(saved, forged, 0o644) //nolint:errcheck
		if code, _, errOut := run("log", "verify-consistency", "--rekor-url", f.url, "--api", api, "--trusted-root", f.root, "--from", saved); code == 0 {
			t.Errorf("v%s: a forged checkpoint passed", api)
		} else if !strings.Contains(errOut, "verification failed") {
			t.Errorf("v%s: forged checkpoint: %s", api, errOut)
		}
	}
}

func TestLogVerifyInclusion(t *testing.T) {
	f := newLogFixture(t)
	art := []byte("bundle me")
	v2, v1 := f.write(t, art)
	var e2 protorekor.TransparencyLogEntry
	if err := protojson.Unmarshal(v2, &e2); err != nil {
		t.Fatal(err)
	}
	// A bundle with the v1 entry, as a signer assembles it.
	code, out, errOut := run("log", "get", "--rekor-url", f.url, "--api", "1", "--trusted-root", f.root, "--index", "3", "-o", "json")
	if code != 0 {
		t.Fatal(errOut)
	}
	var e1 protorekor.TransparencyLogEntry
	if err := protojson.Unmarshal([]byte(out), &e1); err != nil {
		t.Fatal(err)
	}
	_ = v1
	d := sha256Of(art)
	sig := signatureOf(t, e1.GetCanonicalizedBody())
	hint := ""
	b, err := bundle.New(nil, &hint, &bundle.MessageSignature{DigestAlgorithm: crypto.SHA256, Digest: d, Signature: sig}, nil, []*protorekor.TransparencyLogEntry{&e1, &e2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := b.Marshal()
	bpath := filepath.Join(f.dir, "b.sigstore.json")
	os.WriteFile(bpath, raw, 0o644) //nolint:errcheck
	f.write(t, []byte("later"))
	code, out, errOut = run("log", "verify-inclusion", "--bundle", bpath, "--trusted-root", f.root)
	if code != 0 || strings.Count(out, "is included in the tree of size 4, consistent with the log's newest checkpoint (size 5)") != 2 {
		t.Errorf("exit %d\n%s%s", code, out, errOut)
	}
	// Without a trusted root or sigil trust init, the error says once
	// what to pass.
	t.Setenv("SIGIL_TUF_CACHE", t.TempDir())
	code, _, errOut = run("log", "verify-inclusion", "--bundle", bpath)
	if code == 0 || strings.Count(errOut, "--trusted-root") != 1 || !strings.Contains(errOut, "sigil trust init") {
		t.Errorf("no trust: exit %d: %s", code, errOut)
	}
	epath := filepath.Join(f.dir, "e.json")
	os.WriteFile(epath, v2, 0o644) //nolint:errcheck
	code, out, errOut = run("log", "verify-inclusion", "--entry", epath, "--rekor-url", f.url, "--public-key", f.v2Key, "-o", "json")
	if code != 0 || !strings.Contains(out, `"included":true`) {
		t.Errorf("--entry: exit %d\n%s%s", code, out, errOut)
	}
	// An entry whose proof was tampered with fails.
	e2.InclusionProof.Hashes[0][0] ^= 1
	bad, _ := protojson.Marshal(&e2)
	os.WriteFile(epath, bad, 0o644) //nolint:errcheck
	if code, _, errOut := run("log", "verify-inclusion", "--entry", epath, "--rekor-url", f.url, "--public-key", f.v2Key); code == 0 || !strings.Contains(errOut, "inclusion proof") {
		t.Errorf("tampered proof: exit %d %s", code, errOut)
	}
}

func TestLogServeFlags(t *testing.T) {
	if code, _, errOut := run("log", "serve", "--public-url", "http://127.0.0.1"); code == 0 || !strings.Contains(errOut, "--data-dir") {
		t.Errorf("no data dir: %d %s", code, errOut)
	}
	if code, _, errOut := run("log", "serve", "--data-dir", t.TempDir()); code == 0 || !strings.Contains(errOut, "--public-url") {
		t.Errorf("no public URL: %d %s", code, errOut)
	}
	code, out, _ := run("log", "--help")
	for _, sub := range []string{"serve", "info", "get", "verify-consistency", "verify-inclusion"} {
		if code != 0 || !strings.Contains(out, sub) {
			t.Errorf("help lacks %s", sub)
		}
	}
	_ = time.Second
}

func sha256Of(b []byte) []byte {
	h := crypto.SHA256.New()
	h.Write(b)
	return h.Sum(nil)
}

// signatureOf returns the signature recorded in a v1 body.
func signatureOf(t *testing.T, body []byte) []byte {
	b, err := rekor.ParseV1Body(body)
	if err != nil {
		t.Fatal(err)
	}
	return b.Signatures[0].Signature
}

// A log that answers something other than what was asked, or leaves out
// what makes an answer verifiable, is caught by the log commands (rekor-cli
// catches the first two too).
func TestLogCatchesALyingLog(t *testing.T) {
	f := newLogFixture(t)
	up, _ := url.Parse(f.url)
	var mode string
	proxy := httputil.NewSingleHostReverseProxy(up)
	proxy.ModifyResponse = func(resp *http.Response) error {
		if resp.StatusCode != http.StatusOK {
			return nil
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		var m map[string]map[string]any
		switch {
		case mode == "noset" && strings.HasPrefix(resp.Request.URL.Path, "/api/v1/log/entries"):
			json.Unmarshal(body, &m) //nolint:errcheck
			for _, e := range m {
				delete(e["verification"].(map[string]any), "signedEntryTimestamp")
			}
			body, _ = json.Marshal(m)
		case mode == "other" && strings.HasPrefix(resp.Request.URL.Path, "/api/v1/log/entries"):
			// Always entry 0, whatever was asked.
			r, err := http.Get(f.url + "/api/v1/log/entries?logIndex=0")
			if err != nil {
				return err
			}
			body, _ = io.ReadAll(r.Body)
			r.Body.Close()
		case mode == "treeid" && resp.Request.URL.Path == "/api/v1/log":
			var li map[string]any
			json.Unmarshal(body, &li) //nolint:errcheck
			li["treeID"] = "1193050959916656506"
			body, _ = json.Marshal(li)
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		resp.ContentLength = int64(len(body))
		resp.Header.Del("Content-Length")
		return nil
	}
	srv := httptest.NewServer(proxy)
	defer srv.Close()
	_, v1 := f.write(t, []byte("lie about me"))
	id := entryID(v1)
	get := func(args ...string) (int, string) {
		code, _, errOut := run(append([]string{"log", "get", "--rekor-url", srv.URL, "--api", "1", "--trusted-root", f.root}, args...)...)
		return code, errOut
	}
	mode = ""
	if code, errOut := get("--uuid", id); code != 0 {
		t.Fatalf("an honest answer through the proxy: %s", errOut)
	}
	for _, tc := range []struct{ mode, want string }{
		{"noset", "without a SET"},
		{"other", "asked for"},
	} {
		mode = tc.mode
		for _, args := range [][]string{{"--uuid", id}, {"--uuid", id[16:]}, {"--index", "3"}} {
			if code, errOut := get(args...); code == 0 || !strings.Contains(errOut, tc.want) {
				t.Errorf("%s %v: exit %d: %s", tc.mode, args, code, errOut)
			}
		}
	}
	mode = "treeid"
	if code, _, errOut := run("log", "info", "--rekor-url", srv.URL, "--api", "1", "--trusted-root", f.root); code == 0 || !strings.Contains(errOut, "tree ID") {
		t.Errorf("a tree ID the checkpoint does not name: exit %d: %s", code, errOut)
	}
}

// Saved checkpoints survive being copied through other tools; one of the
// other log is named as such; --api 1 picks the signing config's v1 log.
func TestLogCheckpointFiles(t *testing.T) {
	f := newLogFixture(t)
	saved := map[string]string{}
	for _, api := range []string{"1", "2"} {
		saved[api] = filepath.Join(f.dir, "cp"+api)
		if code, _, errOut := run("log", "info", "--rekor-url", f.url, "--api", api, "--trusted-root", f.root, "--save", saved[api]); code != 0 {
			t.Fatal(errOut)
		}
	}
	raw, _ := os.ReadFile(saved["2"])
	mangled := filepath.Join(f.dir, "mangled")
	os.WriteFile(mangled, []byte(strings.ReplaceAll(string(raw), "\n", "\r\n")+"\r\n"), 0o644) //nolint:errcheck
	code, out, errOut := run("log", "verify-consistency", "--rekor-url", f.url, "--api", "2", "--trusted-root", f.root, "--from", mangled)
	if code != 0 || !strings.Contains(out, "unchanged at 3 entries") {
		t.Errorf("a checkpoint with CRLF and an extra newline: exit %d\n%s%s", code, out, errOut)
	}
	code, _, errOut = run("log", "verify-consistency", "--rekor-url", f.url, "--api", "2", "--trusted-root", f.root, "--from", saved["1"])
	if code == 0 || !strings.Contains(errOut, "is of the log") || !strings.Contains(errOut, "Rekor v2") {
		t.Errorf("a v1 checkpoint against the v2 log: exit %d: %s", code, errOut)
	}
	// Without --api, the v2 log is picked; the error says how to reach v1.
	code, _, errOut = run("log", "verify-consistency", "--rekor-url", f.url, "--trusted-root", f.root, "--from", saved["1"])
	if code == 0 || !strings.Contains(errOut, "looks like a Rekor v1 checkpoint: pass --api 1") {
		t.Errorf("a v1 checkpoint, no --api: exit %d: %s", code, errOut)
	}

	start := trust.Window{Start: time.Now().Add(-time.Hour)}
	sc := &trust.SigningConfig{
		Rekors: []trust.Service{
			{URL: "http://127.0.0.1:1", MajorAPIVersion: 2, Valid: start},
			{URL: f.url, MajorAPIVersion: 1, Valid: start},
		},
		RekorConfig: trust.ServiceConfig{Selector: trust.SelectAny},
	}
	b, _ := sc.Marshal()
	scPath := filepath.Join(f.dir, "sc.json")
	os.WriteFile(scPath, b, 0o644) //nolint:errcheck
	if code, out, errOut := run("log", "info", "--api", "1", "--trusted-root", f.root, "--signing-config", scPath); code != 0 || !strings.Contains(out, f.url+" (Rekor v1)") {
		t.Errorf("--api 1 from a signing config whose v2 log is elsewhere: exit %d\n%s%s", code, out, errOut)
	}
}

// A fork: the log signed two different trees of one size. verify-consistency
// fails and keeps the log's newest checkpoint beside the saved one, the
// two together being the evidence.
func TestLogForkEvidence(t *testing.T) {
	f := newLogFixture(t)
	saved := filepath.Join(f.dir, "cp")
	if code, _, errOut := run("log", "info", "--rekor-url", f.url, "--api", "2", "--trusted-root", f.root, "--save", saved); code != 0 {
		t.Fatal(errOut)
	}
	raw, _ := os.ReadFile(saved)
	text, _ := checkpoint.Split(raw)
	cp, err := checkpoint.Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	cp.Hash = bytes.Repeat([]byte{7}, 32)
	signer, err := checkpoint.NewSigner(cp.Origin, f.v2Signer)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := checkpoint.Sign(cp, signer)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(saved, forged, 0o644) //nolint:errcheck
	code, _, errOut := run("log", "verify-consistency", "--rekor-url", f.url, "--api", "2", "--trusted-root", f.root, "--from", saved, "--update")
	if code == 0 || !strings.Contains(errOut, "forked") || !strings.Contains(errOut, saved+".newest") {
		t.Fatalf("a fork: exit %d: %s", code, errOut)
	}
	if kept, _ := os.ReadFile(saved); !bytes.Equal(kept, forged) {
		t.Error("--update replaced the saved checkpoint of a forked log")
	}
	newest, _ := os.ReadFile(saved + ".newest")
	if !bytes.Equal(newest, raw) {
		t.Errorf("evidence:\n%s\nwant the log's newest checkpoint:\n%s", newest, raw)
	}
}

// search finds entries by digest, signer identity and key, verifies each,
// and refuses an index that lists an entry not answering the query.
func TestLogSearch(t *testing.T) {
	f := newLogFixture(t)
	_, found := f.write(t, []byte("find me"))
	// An entry signed with alice's certificate.
	alice, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf, err := f.pki.Leaf(testpki.Identity{Email: "Alice@sigil.test", Extensions: cert.Extensions{Issuer: "https://issuer.sigil.test"}}, alice.Public(), testpki.LeafOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d := f.writeV1(t, alice, testpki.PEM(leaf), []byte("alice's"))

	art := filepath.Join(t.TempDir(), "art")
	os.WriteFile(art, []byte("find me"), 0o644) //nolint:errcheck
	keyFile := filepath.Join(t.TempDir(), "key.pub")
	os.WriteFile(keyFile, testpki.PublicKeyPEM(f.key.Public()), 0o644) //nolint:errcheck
	certFile := filepath.Join(t.TempDir(), "alice.pem")
	os.WriteFile(certFile, testpki.PEM(leaf), 0o644) //nolint:errcheck
	search := func(args ...string) (int, string, string) {
		return run(append([]string{"log", "search", "--rekor-url", f.url, "--trusted-root", f.root}, args...)...)
	}
	uuid := entryID(found)[16:]
	for _, tc := range []struct {
		args    []string
		n       int
		want    string
		signers string
	}{
		{[]string{"--sha", hex.EncodeToString(sha256Of([]byte("find me")))}, 1, "3  " + uuid + "  hashedrekord 0.0.1  ", "public key"},
		{[]string{"--artifact", art}, 1, uuid, ""},
		{[]string{"--sha", "SHA256:" + strings.ToUpper(hex.EncodeToString(sha256Of([]byte("find me"))))}, 1, uuid, ""},
		{[]string{"--key", keyFile}, 4, uuid, ""}, // the fixture's three entries and "find me"
		{[]string{"--email", "alice@SIGIL.test"}, 1, "Alice@sigil.test (https://issuer.sigil.test)", ""},
		{[]string{"--subject", "alice@sigil.test"}, 1, "Alice@sigil.test", ""},
		{[]string{"--key", certFile}, 1, "Alice@sigil.test", ""},
		{[]string{"--email", "alice@sigil.test", "--artifact", art}, 2, uuid, ""},
		{[]string{"--email", "alice@sigil.test", "--artifact", art, "--operator", "and"}, 0, "", ""},
		{[]string{"--email", "bob@sigil.test"}, 0, "", ""},
	} {
		code, out, errOut := search(tc.args...)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if out == "" {
			lines = nil
		}
		if code != 0 || len(lines) != tc.n || !strings.Contains(out, tc.want) || !strings.Contains(out, tc.signers) {
			t.Errorf("search %v: exit %d, %d entries, want %d with %q:\n%s%s", tc.args, code, len(lines), tc.n, tc.want, out, errOut)
		}
		if tc.n == 0 && !strings.Contains(errOut, "proves nothing about absence") {
			t.Errorf("search %v: %s", tc.args, errOut)
		}
	}
	code, out, errOut := search("--email", "alice@sigil.test", "-o", "json")
	var js []struct {
		UUID, Match, Kind, Signer string
		LogIndex                  int64
		Signers                   []string
		Entry                     json.RawMessage
	}
	if err := json.Unmarshal([]byte(out), &js); code != 0 || err != nil || len(js) != 1 || js[0].Match != "matches" || js[0].LogIndex != 4 || js[0].Signer != "verified" ||
		len(js[0].Signers) != 1 || js[0].Kind != "hashedrekord 0.0.1" {
		t.Fatalf("json: exit %d %v:\n%s%s", code, err, out, errOut)
	}
	var e protorekor.TransparencyLogEntry
	if err := protojson.Unmarshal(js[0].Entry, &e); err != nil || e.GetLogIndex() != 4 {
		t.Fatalf("json entry: %v", err)
	}

	// Anyone can log under a certificate of their own making: mallory's
	// self-signed one naming alice is listed, marked unverified; alice's
	// is verified; a bare key claims no identity.
	mallory, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	f.writeV1(t, mallory, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: selfSigned(t, mallory, "alice@sigil.test")}), []byte("mallory's"))
	code, out, errOut = search("--email", "alice@sigil.test")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 || strings.Contains(lines[0], "NOT verified") || !strings.Contains(lines[1], "alice@sigil.test  (certificate NOT verified: ") ||
		!strings.Contains(errOut, "mean something only when its certificate is verified") {
		t.Fatalf("forged signer: exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = search("--key", keyFile, "-o", "json")
	if err := json.Unmarshal([]byte(out), &js); code != 0 || err != nil || len(js) != 4 || js[0].Signer != "key" {
		t.Fatalf("key signer: %s", out)
	}

	// With the log's --public-key, the trusted root named still checks
	// the signers, and one that cannot be read is an error, not a reason
	// to leave them unchecked.
	code, out, errOut = run("log", "search", "--rekor-url", f.url, "--api", "1", "--public-key", f.v1Key, "--trusted-root", f.root, "--email", "alice@sigil.test")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); code != 0 || len(lines) != 2 || strings.Contains(lines[0], "NOT") || !strings.Contains(lines[1], "NOT verified") {
		t.Fatalf("--public-key: exit %d\n%s%s", code, out, errOut)
	}
	missing := filepath.Join(t.TempDir(), "missing.json")
	if code, out, errOut := run("log", "search", "--rekor-url", f.url, "--api", "1", "--public-key", f.v1Key, "--trusted-root", missing, "--email", "alice@sigil.test"); code == 0 || !strings.Contains(errOut, "missing.json") {
		t.Fatalf("--public-key, unreadable --trusted-root: exit %d\n%s%s", code, out, errOut)
	}
	// Without --trusted-root and with no TUF view set up, the signers
	// stay unchecked, and the search says why.
	t.Setenv("SIGIL_TUF_CACHE", t.TempDir())
	code, out, errOut = run("log", "search", "--rekor-url", f.url, "--api", "1", "--public-key", f.v1Key, "--email", "alice@sigil.test")
	if code != 0 || !strings.Contains(errOut, "couldn't load a trusted root to check the signers' certificates") {
		t.Fatalf("--public-key, no trusted root: exit %d\n%s%s", code, out, errOut)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "nothing to search for"},
		{[]string{"--sha", "abc"}, "want [sha256:|sha512:|sha1:]<hex digest>"},
		{[]string{"--email", "a@b", "--api", "2"}, "Rekor v2 logs have no search index"},
		{[]string{"--email", "a@b", "--operator", "xor"}, "--operator must be"},
		{[]string{"--key", art}, "couldn't parse the signer"},
		{[]string{"--sha", hex.EncodeToString(d), "--artifact", art}, "not both"},
	} {
		if code, _, errOut := search(tc.args...); code == 0 || !strings.Contains(errOut, tc.want) {
			t.Errorf("search %v: exit %d, want %q: %s", tc.args, code, tc.want, errOut)
		}
	}

	// An index that lists an entry not answering the query is caught.
	up, _ := url.Parse(f.url)
	proxy := httputil.NewSingleHostReverseProxy(up)
	proxy.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.URL.Path == "/api/v1/index/retrieve" {
			body := []byte(`["` + entryID(found) + `"]`)
			resp.Body = io.NopCloser(bytes.NewReader(body))
			resp.ContentLength = int64(len(body))
			resp.Header.Del("Content-Length")
		}
		return nil
	}
	srv := httptest.NewServer(proxy)
	defer srv.Close()
	code, _, errOut = run("log", "search", "--rekor-url", srv.URL, "--trusted-root", f.root, "--email", "alice@sigil.test")
	if code == 0 || !strings.Contains(errOut, "does not answer the query") {
		t.Fatalf("lying index: exit %d: %s", code, errOut)
	}

	// An entry the log cannot serve is reported after the others, and
	// the search fails.
	flaky := httputil.NewSingleHostReverseProxy(up)
	flaky.ModifyResponse = func(resp *http.Response) error {
		if strings.HasSuffix(resp.Request.URL.Path, uuid) {
			resp.StatusCode, resp.Status = http.StatusInternalServerError, "500 Internal Server Error"
		}
		return nil
	}
	srv2 := httptest.NewServer(flaky)
	defer srv2.Close()
	for _, output := range []string{"text", "json"} {
		code, out, errOut := run("log", "search", "--rekor-url", srv2.URL, "--trusted-root", f.root, "--key", keyFile, "-o", output)
		n := strings.Count(out, "\n")
		if output == "json" {
			var list []struct{ UUID string }
			json.Unmarshal([]byte(out), &list) //nolint:errcheck
			n = len(list)
			for _, e := range list {
				if e.UUID == uuid {
					n = -1
				}
			}
		} else if strings.Contains(out, uuid) {
			n = -1
		}
		if code == 0 || !strings.Contains(errOut, "couldn't fetch 1 of the 4 entries the index lists") || !strings.Contains(errOut, uuid) || n != 3 {
			t.Errorf("-o %s, one entry unfetchable: exit %d, %d listed\n%s\n%s", output, code, n, out, errOut)
		}
	}
}

// TestLogSearchOutputIsPrintable: anyone can log an entry for any digest
// with a certificate of their own making, whose identity and issuer reach
// the text output of search: control characters in them (a terminal
// escape that erases the line and prints a forged signer) are shown as
// "?", not sent to the terminal.
func TestLogSearchOutputIsPrintable(t *testing.T) {
	f := newLogFixture(t)
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf, err := f.pki.Leaf(testpki.Identity{Email: "\x1b[2K\rmallory@sigil.test", Extensions: cert.Extensions{Issuer: "https://issuer.sigil.test\x1b[31m"}}, k.Public(), testpki.LeafOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d := f.writeV1(t, k, testpki.PEM(leaf), []byte("popular artifact"))
	code, out, errOut := run("log", "search", "--rekor-url", f.url, "--trusted-root", f.root, "--sha", hex.EncodeToString(d))
	if code != 0 || !strings.Contains(out, "?[2K?mallory@sigil.test (https://issuer.sigil.test?[31m)") || strings.ContainsAny(out, "\x1b\r") {
		t.Errorf("exit %d: %q %s", code, out, errOut)
	}
}

// TestLogSearchMixedSigners: a dsse entry may carry several signatures. One
// made with a bare key must not lend its "key" mark to the others: a
// self-signed certificate naming alice beside it is not checked, and says
// so.
func TestLogSearchMixedSigners(t *testing.T) {
	f := newLogFixture(t)
	bare, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	mallory, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der := selfSigned(t, mallory, "alice@sigil.test")
	payload := []byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a","digest":{"sha256":"` + hex.EncodeToString(sha256Of([]byte("a"))) + `"}}],"predicateType":"https://example.com/p","predicate":{}}`)
	pae := dsse.PAE("application/vnd.in-toto+json", payload)
	sign := func(k *ecdsa.PrivateKey) []byte {
		s, err := k.Sign(rand.Reader, sha256Of(pae), crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// The log sorts the signatures by their text: the bare key's first.
	bareSig, mallorySig := sign(bare), sign(mallory)
	for base64.StdEncoding.EncodeToString(bareSig) > base64.StdEncoding.EncodeToString(mallorySig) {
		bareSig = sign(bare)
	}
	env, _ := json.Marshal(map[string]any{"payloadType": "application/vnd.in-toto+json", "payload": payload,
		"signatures": []map[string]any{{"sig": bareSig}, {"sig": mallorySig}}})
	req, _ := json.Marshal(map[string]any{"kind": "dsse", "apiVersion": "0.0.1", "spec": map[string]any{"proposedContent": map[string]any{
		"envelope": string(env), "verifiers": [][]byte{testpki.PublicKeyPEM(bare.Public()), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}}}})
	resp, err := http.Post(f.url+"/api/v1/log/entries", "application/json", bytes.NewReader(req))
	if err != nil || resp.StatusCode != http.StatusCreated {
		msg, _ := io.ReadAll(resp.Body)
		t.Fatalf("entry: %v %v %s", resp.Status, err, msg)
	}
	resp.Body.Close()
	code, out, errOut := run("log", "search", "--rekor-url", f.url, "--trusted-root", f.root, "--email", "alice@sigil.test")
	if code != 0 || !strings.Contains(out, "alice@sigil.test") || !strings.Contains(out, "(certificate not checked)") {
		t.Errorf("text: exit %d:\n%s%s", code, out, errOut)
	}
	code, out, errOut = run("log", "search", "--rekor-url", f.url, "--trusted-root", f.root, "--email", "alice@sigil.test", "-o", "json")
	var js []struct{ Signer string }
	if err := json.Unmarshal([]byte(out), &js); code != 0 || err != nil || len(js) != 1 || js[0].Signer != "unchecked" {
		t.Errorf("json: exit %d %v:\n%s%s", code, err, out, errOut)
	}
}

// A Rekor v1 log's shards share its key: a checkpoint saved from the
// previous shard verifies with the key, but it is of another tree, which
// is no evidence of a fork. verify-consistency names both trees and keeps
// no "evidence".
func TestLogConsistencyAcrossV1Shards(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	keyFile := filepath.Join(t.TempDir(), "v1.pem")
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600) //nolint:errcheck
	pub := filepath.Join(t.TempDir(), "v1.pub")
	os.WriteFile(pub, testpki.PublicKeyPEM(k.Public()), 0o644) //nolint:errcheck
	shard := func(tree int64) string {
		srv := httptest.NewUnstartedServer(nil)
		u := "http://" + srv.Listener.Addr().String()
		svc, err := tlog.New(context.Background(), tlog.Config{DataDir: t.TempDir(), V2PublicURL: u, V1PublicURL: u, V1KeyFile: keyFile, V1TreeID: tree,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		srv.Config.Handler = svc.Handler()
		srv.Start()
		t.Cleanup(func() { srv.Close(); svc.Close() })
		return u
	}
	old, active := shard(1), shard(2)
	saved := filepath.Join(t.TempDir(), "cp")
	if code, _, errOut := run("log", "info", "--rekor-url", old, "--api", "1", "--public-key", pub, "--save", saved); code != 0 {
		t.Fatal(errOut)
	}
	code, _, errOut := run("log", "verify-consistency", "--rekor-url", active, "--api", "1", "--public-key", pub, "--from", saved)
	if code == 0 || !strings.Contains(errOut, `is of the log "127.0.0.1 - 1"`) || strings.Contains(errOut, "prove") {
		t.Errorf("a checkpoint of the previous shard: exit %d: %s", code, errOut)
	}
	if _, err := os.Stat(saved + ".newest"); err == nil {
		t.Error("a checkpoint of another tree was kept as evidence of a fork")
	}
}

// Anyone can log an intoto entry whose payload type and key ID are any
// text: "log get" prints its body as JSON with the characters a terminal
// would act on (C1 controls, DEL, bidirectional overrides) escaped, as
// "log search" does its names.
func TestLogGetOutputIsPrintable(t *testing.T) {
	f := newLogFixture(t)
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	payloadType := "text/plain\u009b2J\u202egpj.exe"
	payload := []byte("hello")
	sig, err := k.Sign(rand.Reader, sha256Of(dsse.PAE(payloadType, payload)), crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	b64 := func(b []byte) []byte { return []byte(base64.StdEncoding.EncodeToString(b)) }
	req, _ := json.Marshal(map[string]any{"kind": "intoto", "apiVersion": "0.0.2", "spec": map[string]any{"content": map[string]any{
		"envelope": map[string]any{"payload": b64(payload), "payloadType": payloadType,
			"signatures": []map[string]any{{"keyid": "k\x7f\u0085", "sig": b64(sig), "publicKey": testpki.PublicKeyPEM(k.Public())}}},
		"hash": map[string]any{"algorithm": "sha256", "value": hex.EncodeToString(sha256Of([]byte("envelope")))}}}})
	resp, err := http.Post(f.url+"/api/v1/log/entries", "application/json", bytes.NewReader(req))
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("entry: %s %s", resp.Status, answer)
	}
	code, out, errOut := run("log", "get", "--rekor-url", f.url, "--api", "1", "--trusted-root", f.root, "--uuid", entryID(answer))
	if code != 0 || strings.ContainsAny(out, "\u009b\u202e\x7f\u0085") || !strings.Contains(out, `text/plain\u009b2J\u202egpj.exe`) {
		t.Errorf("exit %d: %q %s", code, out, errOut)
	}
}

// A consistency proof that fails between checkpoints of different sizes
// (here a proxy garbles it) is kept as evidence, but two checkpoints of
// different sizes prove nothing by themselves: the error does not say
// they do.
func TestLogFailedProofIsNoForkProof(t *testing.T) {
	f := newLogFixture(t)
	up, _ := url.Parse(f.url)
	proxy := httputil.NewSingleHostReverseProxy(up)
	proxy.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.URL.Path != "/api/v1/log/proof" || resp.StatusCode != http.StatusOK {
			return nil
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		var p map[string]any
		json.Unmarshal(body, &p) //nolint:errcheck
		for i := range p["hashes"].([]any) {
			p["hashes"].([]any)[i] = strings.Repeat("ab", 32)
		}
		body, _ = json.Marshal(p)
		resp.Body = io.NopCloser(bytes.NewReader(body))
		resp.ContentLength = int64(len(body))
		resp.Header.Del("Content-Length")
		return nil
	}
	srv := httptest.NewServer(proxy)
	defer srv.Close()
	saved := filepath.Join(f.dir, "cp")
	if code, _, errOut := run("log", "info", "--rekor-url", f.url, "--api", "1", "--trusted-root", f.root, "--save", saved); code != 0 {
		t.Fatal(errOut)
	}
	f.write(t, []byte("more"))
	code, _, errOut := run("log", "verify-consistency", "--rekor-url", srv.URL, "--api", "1", "--trusted-root", f.root, "--from", saved)
	if code == 0 || !strings.Contains(errOut, "consistency proof fails") || !strings.Contains(errOut, saved+".newest") || strings.Contains(errOut, "together they prove it") {
		t.Errorf("a garbled proof: exit %d: %s", code, errOut)
	}
}
