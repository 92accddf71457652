package tlog

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"sigil.dev/sigil/internal/fsutil"
)

// state is what DataDir/state.json remembers about the two logs, so that a
// restart serves the same logs: the v1 tree ID, when each log was created
// (the start of its key's validity in the trusted root) and which key each
// log signs with (a log's key never changes; a new key is a new log).
type state struct {
	V1TreeID  int64     `json:"v1TreeID,string"`
	V1Created time.Time `json:"v1Created"`
	V2Created time.Time `json:"v2Created"`
	V1KeyID   string    `json:"v1KeyID"`
	V2KeyID   string    `json:"v2KeyID"`
}

const (
	stateFile = "state.json"
	keysDir   = "keys"
	v1KeyName = "rekor-v1-ecdsa-p256.pem"
	v2KeyName = "rekor-v2-ed25519.pem"
)

// loadState reads DataDir/state.json; a missing file is an empty state.
func loadState(dir string) (*state, bool, error) {
	raw, err := os.ReadFile(filepath.Join(dir, stateFile))
	if errors.Is(err, os.ErrNotExist) {
		return &state{}, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("couldn't read log state: %w", err)
	}
	var s state
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, false, fmt.Errorf("couldn't parse log state %s: %w", filepath.Join(dir, stateFile), err)
	}
	return &s, true, nil
}

func (s *state) save(dir string) error {
	raw, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("couldn't encode log state: %w", err)
	}
	return writeFileAtomic(filepath.Join(dir, stateFile), append(raw, '\n'), 0o644)
}

// writeFileAtomic writes a file through a synced temporary file renamed
// into place (fsutil.WriteFileAtomic).
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	return fsutil.WriteFileAtomic(path, data, mode)
}

// randomTreeID returns a positive random int63, like Trillian tree IDs.
func randomTreeID() (int64, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return 0, fmt.Errorf("couldn't generate tree ID: %w", err)
	}
	return n.Int64() + 1, nil
}

// loadKey reads a PEM private key: PKCS#8, or SEC 1 "EC PRIVATE KEY".
func loadKey(path string) (crypto.Signer, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("couldn't read key: %w", err)
	}
	return parseKeyPEM(raw)
}

// ErrKey is returned for unusable private keys.
var ErrKey = errors.New("unusable log key")

func parseKeyPEM(raw []byte) (crypto.Signer, error) {
	blk, _ := pem.Decode(raw)
	if blk == nil {
		return nil, fmt.Errorf("%w: no PEM block", ErrKey)
	}
	if _, enc := blk.Headers["DEK-Info"]; enc || blk.Type == "ENCRYPTED PRIVATE KEY" {
		return nil, fmt.Errorf("%w: encrypted keys are not supported; decrypt it to a file readable only by the service", ErrKey)
	}
	var k any
	var err error
	switch blk.Type {
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(blk.Bytes)
	default:
		return nil, fmt.Errorf("%w: PEM block %q, want \"PRIVATE KEY\" (PKCS#8) or \"EC PRIVATE KEY\"", ErrKey, blk.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKey, err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%w: %T is not a signing key", ErrKey, k)
	}
	return s, nil
}

// loadOrCreateKey returns the key in file (when set), or the key stored in
// DataDir/keys/name, generating it with gen on first start (mode 0600)
// unless readOnly.
func loadOrCreateKey(dataDir, file, name string, readOnly bool, gen func() (crypto.Signer, error)) (crypto.Signer, error) {
	if file != "" {
		return loadKey(file)
	}
	path := filepath.Join(dataDir, keysDir, name)
	k, err := loadKey(path)
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		return k, err
	}
	if readOnly {
		return nil, fmt.Errorf("couldn't load key %s of a read-only log: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("couldn't create key directory: %w", err)
	}
	k, err = gen()
	if err != nil {
		return nil, fmt.Errorf("couldn't generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("couldn't encode key: %w", err)
	}
	if err := writeFileAtomic(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return nil, err
	}
	return k, nil
}

func genEd25519() (crypto.Signer, error) {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	return k, err
}

func genP256() (crypto.Signer, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) }

// checkV1Key requires ECDSA P-256: SETs are ECDSA over SHA-256 and
// sigstore-go verifies them with ecdsa.VerifyASN1 only.
func checkV1Key(k crypto.Signer) error {
	if e, ok := k.Public().(*ecdsa.PublicKey); ok && e.Curve == elliptic.P256() {
		return nil
	}
	return fmt.Errorf("%w: the Rekor v1 key must be ECDSA P-256, not %s", ErrKey, keyName(k.Public()))
}

// checkV2Key allows Ed25519 (what the witness network requires) and ECDSA.
func checkV2Key(k crypto.Signer) error {
	switch k.Public().(type) {
	case ed25519.PublicKey, *ecdsa.PublicKey:
		return nil
	}
	return fmt.Errorf("%w: the Rekor v2 key must be Ed25519 or ECDSA, not %s", ErrKey, keyName(k.Public()))
}

func keyName(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		return "Ed25519"
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	}
	return fmt.Sprintf("%T", pub)
}

// keyFingerprint is the hex SHA-256 of the DER public key, first 8 bytes.
func keyFingerprint(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("couldn't encode public key: %w", err)
	}
	sum := sha256Sum(der)
	return hex.EncodeToString(sum[:8]), nil
}

// entryIDPrefix is the 16-hex tree ID that prefixes v1 entry IDs
// (sigstore/rekor pkg/sharding/sharding.go).
func entryIDPrefix(treeID int64) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(treeID))
	return hex.EncodeToString(b[:])
}
