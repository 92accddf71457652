package ca

import (
	"bytes"
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"sigil.dev/sigil/oidc"
	"sigil.dev/sigil/sct"
)

// MaxRequestSize bounds request bodies (sigstore/fulcio cmd/app/serve.go
// maxMsgSize, 4 MiB); a larger body is 400 "http: request body too large".
const MaxRequestSize = 4 << 20

// Content types.
const (
	contentTypeJSON     = "application/json"
	contentTypePEMChain = "application/pem-certificate-chain"
)

// gRPC status codes used in error bodies.
const (
	codeInvalidArgument  = 3
	codePermissionDenied = 7
	codeInternal         = 13
)

// apiError is a client-visible error: HTTP status, gRPC code and message.
// The cause is logged, never sent.
type apiError struct {
	status  int
	code    int
	message string
	cause   error
}

func (e *apiError) Error() string { return e.message }

func badRequest(msg string, cause error) *apiError {
	return &apiError{status: http.StatusBadRequest, code: codeInvalidArgument, message: msg, cause: cause}
}

func internal(msg string, cause error) *apiError {
	return &apiError{status: http.StatusInternalServerError, code: codeInternal, message: msg, cause: cause}
}

// Handler returns the HTTP API.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v2/signingCert", s.signingCertV2)
	mux.HandleFunc("/api/v1/signingCert", s.signingCertV1)
	mux.HandleFunc("/api/v2/trustBundle", s.trustBundle)
	mux.HandleFunc("/api/v2/configuration", s.configuration)
	mux.HandleFunc("/api/v1/rootCert", s.rootCert)
	// Anything else under /api/ gets grpc-gateway's JSON 404, as Fulcio
	// answers it, rather than net/http's text.
	mux.HandleFunc("/api/", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", contentTypeJSON)
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"code":5,"message":"Not Found","details":[]}`))
	})
	return mux
}

func (s *Service) writeError(w http.ResponseWriter, r *http.Request, api string, e *apiError) {
	level := s.log.Warn
	if e.status >= 500 {
		level = s.log.Error
	}
	level("signing certificate request refused", "api", api, "status", e.status, "message", e.message, "error", e.cause, "remote", r.RemoteAddr)
	s.m.requests.WithLabelValues(api, strconv.Itoa(e.status)).Inc()
	body, _ := json.Marshal(struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Details []any  `json:"details"`
	}{e.code, e.message, []any{}})
	w.Header().Set("Content-Type", contentTypeJSON)
	w.WriteHeader(e.status)
	_, _ = w.Write(body)
}

func methodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	w.Header().Set("Content-Type", contentTypeJSON)
	w.WriteHeader(http.StatusMethodNotAllowed)
	_, _ = w.Write([]byte(`{"code":12,"message":"Method Not Allowed","details":[]}`))
}

// maxPrealloc bounds the buffer allocated from a request's Content-Length
// before its body arrives. A signing request is a few KiB; allocating the
// whole announced length up front let a client announce 4 MiB, send
// nothing and hold the connection: a thousand such connections (a hundred
// bytes each) made the process account 4 GB of heap, and the garbage
// collector, past its memory limit, slowed every service threefold.
const maxPrealloc = 64 << 10

// readBody reads at most MaxRequestSize bytes.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, *apiError) {
	rd := http.MaxBytesReader(w, r.Body, MaxRequestSize)
	var body []byte
	var err error
	if n := r.ContentLength; n > 0 && n <= maxPrealloc {
		// Read exactly the announced length, then require EOF.
		body = make([]byte, n)
		if _, err = io.ReadFull(rd, body); err == nil {
			var one [1]byte
			if k, _ := rd.Read(one[:]); k > 0 {
				err = errors.New("body longer than its Content-Length")
			}
		}
	} else {
		// Grows with what arrives.
		body, err = io.ReadAll(rd)
	}
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, badRequest("http: request body too large", err)
		}
		return nil, badRequest("couldn't read request body", err)
	}
	return body, nil
}

// bearer returns the token of an "Authorization: Bearer" header (Fulcio
// strips the first "Bearer " it finds; the scheme is case-insensitive
// here, RFC 9110 §11.1).
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// b64 is a protojson bytes field: standard or URL-safe base64, padded or
// not; null or absent is empty.
type b64 []byte

func (b *b64) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		*b = nil
		return nil
	}
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if v, err := enc.DecodeString(s); err == nil {
			*b = v
			return nil
		}
	}
	return fmt.Errorf("invalid base64 data")
}

// The request bodies. protojson accepts the lowerCamelCase JSON names and
// the original proto field names; unknown fields (and the algorithm, which
// Fulcio ignores) are skipped.
type v2Request struct {
	Credentials      *v2Credentials  `json:"credentials"`
	PublicKeyRequest *v2PublicKeyReq `json:"publicKeyRequest"`
	PKRSnake         *v2PublicKeyReq `json:"public_key_request"`
	CSR              b64             `json:"certificateSigningRequest"`
	CSRSnake         b64             `json:"certificate_signing_request"`
}

type v2Credentials struct {
	Token      string `json:"oidcIdentityToken"`
	TokenSnake string `json:"oidc_identity_token"`
}

type v2PublicKeyReq struct {
	PublicKey      *v2PublicKey `json:"publicKey"`
	PublicKeySnake *v2PublicKey `json:"public_key"`
	Proof          b64          `json:"proofOfPossession"`
	ProofSnake     b64          `json:"proof_of_possession"`
}

type v2PublicKey struct {
	Content string `json:"content"`
}

type v1Request struct {
	PublicKey      *v1PublicKey `json:"publicKey"`
	PublicKeySnake *v1PublicKey `json:"public_key"`
	Signed         b64          `json:"signedEmailAddress"`
	SignedSnake    b64          `json:"signed_email_address"`
	CSR            b64          `json:"certificateSigningRequest"`
	CSRSnake       b64          `json:"certificate_signing_request"`
}

type v1PublicKey struct {
	Content b64 `json:"content"`
}

func first[T any](a, b T, empty func(T) bool) T {
	if !empty(a) {
		return a
	}
	return b
}

func emptyBytes(b b64) bool { return len(b) == 0 }

// request is a signing request in either API version.
type request struct {
	token     string
	csr       []byte
	publicKey []byte // PEM or DER
	proof     []byte
}

func decodeJSON(body []byte, v any) *apiError {
	if err := json.Unmarshal(body, v); err != nil {
		return badRequest(fmt.Sprintf("couldn't parse request body: %v", err), err)
	}
	return nil
}

func parseV2(body []byte, r *http.Request) (*request, *apiError) {
	var in v2Request
	if err := decodeJSON(body, &in); err != nil {
		return nil, err
	}
	out := &request{csr: first(in.CSR, in.CSRSnake, emptyBytes)}
	if in.Credentials != nil {
		out.token = first(in.Credentials.Token, in.Credentials.TokenSnake, func(s string) bool { return s == "" })
	}
	if out.token == "" {
		out.token = bearer(r)
	}
	pkr := in.PublicKeyRequest
	if pkr == nil {
		pkr = in.PKRSnake
	}
	if pkr != nil && len(out.csr) > 0 {
		// The two are a oneof (key) in Fulcio's proto: protojson refuses
		// a body setting both. Taking one would certify a key the client
		// may not mean.
		return nil, badRequest(msgBothKeyAndCSR, errors.New("publicKeyRequest and certificateSigningRequest both set"))
	}
	if pkr != nil {
		out.proof = first(pkr.Proof, pkr.ProofSnake, emptyBytes)
		pk := pkr.PublicKey
		if pk == nil {
			pk = pkr.PublicKeySnake
		}
		if pk != nil {
			out.publicKey = []byte(pk.Content)
		}
	}
	return out, nil
}

func parseV1(body []byte, r *http.Request) (*request, *apiError) {
	var in v1Request
	if err := decodeJSON(body, &in); err != nil {
		return nil, err
	}
	out := &request{token: bearer(r), csr: first(in.CSR, in.CSRSnake, emptyBytes)}
	if len(out.csr) > 0 {
		return out, nil
	}
	pk := in.PublicKey
	if pk == nil {
		pk = in.PublicKeySnake
	}
	if pk == nil {
		// The legacy server checks this before the token
		// (sigstore/fulcio pkg/server/legacy_server.go).
		return nil, badRequest(msgInvalidPublicKey, errors.New("public key not provided"))
	}
	out.publicKey = pk.Content
	out.proof = first(in.Signed, in.SignedSnake, emptyBytes)
	return out, nil
}

// result is an issued certificate ready for either API.
type result struct {
	chain       []string // leaf first, trimmed PEM
	detachedSCT []byte   // JSON AddChainResponse, or nil
	embedded    bool
}

// issueRequest runs the whole signing flow for a request: token, key,
// proof, certificate, CT. Both API versions call it.
func (s *Service) issueRequest(ctx context.Context, req *request) (*result, *apiError) {
	p, err := s.cfg.Identity.Verify(ctx, req.token)
	if err != nil {
		if errors.Is(err, oidc.ErrPolicy) {
			return nil, &apiError{status: http.StatusForbidden, code: codePermissionDenied, message: msgPolicy, cause: err}
		}
		return nil, badRequest(msgInvalidToken, err)
	}

	var pub crypto.PublicKey
	var spki []byte
	var h crypto.Hash
	if len(req.csr) > 0 {
		csr, err := parseCSR(req.csr)
		if err != nil {
			return nil, badRequest(msgInvalidCSR, err)
		}
		pub, spki = csr.PublicKey, csr.RawSubjectPublicKeyInfo
		if err := validatePublicKey(pub); err != nil {
			return nil, badRequest(msgInsecureKey, err)
		}
		if err := csr.CheckSignature(); err != nil {
			return nil, badRequest(msgInvalidSignature, err)
		}
		if h, err = csrHash(csr.SignatureAlgorithm); err != nil {
			return nil, badRequest(err.Error(), err)
		}
	} else {
		if pub, spki, err = parsePublicKey(req.publicKey); err != nil {
			return nil, badRequest(msgInvalidPublicKey, err)
		}
		if err := validatePublicKey(pub); err != nil {
			return nil, badRequest(msgInsecureKey, err)
		}
		h = defaultHash(pub)
		if err := verifyProof(pub, req.proof, p.Challenge); err != nil {
			return nil, badRequest(msgInvalidSignature, fmt.Errorf("proof of possession over %q: %w", p.Challenge, err))
		}
	}
	if !algorithmPermitted(pub, h) {
		msg := fmt.Sprintf("signing algorithm not permitted: %T, %s", pub, h)
		return nil, badRequest(msg, errors.New(msg))
	}
	if len(req.csr) > 0 {
		// Re-encode: the CSR's SPKI bytes are whatever the client sent.
		var err error
		if spki, err = canonicalSPKI(pub); err != nil {
			return nil, badRequest(msgInsecureKey, err)
		}
	}

	l, err := s.newLeaf(p, spki)
	if err != nil {
		if errors.Is(err, ErrIdentityEncoding) {
			return nil, badRequest(err.Error(), err)
		}
		return nil, internal(msgCAError, err)
	}
	out, err := s.issue(ctx, l)
	if err != nil {
		var ce *ctError
		if errors.As(err, &ce) {
			return nil, internal(msgCTError, err)
		}
		return nil, internal(msgCAError, err)
	}
	res := &result{embedded: out.embedded}
	res.chain = make([]string, 0, 1+len(s.chainPEM))
	res.chain = append(res.chain, strings.TrimSpace(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: out.der}))))
	res.chain = append(res.chain, s.chainPEM...)
	if out.detachedSCT != nil {
		if res.detachedSCT, err = MarshalDetachedSCT(out.detachedSCT); err != nil {
			return nil, internal("Error marshaling signed certificate timestamp", err)
		}
	}
	s.log.Info("issued certificate", "san", p.SAN, "issuer", p.Extensions.Issuer, "sct", sctMode(res))
	return res, nil
}

func sctMode(r *result) string {
	switch {
	case r.embedded:
		return "embedded"
	case r.detachedSCT != nil:
		return "detached"
	}
	return "none"
}

func (s *Service) signingCertV2(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		methodNotAllowed(w, http.MethodPost)
		return
	}
	start := time.Now()
	body, aerr := readBody(w, r)
	if aerr != nil {
		s.writeError(w, r, "v2", aerr)
		return
	}
	req, aerr := parseV2(body, r)
	if aerr != nil {
		s.writeError(w, r, "v2", aerr)
		return
	}
	res, aerr := s.issueRequest(r.Context(), req)
	if aerr != nil {
		s.writeError(w, r, "v2", aerr)
		return
	}
	var b bytes.Buffer
	size := 200
	for _, c := range res.chain {
		size += len(c) + 64
	}
	b.Grow(size + 2*len(res.detachedSCT))
	if res.embedded {
		b.WriteString(`{"signedCertificateEmbeddedSct":{"chain":{"certificates":`)
		writeStrings(&b, res.chain)
		b.WriteString(`}}}`)
	} else {
		b.WriteString(`{"signedCertificateDetachedSct":{"chain":{"certificates":`)
		writeStrings(&b, res.chain)
		b.WriteString(`},"signedCertificateTimestamp":"`)
		b.WriteString(base64.StdEncoding.EncodeToString(res.detachedSCT))
		b.WriteString(`"}}`)
	}
	w.Header().Set("Content-Type", contentTypeJSON)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b.Bytes())
	s.done("v2", res, start)
}

func (s *Service) signingCertV1(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		methodNotAllowed(w, http.MethodPost)
		return
	}
	start := time.Now()
	body, aerr := readBody(w, r)
	if aerr != nil {
		s.writeError(w, r, "v1", aerr)
		return
	}
	req, aerr := parseV1(body, r)
	if aerr != nil {
		s.writeError(w, r, "v1", aerr)
		return
	}
	res, aerr := s.issueRequest(r.Context(), req)
	if aerr != nil {
		s.writeError(w, r, "v1", aerr)
		return
	}
	if res.detachedSCT != nil {
		w.Header().Set("SCT", base64.StdEncoding.EncodeToString(res.detachedSCT))
	}
	w.Header().Set("Content-Type", contentTypePEMChain)
	w.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(w, strings.Join(res.chain, "\n"))
	s.done("v1", res, start)
}

func (s *Service) done(api string, res *result, start time.Time) {
	s.m.requests.WithLabelValues(api, "ok").Inc()
	s.m.issued.WithLabelValues(api, sctMode(res)).Inc()
	s.m.latency.WithLabelValues(api).Observe(time.Since(start).Seconds())
}

func writeStrings(b *bytes.Buffer, list []string) {
	b.WriteByte('[')
	for i, s := range list {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(jsonString(s))
	}
	b.WriteByte(']')
}

// jsonString quotes s as a JSON string. PEM text needs only its newlines
// escaped; anything else goes through encoding/json.
func jsonString(s string) string {
	plain := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\n' || c == '"' || c == '\\' || c >= 0x7f || c == '<' || c == '>' || c == '&' {
			plain = false
			break
		}
	}
	if !plain {
		out, _ := json.Marshal(s)
		return string(out)
	}
	var b strings.Builder
	b.Grow(len(s) + len(s)/32 + 2)
	b.WriteByte('"')
	for {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		b.WriteString(`\n`)
		s = s[i+1:]
	}
	b.WriteByte('"')
	return b.String()
}

func (s *Service) trustBundle(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, http.MethodGet)
		return
	}
	w.Header().Set("Content-Type", contentTypeJSON)
	_, _ = w.Write(s.bundle)
}

func (s *Service) rootCert(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, http.MethodGet)
		return
	}
	w.Header().Set("Content-Type", contentTypePEMChain)
	_, _ = io.WriteString(w, s.rootPEM)
}

func (s *Service) configuration(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, http.MethodGet)
		return
	}
	issuers := s.cfg.Identity.Issuers()
	if issuers == nil {
		issuers = []oidc.IssuerInfo{}
	}
	body, err := json.Marshal(struct {
		Issuers []oidc.IssuerInfo `json:"issuers"`
	}{issuers})
	if err != nil {
		s.writeError(w, r, "configuration", internal("error loading fulcio configuration", err))
		return
	}
	w.Header().Set("Content-Type", contentTypeJSON)
	_, _ = w.Write(body)
}

// DetachedSCT is the JSON form of a detached SCT: certificate-transparency-go's
// AddChainResponse, which cosign unmarshals (sigstore/fulcio pkg/ctl/utils.go
// ToAddChainResponse). The signature is the TLS DigitallySigned struct.
type DetachedSCT struct {
	SCTVersion uint8  `json:"sct_version"`
	ID         []byte `json:"id"`
	Timestamp  uint64 `json:"timestamp"`
	Extensions string `json:"extensions"`
	Signature  []byte `json:"signature"`
}

// MarshalDetachedSCT returns the JSON of a detached SCT.
func MarshalDetachedSCT(s *sct.SCT) ([]byte, error) {
	sig := make([]byte, 0, 4+len(s.Signature))
	sig = append(sig, s.HashAlg, s.SigAlg, byte(len(s.Signature)>>8), byte(len(s.Signature)))
	sig = append(sig, s.Signature...)
	return json.Marshal(DetachedSCT{
		ID:         s.LogID[:],
		Timestamp:  s.Timestamp,
		Extensions: base64.StdEncoding.EncodeToString(s.Extensions),
		Signature:  sig,
	})
}

// ParseDetachedSCT reads the JSON of a detached SCT.
func ParseDetachedSCT(b []byte) (*sct.SCT, error) {
	var d DetachedSCT
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("couldn't parse detached SCT: %w", err)
	}
	if d.SCTVersion != 0 || len(d.ID) != 32 || len(d.Signature) < 4 {
		return nil, fmt.Errorf("couldn't parse detached SCT: %w", sct.ErrMalformed)
	}
	ext, err := base64.StdEncoding.DecodeString(d.Extensions)
	if err != nil {
		return nil, fmt.Errorf("couldn't parse detached SCT extensions: %w", err)
	}
	n := int(d.Signature[2])<<8 | int(d.Signature[3])
	if n != len(d.Signature)-4 {
		return nil, fmt.Errorf("couldn't parse detached SCT signature: %w", sct.ErrMalformed)
	}
	out := &sct.SCT{Timestamp: d.Timestamp, Extensions: ext, HashAlg: d.Signature[0], SigAlg: d.Signature[1], Signature: d.Signature[4:]}
	copy(out.LogID[:], d.ID)
	return out, nil
}
