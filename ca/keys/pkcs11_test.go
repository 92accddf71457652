package keys_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"sigil.dev/sigil/ca"
	"sigil.dev/sigil/ca/keys"
	"sigil.dev/sigil/ca/keys/pkcs11test"
	"sigil.dev/sigil/oidc"
	"sigil.dev/sigil/oidc/oidctest"
)

func softHSM(t *testing.T) string { return pkcs11test.SoftHSM(t) }

// TestPKCS11 generates the intermediate key on a SoftHSM2 token, certifies
// it with a software root, reopens it by URI as the CA would, and issues a
// certificate through the CA API with it.
func TestPKCS11(t *testing.T) {
	module := softHSM(t)
	uri := "pkcs11:token=sigil;object=ca-intermediate?module-path=" + module + "&pin-value=1234"

	s, closer, err := keys.GeneratePKCS11(uri, keys.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	pub := s.Public()
	closer.Close()
	if _, _, err := keys.GeneratePKCS11(uri, keys.ECDSAP256); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("second generation: %v", err)
	}

	// PKCS#11 login state is per process: test a wrong PIN while no
	// session is open.
	if _, _, err := keys.Load(keys.Source{PKCS11: strings.Replace(uri, "pin-value=1234", "pin-value=0000", 1)}); err == nil {
		t.Fatal("wrong PIN accepted")
	}
	t.Setenv("SIGIL_PKCS11_PIN", "")
	if _, _, err := keys.Load(keys.Source{PKCS11: strings.Replace(uri, "&pin-value=1234", "", 1)}); err == nil || !strings.Contains(err.Error(), "no PIN was given") {
		t.Fatalf("no PIN: %v", err)
	}
	// A token that is not there: no PIN would help, so none is asked
	// for (it said "could not find PKCS#11 token (no PIN was given: add
	// pin-value …)", naming no token).
	if _, _, err := keys.Load(keys.Source{PKCS11: strings.Replace(strings.Replace(uri, "&pin-value=1234", "", 1), "token=sigil", "token=nosuch", 1)}); err == nil || strings.Contains(err.Error(), "PIN") || !strings.Contains(err.Error(), `no token labelled "nosuch"`) {
		t.Fatalf("missing token: %v", err)
	}
	signer, closer, err := keys.Load(keys.Source{PKCS11: uri})
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	if !signer.Public().(*ecdsa.PublicKey).Equal(pub) {
		t.Fatal("reopened key differs")
	}
	d := sha256.Sum256([]byte("hello"))
	sig, err := signer.Sign(rand.Reader, d[:], nil)
	if err != nil || !ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), d[:], sig) {
		t.Fatalf("HSM signature does not verify (ASN.1 ECDSA expected): %v", err)
	}
	if _, _, err := keys.Load(keys.Source{PKCS11: strings.Replace(uri, "ca-intermediate", "missing", 1)}); err == nil || !strings.Contains(err.Error(), `no key pair with object (label) "missing"`) {
		t.Fatalf("missing key: %v", err)
	}

	rootKey, _ := keys.GenerateKey(keys.ECDSAP256)
	root, err := keys.NewRoot(rootKey, keys.ChainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	inter, err := keys.NewIntermediate(root, rootKey, pub, keys.ChainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	iss, err := oidctest.New(oidctest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer iss.Close()
	v, err := oidc.NewVerifier(&oidc.Config{OIDCIssuers: map[string]oidc.Issuer{iss.URL: {Type: oidc.TypeEmail}}}, oidc.Options{})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := ca.New(ca.Config{Signer: signer, Chain: []*x509.Certificate{inter, root}, Identity: v})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(svc.Handler())
	defer srv.Close()

	key, _ := keys.GenerateKey(keys.ECDSAP256)
	h := sha256.Sum256([]byte("alice@example.com"))
	proof, _ := key.Sign(rand.Reader, h[:], nil)
	der, _ := x509.MarshalPKIXPublicKey(key.Public())
	body, _ := json.Marshal(map[string]any{"publicKeyRequest": map[string]any{
		"publicKey":         map[string]any{"content": string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))},
		"proofOfPossession": base64.StdEncoding.EncodeToString(proof),
	}})
	tok, _ := iss.Token(iss.Claims("u", "alice@example.com"))
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, srv.URL+"/api/v2/signingCert", strings.NewReader(string(body)))
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, rb)
	}
	var out struct {
		Detached struct {
			Chain struct{ Certificates []string } `json:"chain"`
		} `json:"signedCertificateDetachedSct"`
	}
	if err := json.Unmarshal(rb, &out); err != nil || len(out.Detached.Chain.Certificates) != 3 {
		t.Fatalf("response %s: %v", rb, err)
	}
	block, _ := pem.Decode([]byte(out.Detached.Chain.Certificates[0]))
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if err := leaf.CheckSignatureFrom(inter); err != nil {
		t.Fatal("leaf not signed by the HSM key:", err)
	}
}

// TestPKCS11FailedInitLeavesNoKey: an Init that fails after generating the
// issuing key on the token (here the offline root key's directory is not
// there: the removable medium is not mounted) removes that key pair, so
// the same command succeeds once the cause is fixed; the key pair used to
// stay on the token and every retry failed with "already exists".
func TestPKCS11FailedInitLeavesNoKey(t *testing.T) {
	module := softHSM(t)
	uri := "pkcs11:token=sigil;object=ca-intermediate?module-path=" + module + "&pin-value=1234"
	dir := t.TempDir()
	o := keys.InitOptions{Dir: dir, Password: []byte("pw"), PKCS11: uri, RootKey: filepath.Join(dir, "not-mounted", "root-key.pem")}
	if _, err := keys.Init(o); err == nil || !strings.Contains(err.Error(), "couldn't write "+o.RootKey) {
		t.Fatalf("Init with an unwritable root key path: %v", err)
	}
	if s, closer, err := keys.LoadPKCS11(uri); err == nil {
		closer.Close()
		t.Fatalf("the failed Init left its key pair on the token (%T)", s)
	}
	o.RootKey = filepath.Join(dir, "root-key.pem")
	c, err := keys.Init(o)
	if err != nil {
		t.Fatalf("second Init: %v", err)
	}
	defer c.Close()
	if !c.Signer.Public().(*ecdsa.PublicKey).Equal(c.Intermediate.PublicKey) {
		t.Fatal("the intermediate does not certify the token's key")
	}
}
