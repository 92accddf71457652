package keys_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigil.dev/sigil/ca/keys"
)

func init() {
	// Keep the tests fast; the default is 600,000.
	keys.PBKDF2Iterations = 1000
}

// need returns the path of an outside program, or skips (fails under CI)
// naming the script that installs it.
func need(t *testing.T, prog, script string) string {
	t.Helper()
	p, err := exec.LookPath(prog)
	if err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s not found; CI must run %s", prog, script)
	}
	t.Skipf("%s not found; run %s to install it", prog, script)
	return ""
}

func TestEncryptedPKCS8RoundTrip(t *testing.T) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	for name, key := range map[string]crypto.Signer{"P-256": p256, "P-384": p384, "RSA": rsaKey, "Ed25519": edKey} {
		t.Run(name, func(t *testing.T) {
			b, err := keys.MarshalEncryptedPKCS8(key, []byte("correct horse"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(b, []byte("-----BEGIN ENCRYPTED PRIVATE KEY-----")) {
				t.Fatalf("PEM %q", b[:40])
			}
			got, err := keys.ParsePrivateKeyPEM(b, []byte("correct horse"))
			if err != nil {
				t.Fatal(err)
			}
			if !got.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(key.Public()) {
				t.Fatal("different key")
			}
			if _, err := keys.ParsePrivateKeyPEM(b, []byte("wrong")); !errors.Is(err, keys.ErrPassword) {
				t.Fatalf("wrong password: %v", err)
			}
			if _, err := keys.ParsePrivateKeyPEM(b, nil); !errors.Is(err, keys.ErrNoPassword) {
				t.Fatalf("no password: %v", err)
			}
		})
	}
	if _, err := keys.MarshalEncryptedPKCS8(p256, nil); err == nil {
		t.Fatal("empty password accepted")
	}
}

func TestParsePlainKeys(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sec1, _ := x509.MarshalECPrivateKey(k)
	p8, _ := x509.MarshalPKCS8PrivateKey(k)
	for _, b := range [][]byte{
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8}),
		append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8})...),
	} {
		if _, err := keys.ParsePrivateKeyPEM(b, nil); err != nil {
			t.Error(err)
		}
	}
	legacy := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-256-CBC,00"}, Bytes: sec1})
	if _, err := keys.ParsePrivateKeyPEM(legacy, []byte("x")); err == nil {
		t.Error("legacy encrypted PEM accepted")
	}
}

// TestOpenSSLInterop checks the format against OpenSSL both ways: OpenSSL
// reads what sigil writes, and sigil reads PBES2 files OpenSSL writes with
// PBKDF2 (HMAC-SHA-256 and the SHA-1 default PRF) and scrypt.
func TestOpenSSLInterop(t *testing.T) {
	openssl := need(t, "openssl", ".ci/install-softhsm.sh")
	dir := t.TempDir()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ours, err := keys.MarshalEncryptedPKCS8(k, []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(dir, "ours.pem")
	os.WriteFile(in, ours, 0o600)
	out, err := exec.Command(openssl, "pkey", "-in", in, "-passin", "pass:pw", "-pubout").CombinedOutput()
	if err != nil {
		t.Fatalf("openssl cannot read our key: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("BEGIN PUBLIC KEY")) {
		t.Fatalf("openssl output %s", out)
	}

	sec1, _ := x509.MarshalPKCS8PrivateKey(k)
	plain := filepath.Join(dir, "plain.pem")
	os.WriteFile(plain, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: sec1}), 0o600)
	for name, args := range map[string][]string{
		"pbkdf2-sha256-aes256": {"pkcs8", "-topk8", "-v2", "aes-256-cbc", "-v2prf", "hmacWithSHA256"},
		"pbkdf2-sha1-aes128":   {"pkcs8", "-topk8", "-v2", "aes-128-cbc", "-v2prf", "hmacWithSHA1"},
		"scrypt-aes256":        {"pkcs8", "-topk8", "-v2", "aes-256-cbc", "-scrypt"},
	} {
		t.Run(name, func(t *testing.T) {
			enc := filepath.Join(dir, name+".pem")
			cmd := exec.Command(openssl, append(args, "-in", plain, "-out", enc, "-passout", "pass:pw")...)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("openssl: %v\n%s", err, out)
			}
			b, _ := os.ReadFile(enc)
			got, err := keys.ParsePrivateKeyPEM(b, []byte("pw"))
			if err != nil {
				t.Fatal(err)
			}
			if !got.Public().(*ecdsa.PublicKey).Equal(k.Public()) {
				t.Fatal("different key")
			}
		})
	}
}

func TestChain(t *testing.T) {
	for _, kt := range []keys.KeyType{keys.ECDSAP256, keys.ECDSAP384} {
		t.Run(string(kt), func(t *testing.T) {
			rootKey, err := keys.GenerateKey(kt)
			if err != nil {
				t.Fatal(err)
			}
			interKey, _ := keys.GenerateKey(kt)
			root, err := keys.NewRoot(rootKey, keys.ChainOptions{Organization: "example", RootName: "example root"})
			if err != nil {
				t.Fatal(err)
			}
			inter, err := keys.NewIntermediate(root, rootKey, interKey.Public(), keys.ChainOptions{Organization: "example", IntermediateName: "example intermediate", IntermediateValidity: 100 * 365 * 24 * time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			if !root.IsCA || root.MaxPathLen != 1 || len(root.ExtKeyUsage) != 0 || root.KeyUsage != x509.KeyUsageCertSign|x509.KeyUsageCRLSign || len(root.SubjectKeyId) != 20 {
				t.Errorf("root %+v", root)
			}
			if !inter.IsCA || inter.MaxPathLen != 0 || !inter.MaxPathLenZero || len(inter.ExtKeyUsage) != 1 || inter.ExtKeyUsage[0] != x509.ExtKeyUsageCodeSigning ||
				inter.KeyUsage != x509.KeyUsageCertSign|x509.KeyUsageCRLSign || !bytes.Equal(inter.AuthorityKeyId, root.SubjectKeyId) {
				t.Errorf("intermediate %+v", inter)
			}
			if inter.NotAfter.After(root.NotAfter) {
				t.Error("intermediate outlives the root")
			}
			if d := root.NotAfter.Sub(root.NotBefore); d != 10*365*24*time.Hour {
				t.Errorf("root validity %s", d)
			}
			roots := x509.NewCertPool()
			roots.AddCert(root)
			if _, err := inter.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}}); err != nil {
				t.Fatal(err)
			}
			if inter.Subject.CommonName != "example intermediate" || inter.Subject.Organization[0] != "example" {
				t.Errorf("subject %s", inter.Subject)
			}
		})
	}
}

// TestChainRefusesUnusableCertificates: a root or intermediate that would
// be expired when made, or an intermediate under a certificate whose path
// length allows no CA below it, is an error; they used to be made (and
// "ca init"/"ca intermediate" exited 0), to fail only when the CA started.
func TestChainRefusesUnusableCertificates(t *testing.T) {
	rootKey, _ := keys.GenerateKey(keys.ECDSAP256)
	interKey, _ := keys.GenerateKey(keys.ECDSAP256)
	if _, err := keys.NewRoot(rootKey, keys.ChainOptions{RootValidity: -365 * 24 * time.Hour}); err == nil || !strings.Contains(err.Error(), "negative validity") {
		t.Errorf("root with negative validity: %v", err)
	}
	root, err := keys.NewRoot(rootKey, keys.ChainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := keys.NewIntermediate(root, rootKey, interKey.Public(), keys.ChainOptions{IntermediateValidity: -time.Hour}); err == nil || !strings.Contains(err.Error(), "negative validity") {
		t.Errorf("intermediate with negative validity: %v", err)
	}
	old, err := keys.NewRoot(rootKey, keys.ChainOptions{Now: time.Now().Add(-3 * 365 * 24 * time.Hour), RootValidity: 365 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := keys.NewIntermediate(old, rootKey, interKey.Public(), keys.ChainOptions{}); err == nil || !strings.Contains(err.Error(), "expired on") {
		t.Errorf("intermediate under an expired root: %v", err)
	}
	inter, err := keys.NewIntermediate(root, rootKey, interKey.Public(), keys.ChainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	otherKey, _ := keys.GenerateKey(keys.ECDSAP256)
	if _, err := keys.NewIntermediate(inter, interKey, otherKey.Public(), keys.ChainOptions{}); err == nil || !strings.Contains(err.Error(), "path length 0") {
		t.Errorf("intermediate under an intermediate with path length 0: %v", err)
	}
}

func TestPassword(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "pw")
	os.WriteFile(f, []byte("from-file\nsecond line"), 0o600)
	t.Setenv("SIGIL_TEST_PW", "from-env")
	for _, tc := range []struct {
		p    keys.Password
		want string
		err  bool
	}{
		{keys.Password{Env: "SIGIL_TEST_PW"}, "from-env", false},
		{keys.Password{File: f}, "from-file", false},
		{keys.Password{Env: "SIGIL_TEST_PW", File: f}, "from-env", false},
		{keys.Password{Env: "SIGIL_TEST_UNSET", File: f}, "from-file", false},
		{keys.Password{Env: "SIGIL_TEST_UNSET"}, "", true},
		{keys.Password{File: filepath.Join(dir, "missing")}, "", true},
		{keys.Password{File: "/dev/zero"}, "", true}, // read whole before
		{keys.Password{}, "", false},
	} {
		got, err := tc.p.Read()
		if (err != nil) != tc.err || string(got) != tc.want {
			t.Errorf("%+v: %q, %v", tc.p, got, err)
		}
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	k, _ := keys.GenerateKey(keys.ECDSAP256)
	b, _ := keys.MarshalEncryptedPKCS8(k, []byte("s3cret"))
	f := filepath.Join(dir, "key.pem")
	os.WriteFile(f, b, 0o600)
	t.Setenv("SIGIL_TEST_PW", "s3cret")
	s, closer, err := keys.Load(keys.Source{File: f, Password: keys.Password{Env: "SIGIL_TEST_PW"}})
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	d := sha256.Sum256([]byte("x"))
	sig, err := s.Sign(rand.Reader, d[:], crypto.SHA256)
	if err != nil || !ecdsa.VerifyASN1(k.Public().(*ecdsa.PublicKey), d[:], sig) {
		t.Fatal("loaded key does not sign", err)
	}
	if _, _, err := keys.Load(keys.Source{File: f}); !errors.Is(err, keys.ErrNoPassword) {
		t.Fatalf("no password: %v", err)
	}
	if _, _, err := keys.Load(keys.Source{}); err == nil {
		t.Fatal("empty source accepted")
	}
}

func TestParsePKCS11URI(t *testing.T) {
	dir := t.TempDir()
	pin := filepath.Join(dir, "pin")
	os.WriteFile(pin, []byte("1234\n"), 0o600)
	for _, tc := range []struct {
		uri  string
		want keys.PKCS11URI
		err  string
	}{
		{uri: "pkcs11:token=sigil;object=ca?module-path=/lib/p11.so&pin-value=1234", want: keys.PKCS11URI{Token: "sigil", Object: "ca", ModulePath: "/lib/p11.so", PIN: "1234"}},
		{uri: "pkcs11:token=my%20token;id=%01%02?module-path=/lib/p11.so&pin-source=" + pin, want: keys.PKCS11URI{Token: "my token", ID: []byte{1, 2}, ModulePath: "/lib/p11.so", PIN: "1234"}},
		{uri: "pkcs11:serial=abc;object=ca;type=private?module-path=/lib/p11.so&pin-value=1", want: keys.PKCS11URI{Serial: "abc", Object: "ca", ModulePath: "/lib/p11.so", PIN: "1"}},
		// RFC 7512: '+' in the query is a '+' (it was read as a space,
		// so a PIN with a '+' failed with CKR_PIN_INCORRECT).
		{uri: "pkcs11:token=sigil;object=ca?module-path=/opt/g++/p11.so&pin-value=ab+cd", want: keys.PKCS11URI{Token: "sigil", Object: "ca", ModulePath: "/opt/g++/p11.so", PIN: "ab+cd"}},
		{uri: "pkcs11:token=sigil;object=ca?module-path=/lib/p11.so&pin-value=ab%2Bcd%20e", want: keys.PKCS11URI{Token: "sigil", Object: "ca", ModulePath: "/lib/p11.so", PIN: "ab+cd e"}},
		{uri: "token=sigil", err: "does not start with pkcs11:"},
		{uri: "pkcs11:token=sigil;object=ca", err: "module-path is required"},
		{uri: "pkcs11:object=ca?module-path=/x", err: "exactly one of token"},
		{uri: "pkcs11:token=a;serial=b;object=ca?module-path=/x", err: "exactly one of token"},
		{uri: "pkcs11:token=a?module-path=/x", err: "object (label) or id"},
		{uri: "pkcs11:token=a;bogus=1;object=x?module-path=/x", err: "unknown attribute"},
		{uri: "pkcs11:token=a;object=x?module-path=/x&pin-source=/nonexistent", err: "couldn't read PKCS#11 PIN"},
		{uri: "pkcs11:token=a;object=x?module-path=/x&pin-source=/dev/zero", err: "larger than 1048576 bytes"},
		// RFC 7512 §2.3: no attribute twice, not both PIN attributes
		// (the last one silently won).
		{uri: "pkcs11:token=a;object=x;object=y?module-path=/x", err: `attribute "object" given twice`},
		{uri: "pkcs11:token=a;object=x?module-path=/x&module-path=/y", err: `attribute "module-path" given twice`},
		{uri: "pkcs11:token=a;object=x?module-path=/x&pin-value=1&pin-value=2", err: `attribute "pin-value" given twice`},
		{uri: "pkcs11:token=a;object=x?module-path=/x&pin-value=1&pin-source=" + pin, err: "both pin-value and pin-source"},
		{uri: "pkcs11:token=a;object=x?module-path=/x&pin-source=" + pin + "&pin-value=1", err: "both pin-value and pin-source"},
	} {
		got, err := keys.ParsePKCS11URI(tc.uri)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want %q", tc.uri, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.uri, err)
			continue
		}
		if got.Token != tc.want.Token || got.Serial != tc.want.Serial || got.Object != tc.want.Object || !bytes.Equal(got.ID, tc.want.ID) || got.ModulePath != tc.want.ModulePath || got.PIN != tc.want.PIN {
			t.Errorf("%s: %+v", tc.uri, got)
		}
	}
}

func FuzzParsePrivateKeyPEM(f *testing.F) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	enc, _ := keys.MarshalEncryptedPKCS8(k, []byte("pw"))
	f.Add(enc)
	p8, _ := x509.MarshalPKCS8PrivateKey(k)
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8}))
	f.Add([]byte("-----BEGIN ENCRYPTED PRIVATE KEY-----\nMAA=\n-----END ENCRYPTED PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = keys.ParsePrivateKeyPEM(b, []byte("pw"))
		if block, _ := pem.Decode(b); block != nil {
			_, _ = keys.DecryptPKCS8(block.Bytes, []byte("pw"))
		}
	})
}

func TestInitOpen(t *testing.T) {
	dir := t.TempDir()
	offline := filepath.Join(t.TempDir(), "root-key.pem")
	c, err := keys.Init(keys.InitOptions{Dir: dir, Password: []byte("pw"), RootKey: offline})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if _, err := os.Stat(filepath.Join(dir, "root-key.pem")); !os.IsNotExist(err) {
		t.Fatal("root key written into the CA directory despite RootKey")
	}
	if _, err := keys.Init(keys.InitOptions{Dir: dir, Password: []byte("pw")}); !errors.Is(err, keys.ErrExists) {
		t.Fatalf("second Init: %v", err)
	}
	t.Setenv("SIGIL_TEST_PW", "pw")
	o, err := keys.Open(dir, keys.Source{Password: keys.Password{Env: "SIGIL_TEST_PW"}})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if !o.Intermediate.Equal(c.Intermediate) || !o.Root.Equal(c.Root) || !o.Signer.Public().(*ecdsa.PublicKey).Equal(c.Signer.Public()) {
		t.Fatal("Open returned a different CA")
	}
	if len(o.Chain()) != 2 {
		t.Fatal("chain")
	}
}

// TestInitKeyFileModes: the key files are 0600 whatever was at their path.
// Init --force wrote the new keys into the old files in place, so a key
// file that had become world-readable (a copy, a chmod) received the new
// key with its old mode; and Init without force followed a symbolic link
// planted where a key goes, writing the key wherever it pointed.
func TestInitKeyFileModes(t *testing.T) {
	dir := t.TempDir()
	c, err := keys.Init(keys.InitOptions{Dir: dir, Password: []byte("pw")})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	f := keys.DirFiles(dir)
	for _, p := range []string{f.RootKey, f.IntermediateKey} {
		if err := os.Chmod(p, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c, err = keys.Init(keys.InitOptions{Dir: dir, Password: []byte("pw"), Force: true})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	for _, p := range []string{f.RootKey, f.IntermediateKey} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %04o after Init with Force, want 0600", filepath.Base(p), fi.Mode().Perm())
		}
	}

	// A dangling symbolic link where the root key goes.
	dir2 := t.TempDir()
	target := filepath.Join(t.TempDir(), "elsewhere.pem")
	link := filepath.Join(dir2, "root-key.pem")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if c, err := keys.Init(keys.InitOptions{Dir: dir2, Password: []byte("pw")}); err == nil {
		c.Close()
		t.Error("Init wrote a key through a symbolic link")
	}
	if _, err := os.Lstat(target); err == nil {
		t.Errorf("Init created %s through the link %s", target, link)
	}
}

// TestFailedInitLeavesNothing: an Init that fails after writing some
// files (here a dangling symbolic link at intermediate.pem, met once both
// keys are in place) removes what it wrote, so the next Init succeeds once
// the cause is fixed. It used to leave root-key.pem and
// intermediate-key.pem behind: every later Init without force, a server's
// first start included, refused "a CA already exists there".
func TestFailedInitLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	f := keys.DirFiles(dir)
	if err := os.Symlink(filepath.Join(t.TempDir(), "gone"), f.Intermediate); err != nil {
		t.Fatal(err)
	}
	if c, err := keys.Init(keys.InitOptions{Dir: dir, Password: []byte("pw")}); !errors.Is(err, keys.ErrExists) {
		if err == nil {
			c.Close()
		}
		t.Fatalf("Init with a symbolic link at intermediate.pem: %v", err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || ents[0].Name() != "intermediate.pem" {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Fatalf("the failed Init left %v", names)
	}
	if err := os.Remove(f.Intermediate); err != nil {
		t.Fatal(err)
	}
	c, err := keys.Init(keys.InitOptions{Dir: dir, Password: []byte("pw")})
	if err != nil {
		t.Fatalf("Init after the cause was removed: %v", err)
	}
	c.Close()
	if _, err := keys.ReadCertificates(f.Chain); err != nil {
		t.Fatal(err)
	}
}

// TestPKCS11URIErrorsHidePIN: a URI that did not start with "pkcs11:" (a
// typo, a leading space, "PKCS11:") was quoted whole in the error, its
// pin-value with it, onto the terminal of "sigil ca init --pkcs11-uri" or
// into the log of a server whose ca.pkcs11 had the typo.
func TestPKCS11URIErrorsHidePIN(t *testing.T) {
	const pin = "98761234"
	for _, uri := range []string{
		"PKCS11:token=sigil;object=ca?module-path=/lib/p11.so&pin-value=" + pin,
		" pkcs11:token=sigil;object=ca?module-path=/lib/p11.so&pin-value=" + pin,
		"pkcs11:token=sigil;object=ca;bogus=1?module-path=/lib/p11.so&pin-value=" + pin,
		"pkcs11:token=sigil;object=ca?module-path=/lib/p11.so&pin-value=" + pin + "&bogus=1",
		"pkcs11:token=sigil?module-path=/lib/p11.so&pin-value=" + pin,
	} {
		_, err := keys.ParsePKCS11URI(uri)
		if err == nil {
			t.Errorf("%q: no error", uri)
			continue
		}
		if strings.Contains(err.Error(), pin) {
			t.Errorf("the error shows the PIN: %v", err)
		}
	}
}

// TestPKCS11URITyposHidePIN: a mistyped pin-value ("pin-value:1234",
// "pin-value%3D1234", "pin-value1234" in the path) was quoted whole as an
// unknown attribute or one without a value, and a PIN with a bad
// %-escape had that part quoted by url's error.
func TestPKCS11URITyposHidePIN(t *testing.T) {
	const pin = "98761234"
	for _, c := range []struct{ uri, secret string }{
		{"pkcs11:token=sigil;object=ca?module-path=/lib/p11.so&pin-value:" + pin, pin},
		{"pkcs11:token=sigil;object=ca?module-path=/lib/p11.so&pin-value%3D" + pin, pin},
		{"pkcs11:token=sigil;object=ca;pin-value" + pin + "?module-path=/lib/p11.so", pin},
		{"pkcs11:token=sigil;object=ca?module-path=/lib/p11.so&pin-value=98%q7", "%q7"},
		{"pkcs11:token=sigil;object=ca%q7?module-path=/lib/p11.so", "%q7"},
	} {
		_, err := keys.ParsePKCS11URI(c.uri)
		if err == nil {
			t.Errorf("%q: no error", c.uri)
			continue
		}
		if strings.Contains(err.Error(), c.secret) {
			t.Errorf("the error shows %q: %v", c.secret, err)
		}
	}
}
