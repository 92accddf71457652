package rekor

import (
	"bytes"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// vectorBody returns the first log entry body of a conformance bundle.
func vectorBody(t *testing.T, name string) (body []byte, kind, version string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "shared", "conformance", "bundle-verify", name, "bundle.sigstore.json"))
	if err != nil {
		t.Skipf("conformance vectors not found (%v); check out ../shared beside the repository", err)
	}
	var b struct {
		VerificationMaterial struct {
			TlogEntries []struct {
				KindVersion       struct{ Kind, Version string }
				CanonicalizedBody string
			}
		}
	}
	if err := json.Unmarshal(raw, &b); err != nil {
		t.Fatal(err)
	}
	e := b.VerificationMaterial.TlogEntries[0]
	body, err = base64.StdEncoding.DecodeString(e.CanonicalizedBody)
	if err != nil {
		t.Fatal(err)
	}
	return body, e.KindVersion.Kind, e.KindVersion.Version
}

// The builders must reproduce real production bodies byte for byte.
func TestHashedRekordV001RoundTrip(t *testing.T) {
	body, _, _ := vectorBody(t, "happy-path-v0.3")
	b, err := ParseV1Body(body)
	if err != nil {
		t.Fatal(err)
	}
	h, _ := HashFromName(b.Hash.Algorithm)
	got := HashedRekordV001(h, b.Hash.Value, b.Signatures[0].Signature, b.Signatures[0].PEM)
	if !bytes.Equal(got, body) {
		t.Fatalf("rebuilt body differs:\n got %s\nwant %s", got, body)
	}
}

func TestDSSEV001Parse(t *testing.T) {
	body, _, _ := vectorBody(t, "happy-path-intoto-in-dsse-v3")
	b, err := ParseV1Body(body)
	if err != nil {
		t.Fatal(err)
	}
	if b.Kind != KindDSSE || len(b.Signatures) != 1 || len(b.PayloadHash.Value) != 32 {
		t.Fatalf("unexpected parse: %+v", b)
	}
}

func TestIntotoV002Parse(t *testing.T) {
	body, _, _ := vectorBody(t, "intoto-with-custom-trust-root")
	b, err := ParseV1Body(body)
	if err != nil {
		t.Fatal(err)
	}
	if b.Kind != KindIntoto || b.PayloadType != "application/vnd.in-toto+json" || !bytes.HasPrefix(b.Signatures[0].PEM, []byte("-----BEGIN CERTIFICATE")) {
		t.Fatalf("unexpected parse: %+v", b)
	}
}

func TestHashedRekordV002RoundTrip(t *testing.T) {
	for _, name := range []string{"rekor2-happy-path", "rekor2-dsse-happy-path"} {
		body, kind, version := vectorBody(t, name)
		if kind != KindHashedRekord || version != VersionHashedRekordV2 {
			t.Fatalf("%s: %s %s", name, kind, version)
		}
		e, err := ParseV2Body(body)
		if err != nil {
			t.Fatal(err)
		}
		got := HashedRekordV002(crypto.SHA256, e.Digest, e.Signature, e.Verifier)
		if !bytes.Equal(got, body) {
			t.Fatalf("%s: rebuilt entry differs:\n got %s\nwant %s", name, got, body)
		}
	}
}

func TestParseV1BodyRejects(t *testing.T) {
	for name, in := range map[string]string{
		"unknown kind":    `{"apiVersion":"0.0.1","kind":"rekord","spec":{}}`,
		"short digest":    `{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{"data":{"hash":{"algorithm":"sha256","value":"abcd"}},"signature":{"content":"AA==","publicKey":{"content":"AA=="}}}}`,
		"bad algorithm":   `{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{"data":{"hash":{"algorithm":"md5","value":"abcd"}},"signature":{"content":"AA==","publicKey":{"content":"AA=="}}}}`,
		"no signature":    `{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{"data":{"hash":{"algorithm":"sha256","value":"a0cfc71271d6e278e57cd332ff957c3f7043fdda354c4cbb190a30d56efa01bf"}}}}`,
		"dsse no sigs":    `{"apiVersion":"0.0.1","kind":"dsse","spec":{"envelopeHash":{"algorithm":"sha256","value":"a0cfc71271d6e278e57cd332ff957c3f7043fdda354c4cbb190a30d56efa01bf"},"payloadHash":{"algorithm":"sha256","value":"a0cfc71271d6e278e57cd332ff957c3f7043fdda354c4cbb190a30d56efa01bf"},"signatures":[]}}`,
		"not json":        `{"apiVersion"`,
		"spec not object": `{"apiVersion":"0.0.1","kind":"hashedrekord","spec":[]}`,
	} {
		if _, err := ParseV1Body([]byte(in)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestSETPayload(t *testing.T) {
	got := string(SETPayload([]byte("{}"), 1700000000, []byte{0xab, 0xcd}, 42))
	want := `{"body":"e30=","integratedTime":1700000000,"logID":"abcd","logIndex":42}`
	if got != want {
		t.Fatalf("got %s want %s", got, want)
	}
	if got := string(AppendSETPayload([]byte("x"), []byte("{}"), 1700000000, []byte{0xab, 0xcd}, 42)); got != "x"+want {
		t.Fatalf("AppendSETPayload: got %s want x%s", got, want)
	}
}

func FuzzParseV1Body(f *testing.F) {
	f.Add([]byte(`{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{"data":{"hash":{"algorithm":"sha256","value":"a0cfc71271d6e278e57cd332ff957c3f7043fdda354c4cbb190a30d56efa01bf"}},"signature":{"content":"AA==","publicKey":{"content":"AA=="}}}}`))
	f.Add([]byte(`{"apiVersion":"0.0.1","kind":"dsse","spec":{"envelopeHash":{"algorithm":"sha256","value":"a0cfc71271d6e278e57cd332ff957c3f7043fdda354c4cbb190a30d56efa01bf"},"payloadHash":{"algorithm":"sha256","value":"a0cfc71271d6e278e57cd332ff957c3f7043fdda354c4cbb190a30d56efa01bf"},"signatures":[{"signature":"AA==","verifier":"AA=="}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := ParseV1Body(data)
		if err != nil {
			return
		}
		if len(b.Signatures) == 0 {
			t.Fatal("parsed body without signatures")
		}
		if b.Kind == KindHashedRekord {
			h, err := HashFromName(b.Hash.Algorithm)
			if err != nil || len(b.Hash.Value) != h.Size() {
				t.Fatal("parsed body with a bad digest")
			}
		}
	})
}

func FuzzParseV2Body(f *testing.F) {
	f.Add(HashedRekordV002(crypto.SHA256, make([]byte, 32), []byte{1}, V2Verifier{KeyDetails: "PKIX_ED25519_PH", PublicKey: []byte{2}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := ParseV2Body(data)
		if err != nil {
			return
		}
		if len(e.Signature) == 0 || len(e.Digest) == 0 {
			t.Fatal("parsed entry without signature or digest")
		}
	})
}

// The intoto builder reproduces a production body (which still carried the
// payload) byte for byte, and its output parses.
func TestIntotoV002RoundTrip(t *testing.T) {
	body, _, _ := vectorBody(t, "intoto-with-custom-trust-root")
	var raw struct {
		Spec struct {
			Content struct {
				Envelope struct {
					Payload     []byte
					PayloadType string
					Signatures  []struct {
						KeyID     string `json:"keyid"`
						Sig       []byte
						PublicKey []byte
					}
				}
			}
		}
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatal(err)
	}
	b, err := ParseV1Body(body)
	if err != nil {
		t.Fatal(err)
	}
	env := raw.Spec.Content.Envelope
	var sigs []IntotoSignature
	for _, s := range env.Signatures {
		sigs = append(sigs, IntotoSignature{KeyID: s.KeyID, Sig: string(s.Sig), PublicKey: s.PublicKey})
	}
	got := IntotoV002(env.PayloadType, env.Payload, sigs, b.EnvelopeHash.Value, b.PayloadHash.Value)
	if !bytes.Equal(got, body) {
		t.Fatalf("rebuilt body differs:\n got %s\nwant %s", got, body)
	}
	// Without the payload, as Rekor writes it today.
	got = IntotoV002(env.PayloadType, nil, sigs, b.EnvelopeHash.Value, b.PayloadHash.Value)
	b2, err := ParseV1Body(got)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b2.Signatures[0].Signature, b.Signatures[0].Signature) || b2.PayloadType != b.PayloadType {
		t.Fatalf("payload-less body parses differently: %+v", b2)
	}
	if bytes.Contains(got, []byte(`"payload":`)) {
		t.Fatal("payload written")
	}
}

func FuzzParseV1LogEntry(f *testing.F) {
	f.Add([]byte(`{"abcd":{"body":"e30=","integratedTime":1700000000,"logID":"abcd","logIndex":42,"verification":{"inclusionProof":{"checkpoint":"x","hashes":["00"],"logIndex":1,"rootHash":"00","treeSize":2},"signedEntryTimestamp":"AA=="}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, id, err := ParseV1LogEntry(data)
		if err != nil {
			return
		}
		if e == nil || e.GetKindVersion() == nil || e.GetLogId() == nil {
			t.Fatalf("parsed entry %q without kind or log ID", id)
		}
	})
}
