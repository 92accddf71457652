package verify

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
)

func readPEMKey(path string) (crypto.PublicKey, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	b, _ := pem.Decode(raw)
	if b == nil {
		return nil, errors.New("not PEM")
	}
	return x509.ParsePKIXPublicKey(b.Bytes)
}
