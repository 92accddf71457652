package keys

import (
	"crypto"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/ThalesGroup/crypto11"

	"sigil.dev/sigil/internal/fsutil"
)

// Password says where a key file's password comes from: the environment
// variable Env, or the file File (its first line). Env wins when both are
// set and the variable is not empty.
type Password struct {
	Env, File string
}

// IsZero reports whether no source is set.
func (p Password) IsZero() bool { return p.Env == "" && p.File == "" }

// ReadableByOthers reports whether the password file can be read by users
// other than its owner (group or other permission bits), and its mode:
// the caller warns, as the file then gives away the CA key to anyone who
// can also read the encrypted key file.
func (p Password) ReadableByOthers() (os.FileMode, bool) {
	if p.File == "" {
		return 0, false
	}
	fi, err := os.Stat(p.File)
	if err != nil {
		return 0, false
	}
	return fi.Mode().Perm(), fi.Mode().Perm()&0o077 != 0
}

// Read returns the password, or nil when no source is set.
func (p Password) Read() ([]byte, error) {
	if p.Env != "" {
		if v := os.Getenv(p.Env); v != "" {
			return []byte(v), nil
		}
		if p.File == "" {
			return nil, fmt.Errorf("couldn't read password: environment variable %s is empty or unset", p.Env)
		}
	}
	if p.File != "" {
		b, err := readSmall(p.File)
		if err != nil {
			return nil, fmt.Errorf("couldn't read password: %w", err)
		}
		line, _, _ := strings.Cut(string(b), "\n")
		line = strings.TrimSuffix(line, "\r")
		if line == "" {
			return nil, fmt.Errorf("couldn't read password: %s is empty", p.File)
		}
		return []byte(line), nil
	}
	return nil, nil
}

// Source names a CA signing key: a PEM file (with Password for an encrypted
// one) or a PKCS#11 URI.
type Source struct {
	File     string
	Password Password
	PKCS11   string
}

// Load opens the signer. The closer releases a PKCS#11 session (a no-op for
// files); close it when the CA stops.
func Load(src Source) (crypto.Signer, io.Closer, error) {
	switch {
	case src.PKCS11 != "" && src.File != "":
		return nil, nil, errors.New("couldn't load CA key: give a key file or a PKCS#11 URI, not both")
	case src.PKCS11 != "":
		return LoadPKCS11(src.PKCS11)
	case src.File != "":
		b, err := readSmall(src.File)
		if err != nil {
			return nil, nil, fmt.Errorf("couldn't load CA key: %w", err)
		}
		pw, err := src.Password.Read()
		if err != nil {
			return nil, nil, err
		}
		k, err := ParsePrivateKeyPEM(b, pw)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", src.File, err)
		}
		return k, io.NopCloser(nil), nil
	}
	return nil, nil, errors.New("couldn't load CA key: no key file or PKCS#11 URI given")
}

// PKCS11URI is the subset of an RFC 7512 PKCS#11 URI that selects a token
// and a key pair:
//
//	pkcs11:token=sigil;object=ca-intermediate;id=%01?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=/run/secrets/pin
//
// Path attributes: token (label), serial, slot-id, object (key label), id
// (key ID, percent-encoded bytes). Query attributes: module-path (the
// PKCS#11 library), pin-value or pin-source (a file holding the PIN). When
// neither is given, the PIN is read from the environment variable
// SIGIL_PKCS11_PIN.
type PKCS11URI struct {
	Token, Serial string
	Slot          *int
	Object        string
	ID            []byte
	ModulePath    string
	PIN           string
}

// ParsePKCS11URI parses a PKCS#11 URI.
func ParsePKCS11URI(s string) (*PKCS11URI, error) {
	rest, ok := strings.CutPrefix(s, "pkcs11:")
	if !ok {
		// Not quoted: the URI may hold the PIN (pin-value), and this
		// error reaches terminals and server logs.
		return nil, errors.New("couldn't parse PKCS#11 URI: it does not start with pkcs11:")
	}
	path, query, _ := strings.Cut(rest, "?")
	u := &PKCS11URI{}
	// RFC 7512 §2.3: an attribute appears at most once in the path and
	// once in the query, and a URI with both pin-source and pin-value is
	// refused; a repeated token, object or PIN would otherwise be decided
	// silently by whichever came last.
	seen := map[string]bool{}
	once := func(part, k string) error {
		if seen[part+k] {
			return fmt.Errorf("couldn't parse PKCS#11 URI: attribute %q given twice", k)
		}
		seen[part+k] = true
		if seen["?pin-value"] && seen["?pin-source"] {
			return errors.New("couldn't parse PKCS#11 URI: both pin-value and pin-source are given; give one")
		}
		return nil
	}
	for _, attr := range strings.Split(path, ";") {
		if attr == "" {
			continue
		}
		k, v, ok := strings.Cut(attr, "=")
		if !ok {
			// Not quoted: a mistyped pin-value ("pin-value1234")
			// would show the PIN.
			return nil, errors.New("couldn't parse PKCS#11 URI: an attribute has no '=' and no value")
		}
		if err := once(";", k); err != nil {
			return nil, err
		}
		val, err := url.PathUnescape(v)
		if err != nil {
			// Not wrapped: url's error quotes part of the value.
			return nil, fmt.Errorf("couldn't parse PKCS#11 URI: %s: invalid %%-escape", k)
		}
		switch k {
		case "token":
			u.Token = val
		case "serial":
			u.Serial = val
		case "slot-id":
			n, err := strconv.Atoi(val)
			if err != nil {
				return nil, fmt.Errorf("couldn't parse PKCS#11 URI: slot-id %q", val)
			}
			u.Slot = &n
		case "object":
			u.Object = val
		case "id":
			u.ID = []byte(val)
		case "type", "manufacturer", "model", "library-description", "library-manufacturer", "library-version":
			// Informational; crypto11 selects by the attributes above.
		default:
			return nil, fmt.Errorf("couldn't parse PKCS#11 URI: unknown attribute %q", k)
		}
	}
	if query != "" {
		for _, attr := range strings.Split(query, "&") {
			k, v, ok := strings.Cut(attr, "=")
			if !ok && attr != "" {
				// Not quoted, as in the path: "pin-value:1234" or
				// "pin-value%3D1234" would show the PIN.
				return nil, errors.New("couldn't parse PKCS#11 URI: a query attribute has no '=' and no value")
			}
			// RFC 7512: '+' is a literal character in the query (as
			// p11-kit and OpenSSL's pkcs11 provider read it), not a
			// space as in an HTML form: PathUnescape, not QueryUnescape.
			val, err := url.PathUnescape(v)
			if err != nil {
				// Not wrapped: url's error quotes part of the value (a PIN).
				return nil, fmt.Errorf("couldn't parse PKCS#11 URI: %s: invalid %%-escape", k)
			}
			if err := once("?", k); err != nil {
				return nil, err
			}
			switch k {
			case "module-path":
				u.ModulePath = val
			case "pin-value":
				u.PIN = val
			case "pin-source":
				b, err := readSmall(strings.TrimPrefix(val, "file:"))
				if err != nil {
					return nil, fmt.Errorf("couldn't read PKCS#11 PIN: %w", err)
				}
				u.PIN = strings.TrimRight(string(b), "\r\n")
			case "module-name":
				return nil, errors.New("couldn't parse PKCS#11 URI: module-name is not supported; give module-path")
			default:
				return nil, fmt.Errorf("couldn't parse PKCS#11 URI: unknown query attribute %q", k)
			}
		}
	}
	if u.PIN == "" {
		u.PIN = os.Getenv("SIGIL_PKCS11_PIN")
	}
	if u.ModulePath == "" {
		return nil, errors.New("couldn't parse PKCS#11 URI: module-path is required")
	}
	n := 0
	for _, set := range []bool{u.Token != "", u.Serial != "", u.Slot != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return nil, errors.New("couldn't parse PKCS#11 URI: select the token by exactly one of token, serial or slot-id")
	}
	if u.Object == "" && len(u.ID) == 0 {
		return nil, errors.New("couldn't parse PKCS#11 URI: name the key by object (label) or id")
	}
	return u, nil
}

func (u *PKCS11URI) context() (*crypto11.Context, error) {
	ctx, err := crypto11.Configure(&crypto11.Config{
		Path: u.ModulePath, TokenLabel: u.Token, TokenSerial: u.Serial, SlotNumber: u.Slot, Pin: u.PIN,
	})
	if err != nil {
		// crypto11's errTokenNotFound (unexported) names no token and
		// comes before any login: a PIN would not help.
		if strings.Contains(err.Error(), "could not find PKCS#11 token") {
			which := fmt.Sprintf("labelled %q", u.Token)
			switch {
			case u.Serial != "":
				which = fmt.Sprintf("with serial %q", u.Serial)
			case u.Slot != nil:
				which = fmt.Sprintf("in slot %d", *u.Slot)
			}
			return nil, fmt.Errorf("couldn't open PKCS#11 token: the module %s has no token %s (list its tokens with the HSM's tools, e.g. softhsm2-util --show-slots or pkcs11-tool --list-slots): %w", u.ModulePath, which, err)
		}
		if u.PIN == "" {
			// Tokens that need a PIN refuse an empty one with a bare
			// error code (SoftHSM2: CKR_ARGUMENTS_BAD); say what is missing.
			return nil, fmt.Errorf("couldn't open PKCS#11 token: %w (no PIN was given: add pin-value or pin-source to the URI, or set SIGIL_PKCS11_PIN)", err)
		}
		return nil, fmt.Errorf("couldn't open PKCS#11 token: %w", err)
	}
	return ctx, nil
}

func (u *PKCS11URI) label() []byte {
	if u.Object == "" {
		return nil
	}
	return []byte(u.Object)
}

// LoadPKCS11 opens the key pair a PKCS#11 URI names.
func LoadPKCS11(uri string) (crypto.Signer, io.Closer, error) {
	u, err := ParsePKCS11URI(uri)
	if err != nil {
		return nil, nil, err
	}
	ctx, err := u.context()
	if err != nil {
		return nil, nil, err
	}
	s, err := ctx.FindKeyPair(u.ID, u.label())
	if err != nil || s == nil {
		ctx.Close()
		// crypto11 names the label in hex ("label=6e6f7065 was not found").
		why := fmt.Sprintf("no key pair with object (label) %q", u.Object)
		if len(u.ID) > 0 {
			why += fmt.Sprintf(" and id %x", u.ID)
		}
		why += " on the token (list its objects with the HSM's tools, e.g. pkcs11-tool --list-objects)"
		if err != nil {
			return nil, nil, fmt.Errorf("couldn't find PKCS#11 key: %s: %w", why, err)
		}
		return nil, nil, fmt.Errorf("couldn't find PKCS#11 key: %s", why)
	}
	return s, ctx, nil
}

// DeletePKCS11Key removes from its token a key pair that GeneratePKCS11
// returned, for a caller that could not go on with it (its certificate
// could not be made or written): the token would otherwise keep a key
// pair no certificate names, under the label the next attempt asks for.
func DeletePKCS11Key(s crypto.Signer) error {
	k, ok := s.(interface{ Delete() error })
	if !ok {
		return fmt.Errorf("couldn't delete PKCS#11 key: %T is not a key on a token", s)
	}
	if err := k.Delete(); err != nil {
		return fmt.Errorf("couldn't delete PKCS#11 key: %w", err)
	}
	return nil
}

// GeneratePKCS11 creates an ECDSA key pair of type t on the token a PKCS#11
// URI names (its object label and id), refusing if one already exists.
func GeneratePKCS11(uri string, t KeyType) (crypto.Signer, io.Closer, error) {
	u, err := ParsePKCS11URI(uri)
	if err != nil {
		return nil, nil, err
	}
	curve, err := t.Curve()
	if err != nil {
		return nil, nil, err
	}
	ctx, err := u.context()
	if err != nil {
		return nil, nil, err
	}
	if existing, err := ctx.FindKeyPair(u.ID, u.label()); err == nil && existing != nil {
		ctx.Close()
		which := fmt.Sprintf("label %q", u.Object)
		if len(u.ID) > 0 {
			which += fmt.Sprintf(" id %x", u.ID)
		}
		return nil, nil, fmt.Errorf("couldn't generate PKCS#11 key: a key pair with %s already exists on the token", which)
	}
	id := u.ID
	if len(id) == 0 {
		id = []byte(u.Object)
	}
	var s crypto.Signer
	if u.Object != "" {
		s, err = ctx.GenerateECDSAKeyPairWithLabel(id, []byte(u.Object), curve)
	} else {
		s, err = ctx.GenerateECDSAKeyPair(id, curve)
	}
	if err != nil {
		ctx.Close()
		return nil, nil, fmt.Errorf("couldn't generate PKCS#11 key: %w", err)
	}
	return s, ctx, nil
}

// maxSmallFile bounds what readSmall reads: a key, a password or a PIN is
// a few kilobytes at most.
const maxSmallFile = 1 << 20

// readSmall reads a file of at most maxSmallFile bytes, so that a wrong
// path (/dev/zero, a disk image) fails instead of exhausting memory.
func readSmall(path string) ([]byte, error) {
	b, err := fsutil.ReadFileMax(path, maxSmallFile)
	if errors.Is(err, fsutil.ErrTooLarge) {
		return nil, fmt.Errorf("%s is larger than %d bytes: not a key, password or PIN file", path, maxSmallFile)
	}
	return b, err
}
