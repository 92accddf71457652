// Package checkpoint reads, verifies and signs transparency-log checkpoints:
// C2SP tlog-checkpoint bodies carried in C2SP signed notes.
//
// A checkpoint body is (C2SP tlog-checkpoint.md):
//
//	<origin>\n<tree size, decimal>\n<base64 root hash>\n[extension lines\n]
//
// and the signed note appends a blank line and one or more lines
//
//	— <key name> <base64(4-byte key ID || signature)>\n
//
// Key IDs follow C2SP signed-note.md as Sigstore applies it (sigstore/rekor-tiles
// pkg/note/note.go KeyHash):
//
//   - Ed25519: SHA-256(name || 0x0A || 0x01 || 32-byte key), first 4 bytes.
//   - ECDSA: SHA-256(DER SubjectPublicKeyInfo), first 4 bytes — not bound to
//     the name; this is also the Rekor v1 "key hash".
//   - RSA: SHA-256(name || 0x0A || 0xFF || "PKIX-RSA-PKCS#1v1.5" || DER SPKI).
//
// The full 32-byte hash is the log ID Sigstore trusted roots list for Rekor
// v2 logs (Rekor v1 log IDs are SHA-256 of the DER key in every case).
//
// Rekor v1 checkpoints use the origin "<hostname> - <tree ID>" and sign under
// the bare hostname; sigstore/rekor pkg/util/signed_note.go checks only the
// key hash, not the name, so OpenV1 matches signatures by key hash alone.
// Signatures by unknown keys (witness cosignatures) are ignored; a signature
// by the log key that does not verify makes the note invalid.
package checkpoint

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
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// Checkpoint is a parsed checkpoint body.
type Checkpoint struct {
	Origin string
	Size   uint64
	Hash   []byte
	// Extensions are the optional lines after the root hash, without their
	// trailing newline (for example Rekor v1's "Timestamp: <ns>").
	Extensions []string
}

// Errors callers may branch on.
var (
	ErrMalformed      = errors.New("malformed checkpoint")
	ErrOriginMismatch = errors.New("checkpoint origin mismatch")
	ErrNoSignature    = errors.New("checkpoint has no valid signature from the log key")
)

// Parse parses a checkpoint body (the note text, signatures excluded).
func Parse(text []byte) (*Checkpoint, error) {
	if len(text) == 0 || text[len(text)-1] != '\n' {
		return nil, fmt.Errorf("%w: body must end with a newline", ErrMalformed)
	}
	lines := strings.Split(string(text[:len(text)-1]), "\n")
	if len(lines) < 3 {
		return nil, fmt.Errorf("%w: want origin, size and root hash lines, got %d lines", ErrMalformed, len(lines))
	}
	c := &Checkpoint{Origin: lines[0]}
	if c.Origin == "" {
		return nil, fmt.Errorf("%w: empty origin", ErrMalformed)
	}
	if lines[1] == "" || (len(lines[1]) > 1 && lines[1][0] == '0') {
		return nil, fmt.Errorf("%w: bad tree size %q", ErrMalformed, lines[1])
	}
	size, err := strconv.ParseUint(lines[1], 10, 64)
	if err != nil {
		return nil, fmt.Errorf("%w: bad tree size %q", ErrMalformed, lines[1])
	}
	c.Size = size
	h, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(h) != sha256.Size {
		return nil, fmt.Errorf("%w: bad root hash %q", ErrMalformed, lines[2])
	}
	c.Hash = h
	for _, l := range lines[3:] {
		if l == "" {
			return nil, fmt.Errorf("%w: empty extension line", ErrMalformed)
		}
		c.Extensions = append(c.Extensions, l)
	}
	return c, nil
}

// Marshal returns the checkpoint body text.
func (c *Checkpoint) Marshal() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\n%d\n%s\n", c.Origin, c.Size, base64.StdEncoding.EncodeToString(c.Hash))
	for _, e := range c.Extensions {
		b.WriteString(e)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

var v1Origin = regexp.MustCompile(`.* - [0-9]+$`)

// IsV1Origin reports whether origin has the Rekor v1 form "<host> - <tree ID>"
// (the test sigstore-go uses, pkg/verify/tlog.go hasRekorV1STH).
func IsV1Origin(origin string) bool { return v1Origin.MatchString(origin) }

// Split returns the body text of a signed note and its signature block
// without checking anything else.
func Split(msg []byte) (text []byte, ok bool) {
	i := bytes.LastIndex(msg, []byte("\n\n"))
	if i < 0 {
		return nil, false
	}
	return msg[:i+1], true
}

// Open verifies a signed checkpoint with the log's verifier v and returns
// the checkpoint. If origin is not empty the checkpoint's origin must equal
// it. Signature lines must carry v's name and key ID, as C2SP requires.
func Open(msg []byte, origin string, v note.Verifier) (*Checkpoint, *note.Note, error) {
	return open(msg, origin, note.VerifierList(v))
}

// OpenV1 verifies a Rekor v1 signed checkpoint: signature lines are matched
// by key ID only, whatever their name.
func OpenV1(msg []byte, v note.Verifier) (*Checkpoint, *note.Note, error) {
	return open(msg, "", anyName{v})
}

func open(msg []byte, origin string, known note.Verifiers) (*Checkpoint, *note.Note, error) {
	n, err := note.Open(msg, known)
	if err != nil {
		var unverified *note.UnverifiedNoteError
		if errors.As(err, &unverified) {
			return nil, nil, ErrNoSignature
		}
		var invalid *note.InvalidSignatureError
		if errors.As(err, &invalid) {
			return nil, nil, fmt.Errorf("%w: signature by %s+%08x does not verify", ErrNoSignature, invalid.Name, invalid.Hash)
		}
		return nil, nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	c, err := Parse([]byte(n.Text))
	if err != nil {
		return nil, nil, err
	}
	if origin != "" && c.Origin != origin {
		return nil, nil, fmt.Errorf("%w: got %q, want %q", ErrOriginMismatch, c.Origin, origin)
	}
	return c, n, nil
}

// anyName looks verifiers up by key ID alone.
type anyName struct{ v note.Verifier }

func (a anyName) Verifier(name string, hash uint32) (note.Verifier, error) {
	if hash != a.v.KeyHash() {
		return nil, &note.UnknownVerifierError{Name: name, KeyHash: hash}
	}
	return renamed{name, a.v}, nil
}

type renamed struct {
	name string
	note.Verifier
}

func (r renamed) Name() string { return r.name }

// KeyID returns the 32-byte key ID of a log key under a key name (see the
// package comment); its first four bytes are the note key hash.
func KeyID(name string, pub crypto.PublicKey) ([]byte, error) {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		h := sha256.New()
		h.Write([]byte(name))
		h.Write([]byte{'\n', 0x01})
		h.Write(k)
		return h.Sum(nil), nil
	case *ecdsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(k)
		if err != nil {
			return nil, fmt.Errorf("couldn't encode ECDSA key: %w", err)
		}
		s := sha256.Sum256(der)
		return s[:], nil
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(k)
		if err != nil {
			return nil, fmt.Errorf("couldn't encode RSA key: %w", err)
		}
		h := sha256.New()
		h.Write([]byte(name))
		h.Write([]byte{'\n', 0xff})
		h.Write([]byte("PKIX-RSA-PKCS#1v1.5"))
		h.Write(der)
		return h.Sum(nil), nil
	}
	return nil, fmt.Errorf("unsupported checkpoint key type %T", pub)
}

func validName(name string) bool {
	return name != "" && !strings.ContainsAny(name, " \t\n+")
}

// NewVerifier returns a note verifier for a log key under a key name.
// ECDSA signatures are ASN.1 over the curve's hash of the note text (SHA-256
// for P-256, SHA-384 for P-384, SHA-512 for P-521); RSA signatures are
// PKCS#1 v1.5 over SHA-256; Ed25519 signs the text itself.
func NewVerifier(name string, pub crypto.PublicKey) (note.Verifier, error) {
	if !validName(name) {
		return nil, fmt.Errorf("invalid checkpoint key name %q", name)
	}
	id, err := KeyID(name, pub)
	if err != nil {
		return nil, err
	}
	v := &verifier{name: name, hash: binary.BigEndian.Uint32(id)}
	switch k := pub.(type) {
	case ed25519.PublicKey:
		v.verify = func(msg, sig []byte) bool { return ed25519.Verify(k, msg, sig) }
	case *ecdsa.PublicKey:
		h := curveHash(k.Curve)
		v.verify = func(msg, sig []byte) bool { return ecdsa.VerifyASN1(k, digest(h, msg), sig) }
	case *rsa.PublicKey:
		v.verify = func(msg, sig []byte) bool {
			d := sha256.Sum256(msg)
			return rsa.VerifyPKCS1v15(k, crypto.SHA256, d[:], sig) == nil
		}
	}
	return v, nil
}

type verifier struct {
	name   string
	hash   uint32
	verify func(msg, sig []byte) bool
}

func (v *verifier) Name() string                { return v.name }
func (v *verifier) KeyHash() uint32             { return v.hash }
func (v *verifier) Verify(msg, sig []byte) bool { return v.verify(msg, sig) }

func curveHash(c elliptic.Curve) crypto.Hash {
	switch c {
	case elliptic.P384():
		return crypto.SHA384
	case elliptic.P521():
		return crypto.SHA512
	}
	return crypto.SHA256
}

func digest(h crypto.Hash, msg []byte) []byte {
	hh := h.New()
	hh.Write(msg)
	return hh.Sum(nil)
}

// NewSigner returns a note signer that signs with s under a key name, with
// the key ID and signature format NewVerifier expects.
func NewSigner(name string, s crypto.Signer) (note.Signer, error) {
	if !validName(name) {
		return nil, fmt.Errorf("invalid checkpoint key name %q", name)
	}
	id, err := KeyID(name, s.Public())
	if err != nil {
		return nil, err
	}
	sg := &signer{name: name, hash: binary.BigEndian.Uint32(id)}
	switch k := s.Public().(type) {
	case ed25519.PublicKey:
		sg.sign = func(msg []byte) ([]byte, error) { return s.Sign(rand.Reader, msg, crypto.Hash(0)) }
	case *ecdsa.PublicKey:
		h := curveHash(k.Curve)
		sg.sign = func(msg []byte) ([]byte, error) { return s.Sign(rand.Reader, digest(h, msg), h) }
	case *rsa.PublicKey:
		sg.sign = func(msg []byte) ([]byte, error) {
			return s.Sign(rand.Reader, digest(crypto.SHA256, msg), crypto.SHA256)
		}
	}
	return sg, nil
}

type signer struct {
	name string
	hash uint32
	sign func(msg []byte) ([]byte, error)
}

func (s *signer) Name() string                    { return s.name }
func (s *signer) KeyHash() uint32                 { return s.hash }
func (s *signer) Sign(msg []byte) ([]byte, error) { return s.sign(msg) }

// Sign returns the signed note for a checkpoint signed by each signer.
func Sign(c *Checkpoint, signers ...note.Signer) ([]byte, error) {
	msg, err := note.Sign(&note.Note{Text: string(c.Marshal())}, signers...)
	if err != nil {
		return nil, fmt.Errorf("couldn't sign checkpoint: %w", err)
	}
	return msg, nil
}
