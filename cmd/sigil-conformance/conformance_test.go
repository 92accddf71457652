package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"sigil.dev/sigil/internal/cli"
	"sigil.dev/sigil/internal/vectors"
	"sigil.dev/sigil/tuf"
	"sigil.dev/sigil/tuf/client"
)

// fakePublicGood stands in for the public-good TUF repository: a dev TUF
// service on loopback publishing the given trusted root and signing
// config, which the adapter uses when the suite passes no --trusted-root
// (or --signing-config). The user cache directory is a fresh one, and so
// is the `sigil trust init` cache, which the adapter must not need.
func fakePublicGood(t *testing.T, trustedRoot, signingConfig []byte) {
	t.Helper()
	fakeRepo(t, &publicGood, trustedRoot, signingConfig)
}

// fakeRepo makes repo (publicGood or staging) a stand-in serving the given
// documents.
func fakeRepo(t *testing.T, repo *tufRepo, trustedRoot, signingConfig []byte) {
	t.Helper()
	svc, err := tuf.New(tuf.Config{Dir: t.TempDir(), Dev: true})
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{client.TargetTrustedRoot: trustedRoot}
	if signingConfig != nil {
		files[client.TargetSigningConfig] = signingConfig
	}
	if err := svc.SetTargets(files); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/tuf/", http.StripPrefix("/tuf", svc.Handler()))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	root, err := svc.RootJSON()
	if err != nil {
		t.Fatal(err)
	}
	old := *repo
	repo.mirror, repo.root = srv.URL+"/tuf", root
	t.Cleanup(func() { *repo = old })
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	t.Setenv("SIGIL_TUF_CACHE", t.TempDir())
}

// TestConformance runs the 140 judgements of the Sigstore conformance
// verification suite through the same entry point and protocol the suite
// uses: every vector twice, with the artifact path and with its digest;
// a vector whose name ends in _fail must exit non-zero, any other zero.
// As in the suite (test/client.py build_verify_args), --trusted-root is
// passed only for a vector with a trusted_root.json of its own; the others
// rely on the public-good root, which the adapter fetches through TUF
// (here from a stand-in serving the production root of the vectors).
func TestConformance(t *testing.T) {
	dir := vectors.Require(t)
	prod, err := os.ReadFile(filepath.Join(dir, "production_trusted_root.json"))
	if err != nil {
		t.Fatal(err)
	}
	fakePublicGood(t, prod, nil)
	cases, err := vectors.Cases(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) != 70 {
		t.Fatalf("found %d vectors, want 70", len(cases))
	}
	judged, passed := 0, 0
	for _, c := range cases {
		digest, err := c.ArtifactDigest()
		if err != nil {
			t.Fatal(err)
		}
		for _, input := range []struct{ kind, arg string }{{"PATH", c.Artifact}, {"DIGEST", digest}} {
			t.Run(input.kind+"-"+c.Name, func(t *testing.T) {
				args := []string{"verify-bundle", "--bundle", c.Bundle}
				if c.Key != "" {
					args = append(args, "--key", c.Key)
				} else {
					args = append(args, "--certificate-identity", c.Identity, "--certificate-oidc-issuer", c.Issuer)
				}
				if !c.DefaultRoot {
					args = append(args, "--trusted-root", c.TrustedRoot)
				}
				args = append(args, input.arg)
				judged++
				code := run(args)
				if c.ShouldFail && code == 0 {
					t.Errorf("verification succeeded, want failure")
					return
				}
				if !c.ShouldFail && code != 0 {
					t.Errorf("verification failed (exit %d), want success", code)
					return
				}
				passed++
			})
		}
	}
	t.Logf("conformance: %d of %d judgements passed", passed, judged)
	if judged != 140 {
		t.Errorf("judged %d, want 140", judged)
	}
}

// TestNoLogsRoot: sigstore-go's conformance client requires a log entry
// only when the trusted root lists logs, sigil verify-blob always by
// default. The adapter bridges the two for a key-signed bundle stamped by
// a TSA only (sigstore-go's test data), whose root lists no logs.
func TestNoLogsRoot(t *testing.T) {
	dir := filepath.Join(vectors.Require(t), "extra")
	p := func(s string) string { return filepath.Join(dir, s) }
	art := filepath.Join(t.TempDir(), "a.txt")
	if err := os.WriteFile(art, []byte("test content"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"--bundle", p("bundles/public-key-validity.sigstore.json"), "--key", p("public-keys/public-key-validity.pem"),
		"--trusted-root", p("trusted-roots/public-key-validity.json"), art}
	if code := run(append([]string{"verify-bundle"}, args...)); code != 0 {
		t.Errorf("sigil-conformance verify-bundle: exit %d, want 0", code)
	}
	if code := cli.Main(append([]string{"verify-blob"}, args...), io.Discard, io.Discard); code == 0 {
		t.Error("sigil verify-blob accepted a bundle without a log entry against a root without logs")
	}
}

// TestNoLogsRootLastTrustedRootCounts: given --trusted-root twice,
// verify-blob (like sigstore-go's client) uses the last one, so the
// adapter must judge whether logs are required from that one too. A root
// without logs first and one with logs last used to turn the log
// requirement off for the root with logs: a bundle without a log entry
// verified.
func TestNoLogsRootLastTrustedRootCounts(t *testing.T) {
	dir := vectors.Require(t)
	extra := filepath.Join(dir, "extra")
	p := func(s string) string { return filepath.Join(extra, s) }
	noLogsRoot, err := os.ReadFile(p("trusted-roots/public-key-validity.json"))
	if err != nil {
		t.Fatal(err)
	}
	prod, err := os.ReadFile(filepath.Join(dir, "production_trusted_root.json"))
	if err != nil {
		t.Fatal(err)
	}
	// The TSA of the bundle's root, plus the public-good logs.
	var root, logs map[string]json.RawMessage
	if err := json.Unmarshal(noLogsRoot, &root); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(prod, &logs); err != nil {
		t.Fatal(err)
	}
	root["tlogs"] = logs["tlogs"]
	withLogs, err := json.Marshal(root)
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	withLogsFile := filepath.Join(tmp, "with-logs.json")
	art := filepath.Join(tmp, "a.txt")
	if err := os.WriteFile(withLogsFile, withLogs, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(art, []byte("test content"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := []string{"verify-bundle", "--bundle", p("bundles/public-key-validity.sigstore.json"), "--key", p("public-keys/public-key-validity.pem")}
	for _, roots := range [][]string{
		{"--trusted-root", withLogsFile},
		{"--trusted-root", p("trusted-roots/public-key-validity.json"), "--trusted-root", withLogsFile},
		{"--trusted-root=" + p("trusted-roots/public-key-validity.json"), "--trusted-root=" + withLogsFile},
	} {
		args := append(append(slices.Clone(base), roots...), art)
		if code := run(args); code == 0 {
			t.Errorf("%v: a bundle without a log entry verified against a root that lists logs", roots)
		}
	}
	// And the other way round: the root without logs last still verifies.
	args := append(append(slices.Clone(base), "--trusted-root", withLogsFile, "--trusted-root", p("trusted-roots/public-key-validity.json")), art)
	if code := run(args); code != 0 {
		t.Errorf("root without logs last: exit %d, want 0", code)
	}
}
