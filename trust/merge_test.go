package trust_test

import (
	"bytes"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"sigil.dev/sigil/internal/testpki"
	"sigil.dev/sigil/trust"
)

// The parts that the hosts of a split deployment publish merge back into
// the whole trusted root, each item once; an item two parts describe
// differently is refused.
func TestMergeTrustedRoots(t *testing.T) {
	pki, err := testpki.New(testpki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	whole, err := pki.TrustedRoot()
	if err != nil {
		t.Fatal(err)
	}
	part := func() *trust.TrustedRoot {
		return &trust.TrustedRoot{TLogs: map[string]*trust.Log{}, CTLogs: map[string]*trust.Log{}}
	}
	caHost, logHost, tsaHost := part(), part(), part()
	caHost.CAs, caHost.CTLogs = whole.CAs, whole.CTLogs
	logHost.TLogs = whole.TLogs
	tsaHost.TSAs = whole.TSAs
	tsaHost.CAs = whole.CAs // listed twice, identically
	merged, err := trust.MergeTrustedRoots(caHost, logHost, tsaHost)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := whole.Marshal()
	got, err := merged.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("merged:\n%s\nwant:\n%s", got, want)
	}
	if _, err := trust.ParseTrustedRoot(got); err != nil {
		t.Fatalf("the merged trusted root does not parse: %v", err)
	}

	// The same log under another URL.
	moved := part()
	for id, l := range whole.TLogs {
		c := *l
		c.BaseURL = "https://elsewhere.example"
		moved.TLogs[id] = &c
		break
	}
	if _, err := trust.MergeTrustedRoots(logHost, moved); err == nil || !strings.Contains(err.Error(), "described differently") {
		t.Fatalf("a log described two ways: %v", err)
	}
	// The same CA chain with another validity.
	ca := *whole.CAs[0]
	ca.Valid.End = time.Now()
	other := part()
	other.CAs = []*trust.CA{&ca}
	if _, err := trust.MergeTrustedRoots(caHost, other); err == nil || !strings.Contains(err.Error(), "described differently") {
		t.Fatalf("a CA described two ways: %v", err)
	}
}

// A host names a service it only knows by URL (no operator, valid since
// 1970); the running host's own description of it wins.
func TestMergeSigningConfigs(t *testing.T) {
	since := func(y int) trust.Window { return trust.Window{Start: time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC)} }
	svc := func(url string, v uint32, op string, y int) trust.Service {
		return trust.Service{URL: url, MajorAPIVersion: v, Valid: since(y), Operator: op}
	}
	caHost := &trust.SigningConfig{
		CAs:           []trust.Service{svc("https://ca.example", 1, "ca.example", 2026)},
		OIDCProviders: []trust.Service{svc("https://idp.example", 1, "", 1970)},
		Rekors:        []trust.Service{svc("https://log.example/", 1, "", 1970)},
		TSAs:          []trust.Service{svc("https://ca.example/api/v1/timestamp", 1, "ca.example", 2026)},
		RekorConfig:   trust.ServiceConfig{Selector: trust.SelectAny},
		TSAConfig:     trust.ServiceConfig{Selector: trust.SelectAny},
	}
	logHost := &trust.SigningConfig{
		Rekors:      []trust.Service{svc("https://log.example", 2, "log.example", 2026), svc("https://log.example", 1, "log.example", 2026)},
		RekorConfig: trust.ServiceConfig{Selector: trust.SelectAny},
	}
	tufHost := &trust.SigningConfig{
		CAs:           []trust.Service{svc("https://ca.example", 1, "", 1970)},
		OIDCProviders: []trust.Service{svc("https://idp.example", 1, "", 1970)},
	}
	m, err := trust.MergeSigningConfigs(tufHost, caHost, logHost)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.CAs) != 1 || m.CAs[0].Operator != "ca.example" {
		t.Errorf("CAs: %+v", m.CAs)
	}
	if len(m.OIDCProviders) != 1 {
		t.Errorf("OIDC providers: %+v", m.OIDCProviders)
	}
	if len(m.Rekors) != 2 || m.Rekors[0] != logHost.Rekors[1] || m.Rekors[1] != logHost.Rekors[0] {
		t.Errorf("logs: %+v", m.Rekors)
	}
	if len(m.TSAs) != 1 || m.RekorConfig.Selector != trust.SelectAny || m.TSAConfig.Selector != trust.SelectAny {
		t.Errorf("TSAs %+v, selectors %+v %+v", m.TSAs, m.RekorConfig, m.TSAConfig)
	}
	raw, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := trust.ParseSigningConfig(raw); err != nil {
		t.Fatalf("the merged signing config does not parse: %v", err)
	}
	// Lists without a selector get ANY.
	if m, err := trust.MergeSigningConfigs(tufHost, &trust.SigningConfig{Rekors: logHost.Rekors}); err != nil || m.RekorConfig.Selector != trust.SelectAny {
		t.Errorf("no selector: %+v %v", m, err)
	}

	for name, c := range map[string]*trust.SigningConfig{
		"two operators":  {CAs: []trust.Service{svc("https://ca.example/", 1, "other.example", 2026)}},
		"two validities": {CAs: []trust.Service{svc("https://ca.example", 1, "ca.example", 2025)}},
		"two selectors":  {Rekors: logHost.Rekors, RekorConfig: trust.ServiceConfig{Selector: trust.SelectAll}},
	} {
		if _, err := trust.MergeSigningConfigs(caHost, logHost, c); err == nil || !strings.Contains(err.Error(), "differ") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// A timestamp authority's chain must end in its anchor: a leaf alone (not
// self-signed) or a chain given root first is refused, where it used to
// make the leaf its own trust anchor (found by a differential audit).
func TestTSAChainNeedsItsAnchor(t *testing.T) {
	pki, err := testpki.New(testpki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	w := trust.Window{Start: pki.Start}
	if _, err := trust.NewCA([]*x509.Certificate{pki.TSACrt, pki.TSARoot}, w, true); err != nil {
		t.Fatalf("leaf, root: %v", err)
	}
	for name, chain := range map[string][]*x509.Certificate{
		"leaf alone": {pki.TSACrt},
		"root first": {pki.TSARoot, pki.TSACrt},
	} {
		if _, err := trust.NewCA(chain, w, true); err == nil || !strings.Contains(err.Error(), "lacks its trust anchor") {
			t.Errorf("%s: %v", name, err)
		}
	}
}
