package ctlog

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func sampleLeaves() []TileLeaf {
	return []TileLeaf{
		{Timestamp: 1700000000000, Certificate: []byte{0x30, 0x01, 0x00}, Extensions: leafIndexExtension(0), Chain: [][32]byte{{1}, {2}}},
		{Timestamp: 1700000000001, IsPrecert: true, Certificate: []byte{0x30, 0x00}, IssuerKeyHash: [32]byte{9}, Extensions: leafIndexExtension(1), PreCertificate: []byte{0x30, 0x02, 0x05, 0x00}, Chain: [][32]byte{{3}}},
	}
}

func FuzzParseDataTile(f *testing.F) {
	var tile []byte
	for _, l := range sampleLeaves() {
		tile = append(tile, l.Marshal()...)
		f.Add(l.Marshal())
	}
	f.Add(tile)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		leaves, err := ParseDataTile(data)
		if err != nil {
			return
		}
		// What parses re-encodes to the same bytes.
		var again []byte
		for _, l := range leaves {
			again = append(again, l.Marshal()...)
			_ = l.LeafHash()
			_, _ = l.LeafIndex()
		}
		if !bytes.Equal(again, data) {
			t.Fatalf("round trip changed the tile:\n%x\n%x", data, again)
		}
	})
}

func FuzzParseLeafIndex(f *testing.F) {
	f.Add(leafIndexExtension(0))
	f.Add(leafIndexExtension(maxLeafIndex))
	f.Add(append(leafIndexExtension(7), 1, 0, 0))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		i, err := ParseLeafIndex(data)
		if err == nil && len(data) == 8 && !bytes.Equal(leafIndexExtension(i), data) {
			t.Fatalf("index %d from %x does not encode back", i, data)
		}
	})
}

func FuzzClientResponse(f *testing.F) {
	f.Add([]byte(`{"sct_version":0,"id":"` + strings.Repeat("A", 43) + `=","timestamp":1,"extensions":"AAAFAAAAAAE=","signature":"BAMAAgEC"}`))
	f.Add([]byte(`{"type":"urn:ietf:params:trans:error:badChain","detail":"x"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var r AddChainResponse
		if json.Unmarshal(data, &r) == nil {
			if s, err := sctFromResponse(&r); err == nil && len(s.LogID) != 32 {
				t.Fatal("accepted a log ID that is not 32 bytes")
			}
		}
		resp := &http.Response{StatusCode: 400, Status: "400 Bad Request", Header: http.Header{"Content-Type": {"application/problem+json"}}}
		_ = responseError("add-chain", resp, data)
	})
}

// FuzzValidate feeds arbitrary certificates to the chain checks.
func FuzzValidate(f *testing.F) {
	e := newEnv(f, Config{})
	pre, _ := e.leaf(f, leafOpts{precert: true})
	f.Add(pre.Raw, e.pki.Intermediate.Raw, true)
	f.Add([]byte{0x30}, e.pki.Root.Raw, false)
	f.Fuzz(func(t *testing.T, leaf, issuer []byte, precert bool) {
		_, _ = e.svc.validator.validate([][]byte{leaf, issuer}, precert, false, time.Now())
	})
}

// FuzzAddChainBody posts arbitrary bodies: the log answers every one with
// a client error or an SCT, never a server error.
func FuzzAddChainBody(f *testing.F) {
	e := newEnv(f, Config{})
	h := e.svc.Handler()
	pre, _ := e.leaf(f, leafOpts{precert: true})
	good, _ := json.Marshal(AddChainRequest{Chain: e.chain(pre)})
	f.Add(good)
	f.Add([]byte(`{"chain":[]}`))
	f.Add([]byte(`{"chain":["MA=="]}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, path := range []string{"/ct/ct/v1/add-pre-chain", "/ct/ct/v1/add-chain"} {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("POST", path, bytes.NewReader(body)))
			if rec.Code >= 500 {
				t.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
			}
		}
	})
}
