// Package dev is sigil's built-in development OIDC issuer: a small OpenID
// Provider that auto-approves one configured identity, so that a private
// instance works out of the box and the real interactive client flows run
// headless in tests.
//
// It serves, below its public URL (the issuer, "iss"):
//
//	GET      /.well-known/openid-configuration  OIDC Discovery 1.0 §4
//	GET      /keys          the JWKS (RFC 7517) of its ES256 key
//	GET|POST /auth          authorization code flow (OIDC Core §3.1), PKCE S256 required (RFC 7636),
//	                        redirect URIs on loopback (RFC 8252 §7.3) or urn:ietf:wg:oauth:2.0:oob
//	POST     /token         grants authorization_code, urn:ietf:params:oauth:grant-type:device_code
//	                        (RFC 8628 §3.4) and client_credentials; client_secret_basic/post or none
//	POST     /device/code   device authorization (RFC 8628 §3.1), optional PKCE S256, interval 1 s
//	GET|POST /device        the verification page: a user_code approves at once, action=deny denies (RFC 8628 §3.3)
//	GET|POST /test/token    mints a token for tests (aud, sub, email, exp_in, claims); loopback peers only, not when forced
//
// The one client ID it knows is the audience. Authorization codes live one
// minute and are single-use; device codes live ten minutes; at most 1000 of
// each are outstanding.
//
// The ID tokens it issues carry iss = the public URL, aud = the configured
// audience (default "sigstore", the client ID every Sigstore CA expects,
// sigstore/fulcio config/identity/config.yaml), sub, email with
// email_verified true when the identity has an email (what Fulcio's email
// issuer type requires, sigstore/fulcio pkg/identity/email/principal.go),
// iat, exp at most 10 minutes later, the nonce of the authorization request,
// and any extra claims configured (for example GitHub-Actions-like claims, see
// GitHubActionsClaims).
//
// Security: the issuer auto-approves whoever reaches it, so anyone who can
// reach it can sign as its identity. New refuses a listen address or public
// URL that is not loopback unless Config.Force is set, and the handler
// answers 403 to peers that are not loopback and to requests whose Host is
// not 127.0.0.1, ::1 or localhost (unless forced; a web page could
// otherwise reach it through the developer's browser by DNS rebinding,
// and read the tokens it answers). Redirect URIs
// must be loopback (RFC 8252 §7.3) or out-of-band. The test mint answers
// loopback peers only, and is off when forced (behind a proxy on the same
// host every client is a loopback peer, and the mint signs any identity).
package dev

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

const (
	// DefaultAudience is the audience (and the one client ID) of the issuer
	// when Config.Audience is empty: the client ID Sigstore clients and CAs
	// use everywhere.
	DefaultAudience = "sigstore"
	// DefaultEmail is the identity's email when neither an email nor a
	// subject is configured (.test is reserved by RFC 2606).
	DefaultEmail = "dev@sigil.test"
	// MaxTokenLifetime bounds Config.TokenLifetime, and is its default.
	MaxTokenLifetime = 10 * time.Minute
	// KeyFile is the name of the signing key file in Config.DataDir: a
	// PKCS#8 ECDSA P-256 private key in PEM, mode 0600.
	KeyFile = "dev-oidc-key.pem"

	oobRedirectURI  = "urn:ietf:wg:oauth:2.0:oob"
	pathChars       = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~/"
	deviceGrantType = "urn:ietf:params:oauth:grant-type:device_code"
)

// ErrNotLoopback is returned by New when the listen address or public URL
// is not loopback and Config.Force is not set.
var ErrNotLoopback = errors.New("not a loopback address")

// Identity is the identity the issuer vouches for in every flow.
type Identity struct {
	// Email goes in the email claim, with email_verified true. When both
	// Email and Subject are empty (and Claims has no sub), it is DefaultEmail.
	Email string
	// Subject is the sub claim; by default Claims["sub"], else Email.
	Subject string
	// Claims are added to every token, for example GitHubActionsClaims.
	// The claims the issuer sets itself (iss, aud, iat, exp, nbf, nonce,
	// sub, and email and email_verified when Email is set) are ignored here.
	// Values must marshal to JSON.
	Claims map[string]any
}

// Config configures an Issuer.
type Config struct {
	// DataDir holds the signing key (KeyFile), generated on first start and
	// reused later. Empty: the key lives in memory only.
	DataDir string
	// PublicURL is the issuer URL (the iss claim), as clients reach it, for
	// example http://127.0.0.1:8080/oidc; a trailing slash is dropped.
	PublicURL string
	// Identity is the identity every flow auto-approves.
	Identity Identity
	// Audience is the aud claim and the only client ID the issuer accepts.
	// Default DefaultAudience.
	Audience string
	// TokenLifetime is how long tokens stay valid, at most (and by default)
	// MaxTokenLifetime.
	TokenLifetime time.Duration
	// ListenAddr is the address the server binds ("host:port"); when set it
	// must be loopback unless Force.
	ListenAddr string
	// Force allows a listen address, public URL and peers that are not
	// loopback. Anyone who reaches a forced issuer can sign as Identity;
	// its test token endpoint, which signs any identity, is off.
	Force bool
	// Logger receives one line per token issued. Default: discard.
	Logger *slog.Logger
}

// Issuer is a running dev OIDC issuer. Its methods are safe for concurrent
// use.
type Issuer struct {
	url      string // the issuer URL, without trailing slash
	prefix   string // URL path of url, without trailing slash
	aud      string
	id       Identity
	lifetime time.Duration
	force    bool
	log      *slog.Logger
	signer   jose.Signer
	jwks     []byte
	disco    []byte
	handler  http.Handler
	now      func() time.Time

	mu      sync.Mutex
	codes   map[string]*authCode    // by authorization code
	devices map[string]*deviceGrant // by device_code
	users   map[string]string       // user_code → device_code
}

// New checks cfg, loads or creates the signing key and returns the issuer.
func New(cfg Config) (*Issuer, error) {
	u, err := url.Parse(strings.TrimSuffix(cfg.PublicURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("couldn't start the dev OIDC issuer: public URL %q must be an http or https URL without query, fragment or user", cfg.PublicURL)
	}
	if strings.ContainsFunc(u.EscapedPath(), func(r rune) bool { return !strings.ContainsRune(pathChars, r) }) {
		return nil, fmt.Errorf("couldn't start the dev OIDC issuer: the path of public URL %q may hold only letters, digits and -._~/", cfg.PublicURL)
	}
	if !cfg.Force {
		if !isLoopbackHost(u.Hostname()) {
			return nil, fmt.Errorf("couldn't start the dev OIDC issuer: public URL %s: %w; the dev issuer signs in anyone who reaches it, so it serves only 127.0.0.1, ::1 or localhost unless forced", cfg.PublicURL, ErrNotLoopback)
		}
		if cfg.ListenAddr != "" {
			if err := checkListenAddr(cfg.ListenAddr); err != nil {
				return nil, fmt.Errorf("couldn't start the dev OIDC issuer: %w; the dev issuer signs in anyone who reaches it, so listen on 127.0.0.1, ::1 or localhost, or force it", err)
			}
		}
	}
	i := &Issuer{
		url: u.String(), prefix: strings.TrimSuffix(u.EscapedPath(), "/"),
		aud: cfg.Audience, id: cfg.Identity, lifetime: cfg.TokenLifetime, force: cfg.Force, log: cfg.Logger,
		now: time.Now, codes: map[string]*authCode{}, devices: map[string]*deviceGrant{}, users: map[string]string{},
	}
	if i.aud == "" {
		i.aud = DefaultAudience
	}
	if i.lifetime == 0 {
		i.lifetime = MaxTokenLifetime
	}
	if i.lifetime < 0 || i.lifetime > MaxTokenLifetime {
		return nil, fmt.Errorf("couldn't start the dev OIDC issuer: token lifetime %s is not between 0 and %s", i.lifetime, MaxTokenLifetime)
	}
	if i.log == nil {
		i.log = slog.New(slog.DiscardHandler)
	}
	if err := i.normalizeIdentity(); err != nil {
		return nil, fmt.Errorf("couldn't start the dev OIDC issuer: %w", err)
	}
	key, created, err := loadOrCreateKey(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("couldn't start the dev OIDC issuer: %w", err)
	}
	if err := i.setKey(key); err != nil {
		return nil, fmt.Errorf("couldn't start the dev OIDC issuer: %w", err)
	}
	i.disco, err = json.MarshalIndent(i.discovery(), "", "  ")
	if err != nil {
		return nil, fmt.Errorf("couldn't start the dev OIDC issuer: %w", err)
	}
	i.handler = i.routes()
	i.log.Info("dev OIDC issuer ready", "issuer", i.url, "subject", i.id.Subject, "email", i.id.Email, "audience", i.aud, "key_created", created)
	return i, nil
}

// URL returns the issuer URL: the iss claim, and what clients and the CA
// discover from.
func (i *Issuer) URL() string { return i.url }

// Audience returns the aud claim of issued tokens, which is also the only
// client ID the issuer accepts.
func (i *Issuer) Audience() string { return i.aud }

// Identity returns the identity the issuer vouches for, with defaults
// applied.
func (i *Issuer) Identity() Identity { return i.id }

// Handler serves the issuer's endpoints at the path of the public URL and
// below; mount it there without stripping the prefix, for example
// mux.Handle("/oidc/", iss.Handler()) for http://127.0.0.1:8080/oidc.
func (i *Issuer) Handler() http.Handler { return i.handler }

// Mint returns a signed ID token for the configured identity with claims
// merged over the defaults (iss, aud, sub, email, email_verified, iat, exp).
// Any claim may be overridden, including exp (an expired token) and aud:
// Mint is for tests, and does not bound the lifetime.
func (i *Issuer) Mint(claims map[string]any) (string, error) {
	c := i.claims("")
	for k, v := range claims {
		c[k] = v
	}
	tok, err := i.sign(c)
	if err != nil {
		return "", fmt.Errorf("couldn't mint a token: %w", err)
	}
	return tok, nil
}

func (i *Issuer) normalizeIdentity() error {
	id := &i.id
	claimSub, _ := id.Claims["sub"].(string)
	if id.Email == "" && id.Subject == "" && claimSub == "" {
		id.Email = DefaultEmail
	}
	if id.Email != "" {
		if a, err := mail.ParseAddress(id.Email); err != nil || a.Address != id.Email {
			return fmt.Errorf("identity email %q is not an email address", id.Email)
		}
	}
	if id.Subject == "" {
		id.Subject = claimSub
	}
	if id.Subject == "" {
		id.Subject = id.Email
	}
	if _, err := json.Marshal(id.Claims); err != nil {
		return fmt.Errorf("identity claims do not marshal to JSON: %w", err)
	}
	return nil
}

// claims returns the claims of a token issued now by a flow.
func (i *Issuer) claims(nonce string) map[string]any {
	now := i.now()
	c := make(map[string]any, len(i.id.Claims)+8)
	for k, v := range i.id.Claims {
		c[k] = v
	}
	c["iss"] = i.url
	c["aud"] = i.aud
	c["sub"] = i.id.Subject
	c["iat"] = now.Unix()
	c["exp"] = now.Add(i.lifetime).Unix()
	delete(c, "nbf")
	delete(c, "nonce")
	if i.id.Email != "" {
		c["email"] = i.id.Email
		c["email_verified"] = true
	}
	if nonce != "" {
		c["nonce"] = nonce
	}
	return c
}

func (i *Issuer) sign(claims map[string]any) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	jws, err := i.signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

func (i *Issuer) setKey(key *ecdsa.PrivateKey) error {
	pub := jose.JSONWebKey{Key: &key.PublicKey, Algorithm: string(jose.ES256), Use: "sig"}
	tp, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return fmt.Errorf("couldn't compute the key ID: %w", err)
	}
	pub.KeyID = base64.RawURLEncoding.EncodeToString(tp) // RFC 7638 thumbprint
	i.signer, err = jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: pub.KeyID}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return fmt.Errorf("couldn't make the token signer: %w", err)
	}
	i.jwks, err = json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{pub}})
	if err != nil {
		return fmt.Errorf("couldn't encode the JWKS: %w", err)
	}
	return nil
}

// loadOrCreateKey reads dir/KeyFile, or generates a P-256 key and stores it
// there without clobbering one written concurrently. An empty dir gives a
// key in memory.
func loadOrCreateKey(dir string) (key *ecdsa.PrivateKey, created bool, err error) {
	if dir == "" {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		return key, true, err
	}
	path := filepath.Join(dir, KeyFile)
	if b, err := os.ReadFile(path); err == nil {
		key, err := parseKey(b)
		if err != nil {
			return nil, false, fmt.Errorf("couldn't load the signing key %s: %w", path, err)
		}
		return key, false, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, fmt.Errorf("couldn't read the signing key: %w", err)
	}
	key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, false, fmt.Errorf("couldn't generate the signing key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, false, fmt.Errorf("couldn't encode the signing key: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, fmt.Errorf("couldn't create the data directory: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".dev-oidc-key-*") // mode 0600
	if err != nil {
		return nil, false, fmt.Errorf("couldn't store the signing key: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := pem.Encode(tmp, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		tmp.Close()
		return nil, false, fmt.Errorf("couldn't store the signing key: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, false, fmt.Errorf("couldn't store the signing key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, false, fmt.Errorf("couldn't store the signing key: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) { // another process won the race: use its key
			return loadOrCreateKey(dir)
		}
		return nil, false, fmt.Errorf("couldn't store the signing key: %w", err)
	}
	return key, true, nil
}

func parseKey(b []byte) (*ecdsa.PrivateKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, errors.New("want a PEM PRIVATE KEY block")
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, err
	}
	ec, ok := k.(*ecdsa.PrivateKey)
	if !ok || ec.Curve != elliptic.P256() {
		return nil, errors.New("want an ECDSA P-256 key")
	}
	return ec, nil
}

// checkListenAddr refuses a "host:port" that binds more than loopback.
func checkListenAddr(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", addr, err)
	}
	if !isLoopbackHost(host) {
		if host == "" {
			return fmt.Errorf("listen address %q binds every interface: %w", addr, ErrNotLoopback)
		}
		return fmt.Errorf("listen address %s: %w", addr, ErrNotLoopback)
	}
	return nil
}

// isLoopbackHost reports whether host is "localhost" or a loopback IP.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
	return err == nil && ip.Unmap().IsLoopback()
}

// loopbackRequestHost reports whether a request's Host (host or
// host:port; empty for an HTTP/1.0 request without one, which no browser
// sends) names a loopback host.
func loopbackRequestHost(host string) bool {
	if host == "" {
		return true
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return isLoopbackHost(host)
}

// loopbackPeer reports whether a request's RemoteAddr is loopback (or a
// Unix socket peer, which net/http reports as "@" or "").
func loopbackPeer(remote string) bool {
	if remote == "" || remote == "@" {
		return true
	}
	ap, err := netip.ParseAddrPort(remote)
	return err == nil && ap.Addr().Unmap().IsLoopback()
}
