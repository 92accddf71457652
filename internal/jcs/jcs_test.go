package jcs

import (
	"encoding/json"
	"testing"
)

func TestAppendString(t *testing.T) {
	for in, want := range map[string]string{
		"abc":         `"abc"`,
		"a\"b\\c":     `"a\"b\\c"`,
		"\n\t\r\b\f":  `"\n\t\r\b\f"`,
		"\x01\x1f":    `"\u0001\u001f"`,
		"</&>":        `"</&>"`,
		"é€😀":         `"é€😀"`,
		"\u2028":      "\"\u2028\"",
		"bad\xffutf8": "\"bad\ufffdutf8\"",
		"":            `""`,
		"\x7f":        "\"\x7f\"",
	} {
		got := string(AppendString(nil, in))
		if got != want {
			t.Errorf("AppendString(%q) = %s, want %s", in, got, want)
		}
		var back string
		if err := json.Unmarshal([]byte(got), &back); err != nil {
			t.Errorf("output %s is not JSON: %v", got, err)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	f.Add("hello\n\"")
	f.Fuzz(func(t *testing.T, s string) {
		out := AppendString(nil, s)
		var back string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("%q -> %s: %v", s, out, err)
		}
	})
}
