package tlog

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"sigil.dev/sigil/checkpoint"
	"sigil.dev/sigil/dsse"
	"sigil.dev/sigil/internal/testpki"
	"sigil.dev/sigil/rekor"
)

// Every malformed or unacceptable v1 proposal gets a 4xx with a Rekor
// error body naming the problem.
func TestV1RejectsBadRequests(t *testing.T) {
	l := startLog(t, "", func(c *Config) { c.MaxRequestSize = 64 << 10 })
	p, _ := testpki.New(testpki.Options{})
	s := newSigner(t, p, nil, true)
	_, digest, sig := s.v1HashedRekord(t, []byte("a"))
	weak, _ := rsa.GenerateKey(rand.Reader, 1024)
	weakPEM := testpki.PublicKeyPEM(weak.Public())
	hr := func(alg, value string, sig, key []byte) []byte {
		return mustJSON(map[string]any{"kind": "hashedrekord", "apiVersion": "0.0.1", "spec": map[string]any{
			"signature": map[string]any{"content": sig, "publicKey": map[string]any{"content": key}},
			"data":      map[string]any{"hash": map[string]any{"algorithm": alg, "value": value}},
		}})
	}
	hexD := hex.EncodeToString(digest)
	env := s.envelope(t, []byte("a"))
	ej, _ := json.Marshal(env)
	other := newSigner(t, p, nil, false)
	dsseReq := func(envelope string, verifiers ...[]byte) []byte {
		return mustJSON(map[string]any{"kind": "dsse", "apiVersion": "0.0.1", "spec": map[string]any{
			"proposedContent": map[string]any{"envelope": envelope, "verifiers": verifiers}}})
	}
	for _, tc := range []struct {
		name   string
		body   []byte
		status int
		want   string
	}{
		{"not JSON", []byte(`{"kind":`), 400, "couldn't decode proposed entry"},
		{"no kind", []byte(`{"apiVersion":"0.0.1","spec":{}}`), 400, "missing kind"},
		{"no spec", []byte(`{"kind":"hashedrekord","apiVersion":"0.0.1"}`), 400, "missing spec"},
		{"unknown kind", []byte(`{"kind":"rpm","apiVersion":"0.0.1","spec":{}}`), 400, `unsupported entry kind "rpm"`},
		{"unknown version", []byte(`{"kind":"hashedrekord","apiVersion":"0.0.9","spec":{}}`), 400, `version "0.0.9"`},
		{"spec not an object", []byte(`{"kind":"hashedrekord","apiVersion":"0.0.1","spec":[1]}`), 400, "couldn't decode proposed entry"},
		{"bad base64", []byte(`{"kind":"hashedrekord","apiVersion":"0.0.1","spec":{"signature":{"content":"*"}}}`), 400, "spec.signature.content is not base64"},
		{"bad base64 key", []byte(`{"kind":"hashedrekord","apiVersion":"0.0.1","spec":{"signature":{"content":"AAAA","publicKey":{"content":"AA"}}}}`), 400, "spec.signature.publicKey.content is not base64"},
		{"missing signature", []byte(`{"kind":"hashedrekord","apiVersion":"0.0.1","spec":{"data":{}}}`), 400, "missing signature.content"},
		{"missing key", hr("sha256", hexD, sig, nil), 400, "missing signature.publicKey.content"},
		{"missing hash", []byte(`{"kind":"hashedrekord","apiVersion":"0.0.1","spec":{"signature":{"content":"AA==","publicKey":{"content":"AA=="}}}}`), 400, "missing data.hash"},
		{"bad algorithm", hr("md5", hexD, sig, s.pem()), 400, `"md5" is not sha256`},
		{"short digest", hr("sha256", hexD[:40], sig, s.pem()), 400, "64 hex characters"},
		{"digest not hex", hr("sha256", strings.Repeat("zz", 32), sig, s.pem()), 400, "64 hex characters"},
		{"key not PEM", hr("sha256", hexD, sig, []byte("key")), 400, "not PEM"},
		{"PEM of something else", hr("sha256", hexD, sig, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}})), 400, `PEM type "PRIVATE KEY"`},
		{"weak RSA key", hr("sha256", hexD, sig, weakPEM), 400, "unsupported RSA key size 1024"},
		{"digest algorithm the key does not use", hr("sha384", hex.EncodeToString(make([]byte, 48)), sig, s.pem()), 400, "is not allowed"},
		{"bad signature", hr("sha256", hex.EncodeToString(make([]byte, 32)), sig, s.pem()), 400, "signature does not verify over the digest with the ECDSA P-256 key"},
		{"dsse without proposedContent", []byte(`{"kind":"dsse","apiVersion":"0.0.1","spec":{}}`), 400, "missing proposedContent.envelope"},
		{"dsse with computed fields", []byte(`{"kind":"dsse","apiVersion":"0.0.1","spec":{"proposedContent":{"envelope":"{}","verifiers":["AA=="]},"payloadHash":{}}}`), 400, "computed by the log"},
		{"dsse envelope not JSON", dsseReq("{", s.pem()), 400, "envelope is not JSON"},
		{"dsse without verifiers", dsseReq(string(ej)), 400, "verifiers is empty"},
		{"dsse wrong verifier", dsseReq(string(ej), other.pem()), 400, "verifier 0 verifies none"},
		{"dsse without signatures", dsseReq(`{"payloadType":"x","payload":"","signatures":[]}`, s.pem()), 400, "1 or more signatures"},
		{"intoto without hash", []byte(`{"kind":"intoto","apiVersion":"0.0.2","spec":{"content":{"envelope":{"payload":"QUFBQQ==","payloadType":"x","signatures":[{"sig":"QUFBQQ==","publicKey":"QUFBQQ=="}]}}}}`), 400, "content.hash"},
		{"intoto without envelope", []byte(`{"kind":"intoto","apiVersion":"0.0.2","spec":{"content":{}}}`), 400, "missing content.envelope"},
		{"oversized body", append([]byte(`{"kind":"hashedrekord","spec":"`), bytes.Repeat([]byte("A"), 70<<10)...), 413, "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := l.post("/api/v1/log/entries", tc.body)
			mustStatus(t, resp, body, tc.status)
			var e struct {
				Code    int
				Message string
			}
			if err := json.Unmarshal(body, &e); err != nil || e.Code != tc.status {
				t.Fatalf("error body is not a Rekor error: %s", body)
			}
			if !strings.Contains(e.Message, tc.want) {
				t.Errorf("message %q does not mention %q", e.Message, tc.want)
			}
		})
	}
	if sz := l.svc.v1.latest().size; sz != 0 {
		t.Errorf("rejected requests grew the log to %d", sz)
	}
}

// The v1 wire facts: entry ID, SET over the JCS payload with the v1 key,
// "<host> - <tree ID>" checkpoint signed under the host with the v1 key
// hash, shard-local = global index.
func TestV1WireFormat(t *testing.T) {
	l := startLog(t, "", func(c *Config) { c.V1TreeID = 1193050959916656506 })
	p, _ := testpki.New(testpki.Options{})
	s := newSigner(t, p, nil, true)
	req, _, _ := s.v1HashedRekord(t, []byte("wire"))
	resp, body := l.post("/api/v1/log/entries", req)
	mustStatus(t, resp, body, http.StatusCreated)
	a := parseV1(t, body)
	leaf := rekor.LeafHash(a.Body)
	if want := "108e9186e8c5677a" + hex.EncodeToString(leaf[:]); a.ID != want {
		t.Errorf("entry ID %s, want %s", a.ID, want)
	}
	logs, _ := l.svc.TrustedLogs()
	v1 := logs[1]
	if a.LogID != v1.HexID() {
		t.Errorf("logID %s, trusted root has %s", a.LogID, v1.HexID())
	}
	der, _ := x509.MarshalPKIXPublicKey(v1.PublicKey)
	if sum := sha256.Sum256(der); v1.HexID() != hex.EncodeToString(sum[:]) {
		t.Errorf("v1 log ID is not SHA-256 of the DER key")
	}
	d := sha256.Sum256(rekor.SETPayload(a.Body, a.IntegratedTime, sha256Bytes(der), a.LogIndex))
	if !ecdsa.VerifyASN1(v1.PublicKey.(*ecdsa.PublicKey), d[:], a.Verification.SignedEntryTimestamp) {
		t.Error("SET does not verify")
	}
	cp, n, err := checkpoint.OpenV1([]byte(a.Verification.InclusionProof.Checkpoint), v1.V1CheckpointVerifier)
	if err != nil {
		t.Fatal(err)
	}
	host := strings.Split(strings.TrimPrefix(l.url, "http://"), ":")[0]
	if want := host + " - 1193050959916656506"; cp.Origin != want || !checkpoint.IsV1Origin(cp.Origin) {
		t.Errorf("origin %q, want %q", cp.Origin, want)
	}
	if n.Sigs[0].Name != host || n.Sigs[0].Hash != uint32(der2hash(der)) {
		t.Errorf("signed as %s+%08x", n.Sigs[0].Name, n.Sigs[0].Hash)
	}
	if a.LogIndex != a.Verification.InclusionProof.LogIndex {
		t.Errorf("global %d and local %d indices differ on an unsharded log", a.LogIndex, a.Verification.InclusionProof.LogIndex)
	}
	// The body is the canonical body sigstore-go and gitsign rebuild.
	b, err := rekor.ParseV1Body(a.Body)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Body, rekor.HashedRekordV001(s.hash(), b.Hash.Value, b.Signatures[0].Signature, testpki.PEM(s.cert))) {
		t.Error("body is not canonical")
	}
	resp, key := l.get("/api/v1/log/publicKey")
	mustStatus(t, resp, key, http.StatusOK)
	if blk, _ := pem.Decode(key); blk == nil || !bytes.Equal(blk.Bytes, der) || resp.Header.Get("Content-Type") != "application/x-pem-file" {
		t.Errorf("publicKey served %s as %q", key, resp.Header.Get("Content-Type"))
	}
	resp, body = l.get("/api/v1/log/publicKey?treeID=42")
	mustStatus(t, resp, body, http.StatusBadRequest)
}

func sha256Bytes(b []byte) []byte { s := sha256.Sum256(b); return s[:] }

func der2hash(der []byte) uint32 {
	s := sha256.Sum256(der)
	return uint32(s[0])<<24 | uint32(s[1])<<16 | uint32(s[2])<<8 | uint32(s[3])
}

// A duplicate gets 409 with the Location of the existing entry, which
// cosign and gitsign then fetch.
func TestV1Duplicate(t *testing.T) {
	l := startLog(t, "", nil)
	p, _ := testpki.New(testpki.Options{})
	s := newSigner(t, p, nil, true)
	req, _, _ := s.v1HashedRekord(t, []byte("twice"))
	resp, body := l.post("/api/v1/log/entries", req)
	mustStatus(t, resp, body, http.StatusCreated)
	first := parseV1(t, body)
	resp, body = l.post("/api/v1/log/entries", req)
	mustStatus(t, resp, body, http.StatusConflict)
	loc := resp.Header.Get("Location")
	if !strings.HasSuffix(loc, "/api/v1/log/entries/"+first.ID) {
		t.Fatalf("409 Location %q does not name %s", loc, first.ID)
	}
	if !strings.Contains(errMessage(body), first.ID) {
		t.Errorf("409 message %q", errMessage(body))
	}
	resp, body = l.get(loc)
	mustStatus(t, resp, body, http.StatusOK)
	if got := parseV1(t, body); got.ID != first.ID || got.IntegratedTime != first.IntegratedTime {
		t.Errorf("Location led to %+v", got)
	}
	// Concurrent duplicates: one 201, the rest 409.
	req2, _, _ := s.v1HashedRekord(t, []byte("together"))
	codes := make(chan int, 8)
	for i := 0; i < 8; i++ {
		go func() {
			resp, err := http.Post(l.url+"/api/v1/log/entries", "application/json", bytes.NewReader(req2))
			if err != nil {
				codes <- 0
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	count := map[int]int{}
	for i := 0; i < 8; i++ {
		count[<-codes]++
	}
	if count[201] != 1 || count[409] != 7 {
		t.Errorf("concurrent duplicates answered %v", count)
	}
	if l.svc.v1.latest().size != 2 {
		t.Errorf("log size %d, want 2", l.svc.v1.latest().size)
	}
}

// The answer to a write, whose SET was signed while the index was being
// written, is byte for byte the answer a lookup builds from the index and
// the tree (but for the SET, whose ECDSA signature is randomized; both
// verify).
func TestV1CreateAnswerIsTheLookupAnswer(t *testing.T) {
	l := startLog(t, "", nil)
	p, _ := testpki.New(testpki.Options{})
	s := newSigner(t, p, nil, true)
	logs, _ := l.svc.TrustedLogs()
	der, _ := x509.MarshalPKIXPublicKey(logs[1].PublicKey)
	for i := 0; i < 3; i++ {
		req, _, _ := s.v1HashedRekord(t, []byte("same answer "+strconv.Itoa(i)))
		resp, created := l.post("/api/v1/log/entries", req)
		mustStatus(t, resp, created, http.StatusCreated)
		a := parseV1(t, created)
		resp, looked := l.get("/api/v1/log/entries?logIndex=" + strconv.FormatInt(a.LogIndex, 10))
		mustStatus(t, resp, looked, http.StatusOK)
		b := parseV1(t, looked)
		for _, x := range []v1Answer{a, b} {
			d := sha256.Sum256(rekor.SETPayload(x.Body, x.IntegratedTime, sha256Bytes(der), x.LogIndex))
			if !ecdsa.VerifyASN1(logs[1].PublicKey.(*ecdsa.PublicKey), d[:], x.Verification.SignedEntryTimestamp) {
				t.Fatalf("entry %d: SET does not verify", x.LogIndex)
			}
		}
		blank := func(body []byte, set []byte) string {
			return strings.Replace(string(body), base64.StdEncoding.EncodeToString(set), "SET", 1)
		}
		if got, want := blank(created, a.Verification.SignedEntryTimestamp), blank(looked, b.Verification.SignedEntryTimestamp); got != want {
			t.Errorf("entry %d: the answer to the write\n%s\ndiffers from the lookup\n%s", a.LogIndex, got, want)
		}
	}
}

// Lookups by UUID, entry ID and index, entries/retrieve and index/retrieve
// find what was logged, and miss what was not.
func TestV1Lookups(t *testing.T) {
	l := startLog(t, "", nil)
	p, _ := testpki.New(testpki.Options{})
	alice := newSigner(t, p, nil, true)
	bob := newSigner(t, p, nil, false)
	type logged struct {
		a      v1Answer
		req    []byte
		digest []byte
	}
	var entries []logged
	for i, s := range []*signer{alice, bob, alice} {
		req, digest, _ := s.v1HashedRekord(t, []byte("lookup "+strconv.Itoa(i)))
		resp, body := l.post("/api/v1/log/entries", req)
		mustStatus(t, resp, body, http.StatusCreated)
		entries = append(entries, logged{parseV1(t, body), req, digest})
	}
	dsseEnv := alice.envelope(t, []byte("lookup dsse"))
	resp, body := l.post("/api/v1/log/entries", alice.v1DSSE(dsseEnv))
	mustStatus(t, resp, body, http.StatusCreated)
	dsseEntry := parseV1(t, body)

	check := func(what string, body []byte, want v1Answer) {
		t.Helper()
		got := parseV1(t, body)
		if got.ID != want.ID || got.LogIndex != want.LogIndex || !bytes.Equal(got.Body, want.Body) || got.IntegratedTime != want.IntegratedTime {
			t.Errorf("%s: got %s/%d, want %s/%d", what, got.ID, got.LogIndex, want.ID, want.LogIndex)
		}
		// The proof is against the current tree and verifies.
		leaf := rekor.LeafHash(got.Body)
		root, _ := hex.DecodeString(got.Verification.InclusionProof.RootHash)
		var hashes [][]byte
		for _, h := range got.Verification.InclusionProof.Hashes {
			b, _ := hex.DecodeString(h)
			hashes = append(hashes, b)
		}
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(got.LogIndex), uint64(got.Verification.InclusionProof.TreeSize), leaf[:], hashes, root); err != nil {
			t.Errorf("%s: proof does not verify: %v", what, err)
		}
	}
	e0 := entries[0].a
	for _, path := range []string{"/api/v1/log/entries/" + e0.ID, "/api/v1/log/entries/" + e0.ID[16:], "/api/v1/log/entries/" + strings.ToUpper(e0.ID), "/api/v1/log/entries?logIndex=0"} {
		resp, body := l.get(path)
		mustStatus(t, resp, body, http.StatusOK)
		check(path, body, e0)
	}
	for _, tc := range []struct {
		path   string
		status int
	}{
		{"/api/v1/log/entries?logIndex=4", 404},
		{"/api/v1/log/entries?logIndex=-1", 400},
		{"/api/v1/log/entries?logIndex=x", 400},
		{"/api/v1/log/entries", 400},
		{"/api/v1/log/entries/" + strings.Repeat("ab", 32), 404},
		{"/api/v1/log/entries/" + "0000000000000001" + e0.ID[16:], 404}, // another tree
		{"/api/v1/log/entries/xyz", 400},
		{"/api/v1/nothing", 404},
	} {
		resp, body := l.get(tc.path)
		mustStatus(t, resp, body, tc.status)
	}
	// entries/retrieve: by UUID, index and proposed entry; misses skipped.
	q := mustJSON(map[string]any{
		"entryUUIDs": []string{e0.ID, strings.Repeat("cd", 32)},
		"logIndexes": []int{1, 99},
		"entries":    []json.RawMessage{entries[2].req, json.RawMessage(`{"kind":"rpm","apiVersion":"0.0.1","spec":{}}`)},
	})
	resp, body = l.post("/api/v1/log/entries/retrieve", q)
	mustStatus(t, resp, body, http.StatusOK)
	var list []json.RawMessage
	if err := json.Unmarshal(body, &list); err != nil || len(list) != 3 {
		t.Fatalf("retrieve returned %d results (%v): %s", len(list), err, body)
	}
	check("retrieve uuid", list[0], e0)
	check("retrieve entry", list[1], entries[2].a)
	check("retrieve index", list[2], entries[1].a)
	resp, body = l.post("/api/v1/log/entries/retrieve", mustJSON(map[string]any{"logIndexes": []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}}))
	mustStatus(t, resp, body, http.StatusUnprocessableEntity)
	resp, body = l.post("/api/v1/log/entries/retrieve", []byte(`{"entryUUIDs":["nope"]}`))
	mustStatus(t, resp, body, http.StatusBadRequest)

	// index/retrieve.
	search := func(q map[string]any) []string {
		t.Helper()
		resp, body := l.post("/api/v1/index/retrieve", mustJSON(q))
		mustStatus(t, resp, body, http.StatusOK)
		var ids []string
		if err := json.Unmarshal(body, &ids); err != nil {
			t.Fatal(err)
		}
		slices.Sort(ids)
		return ids
	}
	ids := func(as ...v1Answer) []string {
		var out []string
		for _, a := range as {
			out = append(out, a.ID)
		}
		slices.Sort(out)
		return out
	}
	alicePEM := base64.StdEncoding.EncodeToString(alice.pem())
	d1 := hex.EncodeToString(entries[1].digest)
	for _, tc := range []struct {
		name string
		q    map[string]any
		want []string
	}{
		{"hash", map[string]any{"hash": "sha256:" + d1}, ids(entries[1].a)},
		{"bare hash", map[string]any{"hash": strings.ToUpper(d1)}, ids(entries[1].a)},
		{"certificate", map[string]any{"publicKey": map[string]any{"format": "x509", "content": alicePEM}}, ids(entries[0].a, entries[2].a)},
		{"subject", map[string]any{"subject": testpki.DefaultIdentity.URI}, ids(entries[0].a, entries[2].a, dsseEntry)},
		{"or", map[string]any{"hash": d1, "publicKey": map[string]any{"format": "x509", "content": alicePEM}}, ids(entries[0].a, entries[1].a, entries[2].a)},
		{"and", map[string]any{"hash": hex.EncodeToString(entries[2].digest), "publicKey": map[string]any{"format": "x509", "content": alicePEM}, "operator": "and"}, ids(entries[2].a)},
		{"and, no match", map[string]any{"hash": d1, "publicKey": map[string]any{"format": "x509", "content": alicePEM}, "operator": "and"}, nil},
		{"in-toto subject", map[string]any{"hash": "sha256:" + hex.EncodeToString(sha256Bytes([]byte("lookup dsse")))}, ids(dsseEntry)},
		{"nothing asked", map[string]any{}, nil},
	} {
		if got := search(tc.q); !slices.Equal(got, tc.want) {
			t.Errorf("search %s: got %v, want %v", tc.name, got, tc.want)
		}
	}
	for _, bad := range []string{`{"hash":"sha256:zz"}`, `{"operator":"xor","hash":"` + d1 + `"}`, `{"publicKey":{"format":"pgp","content":"AA=="}}`, `{"publicKey":{"format":"x509","content":"AA=="}}`, `{"email":"nobody"}`, `[`} {
		resp, body := l.post("/api/v1/index/retrieve", []byte(bad))
		mustStatus(t, resp, body, http.StatusBadRequest)
	}
}

// GET /api/v1/log returns a fresh signed checkpoint; /api/v1/log/proof
// proves consistency between any two sizes, as rekor-cli loginfo checks.
func TestV1LogInfoAndConsistency(t *testing.T) {
	l := startLog(t, "", nil)
	p, _ := testpki.New(testpki.Options{})
	s := newSigner(t, p, nil, false)
	logs, _ := l.svc.TrustedLogs()
	v1 := logs[1]
	type info struct {
		RootHash       string
		TreeSize       uint64
		SignedTreeHead string
		TreeID         string
	}
	var infos []info
	for i := 0; i < 7; i++ {
		req, _, _ := s.v1HashedRekord(t, []byte("info "+strconv.Itoa(i)))
		resp, body := l.post("/api/v1/log/entries", req)
		mustStatus(t, resp, body, http.StatusCreated)
		resp, body = l.get("/api/v1/log")
		mustStatus(t, resp, body, http.StatusOK)
		var in info
		if err := json.Unmarshal(body, &in); err != nil {
			t.Fatal(err)
		}
		cp, _, err := checkpoint.OpenV1([]byte(in.SignedTreeHead), v1.V1CheckpointVerifier)
		if err != nil {
			t.Fatal(err)
		}
		if cp.Size != in.TreeSize || hex.EncodeToString(cp.Hash) != in.RootHash || in.TreeID != strconv.FormatInt(l.svc.V1TreeID(), 10) {
			t.Fatalf("log info %+v does not match its checkpoint %+v", in, cp)
		}
		infos = append(infos, in)
	}
	for i := range infos {
		for j := i; j < len(infos); j++ {
			a, b := infos[i], infos[j]
			resp, body := l.get(fmt.Sprintf("/api/v1/log/proof?firstSize=%d&lastSize=%d", a.TreeSize, b.TreeSize))
			mustStatus(t, resp, body, http.StatusOK)
			var cp struct {
				RootHash string
				Hashes   []string
			}
			json.Unmarshal(body, &cp) //nolint:errcheck
			if cp.RootHash != b.RootHash {
				t.Errorf("proof %d→%d: rootHash %s, want %s", a.TreeSize, b.TreeSize, cp.RootHash, b.RootHash)
			}
			var hashes [][]byte
			for _, h := range cp.Hashes {
				x, _ := hex.DecodeString(h)
				hashes = append(hashes, x)
			}
			r1, _ := hex.DecodeString(a.RootHash)
			r2, _ := hex.DecodeString(b.RootHash)
			if err := proof.VerifyConsistency(rfc6962.DefaultHasher, a.TreeSize, b.TreeSize, hashes, r1, r2); err != nil {
				t.Errorf("proof %d→%d does not verify: %v", a.TreeSize, b.TreeSize, err)
			}
		}
	}
	for _, bad := range []string{"firstSize=3&lastSize=2", "firstSize=1&lastSize=99", "firstSize=0&lastSize=2", "lastSize=x", "firstSize=1", "firstSize=1&lastSize=2&treeID=5"} {
		resp, body := l.get("/api/v1/log/proof?" + bad)
		mustStatus(t, resp, body, http.StatusBadRequest)
	}
}

// The fast path takes the usual hashedrekord proposal.
func TestFastParseProposed(t *testing.T) {
	p, _ := testpki.New(testpki.Options{})
	for _, cert := range []bool{true, false} {
		req, _, _ := newSigner(t, p, nil, cert).v1HashedRekord(t, []byte("x"))
		if _, ok := fastParseProposed(req); !ok {
			t.Errorf("cert=%v: the usual proposal is not on the fast path: %s", cert, req)
		}
	}
	for _, req := range []string{
		`{"kind":"dsse","apiVersion":"0.0.1","spec":{}}`,
		`{"kind":"hashedrekord","apiVersion":"0.0.1","spec":{"extra":1}}`,
		`{"kind":"hashedrekord","apiVersion":"0.0.1","spec":{"signature":{"content":"AA"}}}`, // unpadded
		`{"kind":"hashedrekord","apiVersion":"0.0.1"}`,
	} {
		if _, ok := fastParseProposed([]byte(req)); ok {
			t.Errorf("fast path took %s", req)
		}
	}
}

// A dsse or intoto proposal with more than maxEnvelopeSigners signatures
// or dsse verifiers is refused before any signature is verified: each dsse
// signature may be tried with every verifier, so thousands of both in a
// few MiB cost the log minutes of CPU. Up to the limit, a signature that
// only the last verifier verifies is accepted.
func TestV1EnvelopeSignerLimits(t *testing.T) {
	const limit = 16 // maxEnvelopeSigners
	l := startLog(t, "", nil)
	p, _ := testpki.New(testpki.Options{})
	s := newSigner(t, p, nil, false)
	env := s.envelope(t, []byte("a"))
	ej, _ := json.Marshal(env)
	dsseReq := func(envelope []byte, verifiers [][]byte) []byte {
		return mustJSON(map[string]any{"kind": "dsse", "apiVersion": "0.0.1", "spec": map[string]any{
			"proposedContent": map[string]any{"envelope": string(envelope), "verifiers": verifiers}}})
	}
	decoys := func(n int) [][]byte {
		var out [][]byte
		for i := 0; i < n; i++ {
			out = append(out, newSigner(t, p, nil, false).pem())
		}
		return out
	}
	many := *env
	many.Signatures = nil
	for i := 0; i <= limit; i++ {
		many.Signatures = append(many.Signatures, dsse.Signature{Sig: s.sign(t, s.digest(env.PAE()))})
	}
	manyJSON, _ := json.Marshal(&many)
	var intotoMany map[string]any
	if err := json.Unmarshal(s.v1Intoto(env), &intotoMany); err != nil {
		t.Fatal(err)
	}
	envMap := intotoMany["spec"].(map[string]any)["content"].(map[string]any)["envelope"].(map[string]any)
	sig0 := envMap["signatures"].([]any)[0]
	sigs := []any{}
	for i := 0; i <= limit; i++ {
		sigs = append(sigs, sig0)
	}
	envMap["signatures"] = sigs

	for _, tc := range []struct {
		name string
		body []byte
		want string
	}{
		{"dsse verifiers", dsseReq(ej, append(decoys(limit), s.pem())), "at most 16"},
		{"dsse signatures", dsseReq(manyJSON, [][]byte{s.pem()}), "at most 16"},
		{"intoto signatures", mustJSON(intotoMany), "at most 16"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := l.post("/api/v1/log/entries", tc.body)
			mustStatus(t, resp, body, http.StatusBadRequest)
			if !strings.Contains(errMessage(body), tc.want) {
				t.Errorf("message %q does not mention %q", errMessage(body), tc.want)
			}
			resp, body = l.post("/api/v1/log/entries/retrieve", mustJSON(map[string]any{"entries": []json.RawMessage{tc.body}}))
			mustStatus(t, resp, body, http.StatusBadRequest)
		})
	}
	if sz := l.svc.v1.latest().size; sz != 0 {
		t.Errorf("refused proposals grew the log to %d", sz)
	}
	// As many verifiers as allowed: accepted. The signer comes first, so
	// the decoys are never consulted (see TestV1DSSEVerifierOrder).
	resp, body := l.post("/api/v1/log/entries", dsseReq(ej, append([][]byte{s.pem()}, decoys(limit-1)...)))
	mustStatus(t, resp, body, http.StatusCreated)
}

// TestV1DSSEVerifierOrder: as in sigstore/rekor's dsse 0.0.1, the verifiers
// are consulted in order until every signature has one, and a verifier
// consulted that verifies none of the signatures refuses the request.
func TestV1DSSEVerifierOrder(t *testing.T) {
	l := startLog(t, "", nil)
	p, _ := testpki.New(testpki.Options{})
	a, b, decoy := newSigner(t, p, nil, false), newSigner(t, p, nil, false), newSigner(t, p, nil, false)
	env := a.envelope(t, []byte("order"))
	env.Signatures = append(env.Signatures, dsse.Signature{Sig: b.sign(t, b.digest(env.PAE()))})
	ej, _ := json.Marshal(env)
	req := func(verifiers ...[]byte) []byte {
		return mustJSON(map[string]any{"kind": "dsse", "apiVersion": "0.0.1", "spec": map[string]any{
			"proposedContent": map[string]any{"envelope": string(ej), "verifiers": verifiers}}})
	}
	for _, tc := range []struct {
		name      string
		verifiers [][]byte
		status    int
		want      string
	}{
		{"decoy first", [][]byte{decoy.pem(), a.pem(), b.pem()}, http.StatusBadRequest, "verifier 0 verifies none"},
		{"decoy between", [][]byte{a.pem(), decoy.pem(), b.pem()}, http.StatusBadRequest, "verifier 1 verifies none"},
		{"one signature unverified", [][]byte{a.pem()}, http.StatusBadRequest, "signature 1 does not verify"},
		{"decoy after every signature has a verifier", [][]byte{b.pem(), a.pem(), decoy.pem()}, http.StatusCreated, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := l.post("/api/v1/log/entries", req(tc.verifiers...))
			mustStatus(t, resp, body, tc.status)
			if tc.want != "" && !strings.Contains(errMessage(body), tc.want) {
				t.Errorf("message %q does not mention %q", errMessage(body), tc.want)
			}
		})
	}
}

// TestV1DSSEOneSignaturePerVerifier: in Rekor's dsse 0.0.1 a verifier
// accounts for one signature, the first of the envelope it verifies
// (go-securesystemslib drops a provider once it verified one), so an
// envelope with two signatures by one key is refused with that key given
// once, or twice; sigil's log took it with one verifier.
func TestV1DSSEOneSignaturePerVerifier(t *testing.T) {
	l := startLog(t, "", nil)
	p, _ := testpki.New(testpki.Options{})
	a := newSigner(t, p, nil, false)
	env := a.envelope(t, []byte("twice"))
	env.Signatures = append(env.Signatures, dsse.Signature{Sig: a.sign(t, a.digest(env.PAE()))})
	if bytes.Equal(env.Signatures[0].Sig, env.Signatures[1].Sig) {
		t.Fatal("the two signatures are the same")
	}
	ej, _ := json.Marshal(env)
	for _, verifiers := range [][][]byte{{a.pem()}, {a.pem(), a.pem()}} {
		resp, body := l.post("/api/v1/log/entries", mustJSON(map[string]any{"kind": "dsse", "apiVersion": "0.0.1", "spec": map[string]any{
			"proposedContent": map[string]any{"envelope": string(ej), "verifiers": verifiers}}}))
		mustStatus(t, resp, body, http.StatusBadRequest)
		if !strings.Contains(errMessage(body), "signature 1 does not verify") {
			t.Errorf("%d verifiers: %q", len(verifiers), errMessage(body))
		}
	}
}
