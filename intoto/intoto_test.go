package intoto

import (
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
)

func TestParseAndMatch(t *testing.T) {
	st, err := Parse([]byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a.txt","digest":{"sha256":"A0CFC71271D6E278E57CD332FF957C3F7043FDDA354C4CBB190A30D56EFA01BF"}}],"predicateType":"https://slsa.dev/provenance/v1","predicate":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	d, _ := hex.DecodeString("a0cfc71271d6e278e57cd332ff957c3f7043fdda354c4cbb190a30d56efa01bf")
	if !st.MatchDigest("sha256", d) {
		t.Error("digest should match (case-insensitive hex)")
	}
	if st.MatchDigest("sha512", d) {
		t.Error("wrong algorithm matched")
	}
	d[0] ^= 1
	if st.MatchDigest("sha256", d) {
		t.Error("wrong digest matched")
	}
}

func TestParseRejects(t *testing.T) {
	for name, in := range map[string]string{
		"unknown type":     `{"_type":"x","subject":[{"digest":{"sha256":"00"}}],"predicateType":"p"}`,
		"no subject":       `{"_type":"https://in-toto.io/Statement/v1","subject":[],"predicateType":"p"}`,
		"no digest":        `{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"x"}],"predicateType":"p"}`,
		"no predicate":     `{"_type":"https://in-toto.io/Statement/v0.1","subject":[{"digest":{"sha256":"00"}}]}`,
		"not json":         `{`,
		"subject object":   `{"_type":"https://in-toto.io/Statement/v1","subject":{},"predicateType":"p"}`,
		"array predicate":  `{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"00"}}],"predicateType":"p","predicate":[1,2]}`,
		"string predicate": `{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"00"}}],"predicateType":"p","predicate":"x"}`,
	} {
		if _, err := Parse([]byte(in)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestPredicateTypeURI(t *testing.T) {
	if u, _ := PredicateTypeURI("slsaprovenance1"); u != "https://slsa.dev/provenance/v1" {
		t.Error(u)
	}
	if u, _ := PredicateTypeURI("https://example.com/p"); u != "https://example.com/p" {
		t.Error(u)
	}
	if _, err := PredicateTypeURI("nonsense"); err == nil {
		t.Error("accepted a bare word")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"00"}}],"predicateType":"p"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if s, err := Parse(b); err == nil {
			_ = s.DigestAlgorithms()
			s.MatchDigest("sha256", []byte{0})
		}
	})
}

// A parsed statement is encoded as signed, with the subject fields the
// struct does not model; a statement built in code from its fields.
func TestMarshalAsSigned(t *testing.T) {
	signed := `{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a","uri":"pkg:x/a","digest":{"sha256":"` + strings.Repeat("ab", 32) + `"},"annotations":{"git-sha":"abc"}}],"predicateType":"https://example/p","predicate":{"k":1}}`
	st, err := Parse([]byte("  " + signed + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(map[string]any{"statement": st})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"statement":` + signed + `}`; string(out) != want {
		t.Errorf("got  %s\nwant %s", out, want)
	}
	built := Statement{Type: StatementV1, Subject: []Subject{{Name: "b", Digest: map[string]string{"sha256": "00"}}}, PredicateType: "p"}
	out, _ = json.Marshal(built)
	if !strings.Contains(string(out), `"name":"b"`) || !strings.Contains(string(out), `"predicateType":"p"`) {
		t.Errorf("built: %s", out)
	}
}

// Statements that encoding/json would read differently from protojson and
// other JSON readers are refused (found by a differential audit against
// sigstore-go): the subject verified here must be the one everyone sees.
func TestParseIsStrict(t *testing.T) {
	d := strings.Repeat("ab", 32)
	sub := `[{"name":"a","digest":{"sha256":"` + d + `"}}]`
	evil := `[{"name":"a","digest":{"sha256":"` + strings.Repeat("00", 32) + `"}}]`
	head := `{"_type":"https://in-toto.io/Statement/v1","predicateType":"https://example/p","predicate":{"Name":1,"name":2}`
	if _, err := Parse([]byte(head + `,"subject":` + sub + `}`)); err != nil {
		t.Fatalf("a plain statement (a predicate may use any keys): %v", err)
	}
	for name, payload := range map[string]string{
		"subject and SUBJECT":             head + `,"subject":` + evil + `,"SUBJECT":` + sub + `}`,
		"Subject alone":                   head + `,"Subject":` + sub + `}`,
		"two subject keys":                head + `,"subject":` + evil + `,"subject":` + sub + `}`,
		"a subject's Digest":              head + `,"subject":[{"name":"a","Digest":{"sha256":"` + d + `"}}]}`,
		"two digests in a subject":        head + `,"subject":[{"name":"a","digest":{"sha256":"` + strings.Repeat("00", 32) + `"},"digest":{"sha256":"` + d + `"}}]}`,
		"one algorithm twice in a digest": head + `,"subject":[{"name":"a","digest":{"sha256":"` + strings.Repeat("00", 32) + `","sha256":"` + d + `"}}]}`,
		"data after the statement":        head + `,"subject":` + sub + `} {"subject":` + evil + `}`,
		"garbage after":                   head + `,"subject":` + sub + `}xyz`,
		"invalid UTF-8":                   head + `,"subject":` + sub + `,"x":"\xff"}`,
	} {
		if _, err := Parse([]byte(payload)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
