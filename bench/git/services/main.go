// Command services runs the CA, Rekor v1 and TSA fakes of
// internal/fakesvc on a loopback port for bench/git/run.sh, and writes
// into -dir what a signer needs: the trusted root, the keys gitsign reads
// (Fulcio roots, Rekor and CT public keys), an identity token (ES256-signed,
// which gitsign insists on; the fake CA does not check by whom), and the
// base URL. It serves until killed.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/go-jose/go-jose/v4"

	"sigil.dev/sigil/internal/fakesvc"
	"sigil.dev/sigil/internal/testpki"
)

func main() {
	dir := flag.String("dir", "", "directory for trusted_root.json, fulcio.pem, rekor.pub, ct.pub, token and url")
	email := flag.String("email", "bench@sigil.test", "identity of the token")
	flag.Parse()
	if *dir == "" {
		log.Fatal("services: -dir is required")
	}
	f, err := fakesvc.Start()
	if err != nil {
		log.Fatalf("services: couldn't start: %v", err)
	}
	defer f.Close()
	root, err := f.TrustedRoot.Marshal()
	if err != nil {
		log.Fatal(err)
	}
	tok, err := token(*email)
	if err != nil {
		log.Fatal(err)
	}
	p := f.PKI
	for name, b := range map[string][]byte{
		"trusted_root.json": root,
		"fulcio.pem":        append(testpki.PEM(p.Intermediate), testpki.PEM(p.Root)...),
		"rekor.pub":         testpki.PublicKeyPEM(p.RekorV1.Key.Public()),
		"ct.pub":            testpki.PublicKeyPEM(p.CTKey.Public()),
		"token":             []byte(tok),
		"url":               []byte(f.URL),
	} {
		if err := os.WriteFile(filepath.Join(*dir, name), b, 0o600); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println(f.URL)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
}

func token(email string) (string, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", err
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: k}, nil)
	if err != nil {
		return "", err
	}
	claims, _ := json.Marshal(map[string]any{"iss": fakesvc.Issuer, "aud": "sigstore", "sub": email, "email": email, "email_verified": true,
		"exp": time.Now().Add(24 * time.Hour).Unix(), "iat": time.Now().Unix()})
	jws, err := s.Sign(claims)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}
