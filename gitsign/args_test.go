package gitsign

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseGPGArgs(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want gpgArgs
	}{
		{[]string{"--status-fd=2", "-bsau", "Alice <a@x>"}, gpgArgs{sign: true, detach: true, armor: true, localUser: "Alice <a@x>", statusFD: 2}},
		{[]string{"--status-fd", "1", "--verify", "s", "-"}, gpgArgs{verify: true, statusFD: 1, rest: []string{"s", "-"}}},
		{[]string{"-bsaukey"}, gpgArgs{sign: true, detach: true, armor: true, localUser: "key", statusFD: -1}},
		{[]string{"--detached-sign", "--armor", "--local-user=k", "--include-certs", "-2", "--keyid-format=long"}, gpgArgs{detach: true, armor: true, localUser: "k", statusFD: -1}},
		{[]string{"-v", "--", "-sig", "-"}, gpgArgs{verify: true, statusFD: -1, rest: []string{"-sig", "-"}}},
	} {
		got, err := parseGPGArgs(tc.args)
		if err != nil || !reflect.DeepEqual(*got, tc.want) {
			t.Errorf("%q: %+v %v, want %+v", tc.args, got, err, tc.want)
		}
	}
}

func FuzzParseGPGArgs(f *testing.F) {
	f.Add("--status-fd=2\x00-bsau\x00key")
	f.Add("--status-fd=1\x00--verify\x00f\x00-")
	f.Fuzz(func(t *testing.T, s string) {
		g, err := parseGPGArgs(strings.Split(s, "\x00"))
		if err == nil && g == nil {
			t.Fatal("no result and no error")
		}
	})
}
