package trust

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func shared(t *testing.T, p ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(append([]string{"..", "..", "shared", "conformance"}, p...)...))
	if err != nil {
		t.Skipf("conformance data not found (%v); check out ../shared beside the repository", err)
	}
	return b
}

func TestParseProduction(t *testing.T) {
	tr, err := ParseTrustedRoot(shared(t, "production_trusted_root.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.TLogs) != 2 || len(tr.CTLogs) != 2 || len(tr.CAs) != 2 || len(tr.TSAs) != 1 {
		t.Fatalf("counts: %d tlogs %d ctlogs %d CAs %d TSAs", len(tr.TLogs), len(tr.CTLogs), len(tr.CAs), len(tr.TSAs))
	}
	v1 := tr.TLogs["c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d"]
	if v1 == nil || v1.Origin != "rekor.sigstore.dev" || !v1.Valid.Contains(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("rekor v1 log: %+v", v1)
	}
	if tr.TSAs[0].Leaf == nil {
		t.Fatal("TSA leaf not found")
	}
	// Round trip through Proto keeps every instance.
	out, err := tr.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	again, err := ParseTrustedRoot(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(again.TLogs) != 2 || len(again.CAs) != 2 || again.TSAs[0].Leaf == nil || again.MediaType != TrustedRootMediaTypeLegacy {
		t.Fatal("round trip lost instances")
	}
}

func TestMissingValidityStart(t *testing.T) {
	_, err := ParseTrustedRoot(shared(t, "bundle-verify", "trust-root-tlog-missing-validity-start_fail", "trusted_root.json"))
	if !errors.Is(err, ErrTrustedRoot) {
		t.Fatalf("want ErrTrustedRoot, got %v", err)
	}
}

func TestWindowClosed(t *testing.T) {
	s := time.Unix(100, 0)
	e := time.Unix(200, 0)
	w := Window{Start: s, End: e}
	for ts, want := range map[int64]bool{99: false, 100: true, 150: true, 200: true, 201: false} {
		if got := w.Contains(time.Unix(ts, 0)); got != want {
			t.Errorf("Contains(%d) = %v", ts, got)
		}
	}
	if !(Window{Start: s}).Contains(time.Unix(1e10, 0)) {
		t.Error("open window closed")
	}
}

func TestMediaTypes(t *testing.T) {
	for mt, ok := range map[string]bool{
		TrustedRootMediaTypeLegacy: true, TrustedRootMediaTypeV01: true, TrustedRootMediaTypeV02: true,
		"application/vnd.dev.sigstore.trustedroot.v0.3+json": false, "": false,
	} {
		_, err := ParseTrustedRoot([]byte(`{"mediaType":"` + mt + `"}`))
		if (err == nil) != ok {
			t.Errorf("%q: err %v", mt, err)
		}
	}
}

func FuzzParseTrustedRoot(f *testing.F) {
	f.Add([]byte(`{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1","tlogs":[{"baseUrl":"x","hashAlgorithm":"SHA2_256","publicKey":{"rawBytes":"AA==","keyDetails":"PKIX_ED25519","validFor":{"start":"2020-01-01T00:00:00Z"}},"logId":{"keyId":"AA=="}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		tr, err := ParseTrustedRoot(b)
		if err != nil {
			return
		}
		for _, l := range tr.TLogs {
			if l.PublicKey == nil || l.Valid.Start.IsZero() && l.ID == nil {
				t.Fatal("log without key or ID")
			}
		}
		if _, err := tr.Marshal(); err != nil {
			t.Fatal(err)
		}
	})
}

func TestSigningConfig(t *testing.T) {
	raw := []byte(`{
  "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
  "caUrls": [{"url": "https://fulcio.example", "majorApiVersion": 1, "validFor": {"start": "2023-01-01T00:00:00Z"}}],
  "oidcUrls": [{"url": "https://oauth2.example/auth", "majorApiVersion": 1, "validFor": {"start": "2023-01-01T00:00:00Z"}}],
  "rekorTlogUrls": [
    {"url": "https://rekor.example", "majorApiVersion": 1, "validFor": {"start": "2021-01-01T00:00:00Z"}, "operator": "a"},
    {"url": "https://log2025.example", "majorApiVersion": 2, "validFor": {"start": "2025-01-01T00:00:00Z"}, "operator": "a"},
    {"url": "https://log2026.example", "majorApiVersion": 2, "validFor": {"start": "2026-01-01T00:00:00Z"}, "operator": "a"},
    {"url": "https://other.example", "majorApiVersion": 2, "validFor": {"start": "2025-06-01T00:00:00Z"}, "operator": "b"}
  ],
  "rekorTlogConfig": {"selector": "ALL"},
  "tsaUrls": [{"url": "https://tsa.example/api/v1/timestamp", "majorApiVersion": 1, "validFor": {"start": "2023-01-01T00:00:00Z"}}],
  "tsaConfig": {"selector": "ANY"}
}`)
	sc, err := ParseSigningConfig(raw)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	logs, err := SelectServices(sc.Rekors, sc.RekorConfig, []uint32{1, 2}, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(logs) != 2 || logs[0].URL != "https://log2026.example" || logs[1].URL != "https://other.example" {
		t.Fatalf("selected %+v", logs)
	}
	v1, err := SelectServices(sc.Rekors, sc.RekorConfig, []uint32{1}, now)
	if err != nil || len(v1) != 1 || v1[0].URL != "https://rekor.example" {
		t.Fatalf("v1 only: %+v %v", v1, err)
	}
	ca, err := SelectService(sc.CAs, []uint32{1}, now)
	if err != nil || ca.URL != "https://fulcio.example" {
		t.Fatalf("CA: %+v %v", ca, err)
	}
	if _, err := SelectService(sc.CAs, []uint32{2}, now); err == nil {
		t.Fatal("selected a CA of an unsupported version")
	}
	out, err := sc.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	again, err := ParseSigningConfig(out)
	if err != nil || len(again.Rekors) != 4 || again.TSAConfig.Selector != SelectAny {
		t.Fatalf("round trip: %+v %v", again, err)
	}
	for name, bad := range map[string]string{
		"media type": `{"mediaType":"application/vnd.dev.sigstore.signingconfig.v0.1+json"}`,
		"exact":      `{"mediaType":"application/vnd.dev.sigstore.signingconfig.v0.2+json","tsaUrls":[{"url":"https://t.example","majorApiVersion":1,"validFor":{"start":"2023-01-01T00:00:00Z"}}],"tsaConfig":{"selector":"EXACT","count":2}}`,
		"no scheme":  `{"mediaType":"application/vnd.dev.sigstore.signingconfig.v0.2+json","caUrls":[{"url":"fulcio.example","majorApiVersion":1,"validFor":{"start":"2023-01-01T00:00:00Z"}}]}`,
	} {
		if _, err := ParseSigningConfig([]byte(bad)); !errors.Is(err, ErrSigningConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func FuzzParseSigningConfig(f *testing.F) {
	f.Add([]byte(`{"mediaType":"application/vnd.dev.sigstore.signingconfig.v0.2+json","caUrls":[{"url":"https://ca.example","majorApiVersion":1,"validFor":{"start":"2023-01-01T00:00:00Z"}}],"rekorTlogUrls":[{"url":"https://log.example","majorApiVersion":2,"validFor":{"start":"2025-01-01T00:00:00Z","end":"2026-01-01T00:00:00Z"},"operator":"a"}],"rekorTlogConfig":{"selector":"EXACT","count":1},"tsaUrls":[{"url":"https://tsa.example/api/v1/timestamp","majorApiVersion":1,"validFor":{"start":"2023-01-01T00:00:00Z"}}],"tsaConfig":{"selector":"ANY"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		sc, err := ParseSigningConfig(b)
		if err != nil {
			return
		}
		// What was read is written back in a form that reads the same.
		out, err := sc.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseSigningConfig(out)
		if err != nil {
			t.Fatalf("written config does not parse: %v\n%s", err, out)
		}
		if len(again.CAs) != len(sc.CAs) || len(again.Rekors) != len(sc.Rekors) || len(again.TSAs) != len(sc.TSAs) ||
			len(again.OIDCProviders) != len(sc.OIDCProviders) || again.RekorConfig != sc.RekorConfig || again.TSAConfig != sc.TSAConfig {
			t.Fatalf("round trip changed the config:\n%+v\n%+v", sc, again)
		}
		for _, s := range sc.Rekors {
			if s.Valid.Start.IsZero() {
				t.Fatal("service without a validity start")
			}
		}
	})
}
