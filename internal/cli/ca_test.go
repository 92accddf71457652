package cli

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	stdlog "log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"sigil.dev/sigil/ca/keys"
	"sigil.dev/sigil/ca/keys/pkcs11test"
	"sigil.dev/sigil/oidc/oidctest"
)

func init() { keys.PBKDF2Iterations = 1000 }

func TestCAInit(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	t.Setenv("SIGIL_TEST_CA_PW", "hunter2")
	code, out, errOut := run("ca", "init", "--dir", dir, "--password-env", "SIGIL_TEST_CA_PW", "--key-type", "ecdsa-p384", "--organization", "example")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "Move "+filepath.Join(dir, "root-key.pem")+" to offline storage") {
		t.Errorf("output does not say to move the root key offline:\n%s", out)
	}
	for name, mode := range map[string]os.FileMode{"root.pem": 0o644, "root-key.pem": 0o600, "intermediate.pem": 0o644, "intermediate-key.pem": 0o600, "chain.pem": 0o644} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s mode %v", name, fi.Mode().Perm())
		}
	}
	chain, err := readChain(filepath.Join(dir, "chain.pem"))
	if err != nil || len(chain) != 2 || chain[0].Subject.CommonName != "example intermediate" {
		t.Fatalf("chain %v: %v", chain, err)
	}
	if chain[0].PublicKeyAlgorithm != x509.ECDSA || chain[0].PublicKey.(*ecdsa.PublicKey).Curve != elliptic.P384() {
		t.Error("not P-384")
	}
	k, _, err := keys.Load(keys.Source{File: filepath.Join(dir, "intermediate-key.pem"), Password: keys.Password{Env: "SIGIL_TEST_CA_PW"}})
	if err != nil {
		t.Fatal(err)
	}
	if !k.Public().(*ecdsa.PublicKey).Equal(chain[0].PublicKey) {
		t.Fatal("intermediate key does not match its certificate")
	}

	// No overwrite without --force.
	if code, _, errOut := run("ca", "init", "--dir", dir, "--password-env", "SIGIL_TEST_CA_PW"); code == 0 || !strings.Contains(errOut, "refusing to overwrite") {
		t.Fatalf("second init: %d %s", code, errOut)
	}

	// A new intermediate from the offline root, under the same root.
	dir2 := filepath.Join(t.TempDir(), "ca2")
	code, _, errOut = run("ca", "intermediate", "--root-cert", filepath.Join(dir, "root.pem"), "--root-key", filepath.Join(dir, "root-key.pem"),
		"--password-env", "SIGIL_TEST_CA_PW", "--dir", dir2)
	if code != 0 {
		t.Fatalf("intermediate: exit %d: %s", code, errOut)
	}
	chain2, err := readChain(filepath.Join(dir2, "chain.pem"))
	if err != nil || !chain2[1].Equal(chain[1]) || chain2[0].Equal(chain[0]) {
		t.Fatal("new chain does not share the root or repeats the intermediate")
	}
	roots := x509.NewCertPool()
	roots.AddCert(chain[1])
	if _, err := chain2[0].Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}}); err != nil {
		t.Fatal(err)
	}

	// Replacing it with --force fails half-way (chain.pem cannot be
	// written): the CA in dir2 stays whole, key and certificates alike.
	before := map[string][]byte{}
	for _, f := range []string{"intermediate-key.pem", "intermediate.pem", "chain.pem"} {
		before[f], _ = os.ReadFile(filepath.Join(dir2, f))
	}
	os.Mkdir(filepath.Join(dir2, "chain.pem.new"), 0o700)                       //nolint:errcheck
	os.WriteFile(filepath.Join(dir2, "chain.pem.new", "x"), []byte("x"), 0o600) //nolint:errcheck
	code, _, errOut = run("ca", "intermediate", "--root-cert", filepath.Join(dir, "root.pem"), "--root-key", filepath.Join(dir, "root-key.pem"),
		"--password-env", "SIGIL_TEST_CA_PW", "--dir", dir2, "--force")
	if code == 0 {
		t.Fatal("intermediate --force over an unwritable chain.pem.new: exit 0")
	}
	for f, b := range before {
		if now, _ := os.ReadFile(filepath.Join(dir2, f)); !bytes.Equal(now, b) {
			t.Errorf("a failed ca intermediate --force changed %s: %s", f, errOut)
		}
	}
	for _, f := range []string{"intermediate-key.pem.new", "intermediate.pem.new"} {
		if _, err := os.Stat(filepath.Join(dir2, f)); err == nil {
			t.Errorf("%s left behind", f)
		}
	}
}

// TestCARefusesUnusableChains: negative validities and an intermediate
// issued under another intermediate are refused before anything is written
// (they used to produce an expired or invalid chain, and exit 0).
func TestCARefusesUnusableChains(t *testing.T) {
	t.Setenv("SIGIL_TEST_CA_PW", "hunter2")
	for _, flag := range []string{"--root-years", "--intermediate-years"} {
		dir := filepath.Join(t.TempDir(), "ca")
		if code, _, errOut := run("ca", "init", "--dir", dir, "--password-env", "SIGIL_TEST_CA_PW", flag, "-1"); code == 0 || !strings.Contains(errOut, "must be at least 1") {
			t.Errorf("%s -1: exit %d: %s", flag, code, errOut)
		}
		if _, err := os.Stat(dir); err == nil {
			t.Errorf("%s -1 created %s", flag, dir)
		}
	}
	dir := filepath.Join(t.TempDir(), "ca")
	if code, _, errOut := run("ca", "init", "--dir", dir, "--password-env", "SIGIL_TEST_CA_PW"); code != 0 {
		t.Fatal(errOut)
	}
	if code, _, errOut := run("ca", "intermediate", "--root-cert", filepath.Join(dir, "intermediate.pem"), "--root-key", filepath.Join(dir, "intermediate-key.pem"),
		"--password-env", "SIGIL_TEST_CA_PW", "--dir", filepath.Join(t.TempDir(), "ca2")); code == 0 || !strings.Contains(errOut, "path length 0") {
		t.Errorf("intermediate under the intermediate: exit %d: %s", code, errOut)
	}
}

func TestCAInitGeneratedPassword(t *testing.T) {
	dir := t.TempDir()
	if code, out, errOut := run("ca", "init", "--dir", dir); code != 0 || !strings.Contains(out, "generated; mode 0600") {
		t.Fatalf("exit %d: %s %s", code, out, errOut)
	}
	if _, _, err := keys.Load(keys.Source{File: filepath.Join(dir, "intermediate-key.pem"), Password: keys.Password{File: filepath.Join(dir, "password")}}); err != nil {
		t.Fatal(err)
	}

	// A failed init --force (the offline root key's directory is not
	// there) leaves the CA in place with the password that opens it.
	pw, _ := os.ReadFile(filepath.Join(dir, "password"))
	if code, _, _ := run("ca", "init", "--dir", dir, "--force", "--root-key", filepath.Join(t.TempDir(), "unmounted", "root-key.pem")); code == 0 {
		t.Fatal("init --force with an unwritable --root-key: exit 0")
	}
	if now, _ := os.ReadFile(filepath.Join(dir, "password")); !bytes.Equal(now, pw) {
		t.Error("a failed init --force replaced the CA's password")
	}
	if _, _, err := keys.Load(keys.Source{File: filepath.Join(dir, "intermediate-key.pem"), Password: keys.Password{File: filepath.Join(dir, "password")}}); err != nil {
		t.Errorf("after a failed init --force: %v", err)
	}

	// A failed first init leaves no password behind: trying again works.
	dir2 := t.TempDir()
	if code, _, _ := run("ca", "init", "--dir", dir2, "--root-key", filepath.Join(t.TempDir(), "unmounted", "root-key.pem")); code == 0 {
		t.Fatal("init with an unwritable --root-key: exit 0")
	}
	for _, f := range []string{"password", "password.new"} {
		if _, err := os.Stat(filepath.Join(dir2, f)); err == nil {
			t.Errorf("a failed init left %s", f)
		}
	}
	if code, _, errOut := run("ca", "init", "--dir", dir2); code != 0 {
		t.Errorf("init after a failed one: exit %d: %s", code, errOut)
	}
}

// TestCAServe runs "sigil ca serve" with its own CT log and asks it for a
// certificate over HTTP.
func TestCAServe(t *testing.T) {
	dir := t.TempDir()
	if code, _, errOut := run("ca", "init", "--dir", dir); code != 0 {
		t.Fatal(errOut)
	}
	iss, err := oidctest.New(oidctest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer iss.Close()
	cfg := filepath.Join(dir, "issuers.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("oidc-issuers:\n  %s:\n    type: email\n", iss.URL)), 0o644)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	// A password file others can read is served, with a warning.
	if err := os.Chmod(filepath.Join(dir, "password"), 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan int, 1)
	var stdout, stderr bytes.Buffer
	go func() {
		done <- Main([]string{"ca", "serve", "--listen", addr, "--chain", filepath.Join(dir, "chain.pem"), "--key", filepath.Join(dir, "intermediate-key.pem"),
			"--password-file", filepath.Join(dir, "password"), "--oidc-config", cfg, "--ct-dir", filepath.Join(dir, "ct"),
			// A trailing slash, which made the CT log's URL http://host:port//ct
			// and serve panicked registering its routes.
			"--public-url", "http://" + addr + "/"}, &stdout, &stderr)
	}()
	base := "http://" + addr
	for i := 0; ; i++ {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		select {
		case code := <-done:
			t.Fatalf("serve exited %d: %s", code, stderr.String())
		default:
		}
		if i > 100 {
			t.Fatal("serve did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if resp, err := http.Get(base + "/readyz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/readyz: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	d := sha256.Sum256([]byte("alice@example.com"))
	proof, _ := ecdsa.SignASN1(rand.Reader, key, d[:])
	der, _ := x509.MarshalPKIXPublicKey(key.Public())
	body, _ := json.Marshal(map[string]any{"publicKeyRequest": map[string]any{
		"publicKey":         map[string]any{"content": string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))},
		"proofOfPossession": base64.StdEncoding.EncodeToString(proof),
	}})
	tok, _ := iss.Token(iss.Claims("u", "alice@example.com"))
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v2/signingCert", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	rb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(rb, []byte("signedCertificateEmbeddedSct")) {
		t.Fatalf("%d %s", resp.StatusCode, rb)
	}
	for _, path := range []string{"/ct/checkpoint", "/ct/ct/v1/get-roots", "/metrics", "/api/v1/rootCert"} {
		r, err := http.Get(base + path)
		if err != nil || r.StatusCode != 200 {
			t.Fatalf("%s: %v %v", path, err, r)
		}
		r.Body.Close()
	}
	// net/http reports a handler's panic or an accept error through the
	// log package (no ErrorLog): it reaches the WARN-level log.
	stdlog.Print("sigil-test: a message through the log package")
	// SIGINT stops the server gracefully.
	syscall.Kill(os.Getpid(), syscall.SIGINT)
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
		if !strings.Contains(stderr.String(), "sigil-test: a message through the log package") {
			t.Errorf("a message through the log package was lost: %s", stderr.String())
		}
		if !strings.Contains(stderr.String(), "password file can be read by other users") {
			t.Errorf("no warning about the password file readable by others: %s", stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop on SIGINT")
	}
}

// TestCAServePublicURLPath: with --ct-dir, a --public-url with a path is
// refused. The CA serves /api/ and the CT log /ct/ at the root of the
// listener, while the CT log took its URL, and the paths it answers,
// from the public URL plus /ct: it answered nothing, neither at
// /ct/checkpoint nor at <path>/ct/checkpoint.
func TestCAServePublicURLPath(t *testing.T) {
	dir := t.TempDir()
	if code, _, errOut := run("ca", "init", "--dir", dir); code != 0 {
		t.Fatal(errOut)
	}
	cfg := filepath.Join(dir, "issuers.yaml")
	os.WriteFile(cfg, []byte("oidc-issuers:\n  https://accounts.example.com:\n    type: email\n"), 0o644)
	code, _, errOut := run("ca", "serve", "--listen", "127.0.0.1:0", "--chain", filepath.Join(dir, "chain.pem"), "--key", filepath.Join(dir, "intermediate-key.pem"),
		"--password-file", filepath.Join(dir, "password"), "--oidc-config", cfg, "--ct-dir", filepath.Join(dir, "ct"), "--public-url", "http://127.0.0.1:5555/fulcio")
	if code == 0 || !strings.Contains(errOut, "without a path") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "ct", "ctlog.json")); err == nil {
		t.Error("the CT log's data directory was created for the refused URL")
	}
}

// TestCAIntermediatePKCS11Retry: "ca intermediate --pkcs11-uri" given the
// wrong root key fails after generating the new issuing key on the token;
// that key pair is removed, so the command with the right root key then
// succeeds (it used to fail with "a key pair … already exists").
func TestCAIntermediatePKCS11Retry(t *testing.T) {
	module := pkcs11test.SoftHSM(t)
	t.Setenv("SIGIL_TEST_CA_PW", "hunter2")
	ca1, ca2 := filepath.Join(t.TempDir(), "ca1"), filepath.Join(t.TempDir(), "ca2")
	for _, d := range []string{ca1, ca2} {
		if code, _, errOut := run("ca", "init", "--dir", d, "--password-env", "SIGIL_TEST_CA_PW"); code != 0 {
			t.Fatalf("init: %s", errOut)
		}
	}
	uri := "pkcs11:token=sigil;object=ca-2027?module-path=" + module + "&pin-value=1234"
	out := filepath.Join(t.TempDir(), "ca-2027")
	args := func(rootKey string) []string {
		return []string{"ca", "intermediate", "--root-cert", filepath.Join(ca1, "root.pem"), "--root-key", rootKey,
			"--password-env", "SIGIL_TEST_CA_PW", "--pkcs11-uri", uri, "--dir", out}
	}
	if code, _, errOut := run(args(filepath.Join(ca2, "root-key.pem"))...); code == 0 || !strings.Contains(errOut, "doesn't match") {
		t.Fatalf("another CA's root key: exit %d: %s", code, errOut)
	}
	if code, _, errOut := run(args(filepath.Join(ca1, "root-key.pem"))...); code != 0 {
		t.Fatalf("with the right root key: exit %d: %s", code, errOut)
	}
	chain, err := readChain(filepath.Join(out, "chain.pem"))
	if err != nil {
		t.Fatal(err)
	}
	signer, closer, err := keys.Load(keys.Source{PKCS11: uri})
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	if !signer.Public().(*ecdsa.PublicKey).Equal(chain[0].PublicKey) {
		t.Fatal("the new intermediate does not certify the token's key")
	}
}

// TestRedactPIN: every pin-value is hidden, in the path or the query, and
// the rest of the URI is kept.
func TestRedactPIN(t *testing.T) {
	for in, want := range map[string]string{
		"pkcs11:token=ca?module-path=/m.so":                               "pkcs11:token=ca?module-path=/m.so",
		"pkcs11:token=ca?pin-value=1234":                                  "pkcs11:token=ca?pin-value=REDACTED",
		"pkcs11:token=ca?pin-value=1234&module-path=/m.so":                "pkcs11:token=ca?pin-value=REDACTED&module-path=/m.so",
		"pkcs11:token=ca?pin-value=0000&module-path=/m.so&pin-value=1234": "pkcs11:token=ca?pin-value=REDACTED&module-path=/m.so&pin-value=REDACTED",
		"pkcs11:token=ca;pin-value=1234?module-path=/m.so":                "pkcs11:token=ca;pin-value=REDACTED?module-path=/m.so",
	} {
		if got := redactPIN(in); got != want {
			t.Errorf("redactPIN(%q) = %q, want %q", in, got, want)
		}
	}
}

// The standalone CA warns when it serves plain HTTP beyond loopback (it
// has no TLS of its own, and tokens would cross the network in clear).
func TestOnLoopback(t *testing.T) {
	for addr, want := range map[string]bool{"127.0.0.1:1": true, "[::1]:1": true, "192.0.2.1:1": false, "[2001:db8::1]:1": false, "0.0.0.0:1": false} {
		a, err := net.ResolveTCPAddr("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := onLoopback(a); got != want {
			t.Errorf("onLoopback(%s) = %t, want %t", addr, got, want)
		}
	}
}
