package oidc

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	lru "github.com/hashicorp/golang-lru/v2"

	"sigil.dev/sigil/internal/httpx"
)

// Errors callers branch on. Every error Verify returns wraps one of them.
var (
	// ErrInvalidToken: the token is malformed, unsigned or badly signed,
	// expired, not yet valid, for another audience, or signed with an
	// algorithm outside the allow-list.
	ErrInvalidToken = errors.New("invalid identity token")
	// ErrUnknownIssuer: no configured issuer matches the token's iss.
	ErrUnknownIssuer = errors.New("identity token issuer is not configured")
	// ErrIdentity: the token is valid but its claims make no identity of
	// the issuer's type (no verified email, missing CI claims, a subject
	// outside the configured domain, ...).
	ErrIdentity = errors.New("identity token claims do not form an identity")
	// ErrPolicy: the identity is valid but the issuer's claim policy
	// refuses it.
	ErrPolicy = errors.New("identity is not permitted by the claim policy")
	// ErrIssuerUnavailable: discovery failed, so the token could not be
	// checked now; trying later may succeed.
	ErrIssuerUnavailable = errors.New("identity token issuer is unavailable")
)

// MaxTokenSize bounds the tokens Verify reads. Real ID tokens are a few
// kilobytes.
const MaxTokenSize = 256 << 10

// maxResponseSize bounds discovery documents and key sets.
const maxResponseSize = 1 << 20

// Options tune a Verifier. Zero values take the defaults.
type Options struct {
	// Transport makes the discovery and JWKS requests; default a clone of
	// http.DefaultTransport (with each issuer's ca-cert added to the
	// system roots).
	Transport *http.Transport
	// Timeout bounds each discovery and JWKS request; default 10 s.
	Timeout time.Duration
	// NotBeforeLeeway is how far in the future a token's nbf may be;
	// default 1 minute (go-oidc alone allows 5).
	NotBeforeLeeway time.Duration
	// JWKSRefresh is the least time between two key-set fetches caused by
	// tokens with unknown key IDs; default 30 s. Key sets are also
	// refetched after JWKSMaxAge (default 1 h) so revoked keys go away.
	JWKSRefresh, JWKSMaxAge time.Duration
	// DiscoveryRetry is how long a failed discovery is remembered before
	// the next token tries again; default 5 s.
	DiscoveryRetry time.Duration
	// NewMetaIssuersPerMinute bounds how many issuers not seen before
	// that match a meta-issuer pattern are taken up (each costs a
	// discovery request, before any signature can be checked), and how
	// often those whose discovery failed are tried again, in a burst
	// and per minute; default 30. Without a bound, tokens with
	// garbage signatures and made-up iss values make the CA send one
	// request per token (Fulcio has no bound).
	NewMetaIssuersPerMinute int
	// Now returns the current time; default time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Verifier checks identity tokens against the configured issuers and turns
// them into principals. It is safe for concurrent use.
//
// Checks, in order (sigstore/fulcio pkg/identity/issuerpool.go, authorize.go,
// coreos/go-oidc oidc/verify.go): size and shape (exactly two dots, checked
// before splitting: GHSA-f83f-xpx7-ffpw); the unverified iss selects an
// issuer (exact URL, or an anchored meta-issuer pattern); discovery at
// {iss}/.well-known/openid-configuration (timeout, no redirect to another
// host, the document's issuer must equal iss exactly); the JWS algorithm is
// in the allow-list and the discovery list; the signature verifies with a
// key of the cached JWKS; iss equals the issuer; aud contains the client ID;
// exp is in the future; nbf is at most NotBeforeLeeway ahead; then the
// issuer type's identity rules and the claim policy.
type Verifier struct {
	cfg   *Config
	opts  Options
	log   *slog.Logger
	exact map[string]*issuerState
	meta  []metaIssuer
	// cache holds the states of meta-issuers whose discovery succeeded,
	// by concrete URL; pending those not (yet) discovered, so that made-up
	// issuers, whose discovery fails, push out only each other and never
	// an issuer in use.
	cache, pending *lru.Cache[string, *issuerState]

	// newMeta is a token bucket of NewMetaIssuersPerMinute.
	newMetaMu     sync.Mutex
	newMetaTokens float64
	newMetaAt     time.Time
}

// takeNewMeta takes a token for a meta-issuer not seen before.
func (v *Verifier) takeNewMeta() bool {
	v.newMetaMu.Lock()
	defer v.newMetaMu.Unlock()
	limit := float64(v.opts.NewMetaIssuersPerMinute)
	now := v.opts.Now()
	if v.newMetaAt.IsZero() {
		v.newMetaTokens = limit
	} else {
		v.newMetaTokens = min(limit, v.newMetaTokens+now.Sub(v.newMetaAt).Minutes()*limit)
	}
	v.newMetaAt = now
	if v.newMetaTokens < 1 {
		return false
	}
	v.newMetaTokens--
	return true
}

type metaIssuer struct {
	pattern string
	re      *regexp.Regexp
	conf    Issuer
	policy  claimPolicy
}

// NewVerifier returns a verifier for a validated configuration. No network
// request is made until a token arrives.
func NewVerifier(cfg *Config, opts Options) (*Verifier, error) {
	if cfg == nil {
		return nil, fmt.Errorf("couldn't create token verifier: %w: no configuration", ErrConfig)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.Timeout == 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.NotBeforeLeeway == 0 {
		opts.NotBeforeLeeway = time.Minute
	}
	if opts.JWKSRefresh == 0 {
		opts.JWKSRefresh = 30 * time.Second
	}
	if opts.JWKSMaxAge == 0 {
		opts.JWKSMaxAge = time.Hour
	}
	if opts.DiscoveryRetry == 0 {
		opts.DiscoveryRetry = 5 * time.Second
	}
	if opts.NewMetaIssuersPerMinute <= 0 {
		opts.NewMetaIssuersPerMinute = 30
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Transport == nil {
		opts.Transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	v := &Verifier{cfg: cfg, opts: opts, log: opts.Logger, exact: map[string]*issuerState{}}
	if v.log == nil {
		v.log = slog.New(slog.DiscardHandler)
	}
	for url, iss := range cfg.OIDCIssuers {
		st, err := v.newState(url, iss)
		if err != nil {
			return nil, err
		}
		v.exact[url] = st
	}
	for pattern, iss := range cfg.MetaIssuers {
		re, err := metaRegexp(pattern)
		if err != nil {
			return nil, fmt.Errorf("%w: meta-issuer %q: %v", ErrConfig, pattern, err)
		}
		pol, err := compilePolicy(iss.ClaimPolicy)
		if err != nil {
			return nil, fmt.Errorf("%w: meta-issuer %q: %v", ErrConfig, pattern, err)
		}
		v.meta = append(v.meta, metaIssuer{pattern: pattern, re: re, conf: iss, policy: pol})
	}
	sort.Slice(v.meta, func(i, j int) bool { return v.meta[i].pattern < v.meta[j].pattern })
	var err error
	if v.cache, err = lru.New[string, *issuerState](100); err != nil {
		return nil, fmt.Errorf("couldn't create token verifier: %w", err)
	}
	if v.pending, err = lru.New[string, *issuerState](100); err != nil {
		return nil, fmt.Errorf("couldn't create token verifier: %w", err)
	}
	return v, nil
}

// Config returns the verifier's configuration (read only).
func (v *Verifier) Config() *Config { return v.cfg }

// Trusts reports whether tokens of issuer iss are taken up at all: iss is
// a configured issuer or matches a meta-issuer pattern (without
// discovering it). A server checks with it that the issuer it sends
// clients to sign in at is one its CA accepts.
func (v *Verifier) Trusts(iss string) bool {
	if _, ok := v.exact[iss]; ok {
		return true
	}
	for _, m := range v.meta {
		if m.re.MatchString(iss) {
			return true
		}
	}
	return false
}

// Issuers describes the configured issuers for /api/v2/configuration.
func (v *Verifier) Issuers() []IssuerInfo { return v.cfg.Issuers() }

// Verify checks a raw identity token and returns its principal.
func (v *Verifier) Verify(ctx context.Context, raw string) (*Principal, error) {
	iss, claims, err := unverifiedClaims(raw)
	if err != nil {
		return nil, err
	}
	st, err := v.state(iss)
	if err != nil {
		return nil, err
	}
	verifier, err := st.verifier(ctx)
	if err != nil {
		return nil, err
	}
	if st.meta && !st.cached.Load() {
		// Discovered: from now on among the issuers in use.
		v.cache.Add(st.url, st)
		v.pending.Remove(st.url)
		st.cached.Store(true)
	}
	tok, err := verifier.Verify(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("couldn't verify identity token: %w: %v", ErrInvalidToken, err)
	}
	// claims were decoded from the payload go-oidc has now verified: the
	// same bytes of raw, which the key set checked the signature over.
	if nbf, ok := claims["nbf"]; ok {
		n, isNum := nbf.(json.Number)
		f, err := n.Float64()
		if !isNum || err != nil {
			return nil, fmt.Errorf("couldn't verify identity token: %w: nbf is not a number", ErrInvalidToken)
		}
		// Compared as a float: a huge nbf must not wrap around to the
		// past in a conversion to int64 (go-oidc's own check does).
		limit := v.opts.Now().Add(v.opts.NotBeforeLeeway)
		if f > float64(limit.Unix()) {
			return nil, fmt.Errorf("couldn't verify identity token: %w: not valid before %s", ErrInvalidToken, n)
		}
	}
	// The identity comes from the claims the policy checks, never from a
	// second decoding of them: go-oidc's fills Subject from "SUB" or "Sub"
	// too (encoding/json matches field names case-insensitively), which
	// unverifiedClaims refuses, and this check makes sure of.
	sub, _ := claims["sub"].(string)
	if sub == "" {
		return nil, fmt.Errorf("couldn't verify identity token: %w: no sub claim (a string)", ErrInvalidToken)
	}
	if sub != tok.Subject || claims["iss"] != tok.Issuer {
		return nil, fmt.Errorf("couldn't verify identity token: %w: its sub or iss claim decodes two ways", ErrInvalidToken)
	}
	p, err := principalFor(st.conf, v.cfg.CIIssuerMetadata, tok.Issuer, sub, claims)
	if err != nil {
		return nil, fmt.Errorf("couldn't build identity from token of %s: %w: %v", tok.Issuer, ErrIdentity, err)
	}
	if err := st.policy.check(claims); err != nil {
		return nil, fmt.Errorf("couldn't accept identity %s: %w: %v", p.SAN, ErrPolicy, err)
	}
	return p, nil
}

// unverifiedClaims decodes a token's payload without verifying it, after
// checking the token's size and shape, and returns its iss claim (which
// chooses the issuer's verifier) and all its claims. The payload is decoded
// once per request: after go-oidc has verified the token, Verify uses these
// claims, which are the same bytes of raw.
func unverifiedClaims(raw string) (string, map[string]any, error) {
	if len(raw) == 0 {
		return "", nil, fmt.Errorf("couldn't read identity token: %w: no token", ErrInvalidToken)
	}
	if len(raw) > MaxTokenSize {
		return "", nil, fmt.Errorf("couldn't read identity token: %w: larger than %d bytes", ErrInvalidToken, MaxTokenSize)
	}
	if strings.Count(raw, ".") != 2 {
		return "", nil, fmt.Errorf("couldn't read identity token: %w: not a compact JWS (three parts)", ErrInvalidToken)
	}
	_, rest, _ := strings.Cut(raw, ".")
	payload, _, _ := strings.Cut(rest, ".")
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return "", nil, fmt.Errorf("couldn't read identity token: %w: payload is not base64url: %v", ErrInvalidToken, err)
	}
	// Numbers keep their JSON text (a claim policy and a certificate see
	// 9007199254740993, not the nearest float64).
	var claims map[string]any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&claims); err != nil {
		return "", nil, fmt.Errorf("couldn't read identity token: %w: payload is not a JSON object: %v", ErrInvalidToken, err)
	}
	if claims == nil {
		return "", nil, fmt.Errorf("couldn't read identity token: %w: payload is null, not a JSON object", ErrInvalidToken)
	}
	// Claim names that differ only in case ("sub" and "SUB") would be one
	// claim to go-oidc and two to a claim policy: refuse them.
	folded := make(map[string]string, len(claims))
	for k := range claims {
		// encoding/json folds as bytes.EqualFold does ("ſub" is "sub"
		// to it): fold through upper case, which maps ſ to S and K to K.
		l := strings.ToLower(strings.ToUpper(k))
		if other, dup := folded[l]; dup {
			return "", nil, fmt.Errorf("couldn't read identity token: %w: claims %q and %q differ only in case", ErrInvalidToken, other, k)
		}
		folded[l] = k
	}
	iss, _ := claims["iss"].(string)
	if iss == "" {
		return "", nil, fmt.Errorf("couldn't read identity token: %w: no iss claim", ErrInvalidToken)
	}
	return iss, claims, nil
}

func (v *Verifier) state(iss string) (*issuerState, error) {
	if st, ok := v.exact[iss]; ok {
		return st, nil
	}
	if st, ok := v.cache.Get(iss); ok {
		return st, nil
	}
	if st, ok := v.pending.Get(iss); ok {
		return st, nil
	}
	var match *metaIssuer
	for i, m := range v.meta {
		if !m.re.MatchString(iss) {
			continue
		}
		if match != nil {
			// Which pattern's policy applies must not depend on their
			// order: refuse until the operator makes them disjoint.
			return nil, fmt.Errorf("couldn't match issuer %q: it matches the meta-issuers %q and %q, whose configurations may differ; make the patterns disjoint: %w", iss, match.pattern, m.pattern, ErrUnknownIssuer)
		}
		match = &v.meta[i]
	}
	if m := match; m != nil {
		if !v.takeNewMeta() {
			return nil, fmt.Errorf("couldn't take up issuer %q of meta-issuer %q: %w: more than %d new issuers a minute (try again shortly)", iss, m.pattern, ErrIssuerUnavailable, v.opts.NewMetaIssuersPerMinute)
		}
		conf := m.conf
		conf.IssuerURL = iss
		st, err := v.newState(iss, conf)
		if err != nil {
			return nil, err
		}
		st.policy = m.policy
		st.meta = true
		v.pending.Add(iss, st)
		return st, nil
	}
	return nil, fmt.Errorf("couldn't match issuer %q with any configured issuer: %w", iss, ErrUnknownIssuer)
}

// issuerState is one issuer's discovery result and key set.
type issuerState struct {
	v      *Verifier
	url    string
	conf   *Issuer
	policy claimPolicy
	client *http.Client
	// meta marks the state of a meta-issuer; cached that it has moved
	// from Verifier.pending to Verifier.cache.
	meta   bool
	cached atomic.Bool

	mu       sync.Mutex
	idv      *gooidc.IDTokenVerifier
	failedAt time.Time
	failErr  error
}

func (v *Verifier) newState(url string, iss Issuer) (*issuerState, error) {
	pol, err := compilePolicy(iss.ClaimPolicy)
	if err != nil {
		return nil, fmt.Errorf("%w: issuer %q: %v", ErrConfig, url, err)
	}
	tr := v.opts.Transport
	if iss.CACert != "" {
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM([]byte(iss.CACert)) {
			return nil, fmt.Errorf("%w: issuer %q: ca-cert holds no PEM certificate", ErrConfig, url)
		}
		tr = tr.Clone()
		if tr.TLSClientConfig == nil {
			tr.TLSClientConfig = &tls.Config{}
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	client := &http.Client{
		Transport: httpx.LimitBodies(tr, maxResponseSize, func(*http.Request) error {
			return fmt.Errorf("response larger than %d bytes", maxResponseSize)
		}),
		Timeout: v.opts.Timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return errors.New("too many redirects")
			}
			if req.URL.Host != via[0].URL.Host {
				return fmt.Errorf("redirect from %s to another host %s refused", via[0].URL.Host, req.URL.Host)
			}
			return nil
		},
	}
	c := iss
	return &issuerState{v: v, url: url, conf: &c, policy: pol, client: client}, nil
}

// verifier returns the issuer's token verifier, running discovery once. A
// failed discovery is remembered for DiscoveryRetry so a dead issuer is not
// hammered.
func (st *issuerState) verifier(ctx context.Context) (*gooidc.IDTokenVerifier, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.idv != nil {
		return st.idv, nil
	}
	now := st.v.opts.Now()
	if !st.failedAt.IsZero() && now.Sub(st.failedAt) < st.v.opts.DiscoveryRetry {
		return nil, st.failErr
	}
	if st.meta && !st.failedAt.IsZero() && !st.v.takeNewMeta() {
		// A meta-issuer whose discovery failed (a made-up one, likely)
		// is retried within the bound on new ones: a hundred cached
		// ones would otherwise cost a request each every DiscoveryRetry.
		return nil, fmt.Errorf("couldn't discover issuer %s again: %w: more than %d new or failing meta-issuers a minute (try again shortly)", st.url, ErrIssuerUnavailable, st.v.opts.NewMetaIssuersPerMinute)
	}
	idv, err := st.discover(ctx)
	if err != nil {
		// Remembered from when it ended: a discovery that timed out took
		// longer than DiscoveryRetry (10 s and 5 s by default), and the
		// requests queued behind it must share its failure instead of
		// each running a discovery of their own, one after the other.
		st.failedAt, st.failErr = st.v.opts.Now(), fmt.Errorf("couldn't discover issuer %s: %w: %v", st.url, ErrIssuerUnavailable, err)
		st.v.log.Warn("OIDC discovery failed", "issuer", st.url, "error", err)
		return nil, st.failErr
	}
	st.idv = idv
	return idv, nil
}

func (st *issuerState) discover(ctx context.Context) (*gooidc.IDTokenVerifier, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), st.v.opts.Timeout)
	defer cancel()
	p, err := gooidc.NewProvider(gooidc.ClientContext(ctx, st.client), st.url)
	if err != nil {
		return nil, err
	}
	var meta struct {
		JWKSURL string   `json:"jwks_uri"`
		Algs    []string `json:"id_token_signing_alg_values_supported"`
	}
	if err := p.Claims(&meta); err != nil {
		return nil, err
	}
	if meta.JWKSURL == "" {
		return nil, errors.New("discovery document has no jwks_uri")
	}
	allowed := st.conf.SigningAlgorithms
	if len(allowed) == 0 {
		allowed = DefaultSigningAlgorithms
	}
	offered := meta.Algs
	if len(offered) == 0 {
		offered = []string{"RS256"} // the one mandatory algorithm (OpenID Connect Discovery §3)
	}
	var algs []string
	for _, a := range offered {
		if contains(allowed, a) && !symmetricOrNone[a] {
			algs = append(algs, a)
		}
	}
	if len(algs) == 0 {
		return nil, fmt.Errorf("the issuer signs with %v, none of which is allowed (%v)", offered, allowed)
	}
	ks := &keySet{url: meta.JWKSURL, client: st.client, algs: algs, minRefresh: st.v.opts.JWKSRefresh, maxAge: st.v.opts.JWKSMaxAge, now: st.v.opts.Now, log: st.v.log}
	return gooidc.NewVerifier(st.url, ks, &gooidc.Config{ClientID: st.conf.ClientID, SupportedSigningAlgs: algs, Now: st.v.opts.Now}), nil
}
