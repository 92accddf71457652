// Package oidctest is a minimal OpenID Connect issuer for tests and
// benchmarks: a discovery document and a JWKS served on loopback, and a
// function that mints signed tokens with any claims. It also makes the
// malformed tokens that security tests need (alg "none", HS256 keyed with
// the RSA public key, unknown key IDs).
//
// It is not an identity provider: there is no login, and anyone who can
// call Token gets a token. The real dev issuer is package oidc/dev.
package oidctest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Issuer is a running test issuer.
type Issuer struct {
	// URL is the issuer URL (iss) and the base of discovery.
	URL string
	// Key signs tokens; KeyID names it in the JWKS and token headers.
	Key   crypto.Signer
	KeyID string
	Alg   jose.SignatureAlgorithm
	// Algs is what discovery lists in id_token_signing_alg_values_supported
	// (default: Alg).
	Algs []string

	// DiscoveryHits and JWKSHits count requests.
	DiscoveryHits, JWKSHits atomic.Int64

	// CACert is the PEM certificate a TLS issuer serves with.
	CACert []byte

	srv *httptest.Server
	// Handler may be replaced to serve something else (e.g. redirects).
	Handler http.Handler
}

// Options tune New.
type Options struct {
	// ES256 signs with a P-256 key instead of RSA-2048 (RS256).
	ES256 bool
	// Addr listens on this loopback address (e.g. "127.0.0.1:5556")
	// instead of a random port.
	Addr string
	// TLS serves HTTPS with a certificate of its own test CA (see CACert).
	TLS bool
}

// New starts an issuer on a loopback port.
func New(o Options) (*Issuer, error) {
	i := &Issuer{KeyID: "test-key-1"}
	if o.ES256 {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		i.Key, i.Alg = k, jose.ES256
	} else {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, err
		}
		i.Key, i.Alg = k, jose.RS256
	}
	i.Algs = []string{string(i.Alg)}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		i.DiscoveryHits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer":                                i.URL,
			"jwks_uri":                              i.URL + "/keys",
			"authorization_endpoint":                i.URL + "/auth",
			"token_endpoint":                        i.URL + "/token",
			"response_types_supported":              []string{"id_token"},
			"subject_types_supported":               []string{"public"},
			"id_token_signing_alg_values_supported": i.Algs,
		})
	})
	mux.HandleFunc("/keys", func(w http.ResponseWriter, r *http.Request) {
		i.JWKSHits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{i.JWK()}})
	})
	i.Handler = mux
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { i.Handler.ServeHTTP(w, r) }))
	if o.Addr != "" {
		l, err := net.Listen("tcp", o.Addr)
		if err != nil {
			return nil, fmt.Errorf("couldn't listen on %s: %w", o.Addr, err)
		}
		srv.Listener.Close()
		srv.Listener = l
	}
	if o.TLS {
		srv.StartTLS()
		i.CACert = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	} else {
		srv.Start()
	}
	i.srv = srv
	i.URL = srv.URL
	return i, nil
}

// Close stops the issuer.
func (i *Issuer) Close() { i.srv.Close() }

// JWK returns the public signing key as a JWK.
func (i *Issuer) JWK() jose.JSONWebKey {
	return jose.JSONWebKey{Key: i.Key.Public(), KeyID: i.KeyID, Algorithm: string(i.Alg), Use: "sig"}
}

// Claims returns a valid claim set for the issuer: iss, aud "sigstore",
// sub and a verified email, issued now and expiring in ten minutes.
func (i *Issuer) Claims(sub, email string) map[string]any {
	now := time.Now()
	c := map[string]any{
		"iss": i.URL, "aud": "sigstore", "sub": sub,
		"iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(),
	}
	if email != "" {
		c["email"] = email
		c["email_verified"] = true
	}
	return c
}

// Token signs claims with the issuer's key.
func (i *Issuer) Token(claims map[string]any) (string, error) {
	return i.SignWith(i.Key, i.Alg, i.KeyID, claims)
}

// SignWith signs claims with any key, algorithm and key ID.
func (i *Issuer) SignWith(key crypto.Signer, alg jose.SignatureAlgorithm, kid string, claims map[string]any) (string, error) {
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	jws, err := s.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

// Unsigned returns a token with "alg":"none" and an empty signature.
func (i *Issuer) Unsigned(claims map[string]any) string {
	return Raw(map[string]any{"alg": "none", "typ": "JWT", "kid": i.KeyID}, claims, nil)
}

// HS256WithPublicKey returns a token MACed with HS256 using the PEM of the
// issuer's public key as the secret (the key-confusion attack).
func (i *Issuer) HS256WithPublicKey(claims map[string]any) string {
	der, _ := x509.MarshalPKIXPublicKey(i.Key.Public())
	secret := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	h := map[string]any{"alg": "HS256", "typ": "JWT", "kid": i.KeyID}
	signing := enc(h) + "." + enc(claims)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(signing))
	return signing + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Raw assembles header.payload.signature from the given parts.
func Raw(header, claims map[string]any, sig []byte) string {
	return enc(header) + "." + enc(claims) + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func enc(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}
