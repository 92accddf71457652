package cli

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"sigil.dev/sigil/oidc/dev"
	"sigil.dev/sigil/oidc/token"
)

// tokenFlags are the identity-token flags of the keyless signing commands.
// A command registers them and calls source when it needs a token.
type tokenFlags struct {
	identityToken, issuer, clientID string
	clientSecretFile, redirectURL   string
	deviceFlow, disableAmbient      bool
}

func (f *tokenFlags) register(c *cobra.Command) {
	fl := c.Flags()
	fl.StringVar(&f.identityToken, "identity-token", "", "OIDC identity token, or a file holding one (otherwise: SIGSTORE_ID_TOKEN, the CI provider, then a sign-in)")
	fl.StringVar(&f.issuer, "oidc-issuer", "", "OIDC issuer to sign in at (default: the signing config's oidcUrls)")
	fl.StringVar(&f.clientID, "oidc-client-id", token.DefaultClientID, "OAuth client ID at the issuer; tokens must be for this audience")
	fl.StringVar(&f.clientSecretFile, "oidc-client-secret-file", "", "file holding the OAuth client secret, for issuers that require one")
	fl.StringVar(&f.redirectURL, "oidc-redirect-url", token.DefaultRedirectURL, "loopback redirect of the browser sign-in (port 0 picks a free port)")
	fl.BoolVar(&f.deviceFlow, "oidc-device-flow", false, "sign in with a code entered on any device (RFC 8628), not a browser on this machine")
	fl.BoolVar(&f.disableAmbient, "oidc-disable-ambient-providers", false, "do not take a token from the CI environment (GitHub Actions, SIGSTORE_ID_TOKEN_FILE)")
}

// source returns the token chain for these flags. defaultIssuer is the
// issuer of the signing config (token.IssuerFromSigningConfig), used when
// --oidc-issuer is not given; it may be empty. Sign-in prompts go to the
// command's standard error; interactive sign-in runs by itself only when
// standard input and standard error are terminals.
func (f *tokenFlags) source(cmd *cobra.Command, defaultIssuer string) (token.Source, error) {
	o := token.Options{
		IdentityToken:  f.identityToken,
		Issuer:         f.issuer,
		ClientID:       f.clientID,
		RedirectURL:    f.redirectURL,
		DisableAmbient: f.disableAmbient,
		Output:         cmd.ErrOrStderr(),
		Interactive:    isatty.IsTerminal(os.Stdin.Fd()) && isatty.IsTerminal(os.Stderr.Fd()),
	}
	if o.Issuer == "" {
		o.Issuer = defaultIssuer
	}
	if f.deviceFlow {
		o.Flow = token.FlowDevice
	}
	if f.clientSecretFile != "" {
		b, err := readFile("OIDC client secret", f.clientSecretFile)
		if err != nil {
			return nil, err
		}
		o.ClientSecret = strings.TrimSpace(string(b))
	}
	return token.Default(o), nil
}

func init() { register(newDevToken) }

// newDevToken is a hidden command for tests and debugging: it runs the
// token chain of the signing commands (or asks sigil's dev issuer for a
// test token) and prints the token. It is not part of the documented
// command line.
func newDevToken() *cobra.Command {
	var (
		tf     tokenFlags
		mint   bool
		claims []string
		decode bool
	)
	c := &cobra.Command{
		Use:    "dev-token",
		Short:  "Print an identity token, got the way the signing commands get one (for tests and debugging)",
		Hidden: true,
		Args:   cobra.NoArgs,
		Example: `  # What the signing commands would use here (flag, environment, CI, or a sign-in):
  sigil dev-token --oidc-issuer http://127.0.0.1:8080/oidc

  # Sign in with a code, as on a machine without a browser:
  sigil dev-token --oidc-issuer http://127.0.0.1:8080/oidc --oidc-device-flow

  # A test token from sigil's dev issuer, shaped like GitHub Actions', claims decoded:
  sigil dev-token --oidc-issuer http://127.0.0.1:8080/oidc --mint \
    --claim repository=org/repo --claim sub=repo:org/repo:ref:refs/heads/main --decode`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var tok string
			if mint {
				if tf.issuer == "" {
					return fmt.Errorf("--mint needs --oidc-issuer, the URL of sigil's dev issuer")
				}
				extra := map[string]any{}
				for _, kv := range claims {
					k, v, ok := strings.Cut(kv, "=")
					if !ok || k == "" {
						return fmt.Errorf("--claim %q: want KEY=VALUE", kv)
					}
					var j any
					if json.Unmarshal([]byte(v), &j) == nil {
						extra[k] = j
					} else {
						extra[k] = v
					}
				}
				var err error
				if tok, err = dev.RequestTestToken(cmd.Context(), &http.Client{Timeout: 30 * time.Second}, tf.issuer, extra); err != nil {
					return err
				}
			} else {
				if len(claims) > 0 {
					return fmt.Errorf("--claim needs --mint")
				}
				src, err := tf.source(cmd, "")
				if err != nil {
					return err
				}
				if tok, err = src.Token(cmd.Context()); err != nil {
					return err
				}
			}
			if !decode {
				fmt.Fprintln(cmd.OutOrStdout(), tok)
				return nil
			}
			c, err := token.Parse(tok)
			if err != nil {
				return err
			}
			subj, _ := c.ProofSubject()
			// Every claim of the payload too, not only those the CA reads:
			// a minted token's --claim values are what one decodes it for.
			// Parse accepted the token, so its payload is a JSON object.
			var all map[string]any
			if p, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(strings.Split(tok, ".")[1], "=")); err == nil {
				_ = json.Unmarshal(p, &all)
			}
			out, _ := json.MarshalIndent(struct {
				*token.Claims
				ProofSubject string
				All          map[string]any `json:"Claims"`
			}{c, subj, all}, "", "  ")
			fmt.Fprintln(cmd.OutOrStdout(), string(out))
			return nil
		},
	}
	tf.register(c)
	c.Flags().BoolVar(&mint, "mint", false, "ask sigil's dev issuer at --oidc-issuer for a test token (loopback only; not from a forced issuer)")
	c.Flags().StringArrayVar(&claims, "claim", nil, "KEY=VALUE claim of a minted token (VALUE is JSON if it parses, else a string; repeatable)")
	c.Flags().BoolVar(&decode, "decode", false, "print the token's claims (not verified) instead of the token")
	return c
}
