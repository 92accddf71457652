package sign

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"sigil.dev/sigil/rekor"
)

// TestFindHashedRekordManyEntries: a key that signed one artifact more
// often than the candidates fetched has its entries listed by the index in
// any order; the entry of the signature asked for is found wherever it is.
func TestFindHashedRekordManyEntries(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	digest := sha256.Sum256([]byte("re-signed artifact"))
	bodies := map[string][]byte{}
	var ids []string
	var sigs [][]byte
	for i := range 3 * maxCandidates {
		sig := []byte(fmt.Sprintf("signature %d", i))
		body := rekor.HashedRekordV001(crypto.SHA256, digest[:], sig, pemKey)
		leaf := rekor.LeafHash(body)
		id := "24296fb24b8ad77a" + hex.EncodeToString(leaf[:])
		bodies[id] = body
		ids = append(ids, id)
		sigs = append(sigs, sig)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/api/v1/index/retrieve":
			json.NewEncoder(w).Encode(ids)
		case strings.HasPrefix(r.URL.Path, "/api/v1/log/entries/"):
			id := strings.TrimPrefix(r.URL.Path, "/api/v1/log/entries/")
			body, ok := bodies[id]
			if !ok {
				http.NotFound(w, r)
				return
			}
			json.NewEncoder(w).Encode(map[string]any{id: map[string]any{"body": body, "integratedTime": 1, "logID": "00", "logIndex": 7}})
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	logs := []*RekorV1{{BaseURL: srv.URL}}
	for _, i := range []int{0, maxCandidates, 3*maxCandidates - 1} {
		tle, _, err := FindHashedRekord(context.Background(), logs, Lookup{Hash: crypto.SHA256, Digest: digest[:], Signature: sigs[i], Key: k.Public()})
		if err != nil {
			t.Fatalf("signature %d: %v", i, err)
		}
		if got, _ := SignatureOf(tle.GetCanonicalizedBody()); string(got) != string(sigs[i]) {
			t.Errorf("signature %d: found the entry of %q", i, got)
		}
	}
	// Another signature by the same key over the same digest has none.
	if _, _, err := FindHashedRekord(context.Background(), logs, Lookup{Hash: crypto.SHA256, Digest: digest[:], Signature: []byte("never logged"), Key: k.Public()}); err == nil {
		t.Error("a signature never logged was found")
	}
}

// TestFindHashedRekordHostileErrors: the words of a log that refuses the
// search reach the terminal through the error; a terminal escape in them
// (erase the line, print a verdict) and a megabyte of text do not.
func TestFindHashedRekordHostileErrors(t *testing.T) {
	msg := "\x1b[2K\rVerified OK: signed by release@example.com\u202e" + strings.Repeat("x", 1<<20)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		json.NewEncoder(w).Encode(map[string]any{"code": 500, "message": msg})
	}))
	defer srv.Close()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	digest := sha256.Sum256([]byte("a"))
	_, _, err := FindHashedRekord(context.Background(), []*RekorV1{{BaseURL: srv.URL}}, Lookup{Hash: crypto.SHA256, Digest: digest[:], Signature: []byte("s"), Key: k.Public()})
	if err == nil {
		t.Fatal("found an entry")
	}
	if s := err.Error(); strings.ContainsAny(s, "\x1b\r\u202e") || len(s) > 1000 || !strings.Contains(s, "?[2K?Verified OK") {
		t.Errorf("error of %d bytes: %.200q", len(s), s)
	}
}

// A signature's entry is found by its UUID even when the log's index
// (best effort) does not list it.
func TestFindHashedRekordWithoutIndex(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(k.Public())
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	digest := sha256.Sum256([]byte("indexed nowhere"))
	sig := []byte("the signature")
	body := rekor.HashedRekordV001(crypto.SHA256, digest[:], sig, pemKey)
	leaf := rekor.LeafHash(body)
	uuid := hex.EncodeToString(leaf[:])
	searched := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v1/index/retrieve":
			searched++
			w.Write([]byte("[]")) //nolint:errcheck
		case "/api/v1/log/entries/" + uuid:
			json.NewEncoder(w).Encode(map[string]any{"24296fb24b8ad77a" + uuid: map[string]any{"body": body, "integratedTime": 1, "logID": "00", "logIndex": 7}}) //nolint:errcheck
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	logs := []*RekorV1{{BaseURL: srv.URL}}
	tle, _, err := FindHashedRekord(context.Background(), logs, Lookup{Hash: crypto.SHA256, Digest: digest[:], Signature: sig, Key: k.Public()})
	if err != nil || tle.GetLogIndex() != 7 || searched != 0 {
		t.Fatalf("entry %v, %v; %d searches", tle.GetLogIndex(), err, searched)
	}
	// Without the signature (gitsign's online mode) the index is asked.
	if _, _, err := FindHashedRekord(context.Background(), logs, Lookup{Hash: crypto.SHA256, Digest: digest[:], Key: k.Public()}); err == nil || searched != 1 {
		t.Fatalf("without a signature: %v, %d searches", err, searched)
	}
}

// A log that takes connections and never answers holds a lookup for
// LookupTimeout, not for each request's timeout in turn.
func TestFindHashedRekordDeadline(t *testing.T) {
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	defer srv.Close()
	defer close(stop)
	old := LookupTimeout
	LookupTimeout = 300 * time.Millisecond
	defer func() { LookupTimeout = old }()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	digest := sha256.Sum256([]byte("a"))
	logs := []*RekorV1{{BaseURL: srv.URL, HTTPClient: &http.Client{Timeout: time.Hour}}, {BaseURL: srv.URL + "/other", HTTPClient: &http.Client{Timeout: time.Hour}}}
	_, _, err := FindHashedRekord(context.Background(), logs, Lookup{Hash: crypto.SHA256, Digest: digest[:], Signature: []byte("s"), Key: k.Public()})
	if err == nil || !strings.Contains(err.Error(), "no answer within 300ms") {
		t.Fatalf("err = %v", err)
	}
}
