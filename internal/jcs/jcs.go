// Package jcs writes JSON in the RFC 8785 canonical form (JCS) for the small,
// fixed shapes Sigstore hashes and signs: Rekor canonical bodies, the SET
// payload and Rekor v2 entries. Callers emit object members in sorted key
// order themselves; this package gets string and integer encoding exactly
// right, which is where hand-written canonical JSON usually goes wrong.
//
// RFC 8785 §3.2.2.2: strings are written as ECMAScript JSON.stringify does:
// '"' and '\\' are escaped, U+0008, U+0009, U+000A, U+000C, U+000D use their
// short escapes, other code points below U+0020 use \u00xx with lowercase
// hex, and everything else (including '/', '<', '>', '&' and non-ASCII) is
// written as UTF-8 unchanged.
package jcs

import (
	"strconv"
	"unicode/utf8"
)

// AppendString appends s as a canonical JSON string. Invalid UTF-8 is
// replaced by U+FFFD, as a JSON producer must not emit it.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, s[start:i]...)
				dst = append(dst, "\ufffd"...)
				i += size
				start = i
				continue
			}
			i += size
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"':
			dst = append(dst, '\\', '"')
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\t':
			dst = append(dst, '\\', 't')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\r':
			dst = append(dst, '\\', 'r')
		default:
			const hex = "0123456789abcdef"
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// AppendInt appends an integer. JCS serialises numbers as ECMAScript does;
// for integers of magnitude below 2^53 that is the plain decimal form.
func AppendInt(dst []byte, v int64) []byte { return strconv.AppendInt(dst, v, 10) }

// Key appends a member name and the colon that follows it, preceded by a
// comma unless first is true.
func Key(dst []byte, name string, first bool) []byte {
	if !first {
		dst = append(dst, ',')
	}
	dst = AppendString(dst, name)
	return append(dst, ':')
}
