// Package token gets the OIDC identity token a keyless signer presents to
// the CA, in every way Sigstore clients do (sigstore/cosign
// internal/auth/auth.go, pkg/providers/*; sigstore/sigstore
// pkg/oauthflow/*), in this order:
//
//  1. --identity-token: a JWT, or the path of a file holding one;
//  2. the SIGSTORE_ID_TOKEN environment variable (GitLab's
//     id_tokens: SIGSTORE_ID_TOKEN: aud: sigstore lands here);
//  3. ambient CI providers, unless disabled: GitHub Actions
//     (ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN,
//     audience "sigstore"), then a mounted token file (Kubernetes projected
//     service account tokens, SPIFFE JWT-SVIDs written by a helper):
//     SIGSTORE_ID_TOKEN_FILE, else cosign's /var/run/sigstore/cosign/oidc-token;
//  4. interactive sign-in at the OIDC issuer (--oidc-issuer, or the
//     signing config's oidcUrls): the authorization code flow with PKCE S256
//     and a loopback redirect (RFC 8252) in a browser, or the device flow
//     (RFC 8628) where no browser can open.
//
// The first source that has a token wins; its token is then checked,
// without verifying the signature (the CA does that), for expiry and
// audience, so that the user learns what is wrong before the CA refuses.
// Errors name the flags and variables of the sigil command line.
//
// The package is client code only: it holds no server.
package token

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"sigil.dev/sigil/trust"
)

// Source gets an identity token.
type Source interface {
	// Token returns a compact JWS ID token.
	Token(ctx context.Context) (string, error)
}

// SourceFunc adapts a function to Source.
type SourceFunc func(ctx context.Context) (string, error)

// Token calls f.
func (f SourceFunc) Token(ctx context.Context) (string, error) { return f(ctx) }

// Errors callers can branch on with errors.Is.
var (
	// ErrNoToken: no source had a token (see NoTokenError), or one source
	// does not apply here (its error is an Unavailable).
	ErrNoToken = errors.New("no identity token found")
	// ErrExpired: the token's exp has passed.
	ErrExpired = errors.New("identity token expired")
	// ErrAudience: the token is not for the expected audience.
	ErrAudience = errors.New("identity token is for another audience")
	// ErrMalformed: the token is not a JWT with the claims a CA needs.
	ErrMalformed = errors.New("malformed identity token")
)

const (
	// DefaultClientID is the OAuth client ID, and expected audience, of
	// every Sigstore CA (sigstore/fulcio config/identity/config.yaml).
	DefaultClientID = "sigstore"
	// DefaultTokenFile is where cosign's filesystem provider looks for a
	// mounted token (sigstore/cosign pkg/providers/filesystem).
	DefaultTokenFile = "/var/run/sigstore/cosign/oidc-token"
	// DefaultRedirectURL is the loopback redirect of the browser flow;
	// port 0 picks a free port (sigstore/cosign options/oidc.go).
	DefaultRedirectURL = "http://localhost:0/auth/callback"
)

// Flow selects the interactive sign-in.
type Flow int

const (
	// FlowAuto signs in with a browser when one can open (a display, or
	// macOS or Windows outside SSH), else with the device flow; and not at
	// all unless Options.Interactive.
	FlowAuto Flow = iota
	// FlowBrowser forces the authorization code flow with a loopback
	// redirect; the URL is printed when no browser opens.
	FlowBrowser
	// FlowDevice forces the device flow (--oidc-device-flow).
	FlowDevice
	// FlowNone disables interactive sign-in.
	FlowNone
)

// Options configure Default and the individual sources. The zero value is
// usable: no flag token, ambient providers on, no interactive sign-in.
type Options struct {
	// IdentityToken is --identity-token: a JWT, or the path of a file
	// holding one.
	IdentityToken string
	// Issuer is the OIDC issuer URL for interactive sign-in (--oidc-issuer,
	// or IssuerFromSigningConfig).
	Issuer string
	// ClientID is the OAuth client ID (--oidc-client-id), default
	// DefaultClientID. ClientSecret is optional (--oidc-client-secret-file).
	ClientID, ClientSecret string
	// Audience is the audience requested from ambient providers and
	// expected in every token; default ClientID.
	Audience string
	// DisableAmbient skips the CI providers (--oidc-disable-ambient-providers).
	DisableAmbient bool
	// TokenFile is the mounted token file; default $SIGSTORE_ID_TOKEN_FILE,
	// else DefaultTokenFile (which, unlike the others, may be absent).
	TokenFile string
	// Flow selects the interactive sign-in; Interactive says that a person
	// can answer it (a terminal), which FlowAuto requires.
	Flow        Flow
	Interactive bool
	// RedirectURL is the browser flow's loopback redirect, default
	// DefaultRedirectURL (--oidc-redirect-url).
	RedirectURL string
	// Timeout bounds the wait for an interactive sign-in; default 5 min.
	Timeout time.Duration

	// Output receives the sign-in prompts; default os.Stderr.
	Output io.Writer
	// OpenBrowser opens a URL in the user's browser; default: $BROWSER,
	// else open (macOS), rundll32 (Windows) or xdg-open.
	OpenBrowser func(url string) error
	// HTTPClient talks to the issuer and CI providers; default a client
	// with a 30 s timeout.
	HTTPClient *http.Client
	// Getenv reads the environment; default os.Getenv.
	Getenv func(string) string
	// Now is the clock used for expiry checks; default time.Now.
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if o.ClientID == "" {
		o.ClientID = DefaultClientID
	}
	if o.Audience == "" {
		o.Audience = o.ClientID
	}
	if o.RedirectURL == "" {
		o.RedirectURL = DefaultRedirectURL
	}
	if o.Timeout == 0 {
		o.Timeout = 5 * time.Minute
	}
	if o.Output == nil {
		o.Output = os.Stderr
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.OpenBrowser == nil {
		o.OpenBrowser = func(u string) error { return openBrowser(u, o.Getenv, goos) }
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	o.Issuer = strings.TrimSpace(o.Issuer)
	return o
}

// Unavailable is the error of a source that does not apply here (a
// variable not set, a file absent); it matches ErrNoToken. Default moves
// on to the next source.
type Unavailable struct {
	Source, Reason string
}

func (u *Unavailable) Error() string {
	return fmt.Sprintf("no identity token from %s: %s", u.Source, u.Reason)
}

// Is makes an Unavailable match ErrNoToken.
func (u *Unavailable) Is(target error) bool { return target == ErrNoToken }

// NoTokenError is Default's error when no source had a token. It matches
// ErrNoToken, lists what was tried, and says what to do.
type NoTokenError struct {
	Tried    []*Unavailable
	Audience string // the audience a token must have
}

func (e *NoTokenError) Error() string {
	var b strings.Builder
	b.WriteString("couldn't get an identity token: none found. Tried:\n")
	for _, u := range e.Tried {
		fmt.Fprintf(&b, "  - %s: %s\n", u.Source, u.Reason)
	}
	b.WriteString("Give one with --identity-token (a JWT or a file holding one) or SIGSTORE_ID_TOKEN; " +
		"in CI, let the job request one (GitHub Actions: permissions: id-token: write; " +
		"GitLab: id_tokens: SIGSTORE_ID_TOKEN: aud: " + e.Audience + "); " +
		"or run in a terminal, with --oidc-issuer, to sign in (--oidc-device-flow to sign in on another device)")
	return b.String()
}

// Is makes a NoTokenError match ErrNoToken.
func (e *NoTokenError) Is(target error) bool { return target == ErrNoToken }

// step is one source of the chain and how the user names it.
type step struct {
	name string
	src  Source
}

// chain tries its steps in order.
type chain struct {
	steps    []step
	audience string
	now      func() time.Time
}

// Default returns the ordered chain described in the package doc. Each
// call of Token walks the chain again (mounted tokens rotate), except that
// an interactive sign-in's token is reused while it has a minute left.
func Default(opts Options) Source {
	o := opts.withDefaults()
	c := &chain{audience: o.Audience, now: o.Now}
	c.steps = append(c.steps,
		step{"--identity-token", flagSource(o.IdentityToken)},
		step{"SIGSTORE_ID_TOKEN", envSource(o.Getenv, "SIGSTORE_ID_TOKEN")},
	)
	if o.DisableAmbient {
		c.steps = append(c.steps, step{"ambient CI providers", SourceFunc(func(context.Context) (string, error) {
			return "", &Unavailable{"ambient CI providers", "disabled (--oidc-disable-ambient-providers)"}
		})})
	} else {
		c.steps = append(c.steps, step{"GitHub Actions", GitHubActions(o)})
		path, explicit := o.TokenFile, o.TokenFile != ""
		if !explicit {
			if path = o.Getenv("SIGSTORE_ID_TOKEN_FILE"); path != "" {
				explicit = true
			} else {
				path = DefaultTokenFile
			}
		}
		c.steps = append(c.steps, step{"token file " + path, &fileSource{path: path, explicit: explicit}})
	}
	c.steps = append(c.steps, step{"interactive sign-in", Interactive(o)})
	return c
}

func (c *chain) Token(ctx context.Context) (string, error) {
	var tried []*Unavailable
	for _, s := range c.steps {
		tok, err := s.src.Token(ctx)
		var u *Unavailable
		if errors.As(err, &u) {
			tried = append(tried, u)
			continue
		}
		if err != nil {
			return "", fmt.Errorf("couldn't get an identity token from %s: %w", s.name, err)
		}
		if _, err := Check(tok, c.audience, c.now()); err != nil {
			return "", fmt.Errorf("couldn't use the identity token from %s: %w%s", s.name, err, hint(err, c.audience))
		}
		return tok, nil
	}
	return "", &NoTokenError{Tried: tried, Audience: c.audience}
}

// hint says what to do about a Check error.
func hint(err error, aud string) string {
	switch {
	case errors.Is(err, ErrExpired):
		return "; identity tokens last minutes: get a fresh one just before signing"
	case errors.Is(err, ErrAudience):
		return fmt.Sprintf("; request the token for audience %q (GitLab: id_tokens: SIGSTORE_ID_TOKEN: aud: %s), "+
			"or, if your CA expects another client ID, pass it with --oidc-client-id", aud, aud)
	case errors.Is(err, ErrMalformed):
		return "; give the raw ID token (three base64url parts separated by dots), not an access token or a JSON answer"
	}
	return ""
}

// flagSource is --identity-token: a file path if a file is there
// (sigstore/cosign reads the file first), else the token itself. Any file
// but a directory is read, as cosign does: a pipe (--identity-token
// <(get-token), /dev/stdin) keeps the token out of the argument list.
func flagSource(v string) Source {
	return SourceFunc(func(context.Context) (string, error) {
		v := strings.TrimSpace(v)
		if v == "" {
			return "", &Unavailable{"--identity-token", "not given"}
		}
		fi, err := os.Stat(v)
		if err == nil && !fi.IsDir() {
			return readTokenFile(v)
		}
		if strings.ContainsAny(v, `/\`) { // a path: JWTs have no slashes
			if err == nil {
				err = errors.New("it is a directory")
			}
			return "", fmt.Errorf("couldn't read the --identity-token file: %w", err)
		}
		if strings.Count(v, ".") != 2 || strings.ContainsAny(v, " \t\n") {
			return "", fmt.Errorf("%w: --identity-token is neither a readable file nor a JWT", ErrMalformed)
		}
		return v, nil
	})
}

func envSource(getenv func(string) string, name string) Source {
	return SourceFunc(func(context.Context) (string, error) {
		v := strings.TrimSpace(getenv(name))
		if v == "" {
			return "", &Unavailable{name, "not set"}
		}
		return v, nil
	})
}

// Static returns a Source that always answers tok.
func Static(tok string) Source {
	return SourceFunc(func(context.Context) (string, error) { return tok, nil })
}

// IssuerFromSigningConfig returns the OIDC issuer a signing config names
// for now (its oidcUrls, API version 1, the newest valid one; sigstore-go
// SelectService).
func IssuerFromSigningConfig(sc *trust.SigningConfig, now time.Time) (string, error) {
	if len(sc.OIDCProviders) == 0 {
		return "", errors.New("couldn't pick an OIDC issuer: the signing config lists none (oidcUrls)")
	}
	s, err := trust.SelectService(sc.OIDCProviders, []uint32{1}, now)
	if err != nil {
		return "", fmt.Errorf("couldn't pick an OIDC issuer from the signing config: %w", err)
	}
	return s.URL, nil
}
