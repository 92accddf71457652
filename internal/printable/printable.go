// Package printable makes text that another party chose (a service's error
// answer, an issuer's words, a log entry's fields) safe to print on a
// terminal: a terminal escape in it could erase an error and print a
// verdict, and a bidirectional override could show a URL's end first.
package printable

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Text returns s with invalid UTF-8, control characters (terminal escapes,
// newlines) and bidirectional formatting characters replaced by "?".
func Text(s string) string {
	return strings.Map(func(r rune) rune {
		if r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			return '?'
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
}

// Cut is Text of s's first max bytes, ending in "…" when s was longer (an
// HTML error page quoted whole would fill the screen).
func Cut(s string, max int) string {
	if len(s) <= max {
		return Text(s)
	}
	return Text(s[:max]) + "…"
}
