package trust

import (
	"crypto"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"

	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"

	"sigil.dev/sigil/rekor"
)

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }

// keyDetails returns the PublicKeyDetails a trusted root states for a log
// key: the key's default signing algorithm, except that an Ed25519 log
// signs checkpoints with pure Ed25519.
func keyDetails(pub crypto.PublicKey) (protocommon.PublicKeyDetails, error) {
	if _, ok := pub.(ed25519.PublicKey); ok {
		return protocommon.PublicKeyDetails_PKIX_ED25519, nil
	}
	name, _, err := rekor.KeyDetails(pub)
	if err != nil {
		return 0, fmt.Errorf("unsupported log key: %w", err)
	}
	return protocommon.PublicKeyDetails(protocommon.PublicKeyDetails_value[name]), nil
}
