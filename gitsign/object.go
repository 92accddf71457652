package gitsign

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
)

// Git objects and their signatures (git/git commit.c
// parse_buffer_signed_by_header and add_header_signature, tag.c and
// gpg-interface.c parse_signed_buffer):
//
//   - A commit carries its signature in the header "gpgsig" (SHA-1
//     repositories) or "gpgsig-sha256" (SHA-256 repositories), inserted at
//     the end of the header block, each further line of the signature
//     indented by one space. The signed payload is the commit without any
//     "gpgsig*" header.
//   - A tag carries its signature appended to the message; the payload is
//     everything before the last line that opens a signature block.

// ErrNotSigned is returned when an object carries no signature.
var ErrNotSigned = errors.New("not signed")

// sigMarkers open a signature block in a tag message (git/git
// gpg-interface.c openpgp_sigs, x509_sigs, ssh_sigs).
var sigMarkers = [][]byte{
	[]byte("-----BEGIN PGP SIGNATURE-----"),
	[]byte("-----BEGIN PGP MESSAGE-----"),
	[]byte("-----BEGIN SIGNED MESSAGE-----"),
	[]byte("-----BEGIN SSH SIGNATURE-----"),
}

// hashOf tells the object format from the length of the object ID after
// prefix ("tree " for commits, "object " for tags) on the first line.
func hashOf(raw []byte, prefix string) (sha256Repo bool, err error) {
	if !bytes.HasPrefix(raw, []byte(prefix)) {
		return false, fmt.Errorf("couldn't parse the object: it does not start with %q", prefix)
	}
	line, _, _ := bytes.Cut(raw[len(prefix):], []byte{'\n'})
	if _, err := hex.DecodeString(string(line)); err != nil {
		return false, fmt.Errorf("couldn't parse the object: %q is not an object ID", line)
	}
	switch len(line) {
	case 40:
		return false, nil
	case 64:
		return true, nil
	}
	return false, fmt.Errorf("couldn't parse the object: %q is not an object ID", line)
}

// SplitCommit splits the raw content of a commit object (git cat-file
// commit) into the payload git verifies and the signature of the
// repository's hash algorithm, as git does. It returns ErrNotSigned for an
// unsigned commit.
func SplitCommit(raw []byte) (payload, sig []byte, err error) {
	sha256Repo, err := hashOf(raw, "tree ")
	if err != nil {
		return nil, nil, err
	}
	header := []byte("gpgsig ")
	if sha256Repo {
		header = []byte("gpgsig-sha256 ")
	}
	var p, s bytes.Buffer
	inSig, other := false, false
	for line := raw; len(line) > 0; {
		end := bytes.IndexByte(line, '\n') + 1
		if end == 0 {
			end = len(line)
		}
		l := line[:end]
		line = line[end:]
		switch {
		case l[0] == '\n':
			// The header block ends: the rest is the message.
			p.Write(l)
			p.Write(line)
			line = nil
			continue
		case inSig && l[0] == ' ':
			s.Write(l[1:])
			continue
		case bytes.HasPrefix(l, header):
			s.Write(l[len(header):])
			inSig, other = true, false
			continue
		case bytes.HasPrefix(l, []byte("gpgsig")):
			other = true
		case other && l[0] != ' ':
			other = false
		}
		inSig = false
		if !other {
			p.Write(l)
		}
	}
	if s.Len() == 0 {
		return nil, nil, ErrNotSigned
	}
	return p.Bytes(), s.Bytes(), nil
}

// SplitTag splits the raw content of a tag object (git cat-file tag) into
// payload and signature, at the last line that opens a signature block. It
// returns ErrNotSigned for an unsigned tag.
func SplitTag(raw []byte) (payload, sig []byte, err error) {
	if _, err := hashOf(raw, "object "); err != nil {
		return nil, nil, err
	}
	match := -1
	for off := 0; off < len(raw); {
		for _, m := range sigMarkers {
			if bytes.HasPrefix(raw[off:], m) {
				match = off
			}
		}
		nl := bytes.IndexByte(raw[off:], '\n')
		if nl < 0 {
			break
		}
		off += nl + 1
	}
	if match < 0 {
		return nil, nil, ErrNotSigned
	}
	return raw[:match], raw[match:], nil
}

// ObjectID returns the ID ("<hex>") of the commit or tag that payload and
// sig make when git stores the signature: the object gitsign's online mode
// logs (sigstore/gitsign pkg/git/verify.go ObjectHashFromSignature). The
// hash algorithm (SHA-1 or SHA-256) follows the object IDs in payload.
func ObjectID(payload, sig []byte) (string, error) {
	var raw []byte
	typ := "commit"
	var sha256Repo bool
	var err error
	switch {
	case bytes.HasPrefix(payload, []byte("tree ")):
		if sha256Repo, err = hashOf(payload, "tree "); err != nil {
			return "", err
		}
		header := "gpgsig"
		if sha256Repo {
			header = "gpgsig-sha256"
		}
		eoh := bytes.Index(payload, []byte("\n\n"))
		if eoh < 0 {
			return "", errors.New("couldn't rebuild the commit: no end of header")
		}
		pos := eoh + 1
		raw = make([]byte, 0, len(payload)+len(sig)+len(header)+64)
		raw = append(raw, payload[:pos]...)
		raw = append(raw, header...)
		for rest := sig; len(rest) > 0; {
			end := bytes.IndexByte(rest, '\n') + 1
			if end == 0 {
				end = len(rest)
			}
			raw = append(raw, ' ')
			raw = append(raw, rest[:end]...)
			rest = rest[end:]
		}
		raw = append(raw, payload[pos:]...)
	case bytes.HasPrefix(payload, []byte("object ")):
		typ = "tag"
		if sha256Repo, err = hashOf(payload, "object "); err != nil {
			return "", err
		}
		raw = append(append(raw, payload...), sig...)
	default:
		return "", errors.New("couldn't tell the object type: the payload is neither a commit nor a tag")
	}
	hdr := fmt.Appendf(nil, "%s %d\x00", typ, len(raw))
	if sha256Repo {
		h := sha256.New()
		h.Write(hdr)
		h.Write(raw)
		return hex.EncodeToString(h.Sum(nil)), nil
	}
	h := sha1.New()
	h.Write(hdr)
	h.Write(raw)
	return hex.EncodeToString(h.Sum(nil)), nil
}
