package sign

import (
	"bytes"
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"sigil.dev/sigil/internal/jcs"
	"sigil.dev/sigil/rekor"
	logclient "sigil.dev/sigil/tlog/client"
	"sigil.dev/sigil/trust"
)

// LogClient records a signature in a transparency log.
type LogClient interface {
	// URL is the log's base URL.
	URL() string
	// Upload logs the signed content and returns the bundle's entry.
	Upload(ctx context.Context, e *Entry) (*protorekor.TransparencyLogEntry, error)
}

// Entry is what a log records: the signature and who made it over a
// digest (hashedrekord) or a DSSE envelope.
type Entry struct {
	// Exactly one of Certificate (DER) and PublicKey (DER SPKI).
	Certificate, PublicKey []byte
	Key                    crypto.PublicKey
	Signature              []byte

	// Message signatures: the artifact digest.
	DigestAlgorithm crypto.Hash
	Digest          []byte

	// DSSE: the envelope JSON as submitted and its decoded payload; PAEDigest
	// is the key's hash of the PAE (what Rekor v2 logs).
	EnvelopeJSON []byte
	Payload      []byte
	PAEDigest    []byte
}

func (e *Entry) pem() []byte {
	if e.Certificate != nil {
		return pemBlock("CERTIFICATE", e.Certificate)
	}
	return pemBlock("PUBLIC KEY", e.PublicKey)
}

// RekorV1 is a client of the Rekor v1 REST API.
type RekorV1 struct {
	BaseURL    string
	HTTPClient *http.Client
	UserAgent  string
}

// URL returns the base URL.
func (r *RekorV1) URL() string { return r.BaseURL }

// proposedEntry returns the proposed entry JSON for e: hashedrekord 0.0.1
// for a digest, dsse 0.0.1 for an envelope (sigstore/rekor openapi.yaml,
// pkg/types/dsse/v0.0.1).
func (e *Entry) proposedV1() []byte {
	if e.EnvelopeJSON == nil {
		return rekor.HashedRekordV001(e.DigestAlgorithm, e.Digest, e.Signature, e.pem())
	}
	b := []byte(`{"apiVersion":"0.0.1","kind":"dsse","spec":{"proposedContent":{"envelope":`)
	b = jcs.AppendString(b, string(e.EnvelopeJSON))
	b = append(b, `,"verifiers":["`...)
	b = base64.StdEncoding.AppendEncode(b, e.pem())
	return append(b, `"]}}}`...)
}

// Upload creates the entry; on 409 (already logged) it fetches the
// existing one.
func (r *RekorV1) Upload(ctx context.Context, e *Entry) (*protorekor.TransparencyLogEntry, error) {
	base := strings.TrimSuffix(r.BaseURL, "/")
	resp, raw, err := do(ctx, r.HTTPClient, r.UserAgent, http.MethodPost, base+"/api/v1/log/entries", "application/json", e.proposedV1())
	if err != nil {
		return nil, fmt.Errorf("couldn't reach the transparency log at %s: %w", r.BaseURL, err)
	}
	switch resp.StatusCode {
	case http.StatusCreated:
	case http.StatusConflict:
		loc := resp.Header.Get("Location")
		if loc == "" {
			return nil, fmt.Errorf("the transparency log says the entry exists but gives no Location")
		}
		uuid := loc[strings.LastIndex(loc, "/")+1:]
		if resp, raw, err = do(ctx, r.HTTPClient, r.UserAgent, http.MethodGet, base+"/api/v1/log/entries/"+uuid, "", nil); err != nil {
			return nil, fmt.Errorf("couldn't fetch the existing log entry: %w", err)
		}
		if resp.StatusCode != http.StatusOK {
			return nil, &ServiceError{Service: "transparency log", Status: resp.StatusCode, Message: errorMessage(raw)}
		}
	default:
		return nil, &ServiceError{Service: "transparency log", Status: resp.StatusCode, Message: errorMessage(raw)}
	}
	tle, _, err := rekor.ParseV1LogEntry(raw)
	if err != nil {
		return nil, fmt.Errorf("couldn't use the log's answer: %w", err)
	}
	return tle, nil
}

// SearchQuery is a Rekor v1 index search (POST /api/v1/index/retrieve,
// sigstore/rekor openapi.yaml SearchIndex). Set any of the fields; with
// And the entries must match all of them, else any.
type SearchQuery struct {
	// PEM is a PEM certificate or public key: entries signed with it.
	PEM []byte
	// Hash is an artifact digest ("sha256:<hex>").
	Hash string
	And  bool
}

// maxSearchAnswer bounds the body of a search answer (a JSON array of
// 64- or 80-character entry IDs).
const maxSearchAnswer = 4 << 20

// Search returns the IDs of the entries matching q. Rekor's index is
// best effort ("may be incomplete"), so an empty answer is evidence of
// absence only from a log whose index the caller trusts to be complete.
func (r *RekorV1) Search(ctx context.Context, q SearchQuery) ([]string, error) {
	body := map[string]any{}
	if q.PEM != nil {
		body["publicKey"] = map[string]any{"format": "x509", "content": q.PEM}
	}
	if q.Hash != "" {
		body["hash"] = q.Hash
	}
	if q.And {
		body["operator"] = "and"
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	resp, ans, err := do(ctx, r.HTTPClient, r.UserAgent, http.MethodPost, strings.TrimSuffix(r.BaseURL, "/")+"/api/v1/index/retrieve", "application/json", raw)
	if err != nil {
		return nil, fmt.Errorf("couldn't reach the transparency log at %s: %w", r.BaseURL, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &ServiceError{Service: "transparency log", Status: resp.StatusCode, Message: errorMessage(ans)}
	}
	if len(ans) > maxSearchAnswer {
		return nil, fmt.Errorf("couldn't parse the log's search answer: longer than %d bytes", maxSearchAnswer)
	}
	var ids []string
	if err := json.Unmarshal(ans, &ids); err != nil {
		return nil, fmt.Errorf("couldn't parse the log's search answer: %w", err)
	}
	return ids, nil
}

// Entry fetches the entry with the given ID (a 64-hex-digit UUID, or an
// 80-digit ID with its tree ID) in the bundle form (GET
// /api/v1/log/entries/{entryUUID}). The caller verifies it.
func (r *RekorV1) Entry(ctx context.Context, id string) (*protorekor.TransparencyLogEntry, error) {
	if len(id) != 64 && len(id) != 80 || strings.Trim(id, "0123456789abcdefABCDEF") != "" {
		return nil, fmt.Errorf("couldn't fetch log entry %q: not an entry ID (64 or 80 hex digits)", id)
	}
	resp, raw, err := do(ctx, r.HTTPClient, r.UserAgent, http.MethodGet, strings.TrimSuffix(r.BaseURL, "/")+"/api/v1/log/entries/"+id, "", nil)
	if err != nil {
		return nil, fmt.Errorf("couldn't reach the transparency log at %s: %w", r.BaseURL, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &ServiceError{Service: "transparency log", Status: resp.StatusCode, Message: errorMessage(raw)}
	}
	tle, _, err := rekor.ParseV1LogEntry(raw)
	if err != nil {
		return nil, fmt.Errorf("couldn't use log entry %s: %w", id, err)
	}
	return tle, nil
}

// RekorV2 is a client of the Rekor v2 write API.
type RekorV2 struct {
	BaseURL    string
	HTTPClient *http.Client
	UserAgent  string
}

// URL returns the base URL.
func (r *RekorV2) URL() string { return r.BaseURL }

// Upload logs e as a hashedrekord 0.0.2 entry (DSSE as a hashedrekord over
// the PAE digest).
func (r *RekorV2) Upload(ctx context.Context, e *Entry) (*protorekor.TransparencyLogEntry, error) {
	details, _, err := rekor.KeyDetails(e.Key)
	if err != nil {
		return nil, err
	}
	digest := e.Digest
	if e.EnvelopeJSON != nil {
		digest = e.PAEDigest
	}
	verifier := map[string]any{"keyDetails": details}
	if e.Certificate != nil {
		verifier["x509Certificate"] = map[string][]byte{"rawBytes": e.Certificate}
	} else {
		verifier["publicKey"] = map[string][]byte{"rawBytes": e.PublicKey}
	}
	body, err := json.Marshal(map[string]any{"hashedRekordRequestV002": map[string]any{
		"digest":    digest,
		"signature": map[string]any{"content": e.Signature, "verifier": verifier},
	}})
	if err != nil {
		return nil, err
	}
	resp, raw, err := do(ctx, r.HTTPClient, r.UserAgent, http.MethodPost, strings.TrimSuffix(r.BaseURL, "/")+"/api/v2/log/entries", "application/json", body)
	if err != nil {
		return nil, fmt.Errorf("couldn't reach the transparency log at %s: %w", r.BaseURL, err)
	}
	if resp.StatusCode == http.StatusConflict {
		d := &DuplicateError{Log: r.BaseURL, Index: -1, Message: errorMessage(raw)}
		if i, err := strconv.ParseInt(resp.Header.Get("X-Log-Index"), 10, 64); err == nil && i >= 0 {
			d.Index = i
		}
		return nil, d
	}
	if resp.StatusCode != http.StatusCreated {
		return nil, &ServiceError{Service: "transparency log", Status: resp.StatusCode, Message: errorMessage(raw)}
	}
	var tle protorekor.TransparencyLogEntry
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(raw, &tle); err != nil {
		return nil, fmt.Errorf("couldn't parse the log entry response: %w", err)
	}
	return &tle, nil
}

// DuplicateError is a Rekor v2 log's 409: it already holds this exact
// entry, which happens when a deterministic signature (Ed25519, RSA
// PKCS#1 v1.5) over the same artifact is logged again, or when a retry
// follows an upload whose answer was lost. rekor-tiles says no
// more; sigil's log names the entry's index in X-Log-Index, from which the
// signer rebuilds the entry (Existing).
type DuplicateError struct {
	Log     string
	Index   int64 // -1 when the log does not say
	Message string
}

func (e *DuplicateError) Error() string {
	return fmt.Sprintf("the transparency log %s already holds this exact signature and does not say where: an earlier attempt was logged but its answer was lost (sign again: a keyless signature uses a new key each time), or a key that signs deterministically (Ed25519, RSA) signed the same content before (use the bundle made then, or sign into a Rekor v1 log, which returns the existing entry) (%s)", e.Log, e.Message)
}

// Existing rebuilds the entry a DuplicateError names from the log's
// tiles: its canonicalized body and an inclusion proof against the newest
// checkpoint, whose key tr names. The caller verifies the bundle as a whole.
func (r *RekorV2) Existing(ctx context.Context, d *DuplicateError, tr *trust.TrustedRoot) (*protorekor.TransparencyLogEntry, error) {
	c := logclient.New(r.BaseURL)
	if r.HTTPClient != nil {
		c.HTTP = r.HTTPClient
	}
	signed, err := c.V2Checkpoint(ctx)
	if err != nil {
		return nil, fmt.Errorf("the log already holds this signature at index %d, but its checkpoint could not be read: %w", d.Index, err)
	}
	k := logclient.FindKey(tr, signed)
	if k == nil {
		return nil, fmt.Errorf("the log already holds this signature at index %d, but the trusted root has no key for its checkpoint", d.Index)
	}
	cp, err := logclient.OpenCheckpoint(signed, k)
	if err != nil {
		return nil, fmt.Errorf("the log already holds this signature at index %d, but its checkpoint does not verify: %w", d.Index, err)
	}
	tle, err := c.V2Entry(ctx, uint64(d.Index), signed, cp, k.ID)
	if err != nil {
		return nil, fmt.Errorf("the log already holds this signature at index %d, but the entry could not be read: %w", d.Index, err)
	}
	return tle, nil
}

// ServiceError is an HTTP error answer from a log or TSA.
type ServiceError struct {
	Service string
	Status  int
	Message string
}

func (e *ServiceError) Error() string {
	return fmt.Sprintf("the %s refused the request (HTTP %d): %s", e.Service, e.Status, e.Message)
}

// Temporary reports whether retrying may help (5xx, 429).
func (e *ServiceError) Temporary() bool {
	return e.Status >= 500 || e.Status == http.StatusTooManyRequests
}

func do(ctx context.Context, c *http.Client, ua, method, url, ctype string, body []byte) (*http.Response, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return nil, nil, err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Accept", "application/json")
	if ua != "" {
		req.Header.Set("User-Agent", ua)
	}
	resp, err := httpClient(c).Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return nil, nil, err
	}
	return resp, raw, nil
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}
