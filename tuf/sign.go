package tuf

import (
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"slices"

	"github.com/secure-systems-lab/go-securesystemslib/cjson"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Signatures are over the canonical JSON (OLPC canonical JSON, as TUF
// specification §4.2 and securesystemslib define it) of the "signed"
// object; go-tuf verifies exactly these bytes (metadata.go VerifyDelegate).

func canonical[T metadata.Roles](m *metadata.Metadata[T]) ([]byte, error) {
	b, err := cjson.EncodeCanonical(m.Signed)
	if err != nil {
		return nil, fmt.Errorf("couldn't encode canonical JSON: %w", err)
	}
	return b, nil
}

// signWith adds k's signature to m, replacing an earlier one by k.
func signWith[T metadata.Roles](m *metadata.Metadata[T], k *Key) error {
	p, err := canonical(m)
	if err != nil {
		return err
	}
	sig, err := k.sign(p)
	if err != nil {
		return fmt.Errorf("couldn't sign metadata: %w", err)
	}
	m.Signatures = slices.DeleteFunc(m.Signatures, func(s metadata.Signature) bool { return s.KeyID == k.ID() })
	m.Signatures = append(m.Signatures, metadata.Signature{KeyID: k.ID(), Signature: sig})
	return nil
}

// RoleSignatures says how far metadata is signed for a role.
type RoleSignatures struct {
	Role      string   `json:"role"`
	Threshold int      `json:"threshold"`
	SignedBy  []string `json:"signedBy"` // key IDs of the role whose signatures verify
	Missing   []string `json:"missing"`  // key IDs of the role that have not signed
}

// Met reports whether the threshold is reached.
func (s RoleSignatures) Met() bool { return s.Threshold > 0 && len(s.SignedBy) >= s.Threshold }

func (s RoleSignatures) String() string {
	return fmt.Sprintf("%s: %d of threshold %d", s.Role, len(s.SignedBy), s.Threshold)
}

// check verifies m's signatures against the keys root assigns to role. A
// key counts once however many IDs name it (as go-tuf counts).
func check[T metadata.Roles](root *metadata.RootType, role string, m *metadata.Metadata[T]) (RoleSignatures, error) {
	rs := RoleSignatures{Role: role}
	r, ok := root.Roles[role]
	if !ok {
		return rs, fmt.Errorf("couldn't check signatures: root has no %s role", role)
	}
	rs.Threshold = r.Threshold
	p, err := canonical(m)
	if err != nil {
		return rs, err
	}
	seen := map[[32]byte]bool{}
	for _, id := range r.KeyIDs {
		key, ok := root.Keys[id]
		if !ok {
			rs.Missing = append(rs.Missing, id)
			continue
		}
		valid := false
		for _, s := range m.Signatures {
			if s.KeyID == id && verifySignature(key, p, s.Signature) {
				valid = true
				break
			}
		}
		fp := [32]byte{}
		if pub, err := key.ToPublicKey(); err == nil {
			if der, err := x509.MarshalPKIXPublicKey(pub); err == nil {
				fp = sha256.Sum256(der)
			}
		}
		switch {
		case valid && !seen[fp]:
			seen[fp] = true
			rs.SignedBy = append(rs.SignedBy, id)
		case !valid:
			rs.Missing = append(rs.Missing, id)
		}
	}
	return rs, nil
}

// roleKeyIDs returns the key IDs of a role, or nil.
func roleKeyIDs(root *metadata.RootType, role string) []string {
	if r, ok := root.Roles[role]; ok {
		return r.KeyIDs
	}
	return nil
}
