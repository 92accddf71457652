package sign

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"sigil.dev/sigil/internal/printable"
)

// CAClient requests certificates from a Fulcio-compatible CA (v2 REST API).
type CAClient struct {
	URL        string // base URL, e.g. https://fulcio.example.com
	HTTPClient *http.Client
	UserAgent  string
}

// CAError is a refusal by the CA, with its message.
type CAError struct {
	Status  int
	Message string
}

func (e *CAError) Error() string {
	msg := fmt.Sprintf("the CA refused the request (HTTP %d): %s", e.Status, e.Message)
	if h := e.hint(); h != "" {
		msg += "; " + h
	}
	return msg
}

// hint says what to do about a refusal. Fulcio's messages (sigstore/fulcio
// pkg/api/error.go) are terse on purpose; the details are in the CA's log.
func (e *CAError) hint() string {
	m := strings.ToLower(e.Message)
	switch {
	case e.Status == http.StatusForbidden:
		// sigil's CA refuses a token its issuer's claim policy does not
		// permit with 403 and a message naming the identity token: the
		// token is valid, and a new one is refused alike.
		return "the CA's policy does not certify this identity: ask its operator which identities it accepts"
	case strings.Contains(m, "identity token"):
		return "the CA did not accept the identity token: check that the CA trusts its issuer, that its audience is \"sigstore\" and that it has not expired, then get a new token (the CA's log names the exact reason)"
	case strings.Contains(m, "insecure"):
		return "use a P-256, P-384 or P-521 key, Ed25519, or RSA of 2048, 3072 or 4096 bits"
	case strings.Contains(m, "signature supplied in the request could not be verified"):
		return "the proof of possession must sign the token's email (email issuers) or its sub"
	case e.Status >= 500:
		return "the CA failed: try again later, or ask its operator"
	}
	return ""
}

type caRequest struct {
	Credentials      *caCredentials      `json:"credentials,omitempty"`
	PublicKeyRequest *caPublicKeyRequest `json:"publicKeyRequest,omitempty"`
}

type caCredentials struct {
	OIDCIdentityToken string `json:"oidcIdentityToken"`
}

type caPublicKeyRequest struct {
	PublicKey struct {
		Algorithm string `json:"algorithm,omitempty"`
		Content   string `json:"content"`
	} `json:"publicKey"`
	ProofOfPossession []byte `json:"proofOfPossession"`
}

type caChain struct {
	Chain struct {
		Certificates []string `json:"certificates"`
	} `json:"chain"`
	SignedCertificateTimestamp []byte `json:"signedCertificateTimestamp,omitempty"`
}

type caResponse struct {
	Embedded *caChain `json:"signedCertificateEmbeddedSct"`
	Detached *caChain `json:"signedCertificateDetachedSct"`
}

// SigningCert asks for a certificate for key, proving possession by signing
// subject (the token's email, or sub). It returns the chain, leaf first.
func (c *CAClient) SigningCert(ctx context.Context, token string, key crypto.Signer, subject string) ([]*x509.Certificate, error) {
	pop, err := signMessage(key, []byte(subject))
	if err != nil {
		return nil, fmt.Errorf("couldn't sign the proof of possession: %w", err)
	}
	der, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return nil, fmt.Errorf("couldn't encode public key: %w", err)
	}
	var req caRequest
	req.Credentials = &caCredentials{OIDCIdentityToken: token}
	req.PublicKeyRequest = &caPublicKeyRequest{ProofOfPossession: pop}
	req.PublicKeyRequest.PublicKey.Content = string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(c.URL, "/")+"/api/v2/signingCert", bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("couldn't build CA request: %w", err)
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("Authorization", "Bearer "+token)
	if c.UserAgent != "" {
		hr.Header.Set("User-Agent", c.UserAgent)
	}
	resp, err := httpClient(c.HTTPClient).Do(hr)
	if err != nil {
		return nil, fmt.Errorf("couldn't reach the CA at %s: %w", c.URL, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("couldn't read the CA response: %w", err)
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		return nil, &CAError{Status: resp.StatusCode, Message: errorMessage(raw)}
	}
	var cr caResponse
	if err := json.Unmarshal(raw, &cr); err != nil {
		return nil, fmt.Errorf("couldn't parse the CA response: %w", err)
	}
	ch := cr.Embedded
	if ch == nil {
		ch = cr.Detached
	}
	if ch == nil || len(ch.Chain.Certificates) == 0 {
		return nil, errors.New("the CA returned no certificate")
	}
	var out []*x509.Certificate
	for i, p := range ch.Chain.Certificates {
		blk, _ := pem.Decode([]byte(p))
		if blk == nil {
			return nil, fmt.Errorf("couldn't parse certificate %d of the CA response: not PEM", i)
		}
		crt, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("couldn't parse certificate %d of the CA response: %w", i, err)
		}
		out = append(out, crt)
	}
	return out, nil
}

// errorMessage extracts the message of a JSON error body
// ({"code","message"} from Fulcio and Rekor), or the raw text. The
// service's words reach the user's terminal: they are cut to 300 bytes,
// and control and bidirectional formatting characters (a terminal escape
// that erases the error and prints a verdict) become "?".
func errorMessage(raw []byte) string {
	var e struct {
		Message string `json:"message"`
		Error   string `json:"error"`
	}
	s := strings.TrimSpace(string(raw))
	if json.Unmarshal(raw, &e) == nil {
		if e.Message != "" {
			s = e.Message
		} else if e.Error != "" {
			s = e.Error
		}
	}
	return printable.Cut(s, 300)
}

func httpClient(c *http.Client) *http.Client {
	if c != nil {
		return c
	}
	return http.DefaultClient
}
