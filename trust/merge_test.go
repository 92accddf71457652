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

	// A log host that serves only the v2 API (tlog.disableV1): the CA
	// host's remote entry, named as v1, is no v1 log to send clients to.
	v2Only := &trust.SigningConfig{Rekors: logHost.Rekors[:1], RekorConfig: trust.ServiceConfig{Selector: trust.SelectAny}}
	if m, err := trust.MergeSigningConfigs(tufHost, caHost, v2Only); err != nil || len(m.Rekors) != 1 || m.Rekors[0] != logHost.Rekors[0] {
		t.Errorf("v2-only log host: %+v %v", m, err)
	}
	// A remote log no input describes stays.
	if m, err := trust.MergeSigningConfigs(caHost); err != nil || len(m.Rekors) != 1 || m.Rekors[0] != caHost.Rekors[0] {
		t.Errorf("remote log alone: %+v %v", m, err)
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

// TestKeepRetired: after a rotation, the authorities and logs the previous
// trusted root listed stay, their open validity closed at the rotation;
// what both list appears once, as current describes it.
func TestKeepRetired(t *testing.T) {
	oldPKI, err := testpki.New(testpki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	newPKI, err := testpki.New(testpki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	previous, _ := oldPKI.TrustedRoot()
	current, _ := newPKI.TrustedRoot()
	// The TSA did not rotate: current lists the same one, with a new
	// operator (current's description wins).
	sameTSA := *previous.TSAs[0]
	sameTSA.Operator = "now"
	current.TSAs = []*trust.CA{&sameTSA}
	// One of the old logs was already retired, at a known time.
	closedAt := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var closedID string
	for id, l := range previous.TLogs {
		c := *l
		c.Valid.End = closedAt
		previous.TLogs[id] = &c
		closedID = id
		break
	}
	// The published root also trusts another operator's CA: kept as is.
	otherPKI, err := testpki.New(testpki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	other, _ := otherPKI.TrustedRoot()
	foreign := *other.CAs[0]
	foreign.URI = "https://fulcio.elsewhere.example"
	previous.CAs = append(previous.CAs, &foreign)
	at := time.Date(2026, 11, 28, 12, 0, 0, 500, time.UTC)
	got, kept := trust.KeepRetired(current, previous, at)
	if len(kept) != 2+len(previous.TLogs)+len(previous.CTLogs) {
		t.Errorf("kept %d items: %q", len(kept), kept)
	}
	if len(got.CAs) != 3 || chainOf(got.CAs[0]) != chainOf(previous.CAs[0]) || chainOf(got.CAs[1]) != chainOf(&foreign) || chainOf(got.CAs[2]) != chainOf(current.CAs[0]) {
		t.Fatalf("CAs %v: want the retired one, the foreign one, then the current one", got.CAs)
	}
	if got.CAs[1].Valid != foreign.Valid {
		t.Errorf("another operator's CA: valid %s, want %s as published", got.CAs[1].Valid, foreign.Valid)
	}
	if want := (trust.Window{Start: previous.CAs[0].Valid.Start, End: at.Truncate(time.Second).Add(time.Second)}); got.CAs[0].Valid != want {
		t.Errorf("retired CA valid %s, want %s", got.CAs[0].Valid, want)
	}
	if got.CAs[2].Valid != current.CAs[0].Valid {
		t.Errorf("current CA valid %s", got.CAs[2].Valid)
	}
	if len(got.TSAs) != 1 || got.TSAs[0].Operator != "now" {
		t.Errorf("TSAs %v: want current's description only", got.TSAs)
	}
	for id, l := range previous.TLogs {
		want := at.Truncate(time.Second).Add(time.Second) // rounded up
		if id == closedID {
			want = closedAt
		}
		if g := got.TLogs[id]; g == nil || !g.Valid.End.Equal(want) || g.Valid.Start != l.Valid.Start {
			t.Errorf("retired log %s: %v, want end %s", id, g, want)
		}
	}
	for id, l := range current.TLogs {
		if g := got.TLogs[id]; g == nil || !g.Valid.End.IsZero() || g.Valid.Start != l.Valid.Start {
			t.Errorf("current log %s: %v", id, g)
		}
	}
	if len(got.CTLogs) != len(previous.CTLogs)+len(current.CTLogs) {
		t.Errorf("%d CT logs", len(got.CTLogs))
	}
	if previous.CAs[0].Valid.End != (time.Time{}) {
		t.Error("KeepRetired changed previous")
	}
	raw, err := got.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := trust.ParseTrustedRoot(raw); err != nil {
		t.Fatalf("the result does not parse: %v", err)
	}
	// KeepReplaced: the same without the foreign CA.
	own := trust.KeepReplaced(current, previous, at)
	if len(own.CAs) != 2 || chainOf(own.CAs[0]) != chainOf(previous.CAs[0]) || own.CAs[0].Valid != got.CAs[0].Valid || chainOf(own.CAs[1]) != chainOf(current.CAs[0]) {
		t.Errorf("KeepReplaced CAs %v: want the retired one, then the current one", own.CAs)
	}
	if len(own.TLogs) != len(got.TLogs) {
		t.Errorf("KeepReplaced: %d logs, want %d", len(own.TLogs), len(got.TLogs))
	}
	// Nothing retired: current unchanged.
	same, kept := trust.KeepRetired(current, current, at)
	a, _ := same.Marshal()
	b, _ := current.Marshal()
	if len(kept) != 0 || !bytes.Equal(a, b) {
		t.Errorf("nothing retired, yet kept %q or changed the root", kept)
	}
}

func chainOf(c *trust.CA) string {
	s := ""
	for _, x := range append(append([]*x509.Certificate{c.Leaf}, c.Intermediates...), c.Root) {
		if x != nil {
			s += string(x.Raw)
		}
	}
	return s
}

// TestKeepRetiredKeepsPublishedOrder: a published root that lists the
// server's CA before another operator's (as "sigil tuf merge own.json
// other.json" orders them) comes back unchanged; KeepRetired put the
// other operator's CA first, so in production every start staged a
// reordered trusted root and asked for the ceremony again.
func TestKeepRetiredKeepsPublishedOrder(t *testing.T) {
	ownPKI, err := testpki.New(testpki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	otherPKI, err := testpki.New(testpki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	own, _ := ownPKI.TrustedRoot()
	other, _ := otherPKI.TrustedRoot()
	for _, c := range other.CAs {
		c.URI = "https://fulcio.elsewhere.example"
	}
	for _, c := range other.TSAs {
		c.URI = "https://tsa.elsewhere.example"
	}
	for _, l := range other.TLogs {
		l.BaseURL = "https://rekor.elsewhere.example"
	}
	for _, l := range other.CTLogs {
		l.BaseURL = "https://ct.elsewhere.example"
	}
	published, err := trust.MergeTrustedRoots(own, other)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := trust.KeepRetired(own, published, time.Now())
	a, _ := got.Marshal()
	b, _ := published.Marshal()
	if !bytes.Equal(a, b) {
		t.Errorf("KeepRetired changed a published root that lists the current CA first:\n%s\nwant\n%s", a, b)
	}
}
