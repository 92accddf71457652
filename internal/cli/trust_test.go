package cli

import (
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"sigil.dev/sigil/internal/testpki"
	"sigil.dev/sigil/trust"
	"sigil.dev/sigil/tuf/client"
)

// TestTUFCacheValidity: --tuf-cache-validity, else $SIGIL_TUF_CACHE_VALIDITY,
// else client.DefaultCacheValidity reach the TUF client; a trustFlags
// without flags (trust init) updates every time; a malformed variable
// fails the load with a message naming it.
func TestTUFCacheValidity(t *testing.T) {
	tests := []struct {
		name    string
		env     string // "" leaves it unset
		args    []string
		want    time.Duration
		wantErr string
	}{
		{name: "default", want: client.DefaultCacheValidity},
		{name: "flag", args: []string{"--tuf-cache-validity", "1h"}, want: time.Hour},
		{name: "flag zero", args: []string{"--tuf-cache-validity", "0"}, want: 0},
		{name: "environment", env: "90s", want: 90 * time.Second},
		{name: "environment zero", env: "0", want: 0},
		{name: "flag over environment", env: "90s", args: []string{"--tuf-cache-validity", "2m"}, want: 2 * time.Minute},
		{name: "bad environment", env: "soon", want: client.DefaultCacheValidity, wantErr: "SIGIL_TUF_CACHE_VALIDITY"},
		{name: "negative environment", env: "-1m", want: client.DefaultCacheValidity, wantErr: "SIGIL_TUF_CACHE_VALIDITY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("SIGIL_TUF_CACHE", t.TempDir())
			if tt.env != "" {
				t.Setenv(client.CacheValidityEnv, tt.env)
			}
			var f trustFlags
			fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
			f.register(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			if got := f.options().CacheValidity; got != tt.want {
				t.Errorf("CacheValidity = %v, want %v", got, tt.want)
			}
			_, err := f.loadTrustedRoot()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("load: %v, want an error naming %s", err, tt.wantErr)
				}
			} else if err == nil || !strings.Contains(err.Error(), "sigil trust init") {
				t.Errorf("load without TUF set up: %v", err)
			}
		})
	}
	t.Setenv(client.CacheValidityEnv, "1h")
	if got := (&trustFlags{}).options().CacheValidity; got != 0 {
		t.Errorf("trustFlags without flags: CacheValidity %v, want 0", got)
	}
}

// TestTUFCacheValidityFlagWhere: the commands that load trust take
// --tuf-cache-validity; trust show, which is how a user updates, does not.
func TestTUFCacheValidityFlagWhere(t *testing.T) {
	for _, args := range [][]string{{"sign-blob"}, {"attest-blob"}, {"verify-blob"}, {"verify-blob-attestation"}, {"trust", "show"}} {
		c, _, err := newRoot(nil, nil).Find(args)
		if err != nil {
			t.Fatal(err)
		}
		has := c.Flags().Lookup("tuf-cache-validity") != nil
		if want := args[0] != "trust"; has != want {
			t.Errorf("%v: --tuf-cache-validity registered: %v, want %v", args, has, want)
		}
	}
}

// TestPrintTrustShortLogID: trust show prints a log whose ID in the
// trusted root is shorter than the 16 hex digits it shows (the trusted
// root format does not fix its length) instead of panicking.
func TestPrintTrustShortLogID(t *testing.T) {
	p, err := testpki.New(testpki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := p.TrustedRoot()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := tr.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"tlogs", "ctlogs"} {
		for _, l := range m[kind].([]any) {
			l.(map[string]any)["logId"] = map[string]any{"keyId": "AQID"} // 3 bytes
		}
	}
	raw, _ = json.Marshal(m)
	short, err := trust.ParseTrustedRoot(raw)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	printTrust(&out, &client.Status{}, short, nil, errors.New("none"))
	if !strings.Contains(out.String(), "key 010203") {
		t.Errorf("output:\n%s", out.String())
	}
}

// TestGitTUFCacheValidityMalformed: under git, a malformed
// $SIGIL_TUF_CACHE_VALIDITY fails naming it, as for the other commands,
// instead of leaving the ten-minute default in force unsaid.
func TestGitTUFCacheValidityMalformed(t *testing.T) {
	t.Setenv(client.CacheValidityEnv, "5min")
	t.Setenv("SIGIL_TUF_CACHE", t.TempDir())
	g := &gitSettings{}
	if _, err := g.verifier(); err == nil || !strings.Contains(err.Error(), client.CacheValidityEnv) {
		t.Fatalf("verifier = %v, want an error naming $%s", err, client.CacheValidityEnv)
	}
	if _, err := g.signer(io.Discard, false); err == nil || !strings.Contains(err.Error(), client.CacheValidityEnv) {
		t.Fatalf("signer = %v, want an error naming $%s", err, client.CacheValidityEnv)
	}
}
