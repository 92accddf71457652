package printable

import "testing"

func TestText(t *testing.T) {
	for in, want := range map[string]string{
		"plain words":                "plain words",
		"a\x1b]0;title\x07b":         "a?]0;title?b",
		"line\nbreak\r":              "line?break?",
		"\u202egnp.exe":              "?gnp.exe",
		"bad \xff utf8":              "bad ? utf8",
		"c1 \u009b31m":               "c1 ?31m",
		"ünïcödé stays":              "ünïcödé stays",
		"\u2066isolate\u2069 too":    "?isolate? too",
		"":                           "",
		"zero\u200bwidth is printed": "zero\u200bwidth is printed",
	} {
		if got := Text(in); got != want {
			t.Errorf("Text(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCut(t *testing.T) {
	if got := Cut("abcdef", 6); got != "abcdef" {
		t.Errorf("got %q", got)
	}
	if got := Cut("abcdefg", 6); got != "abcdef…" {
		t.Errorf("got %q", got)
	}
	// A cut inside a multi-byte character leaves a "?", not invalid UTF-8.
	if got := Cut("abcdeé", 6); got != "abcde?…" {
		t.Errorf("got %q", got)
	}
	if got := Cut("a\x1bbcdefgh", 4); got != "a?bc…" {
		t.Errorf("got %q", got)
	}
}
