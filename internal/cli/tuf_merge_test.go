package cli

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigil.dev/sigil/internal/testpki"
	"sigil.dev/sigil/server"
	"sigil.dev/sigil/server/servertest"
	"sigil.dev/sigil/trust"
)

// A deployment split over two hosts — the CA with its CT log, the TSA and
// the dev issuer on one, the transparency logs on the other — has no host
// whose trusted root lists everything; the two parts each host serves,
// merged with `sigil tuf merge`, sign and verify end to end, and the
// ceremony refuses either part alone.
func TestSplitDeploymentMerge(t *testing.T) {
	listen := func() net.Listener {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	lCA, lLog := listen(), listen()
	urlCA, urlLog := "http://"+lCA.Addr().String(), "http://"+lLog.Addr().String()
	caHost := servertest.StartConfig(t, server.Config{Dev: true, Services: []string{"ca", "ct", "tsa", "oidc"},
		Remote: server.RemoteURLs{TLog: urlLog}}, lCA)
	logHost := servertest.StartConfig(t, server.Config{Dev: true, Services: []string{"tlog"},
		Remote: server.RemoteURLs{CA: urlCA}}, lLog)

	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	_, summary := sigil(t, "tuf", "merge", caHost.TrustedRootFile, logHost.TrustedRootFile, "--out", p("trusted_root.json"))
	if !strings.Contains(summary, "1 certificate authorities, 1 CT logs, 2 transparency logs, 1 timestamp authorities") || strings.Contains(summary, "incomplete") {
		t.Errorf("merge summary: %s", summary)
	}
	_, summary = sigil(t, "tuf", "merge", caHost.SigningConfigFile, logHost.SigningConfigFile, "--out", p("signing_config.json"))
	if !strings.Contains(summary, "1 CAs, 1 OIDC providers, 2 transparency logs (ANY), 1 timestamp authorities (ANY)") {
		t.Errorf("merge summary: %s", summary)
	}
	raw, err := os.ReadFile(p("signing_config.json"))
	if err != nil {
		t.Fatal(err)
	}
	sc, err := trust.ParseSigningConfig(raw)
	if err != nil {
		t.Fatal(err)
	}
	// The log host's own description of its v1 log replaced the CA
	// host's remote: entry for it (valid since 1970, no operator).
	for _, r := range sc.Rekors {
		if r.URL != urlLog || r.Operator == "" {
			t.Errorf("merged log entry %+v", r)
		}
	}
	if e := sigilFails(t, "tuf", "merge", caHost.TrustedRootFile, logHost.SigningConfigFile); !strings.Contains(e, "merge each kind on its own") {
		t.Errorf("mixed kinds: %s", e)
	}

	art := p("a.txt")
	os.WriteFile(art, []byte("split deployment"), 0o644)
	for _, v := range []string{"", "1"} {
		b := p("a" + v + ".sigstore.json")
		args := []string{"sign-blob", art, "--bundle", b, "--identity-token", caHost.Token(t), "--trusted-root", p("trusted_root.json"), "--signing-config", p("signing_config.json")}
		if v != "" {
			args = append(args, "--rekor-url", urlLog) // the Rekor v1 API
		}
		_, stderr := sigil(t, args...)
		if !strings.Contains(stderr, urlLog) {
			t.Errorf("sign-blob %s did not log to the log host:\n%s", v, stderr)
		}
		sigil(t, "verify-blob", art, "--bundle", b, "--certificate-identity", "dev@sigil.test", "--certificate-oidc-issuer", urlCA+"/oidc", "--trusted-root", p("trusted_root.json"))
		if e := sigilFails(t, "verify-blob", art, "--bundle", b, "--certificate-identity", "dev@sigil.test", "--certificate-oidc-issuer", urlCA+"/oidc", "--trusted-root", caHost.TrustedRootFile); !strings.Contains(e, "lists no transparency logs") || !strings.Contains(e, "sigil tuf merge") {
			t.Errorf("verify-blob against the CA host's part alone: %s", e)
		}
	}

	// The ceremony takes the merged root and refuses a part.
	sigil(t, "tuf", "keygen", "--out", p("k.pem"), "--plain", "--type", "ecdsa-p256")
	sigil(t, "tuf", "keygen", "--out", p("online.pem"), "--plain", "--type", "ecdsa-p256")
	sigil(t, "tuf", "init", "--repo", p("ceremony"), "--root-key", p("k.pem.pub"), "--targets-key", p("k.pem.pub"), "--snapshot-key", p("online.pem.pub"), "--timestamp-key", p("online.pem.pub"))
	if e := sigilFails(t, "tuf", "add-target", "--repo", p("ceremony"), logHost.TrustedRootFile+"=trusted_root.json"); !strings.Contains(e, "sigil tuf merge") {
		t.Errorf("add-target of a part: %s", e)
	}
	sigil(t, "tuf", "add-target", "--repo", p("ceremony"), p("trusted_root.json"), p("signing_config.json")+"=signing_config.v0.2.json")
}

// TestMergePrevious: merging after a rotation with --previous keeps the
// replaced CA and logs, their validity ending now, and another operator's
// entries as published; signing configs take no --previous.
func TestMergePrevious(t *testing.T) {
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	write := func(name string, pki *testpki.PKI) {
		tr, err := pki.TrustedRoot()
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := tr.Marshal()
		if err := os.WriteFile(p(name), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	oldPKI, _ := testpki.New(testpki.Options{})
	newPKI, _ := testpki.New(testpki.Options{})
	write("previous.json", oldPKI)
	write("current.json", newPKI)
	before := time.Now().Add(-time.Second)
	_, summary := sigil(t, "tuf", "merge", p("current.json"), "--previous", p("previous.json"), "--out", p("merged.json"))
	if !strings.Contains(summary, "2 certificate authorities") || !strings.Contains(summary, "from --previous: retired certificate authority") {
		t.Errorf("summary: %s", summary)
	}
	raw, _ := os.ReadFile(p("merged.json"))
	merged, err := trust.ParseTrustedRoot(raw)
	if err != nil {
		t.Fatal(err)
	}
	old := merged.CAs[0]
	if !old.Root.Equal(oldPKI.Root) || old.Valid.End.Before(before) || old.Valid.End.After(time.Now().Add(time.Second)) {
		t.Errorf("retired CA: root %s, valid %s", old.Root.Subject, old.Valid)
	}
	if cur := merged.CAs[1]; !cur.Root.Equal(newPKI.Root) || !cur.Valid.End.IsZero() {
		t.Errorf("current CA: root %s, valid %s", cur.Root.Subject, cur.Valid)
	}
	// Without --previous the old CA is gone.
	_, summary = sigil(t, "tuf", "merge", p("current.json"))
	if !strings.Contains(summary, "1 certificate authorities") {
		t.Errorf("summary without --previous: %s", summary)
	}
	sc := p("sc.json")
	os.WriteFile(sc, []byte(`{"mediaType":"application/vnd.dev.sigstore.signingconfig.v0.2+json"}`), 0o644)
	if e := sigilFails(t, "tuf", "merge", sc, "--previous", p("previous.json")); !strings.Contains(e, "--previous applies to trusted roots") {
		t.Errorf("signing config with --previous: %s", e)
	}
}
