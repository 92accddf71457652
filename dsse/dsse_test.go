package dsse

import "testing"

func TestPAE(t *testing.T) {
	// Test vector from the DSSE specification (protocol.md).
	got := string(PAE("http://example.com/HelloWorld", []byte("hello world")))
	want := "DSSEv1 29 http://example.com/HelloWorld 11 hello world"
	if got != want {
		t.Fatalf("PAE = %q, want %q", got, want)
	}
	if got := string(PAE("", nil)); got != "DSSEv1 0  0 " {
		t.Fatalf("empty PAE = %q", got)
	}
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		ok       bool
	}{
		{"good", `{"payloadType":"t","payload":"aGk=","signatures":[{"sig":"c2ln"}]}`, true},
		{"no sigs", `{"payloadType":"t","payload":"aGk=","signatures":[]}`, false},
		{"empty sig", `{"payloadType":"t","payload":"aGk=","signatures":[{"sig":""}]}`, false},
		{"no type", `{"payload":"aGk=","signatures":[{"sig":"c2ln"}]}`, false},
		{"bad b64", `{"payloadType":"t","payload":"!!","signatures":[{"sig":"c2ln"}]}`, false},
	} {
		_, err := Parse([]byte(tc.in))
		if (err == nil) != tc.ok {
			t.Errorf("%s: err = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"payloadType":"t","payload":"aGk=","signatures":[{"sig":"c2ln"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := Parse(data)
		if err != nil {
			return
		}
		if e.Validate() != nil {
			t.Fatal("Parse returned an invalid envelope")
		}
		_ = e.PAE()
	})
}
