package dev

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	codeLifetime   = time.Minute      // authorization codes (RFC 6749 §4.1.2 recommends ≤ 10 min)
	deviceLifetime = 10 * time.Minute // device and user codes
	// pollInterval is the device flow polling interval in seconds (RFC 8628
	// §3.2); a loopback issuer can afford the shortest one.
	pollInterval = 1
	maxPending   = 1000                   // outstanding codes of each kind
	maxParam     = 1024                   // bytes of state, nonce, redirect_uri, …
	maxForm      = 64 << 10               // bytes of a request body
	userCodeSet  = "BCDFGHJKLMNPQRSTVWXZ" // RFC 8628 §6.1: no vowels, no look-alikes
)

type authCode struct {
	clientID, redirectURI, challenge, nonce string
	expires                                 time.Time
}

type deviceGrant struct {
	clientID, userCode, challenge string
	expires, lastPoll             time.Time
	state                         int // pending, approved, denied
}

const (
	pending = iota
	approved
	denied
)

// discoveryDoc is the OIDC Discovery 1.0 §3 provider metadata, plus RFC
// 8414 code_challenge_methods_supported and RFC 8628
// device_authorization_endpoint.
type discoveryDoc struct {
	Issuer                 string   `json:"issuer"`
	AuthorizationEndpoint  string   `json:"authorization_endpoint"`
	TokenEndpoint          string   `json:"token_endpoint"`
	DeviceEndpoint         string   `json:"device_authorization_endpoint"`
	JWKSURI                string   `json:"jwks_uri"`
	ResponseTypes          []string `json:"response_types_supported"`
	SubjectTypes           []string `json:"subject_types_supported"`
	SigningAlgs            []string `json:"id_token_signing_alg_values_supported"`
	Scopes                 []string `json:"scopes_supported"`
	GrantTypes             []string `json:"grant_types_supported"`
	TokenAuthMethods       []string `json:"token_endpoint_auth_methods_supported"`
	CodeChallengeMethods   []string `json:"code_challenge_methods_supported"`
	ClaimsSupported        []string `json:"claims_supported"`
	ResponseModesSupported []string `json:"response_modes_supported"`
}

func (i *Issuer) discovery() discoveryDoc {
	return discoveryDoc{
		Issuer:                 i.url,
		AuthorizationEndpoint:  i.url + "/auth",
		TokenEndpoint:          i.url + "/token",
		DeviceEndpoint:         i.url + "/device/code",
		JWKSURI:                i.url + "/keys",
		ResponseTypes:          []string{"code"},
		SubjectTypes:           []string{"public"},
		SigningAlgs:            []string{"ES256"},
		Scopes:                 []string{"openid", "email"},
		GrantTypes:             []string{"authorization_code", deviceGrantType, "client_credentials"},
		TokenAuthMethods:       []string{"none", "client_secret_post", "client_secret_basic"},
		CodeChallengeMethods:   []string{"S256"},
		ClaimsSupported:        []string{"iss", "sub", "aud", "exp", "iat", "nonce", "email", "email_verified"},
		ResponseModesSupported: []string{"query"},
	}
}

func (i *Issuer) routes() http.Handler {
	m := http.NewServeMux()
	p := i.prefix
	m.HandleFunc("GET "+p+"/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, json.RawMessage(i.disco))
	})
	m.HandleFunc("GET "+p+"/keys", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		writeJSON(w, http.StatusOK, json.RawMessage(i.jwks))
	})
	m.HandleFunc("GET "+p+"/auth", i.authorize)
	m.HandleFunc("POST "+p+"/auth", i.authorize) // OIDC Core §3.1.2.1 allows both
	m.HandleFunc("POST "+p+"/token", i.token)
	m.HandleFunc("POST "+p+"/device/code", i.deviceAuthorize)
	m.HandleFunc("GET "+p+"/device", i.deviceVerify)
	m.HandleFunc("POST "+p+"/device", i.deviceVerify)
	m.HandleFunc("GET "+p+"/test/token", i.testToken)
	m.HandleFunc("POST "+p+"/test/token", i.testToken)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !i.force && !loopbackPeer(r.RemoteAddr) {
			http.Error(w, "the dev OIDC issuer answers loopback clients only", http.StatusForbidden)
			return
		}
		// A web page the developer opens can point a name of its own at
		// 127.0.0.1 (DNS rebinding): the browser's requests then come from
		// a loopback peer, and the page reads the answers, tokens
		// included. They carry the page's name as Host.
		if !i.force && !loopbackRequestHost(r.Host) {
			http.Error(w, fmt.Sprintf("the dev OIDC issuer answers requests addressed to 127.0.0.1, ::1 or localhost only, not to %q", r.Host), http.StatusForbidden)
			return
		}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		m.ServeHTTP(w, r)
	})
}

// parseForm reads the query and, for POST, a form body of at most maxForm
// bytes; it refuses parameters longer than maxParam or given twice (RFC
// 6749 §3.1: "Request and response parameters MUST NOT be included more
// than once").
func parseForm(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		return nil, fmt.Errorf("couldn't parse the request parameters: %w", err)
	}
	for k, v := range r.Form {
		if len(v) > 1 {
			return nil, fmt.Errorf("parameter %s given more than once", k)
		}
		if len(v[0]) > maxParam {
			return nil, fmt.Errorf("parameter %s is longer than %d bytes", k, maxParam)
		}
	}
	return r.Form, nil
}

// authorize is the authorization endpoint (OIDC Core §3.1.2): it checks the
// request and approves it at once, redirecting to the client's loopback
// redirect_uri with a code (or showing the code for out-of-band clients).
func (i *Issuer) authorize(w http.ResponseWriter, r *http.Request) {
	q, err := parseForm(w, r)
	if err != nil {
		page(w, http.StatusBadRequest, "Bad request", err.Error())
		return
	}
	if cid := q.Get("client_id"); cid != i.aud {
		page(w, http.StatusBadRequest, "Unknown client", fmt.Sprintf("client_id %q is unknown: this dev issuer serves the client %q.", cid, i.aud))
		return
	}
	redirect := q.Get("redirect_uri")
	ru, err := checkRedirect(redirect)
	if err != nil {
		page(w, http.StatusBadRequest, "Bad redirect_uri", err.Error())
		return
	}
	state := q.Get("state")
	fail := func(code, desc string) {
		if ru == nil {
			page(w, http.StatusBadRequest, "Sign-in refused", code+": "+desc)
			return
		}
		v := ru.Query()
		v.Set("error", code)
		v.Set("error_description", desc)
		if state != "" {
			v.Set("state", state)
		}
		ru.RawQuery = v.Encode()
		http.Redirect(w, r, ru.String(), http.StatusFound)
	}
	if rt := q.Get("response_type"); rt != "code" {
		fail("unsupported_response_type", fmt.Sprintf("response_type %q is not supported: use code", rt))
		return
	}
	if !hasScope(q.Get("scope"), "openid") {
		fail("invalid_scope", "the scope must include openid")
		return
	}
	if m := q.Get("code_challenge_method"); m != "S256" {
		fail("invalid_request", "PKCE is required: send code_challenge with code_challenge_method=S256")
		return
	}
	challenge := q.Get("code_challenge")
	if !validChallenge(challenge) {
		fail("invalid_request", "code_challenge must be the 43-character base64url SHA-256 of the code verifier")
		return
	}
	code := randomString(32)
	ac := &authCode{clientID: i.aud, redirectURI: redirect, challenge: challenge, nonce: q.Get("nonce"), expires: i.now().Add(codeLifetime)}
	if !i.storeCode(code, ac) {
		fail("temporarily_unavailable", "too many sign-ins in progress; try again in a minute")
		return
	}
	i.log.Debug("dev OIDC issuer approved an authorization request", "subject", i.id.Subject, "redirect_uri", redirect)
	if ru == nil { // out-of-band: show the code for the user to paste
		page(w, http.StatusOK, "Signed in", "Signed in as "+i.id.Subject+". Paste this code into your terminal: "+code)
		return
	}
	v := ru.Query()
	v.Set("code", code)
	if state != "" {
		v.Set("state", state)
	}
	ru.RawQuery = v.Encode()
	http.Redirect(w, r, ru.String(), http.StatusFound)
}

// checkRedirect accepts an http URL on a loopback host with any port (RFC
// 8252 §7.3) and returns it parsed, or the out-of-band URN (returns nil).
func checkRedirect(s string) (*url.URL, error) {
	if s == oobRedirectURI {
		return nil, nil
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "http" || !isLoopbackHost(u.Hostname()) || u.User != nil || u.Fragment != "" {
		return nil, fmt.Errorf("redirect_uri %q must be an http URL on localhost, 127.0.0.1 or [::1] (RFC 8252 §7.3), or %s", s, oobRedirectURI)
	}
	return u, nil
}

func hasScope(scope, want string) bool { return slices.Contains(strings.Fields(scope), want) }

// validChallenge checks an S256 code_challenge: base64url of 32 bytes.
func validChallenge(c string) bool {
	b, err := base64.RawURLEncoding.DecodeString(c)
	return err == nil && len(b) == sha256.Size
}

// validVerifier checks a code_verifier per RFC 7636 §4.1: 43–128
// characters from [A-Za-z0-9-._~].
func validVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for _, c := range []byte(v) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

// pkceMatches checks verifier against an S256 challenge (RFC 7636 §4.6).
func pkceMatches(verifier, challenge string) bool {
	if !validVerifier(verifier) {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	return subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(challenge)) == 1
}

// oauthError is a token or device endpoint error (RFC 6749 §5.2).
type oauthError struct {
	status      int
	code, descr string
}

func (e *oauthError) write(w http.ResponseWriter) {
	if e.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="dev OIDC issuer"`)
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, e.status, map[string]string{"error": e.code, "error_description": e.descr})
}

func badRequest(code, descr string) *oauthError {
	return &oauthError{status: http.StatusBadRequest, code: code, descr: descr}
}

// clientOf returns the client ID of a token or device request: from HTTP
// Basic authentication (RFC 6749 §2.3.1, form-encoded) or the client_id
// parameter. Client secrets are not checked: every client is public here.
func (i *Issuer) clientOf(r *http.Request, form url.Values) (string, *oauthError) {
	cid := form.Get("client_id")
	if user, _, ok := r.BasicAuth(); ok {
		u, err := url.QueryUnescape(user)
		if err != nil || (cid != "" && cid != u) {
			return "", &oauthError{http.StatusUnauthorized, "invalid_client", "the client ID in the Authorization header is malformed or differs from client_id"}
		}
		cid = u
	}
	if cid != i.aud {
		return "", &oauthError{http.StatusUnauthorized, "invalid_client", fmt.Sprintf("client_id %q is unknown: this dev issuer serves the client %q", cid, i.aud)}
	}
	return cid, nil
}

// token is the token endpoint (RFC 6749 §3.2).
func (i *Issuer) token(w http.ResponseWriter, r *http.Request) {
	if r.URL.RawQuery != "" {
		badRequest("invalid_request", "send the parameters in the form body, not the query").write(w)
		return
	}
	form, err := parseForm(w, r)
	if err != nil {
		badRequest("invalid_request", err.Error()).write(w)
		return
	}
	cid, oe := i.clientOf(r, form)
	if oe != nil {
		oe.write(w)
		return
	}
	var nonce, flow string
	switch gt := form.Get("grant_type"); gt {
	case "authorization_code":
		flow = "authorization_code"
		nonce, oe = i.redeemCode(cid, form)
	case deviceGrantType:
		flow = "device_code"
		oe = i.redeemDevice(cid, form)
	case "client_credentials":
		flow = "client_credentials"
	default:
		oe = badRequest("unsupported_grant_type", fmt.Sprintf("grant_type %q is not supported: use authorization_code, %s or client_credentials", gt, deviceGrantType))
	}
	if oe != nil {
		oe.write(w)
		return
	}
	claims := i.claims(nonce)
	tok, err := i.sign(claims)
	if err != nil {
		(&oauthError{http.StatusInternalServerError, "server_error", "couldn't sign the token"}).write(w)
		return
	}
	i.log.Info("dev OIDC issuer issued a token", "flow", flow, "subject", claims["sub"], "audience", claims["aud"])
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": randomString(32),
		"token_type":   "Bearer",
		"expires_in":   int(i.lifetime / time.Second),
		"id_token":     tok,
		"scope":        "openid email",
	})
}

func (i *Issuer) redeemCode(cid string, form url.Values) (nonce string, _ *oauthError) {
	code := form.Get("code")
	i.mu.Lock()
	ac := i.codes[code]
	delete(i.codes, code) // single use (RFC 6749 §4.1.2)
	i.mu.Unlock()
	switch {
	case ac == nil:
		return "", badRequest("invalid_grant", "the authorization code is unknown or was already used")
	case !i.now().Before(ac.expires):
		return "", badRequest("invalid_grant", "the authorization code expired")
	case ac.clientID != cid:
		return "", badRequest("invalid_grant", "the authorization code was issued to another client")
	case ac.redirectURI != form.Get("redirect_uri"):
		return "", badRequest("invalid_grant", "redirect_uri differs from the authorization request's")
	case !pkceMatches(form.Get("code_verifier"), ac.challenge):
		return "", badRequest("invalid_grant", "code_verifier is missing or does not match the code_challenge (PKCE S256)")
	}
	return ac.nonce, nil
}

func (i *Issuer) redeemDevice(cid string, form url.Values) *oauthError {
	dc := form.Get("device_code")
	now := i.now()
	i.mu.Lock()
	defer i.mu.Unlock()
	g := i.devices[dc]
	switch {
	case g == nil:
		return badRequest("invalid_grant", "the device code is unknown or was already used")
	case g.clientID != cid:
		return badRequest("invalid_grant", "the device code was issued to another client")
	case !now.Before(g.expires):
		i.dropDevice(dc)
		return badRequest("expired_token", "the device code expired: start again")
	case g.challenge != "" && !pkceMatches(form.Get("code_verifier"), g.challenge):
		return badRequest("invalid_grant", "code_verifier is missing or does not match the code_challenge (PKCE S256)")
	}
	switch g.state {
	case approved:
		i.dropDevice(dc)
		return nil
	case denied:
		i.dropDevice(dc)
		return badRequest("access_denied", "the sign-in was denied")
	}
	// Polling faster than half the interval earns slow_down (RFC 8628 §3.5);
	// the half tolerates the client's timer jitter.
	tooFast := !g.lastPoll.IsZero() && now.Sub(g.lastPoll) < pollInterval*time.Second/2
	g.lastPoll = now
	if tooFast {
		return badRequest("slow_down", fmt.Sprintf("poll at most every %d s", pollInterval))
	}
	return badRequest("authorization_pending", "open the verification page and enter the code")
}

// deviceAuthorize is the device authorization endpoint (RFC 8628 §3.1).
func (i *Issuer) deviceAuthorize(w http.ResponseWriter, r *http.Request) {
	form, err := parseForm(w, r)
	if err != nil {
		badRequest("invalid_request", err.Error()).write(w)
		return
	}
	cid, oe := i.clientOf(r, form)
	if oe != nil {
		oe.write(w)
		return
	}
	if !hasScope(form.Get("scope"), "openid") {
		badRequest("invalid_scope", "the scope must include openid").write(w)
		return
	}
	challenge := form.Get("code_challenge")
	if m := form.Get("code_challenge_method"); challenge != "" || m != "" {
		if m != "S256" || !validChallenge(challenge) {
			badRequest("invalid_request", "PKCE needs code_challenge_method=S256 and a 43-character base64url code_challenge").write(w)
			return
		}
	}
	g := &deviceGrant{clientID: cid, challenge: challenge, expires: i.now().Add(deviceLifetime)}
	dc, uc, ok := i.storeDevice(g)
	if !ok {
		(&oauthError{http.StatusServiceUnavailable, "temporarily_unavailable", "too many device sign-ins in progress; try again in a minute"}).write(w)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{
		"device_code":               dc,
		"user_code":                 uc,
		"verification_uri":          i.url + "/device",
		"verification_uri_complete": i.url + "/device?user_code=" + url.QueryEscape(uc),
		"expires_in":                int(deviceLifetime / time.Second),
		"interval":                  pollInterval,
	})
}

// deviceVerify is the verification page (RFC 8628 §3.3): with a user_code
// it approves the device at once (or denies it with action=deny); without
// one it shows a form asking for the code.
func (i *Issuer) deviceVerify(w http.ResponseWriter, r *http.Request) {
	form, err := parseForm(w, r)
	if err != nil {
		page(w, http.StatusBadRequest, "Bad request", err.Error())
		return
	}
	raw := form.Get("user_code")
	if raw == "" {
		codeForm(w)
		return
	}
	uc := normalizeUserCode(raw)
	now := i.now()
	i.mu.Lock()
	g := i.devices[i.users[uc]]
	if g != nil && !now.Before(g.expires) {
		i.dropDevice(i.users[uc])
		g = nil
	}
	if g != nil && g.state == pending {
		g.state = approved
		if form.Get("action") == "deny" {
			g.state = denied
		}
	}
	var st int
	if g != nil {
		st = g.state
	}
	i.mu.Unlock()
	switch {
	case g == nil:
		page(w, http.StatusNotFound, "Unknown code", "The code "+raw+" is unknown or expired. Start the sign-in again in your terminal.")
	case st == denied:
		page(w, http.StatusOK, "Sign-in denied", "The device was not signed in. You can close this window.")
	default:
		i.log.Debug("dev OIDC issuer approved a device", "subject", i.id.Subject)
		page(w, http.StatusOK, "Signed in", "Signed in as "+i.id.Subject+". Return to your terminal; you can close this window.")
	}
}

// normalizeUserCode uppercases a user code and drops everything outside
// the code alphabet, so "wdjb-mjht" and "WDJB MJHT" match (RFC 8628 §6.1).
func normalizeUserCode(s string) string {
	var b strings.Builder
	for _, c := range strings.ToUpper(s) {
		if strings.ContainsRune(userCodeSet, c) {
			b.WriteRune(c)
		}
	}
	return b.String()
}

// testToken mints a token for tests, for loopback peers of an issuer that
// is not forced. Parameters (query or form): aud, sub, email, exp_in
// (lifetime in seconds, negative for an expired token) and claims (a JSON
// object merged last). It answers the bare token as text/plain.
//
// A forced issuer has none: it is reached from elsewhere, typically
// through a TLS proxy on the same host, whose requests come from a
// loopback peer with a loopback Host, so nothing tells a remote client
// from a local test, and the mint signs any identity and claims (Mint
// stays, in process).
func (i *Issuer) testToken(w http.ResponseWriter, r *http.Request) {
	if i.force {
		http.Error(w, "the test token endpoint is off on a forced dev issuer: its clients may come through a proxy, which looks like loopback", http.StatusForbidden)
		return
	}
	if !loopbackPeer(r.RemoteAddr) {
		http.Error(w, "the test token endpoint answers loopback clients only", http.StatusForbidden)
		return
	}
	form, err := parseForm(w, r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	claims := map[string]any{}
	for _, k := range []string{"aud", "sub", "email"} {
		if v := form.Get(k); v != "" {
			claims[k] = v
		}
	}
	if v := form.Get("exp_in"); v != "" {
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil {
			http.Error(w, "exp_in must be a whole number of seconds", http.StatusBadRequest)
			return
		}
		claims["exp"] = i.now().Unix() + n
	}
	if v := form.Get("claims"); v != "" {
		var extra map[string]any
		if err := json.Unmarshal([]byte(v), &extra); err != nil {
			http.Error(w, "claims must be a JSON object: "+err.Error(), http.StatusBadRequest)
			return
		}
		for k, v := range extra {
			claims[k] = v
		}
	}
	tok, err := i.Mint(claims)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	i.log.Info("dev OIDC issuer minted a test token", "subject", claimOr(claims, "sub", i.id.Subject))
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	fmt.Fprint(w, tok)
}

func claimOr(c map[string]any, k string, def any) any {
	if v, ok := c[k]; ok {
		return v
	}
	return def
}

// storeCode records an authorization code, purging expired ones; false
// when maxPending codes are outstanding.
func (i *Issuer) storeCode(code string, ac *authCode) bool {
	now := i.now()
	i.mu.Lock()
	defer i.mu.Unlock()
	if len(i.codes) >= maxPending {
		for k, c := range i.codes {
			if !now.Before(c.expires) {
				delete(i.codes, k)
			}
		}
		if len(i.codes) >= maxPending {
			return false
		}
	}
	i.codes[code] = ac
	return true
}

// storeDevice records a device grant under fresh device and user codes.
func (i *Issuer) storeDevice(g *deviceGrant) (deviceCode, userCode string, ok bool) {
	now := i.now()
	i.mu.Lock()
	defer i.mu.Unlock()
	if len(i.devices) >= maxPending {
		for k, d := range i.devices {
			if !now.Before(d.expires) {
				i.dropDevice(k)
			}
		}
		if len(i.devices) >= maxPending {
			return "", "", false
		}
	}
	deviceCode = randomString(32)
	for {
		uc := randomUserCode()
		if _, taken := i.users[uc]; !taken {
			g.userCode = uc
			break
		}
	}
	i.devices[deviceCode] = g
	i.users[g.userCode] = deviceCode
	return deviceCode, g.userCode[:4] + "-" + g.userCode[4:], true
}

// dropDevice forgets a device grant; i.mu must be held.
func (i *Issuer) dropDevice(deviceCode string) {
	if g := i.devices[deviceCode]; g != nil {
		delete(i.users, g.userCode)
	}
	delete(i.devices, deviceCode)
}

// randomUserCode returns 8 letters of userCodeSet (20^8 ≈ 2^34.6 codes,
// RFC 8628 §6.1), without the display hyphen.
func randomUserCode() string {
	b := make([]byte, 8)
	for j := range b {
		// 20 divides 240: bytes below 240 map uniformly, others are redrawn.
		for {
			var c [1]byte
			_, _ = rand.Read(c[:])
			if c[0] < 240 {
				b[j] = userCodeSet[int(c[0])%len(userCodeSet)]
				break
			}
		}
	}
	return string(b)
}

// randomString returns n random bytes in base64url.
func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "couldn't encode the response", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>sigil dev sign-in: {{.Title}}</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 4em auto">
<h1>{{.Title}}</h1>
{{if .Form}}<form method="post"><label>Code shown in your terminal: <input name="user_code" autofocus autocomplete="off"></label>
<button type="submit">Sign in</button></form>{{else}}<p>{{.Text}}</p>{{end}}
<p><small>sigil development OIDC issuer: it signs in a fixed identity, for local use only.</small></p>
</body></html>
`))

func page(w http.ResponseWriter, status int, title, text string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = pageTmpl.Execute(w, struct {
		Title, Text string
		Form        bool
	}{title, text, false})
}

func codeForm(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_ = pageTmpl.Execute(w, struct {
		Title, Text string
		Form        bool
	}{"Sign in a device", "", true})
}
