package tsa

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha512"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sigil.dev/sigil/timestamp"
)

// newTestTSA starts a TSA with a generated key in a temporary data
// directory, at a fixed clock, behind an httptest server.
func newTestTSA(t testing.TB, reg prometheus.Registerer) (*Service, *httptest.Server) {
	t.Helper()
	s, err := New(Config{DataDir: t.TempDir(), URL: "https://tsa.example/api/v1/timestamp", Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return s, srv
}

func post(t testing.TB, url, contentType string, body []byte) (int, http.Header, []byte) {
	t.Helper()
	resp, err := http.Post(url, contentType, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

func derRequest(t testing.TB, r *timestamp.Request) []byte {
	t.Helper()
	der, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func digest(h crypto.Hash, msg []byte) []byte {
	hh := h.New()
	hh.Write(msg)
	return hh.Sum(nil)
}

var testMsg = []byte("signature bytes to be stamped")

// TestDERRequests: the RFC 3161 form. Granted requests get a token that
// verifies against the chain, states the Sigstore policy and 1 s accuracy,
// echoes the nonce and embeds certificates only on request; refused ones
// get HTTP 400 with a TimeStampResp whose status is rejection, whose
// failInfo says why and whose statusString explains it to a person
// (openssl ts -reply -text prints it as the status description).
func TestDERRequests(t *testing.T) {
	s, srv := newTestTSA(t, nil)
	url := srv.URL + "/api/v1/timestamp"
	sha1Digest := sha1.Sum(testMsg)
	tests := []struct {
		name     string
		req      *timestamp.Request
		raw      []byte // sent instead of req
		failInfo int    // -1: granted
		reason   string // in the statusString of a refusal
	}{
		{name: "sha256", req: &timestamp.Request{HashAlgorithm: crypto.SHA256, HashedMessage: digest(crypto.SHA256, testMsg)}, failInfo: -1},
		{name: "sha384", req: &timestamp.Request{HashAlgorithm: crypto.SHA384, HashedMessage: digest(crypto.SHA384, testMsg)}, failInfo: -1},
		{name: "sha512", req: &timestamp.Request{HashAlgorithm: crypto.SHA512, HashedMessage: digest(crypto.SHA512, testMsg)}, failInfo: -1},
		{name: "nonce and certificates", req: &timestamp.Request{HashAlgorithm: crypto.SHA256, HashedMessage: digest(crypto.SHA256, testMsg), Nonce: new(big.Int).Lsh(big.NewInt(12345), 64), CertReq: true}, failInfo: -1},
		{name: "the TSA's policy", req: &timestamp.Request{HashAlgorithm: crypto.SHA256, HashedMessage: digest(crypto.SHA256, testMsg), Policy: timestamp.PolicySigstore}, failInfo: -1},
		{name: "sha1 refused", req: &timestamp.Request{HashAlgorithm: crypto.SHA1, HashedMessage: sha1Digest[:]}, failInfo: timestamp.FailBadAlg, reason: "SHA-1 not accepted"},
		{name: "digest length", raw: wrongLengthRequest(), failInfo: timestamp.FailBadDataFormat},
		{name: "another policy", req: &timestamp.Request{HashAlgorithm: crypto.SHA256, HashedMessage: digest(crypto.SHA256, testMsg), Policy: asn1.ObjectIdentifier{1, 2, 3, 4}}, failInfo: timestamp.FailUnacceptedPolicy, reason: "policy 1.2.3.4 not offered"},
		{name: "extension", req: &timestamp.Request{HashAlgorithm: crypto.SHA256, HashedMessage: digest(crypto.SHA256, testMsg), Extensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 2, 3}, Value: []byte{5, 0}}}}, failInfo: timestamp.FailUnacceptedExtension},
		{name: "not DER", raw: []byte("hello"), failInfo: timestamp.FailBadDataFormat},
		{name: "empty body", raw: []byte{}, failInfo: timestamp.FailBadDataFormat},
		{name: "unknown hash OID", raw: unknownHashRequest(), failInfo: timestamp.FailBadAlg},
		{name: "too large", raw: bytes.Repeat([]byte{0x30}, MaxDERRequest+1), failInfo: timestamp.FailBadDataFormat, reason: "larger than"},
	}
	chain := s.Chain()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := tt.raw
			if body == nil {
				body = derRequest(t, tt.req)
			}
			code, hdr, reply := post(t, url, MediaTypeQuery, body)
			if ct := hdr.Get("Content-Type"); ct != MediaTypeReply {
				t.Errorf("Content-Type = %q, want %q", ct, MediaTypeReply)
			}
			tok, err := timestamp.ParseResponse(reply)
			if tt.failInfo >= 0 {
				if code != http.StatusBadRequest {
					t.Errorf("status = %d, want 400", code)
				}
				var se *timestamp.StatusError
				if !errors.As(err, &se) {
					t.Fatalf("ParseResponse = %v, want a StatusError", err)
				}
				if se.Status != timestamp.StatusRejection || len(se.FailInfo) != 1 || se.FailInfo[0] != tt.failInfo {
					t.Errorf("status %d failInfo %v, want rejection(2) [%d]", se.Status, se.FailInfo, tt.failInfo)
				}
				if len(se.StatusString) != 1 || !strings.Contains(se.StatusString[0], tt.reason) || se.StatusString[0] == "" {
					t.Errorf("statusString %q, want one reason containing %q", se.StatusString, tt.reason)
				}
				return
			}
			if code != http.StatusOK {
				t.Fatalf("status = %d, want 200 (%v)", code, err)
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := tok.Verify(testMsg, timestamp.VerifyOptions{Roots: chain[1:], Leaf: chain[0]}); err != nil {
				t.Errorf("token does not verify: %v", err)
			}
			if !tok.Policy.Equal(timestamp.PolicySigstore) {
				t.Errorf("policy %v, want %v", tok.Policy, timestamp.PolicySigstore)
			}
			if tok.Accuracy != time.Second {
				t.Errorf("accuracy %v, want 1s", tok.Accuracy)
			}
			if tok.HashAlgorithm != tt.req.HashAlgorithm {
				t.Errorf("imprint hash %v, want %v", tok.HashAlgorithm, tt.req.HashAlgorithm)
			}
			if (tt.req.Nonce == nil) != (tok.Nonce == nil) || (tok.Nonce != nil && tok.Nonce.Cmp(tt.req.Nonce) != 0) {
				t.Errorf("nonce %v, want %v echoed", tok.Nonce, tt.req.Nonce)
			}
			if got, want := len(tok.Certificates), map[bool]int{false: 0, true: len(chain)}[tt.req.CertReq]; got != want {
				t.Errorf("%d certificates embedded, want %d", got, want)
			}
			if d := time.Since(tok.Time); d < -2*time.Second || d > time.Minute {
				t.Errorf("genTime %v is not now", tok.Time)
			}
		})
	}
}

// RFC 3161 §2.4.2: the token's messageImprint has "the same value" as the
// request's, also when the request leaves out the algorithm's NULL
// parameters; and a nonce, in either request form, is a positive number of
// bounded size (found by an audit: the DER form echoed -5 and 8,000 bytes).
func TestRequestEchoedAsSent(t *testing.T) {
	_, srv := newTestTSA(t, nil)
	url := srv.URL + "/api/v1/timestamp"
	type imprint struct {
		Alg    pkix.AlgorithmIdentifier
		Digest []byte
	}
	mi := imprint{pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}}, digest(crypto.SHA256, testMsg)}
	miDER, _ := asn1.Marshal(mi)
	req, _ := asn1.Marshal(struct {
		Version int
		Imprint imprint
	}{1, mi})
	code, _, reply := post(t, url, MediaTypeQuery, req)
	if code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	if !bytes.Contains(reply, miDER) {
		t.Error("the token's messageImprint is not the request's (absent parameters became NULL)")
	}
	for name, n := range map[string]*big.Int{"negative nonce": big.NewInt(-5), "oversized nonce": new(big.Int).Lsh(big.NewInt(1), 8*MaxNonceBytes+8)} {
		body := derRequest(t, &timestamp.Request{HashAlgorithm: crypto.SHA256, HashedMessage: digest(crypto.SHA256, testMsg), Nonce: n})
		if code, _, _ := post(t, url, MediaTypeQuery, body); code != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", name, code)
		}
	}
}

// wrongLengthRequest is a TimeStampReq claiming SHA-256 with a 48-byte
// digest, which Request.Marshal refuses to build.
func wrongLengthRequest() []byte {
	der, _ := asn1.Marshal(struct {
		Version int
		Imprint struct {
			Alg    pkix.AlgorithmIdentifier
			Digest []byte
		}
	}{1, struct {
		Alg    pkix.AlgorithmIdentifier
		Digest []byte
	}{pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}}, make([]byte, 48)}})
	return der
}

// unknownHashRequest uses MD5 (1.2.840.113549.2.5) for the imprint.
func unknownHashRequest() []byte {
	der, _ := asn1.Marshal(struct {
		Version int
		Imprint struct {
			Alg    pkix.AlgorithmIdentifier
			Digest []byte
		}
	}{1, struct {
		Alg    pkix.AlgorithmIdentifier
		Digest []byte
	}{pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 5}}, make([]byte, 16)}})
	return der
}

// TestJSONRequests: the JSON form of sigstore/timestamp-authority. Refusals
// are 400 with the {code, message} error document.
func TestJSONRequests(t *testing.T) {
	s, srv := newTestTSA(t, nil)
	url := srv.URL + "/api/v1/timestamp"
	b64 := func(h crypto.Hash) string { return base64.StdEncoding.EncodeToString(digest(h, testMsg)) }
	sha1Digest := sha1.Sum(testMsg)
	tests := []struct {
		name    string
		body    string
		ok      bool
		message string // part of the error message
	}{
		{"sha256", `{"artifactHash":"` + b64(crypto.SHA256) + `","hashAlgorithm":"sha256"}`, true, ""},
		{"sha384 upper case", `{"artifactHash":"` + b64(crypto.SHA384) + `","hashAlgorithm":"SHA384"}`, true, ""},
		{"sha512 with everything", `{"artifactHash":"` + b64(crypto.SHA512) + `","hashAlgorithm":"sha512","certificates":true,"nonce":123456789012345678901234567890,"tsaPolicyOID":"1.3.6.1.4.1.57264.2"}`, true, ""},
		{"sha1", `{"artifactHash":"` + base64.StdEncoding.EncodeToString(sha1Digest[:]) + `","hashAlgorithm":"sha1"}`, false, "weak"},
		{"md5", `{"artifactHash":"AAAAAAAAAAAAAAAAAAAAAA==","hashAlgorithm":"md5"}`, false, "unsupported hash algorithm"},
		{"no algorithm", `{"artifactHash":"` + b64(crypto.SHA256) + `"}`, false, "hashAlgorithm is missing"},
		{"bad base64", `{"artifactHash":"not base64!","hashAlgorithm":"sha256"}`, false, "artifactHash"},
		{"digest length", `{"artifactHash":"` + b64(crypto.SHA256) + `","hashAlgorithm":"sha512"}`, false, "badDataFormat"},
		{"another policy", `{"artifactHash":"` + b64(crypto.SHA256) + `","hashAlgorithm":"sha256","tsaPolicyOID":"1.2.3.4"}`, false, "unacceptedPolicy"},
		{"bad policy OID", `{"artifactHash":"` + b64(crypto.SHA256) + `","hashAlgorithm":"sha256","tsaPolicyOID":"1.x"}`, false, "tsaPolicyOID"},
		{"negative nonce", `{"artifactHash":"` + b64(crypto.SHA256) + `","hashAlgorithm":"sha256","nonce":-5}`, false, "negative nonce"},
		{"string nonce", `{"artifactHash":"` + b64(crypto.SHA256) + `","hashAlgorithm":"sha256","nonce":"5"}`, false, "couldn't parse JSON"},
		{"not JSON", `{"artifactHash":`, false, "couldn't parse JSON"},
		{"too large", `{"artifactHash":"` + b64(crypto.SHA256) + `","hashAlgorithm":"sha256","nonce":` + strings.Repeat("9", MaxJSONRequest) + `}`, false, "larger than 1024 bytes"},
	}
	chain := s.Chain()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, hdr, reply := post(t, url, "application/json", []byte(tt.body))
			if !tt.ok {
				if code != http.StatusBadRequest {
					t.Errorf("status = %d, want 400", code)
				}
				var e struct {
					Code    int    `json:"code"`
					Message string `json:"message"`
				}
				if err := json.Unmarshal(reply, &e); err != nil || hdr.Get("Content-Type") != "application/json" {
					t.Fatalf("error body %q (%s): %v", reply, hdr.Get("Content-Type"), err)
				}
				if e.Code != 400 || !strings.Contains(e.Message, tt.message) {
					t.Errorf("error %d %q, want 400 containing %q", e.Code, e.Message, tt.message)
				}
				return
			}
			if code != http.StatusOK || hdr.Get("Content-Type") != MediaTypeReply {
				t.Fatalf("status %d %s: %s", code, hdr.Get("Content-Type"), reply)
			}
			tok, err := timestamp.ParseResponse(reply)
			if err != nil {
				t.Fatal(err)
			}
			if err := tok.Verify(testMsg, timestamp.VerifyOptions{Roots: chain[1:], Leaf: chain[0]}); err != nil {
				t.Errorf("token does not verify: %v", err)
			}
			var jr JSONRequest
			_ = json.Unmarshal([]byte(tt.body), &jr)
			if (jr.Nonce == nil) != (tok.Nonce == nil) || (jr.Nonce != nil && jr.Nonce.Cmp(tok.Nonce) != 0) {
				t.Errorf("nonce %v, want %v", tok.Nonce, jr.Nonce)
			}
			if (len(tok.Certificates) > 0) != jr.Certificates {
				t.Errorf("%d certificates embedded, certificates=%v", len(tok.Certificates), jr.Certificates)
			}
		})
	}
}

// TestHTTPErrors: content types and methods.
func TestHTTPErrors(t *testing.T) {
	_, srv := newTestTSA(t, nil)
	req := (&timestamp.Request{HashAlgorithm: crypto.SHA256, HashedMessage: digest(crypto.SHA256, testMsg)})
	der := derRequest(t, req)
	tests := []struct {
		name, method, path, contentType string
		body                            []byte
		want                            int
	}{
		{"content type with parameters", "POST", "/api/v1/timestamp", "application/timestamp-query; charset=binary", der, 200},
		{"text/plain", "POST", "/api/v1/timestamp", "text/plain", der, 415},
		{"no content type", "POST", "/api/v1/timestamp", "", der, 415},
		{"octet-stream", "POST", "/api/v1/timestamp", "application/octet-stream", der, 415},
		{"multipart naming json", "POST", "/api/v1/timestamp", "multipart/form-data; boundary=application/json", der, 415},
		{"GET timestamp", "GET", "/api/v1/timestamp", "", nil, 405},
		{"POST certchain", "POST", "/api/v1/timestamp/certchain", "", nil, 405},
		{"unknown path", "GET", "/api/v1/other", "", nil, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := http.NewRequest(tt.method, srv.URL+tt.path, bytes.NewReader(tt.body))
			if tt.contentType != "" {
				r.Header.Set("Content-Type", tt.contentType)
			}
			resp, err := http.DefaultClient.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("status %d, want %d (%s)", resp.StatusCode, tt.want, b)
			}
			if tt.want == 415 {
				var e struct{ Code int }
				if json.Unmarshal(b, &e) != nil || e.Code != 415 {
					t.Errorf("415 body %q is not the error document", b)
				}
			}
		})
	}
}

// TestCertChain: /api/v1/timestamp/certchain serves the chain, leaf first,
// as PEM, and it is the chain the trusted root lists.
func TestCertChain(t *testing.T) {
	s, srv := newTestTSA(t, nil)
	resp, err := http.Get(srv.URL + "/api/v1/timestamp/certchain")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != MediaTypeChain {
		t.Fatalf("status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	chain, err := ParseChainPEM(body)
	if err != nil {
		t.Fatal(err)
	}
	want := s.Chain()
	if len(chain) != len(want) {
		t.Fatalf("%d certificates, want %d", len(chain), len(want))
	}
	for i := range chain {
		if !chain[i].Equal(want[i]) {
			t.Errorf("certificate %d differs", i)
		}
	}
	ca, err := s.TrustedTSA()
	if err != nil {
		t.Fatal(err)
	}
	if ca.Leaf == nil || !ca.Leaf.Equal(want[0]) || !ca.Root.Equal(want[len(want)-1]) {
		t.Errorf("trusted TSA leaf/root do not match the chain")
	}
	if ca.URI != "https://tsa.example/api/v1/timestamp" {
		t.Errorf("URI %q", ca.URI)
	}
	if !ca.Valid.Start.Equal(want[0].NotBefore) || !ca.Valid.End.IsZero() {
		t.Errorf("validity %+v, want from the leaf's notBefore, open-ended", ca.Valid)
	}
	svc := s.SigningConfigService()
	if svc.URL != ca.URI || svc.MajorAPIVersion != 1 || !svc.Valid.Start.Equal(ca.Valid.Start) {
		t.Errorf("signing config entry %+v", svc)
	}
}

// TestConcurrentRequests: the service answers many clients at once, each
// token unique (serial numbers never repeat).
func TestConcurrentRequests(t *testing.T) {
	_, srv := newTestTSA(t, nil)
	const n = 64
	type result struct {
		serial *big.Int
		err    error
	}
	results := make(chan result, n)
	for i := range n {
		go func() {
			msg := fmt.Appendf(nil, "message %d", i)
			der, _ := (&timestamp.Request{HashAlgorithm: crypto.SHA256, HashedMessage: digest(crypto.SHA256, msg)}).Marshal()
			resp, err := http.Post(srv.URL+"/api/v1/timestamp", MediaTypeQuery, bytes.NewReader(der))
			if err != nil {
				results <- result{err: err}
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			tok, err := timestamp.ParseResponse(b)
			if err != nil {
				results <- result{err: err}
				return
			}
			results <- result{serial: tok.SerialNumber}
		}()
	}
	seen := map[string]bool{}
	for range n {
		r := <-results
		if r.err != nil {
			t.Fatal(r.err)
		}
		if seen[r.serial.String()] {
			t.Fatalf("serial %v issued twice", r.serial)
		}
		seen[r.serial.String()] = true
	}
}

// TestMetrics: requests are counted by format and outcome.
func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	_, srv := newTestTSA(t, reg)
	url := srv.URL + "/api/v1/timestamp"
	post(t, url, MediaTypeQuery, derRequest(t, &timestamp.Request{HashAlgorithm: crypto.SHA256, HashedMessage: digest(crypto.SHA256, testMsg)}))
	sha1Digest := sha1.Sum(testMsg)
	post(t, url, MediaTypeQuery, derRequest(t, &timestamp.Request{HashAlgorithm: crypto.SHA1, HashedMessage: sha1Digest[:]}))
	post(t, url, "application/json", []byte(`{}`))
	post(t, url, "text/plain", nil)
	want := map[string]float64{"der/granted": 1, "der/bad_alg": 1, "json/bad_alg": 1, "unknown/unsupported_media_type": 1}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	var observed uint64
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			switch mf.GetName() {
			case "sigil_tsa_requests_total":
				var format, outcome string
				for _, l := range m.GetLabel() {
					switch l.GetName() {
					case "format":
						format = l.GetValue()
					case "outcome":
						outcome = l.GetValue()
					}
				}
				got[format+"/"+outcome] = m.GetCounter().GetValue()
			case "sigil_tsa_sign_duration_seconds":
				observed = m.GetHistogram().GetSampleCount()
			}
		}
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("requests{%s} = %v, want %v (all: %v)", k, got[k], v, got)
		}
	}
	if observed != 1 {
		t.Errorf("sign duration observations = %d, want 1", observed)
	}
	// A second TSA on the same registry is a configuration error.
	if _, err := New(Config{DataDir: t.TempDir(), Registerer: reg}); err == nil {
		t.Error("second TSA registered the same metrics")
	}
}

// TestInProcessSigner: the Signer the service exposes issues tokens that
// verify against the same chain.
func TestInProcessSigner(t *testing.T) {
	s, _ := newTestTSA(t, nil)
	var msg [64]byte
	_, _ = rand.Read(msg[:])
	d := sha512.Sum384(msg[:])
	resp, err := s.Signer().Respond(&timestamp.Request{HashAlgorithm: crypto.SHA384, HashedMessage: d[:]})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := timestamp.ParseResponse(resp)
	if err != nil {
		t.Fatal(err)
	}
	chain := s.Chain()
	if err := tok.Verify(msg[:], timestamp.VerifyOptions{Roots: chain[1:], Leaf: chain[0]}); err != nil {
		t.Fatal(err)
	}
}

// TestExpiredLeafStopsIssuing: a TSA whose certificate expires while it
// runs answers systemFailure instead of tokens no verifier accepts.
func TestExpiredLeafStopsIssuing(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s, err := New(Config{DataDir: t.TempDir(), URL: "https://tsa.example/api/v1/timestamp", Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	req := derRequest(t, &timestamp.Request{HashAlgorithm: crypto.SHA256, HashedMessage: digest(crypto.SHA256, testMsg)})
	if code, _, _ := post(t, srv.URL+"/api/v1/timestamp", MediaTypeQuery, req); code != http.StatusOK {
		t.Fatalf("while the leaf is valid: %d", code)
	}
	mu.Lock()
	now = s.Chain()[0].NotAfter.Add(time.Hour)
	mu.Unlock()
	code, _, reply := post(t, srv.URL+"/api/v1/timestamp", MediaTypeQuery, req)
	if code != http.StatusInternalServerError {
		t.Fatalf("after the leaf expired: %d, want 500", code)
	}
	if _, err := timestamp.ParseResponse(reply); err == nil {
		t.Error("a token was issued after the leaf expired")
	}
}
