package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"sigil.dev/sigil/gitsign"
	"sigil.dev/sigil/oidc/token"
	"sigil.dev/sigil/sign"
	"sigil.dev/sigil/trust"
	"sigil.dev/sigil/tuf/client"
	"sigil.dev/sigil/verify"
)

// Git signing. git runs the sigil binary itself as its x509 signing program
// (git config gpg.x509.program sigil): one binary to install and one name in
// git's configuration. Main hands gpg-style command lines (--status-fd=…,
// -bsau KEY, --verify) to gitsign.Program before cobra parses anything.
//
// Under git there are no flags, so the program reads its settings from git
// configuration (any scope), section "sigil":
//
//	sigil.trustedRoot, sigil.signingConfig   files (default: the TUF mirror of `sigil trust init`)
//	sigil.offline                            use the TUF cache only
//	sigil.fulcioURL, sigil.rekorURL, sigil.rekorV2, sigil.timestampServerURL
//	                                         services instead of the signing config's
//	sigil.rekorMode                          offline (default) or online, as gitsign.rekorMode
//	sigil.certificateIdentity[Regexp], sigil.certificateOIDCIssuer[Regexp]
//	                                         the identity git verify-commit requires
//	sigil.oidcIssuer, sigil.oidcClientID, sigil.oidcRedirectURL, sigil.oidcDeviceFlow
//	                                         interactive sign-in
//	sigil.credentialCache                    false to get a certificate for every signature
//
// As gitsign's, a signature goes to a Rekor v1 log when there is one (the
// signing config's v2 logs only when it lists no v1 log) and carries no RFC
// 3161 timestamp unless sigil.timestampServerURL is set or the log is
// Rekor v2, so that gitsign verifies it (see signer).
//
// Identity tokens come as for the other signing commands (SIGSTORE_ID_TOKEN,
// CI providers, a token file), else from a sign-in on the terminal git runs
// in (/dev/tty), where sigil also says why signing failed (git before 2.41
// hides the program's messages then). SIGIL_GIT_LOG names a file that gets
// every message, for debugging where there is no terminal.
// SIGIL_GIT_CLOCK_OFFSET (a Go duration) moves the program's clock, for
// tests of expiry.

func init() {
	register(newGit)
	registerArgv(runGitProgram)
}

// gitSettings are the git signing settings: from git configuration, or
// flags of the git subcommands.
type gitSettings struct {
	trustedRoot, signingConfig     string
	offline                        bool
	fulcioURL, rekorURL, tsaURL    string
	rekorV2                        bool
	mode                           string
	identity, identityRegexp       string
	issuer, issuerRegexp           string
	oidcIssuer, clientID, redirect string
	deviceFlow                     bool
	noCache                        bool
	now                            func() time.Time
	// extensions holds sigil git verify's certificate extension flags
	// (--certificate-github-workflow-*, --certificate-extension[-regexp]),
	// nil elsewhere.
	extensions *verifyFlags
}

// gitConfigKeys maps git configuration keys (lower case, as git prints
// them) to settings.
func (g *gitSettings) apply(cfg map[string]string) error {
	str := map[string]*string{
		"sigil.trustedroot": &g.trustedRoot, "sigil.signingconfig": &g.signingConfig,
		"sigil.fulciourl": &g.fulcioURL, "sigil.rekorurl": &g.rekorURL, "sigil.timestampserverurl": &g.tsaURL,
		"sigil.rekormode": &g.mode, "sigil.certificateidentity": &g.identity, "sigil.certificateidentityregexp": &g.identityRegexp,
		"sigil.certificateoidcissuer": &g.issuer, "sigil.certificateoidcissuerregexp": &g.issuerRegexp,
		"sigil.oidcissuer": &g.oidcIssuer, "sigil.oidcclientid": &g.clientID, "sigil.oidcredirecturl": &g.redirect,
	}
	for k, p := range str {
		if v, ok := cfg[k]; ok {
			*p = v
		}
	}
	for k, p := range map[string]*bool{"sigil.offline": &g.offline, "sigil.rekorv2": &g.rekorV2, "sigil.oidcdeviceflow": &g.deviceFlow} {
		if v, ok := cfg[k]; ok {
			b, err := gitBool(v)
			if err != nil {
				return fmt.Errorf("couldn't read git config %s: %w", k, err)
			}
			*p = b
		}
	}
	if v, ok := cfg["sigil.credentialcache"]; ok {
		b, err := gitBool(v)
		if err != nil {
			return fmt.Errorf("couldn't read git config sigil.credentialCache: %w", err)
		}
		g.noCache = !b
	}
	return nil
}

// gitBool parses a git boolean (git-config(1) "Values").
func gitBool(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "true", "yes", "on", "1":
		return true, nil
	case "false", "no", "off", "0":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean", v)
}

// readGitConfig returns the sigil.* settings git sees here, keys in lower
// case.
func readGitConfig(ctx context.Context) (map[string]string, error) {
	out, err := exec.CommandContext(ctx, "git", "config", "-z", "--get-regexp", `^sigil\.`).Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 1 {
		return map[string]string{}, nil // no such keys
	}
	if err != nil {
		if errors.As(err, &ee) {
			return nil, fmt.Errorf("couldn't read git config: %s", bytes.TrimSpace(ee.Stderr))
		}
		return nil, fmt.Errorf("couldn't read git config: %w", err)
	}
	cfg := map[string]string{}
	for _, kv := range bytes.Split(out, []byte{0}) {
		if len(kv) == 0 {
			continue
		}
		k, v, _ := bytes.Cut(kv, []byte{'\n'})
		cfg[strings.ToLower(string(k))] = string(v)
	}
	return cfg, nil
}

func (g *gitSettings) clock() func() time.Time {
	if g.now != nil {
		return g.now
	}
	return time.Now
}

// clockFromEnv applies SIGIL_GIT_CLOCK_OFFSET.
func (g *gitSettings) clockFromEnv() error {
	v := os.Getenv("SIGIL_GIT_CLOCK_OFFSET")
	if v == "" {
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return fmt.Errorf("couldn't read SIGIL_GIT_CLOCK_OFFSET: %w", err)
	}
	g.now = func() time.Time { return time.Now().Add(d) }
	return nil
}

// trustOptions: git runs sigil once per commit or tag, so the TUF view
// is reused for client.DefaultCacheValidity (or $SIGIL_TUF_CACHE_VALIDITY)
// as by the other commands.
// A malformed $SIGIL_TUF_CACHE_VALIDITY fails, as it does for the other
// commands, rather than leaving the default in force unsaid.
func (g *gitSettings) trustOptions() (client.Options, error) {
	o := client.Options{TrustedRootFile: g.trustedRoot, SigningConfigFile: g.signingConfig, Offline: g.offline, UserAgent: "sigil/" + Version, CacheValidity: client.DefaultCacheValidity}
	d, err := cacheValidityEnv()
	if err != nil {
		return o, err
	}
	if d >= 0 {
		o.CacheValidity = d
	}
	return o, nil
}

// identities returns the identity policy of the settings; none when
// neither identity nor issuer is set.
func (g *gitSettings) identities() ([]verify.Identity, error) {
	if g.identity == "" && g.identityRegexp == "" && g.issuer == "" && g.issuerRegexp == "" {
		return nil, nil
	}
	if (g.identity == "" && g.identityRegexp == "") || (g.issuer == "" && g.issuerRegexp == "") {
		// identityPolicy's error names --key, which git commands lack.
		return nil, errors.New("couldn't build the identity policy: it needs both a certificate identity and an OIDC issuer: pass --certificate-identity (or -regexp) and --certificate-oidc-issuer (or -regexp), or set sigil.certificateIdentity (or …Regexp) and sigil.certificateOIDCIssuer (or …Regexp) in git config")
	}
	var f verifyFlags
	if g.extensions != nil {
		f = *g.extensions
	}
	f.identity, f.identityRegexp, f.issuer, f.issuerRegexp = g.identity, g.identityRegexp, g.issuer, g.issuerRegexp
	return f.identityPolicy()
}

// terminal opens the terminal git runs in, for sign-in prompts: git's own
// standard streams carry the payload, the signature and status lines. It
// returns nil when there is none.
func terminal() (io.Writer, bool) {
	tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0)
	if err != nil {
		return nil, false
	}
	return tty, true
}

// signer builds the git signer: services from the signing config unless
// URLs are set, as the other signing commands pick them.
func (g *gitSettings) signer(prompts io.Writer, interactive bool) (*gitsign.Signer, error) {
	mode, err := gitsign.ParseMode(g.mode)
	if err != nil {
		return nil, err
	}
	ua := "sigil/" + Version
	hc := &http.Client{Timeout: 30 * time.Second}
	now := g.clock()()
	var tr *trust.TrustedRoot
	var sc *trust.SigningConfig
	opts, err := g.trustOptions()
	if err != nil {
		return nil, err
	}
	if g.fulcioURL == "" || g.rekorURL == "" || g.signingConfig != "" {
		if tr, sc, err = client.LoadTrust(opts); err != nil {
			return nil, err
		}
	} else if tr, err = client.LoadTrustedRoot(opts); err != nil {
		return nil, err
	}
	s := &sign.Signer{KeyAlgorithm: sign.AlgECDSAP256, TrustedRoot: tr, Retry: sign.Retry{Timeout: time.Minute, MoreTime: "sign again once it is"}}

	caURL := g.fulcioURL
	if caURL == "" {
		svc, err := trust.SelectService(sc.CAs, []uint32{1}, now)
		if err != nil {
			return nil, fmt.Errorf("couldn't pick a CA from the signing config: %w", err)
		}
		caURL = svc.URL
	}
	s.CA = &sign.CAClient{URL: caURL, HTTPClient: hc, UserAgent: ua}

	// gitsign (v0.17.1) reads Rekor v1 entries only: its verifier keys the
	// logs by the v1 log ID and checks SETs (internal/gitsign/
	// trustedroot.go, "gitsign targets Rekor v1"). So a git signature goes
	// to a Rekor v1 log when the signing config lists one, and to v2 only
	// when it lists no v1 log (or sigil.rekorURL names a v2 log, with
	// sigil.rekorV2).
	var versions []uint32
	switch {
	case mode == gitsign.Online:
		versions = []uint32{1} // the search index is a v1 API
	case sc != nil && g.rekorURL == "":
		if _, err := trust.SelectServices(sc.Rekors, sc.RekorConfig, []uint32{1}, now); err == nil {
			versions = []uint32{1}
		}
	}
	if s.TSAs, err = pickTSAs(sc, g.tsaURL, now, hc, ua); err != nil {
		return nil, err
	}
	if s.Logs, err = pickLogs(sc, g.rekorURL, g.rekorV2, versions, len(s.TSAs) > 0, now, hc, ua); err != nil {
		return nil, err
	}
	// With Rekor v1 logs only, whose SETs carry the signing time, no RFC
	// 3161 timestamp is added unless --timestamp-server-url asks for one,
	// as gitsign does: gitsign v0.17.1 cannot verify a signature that
	// carries one (its bundle path hands the CMS attribute's
	// TimeStampToken to a parser of TimeStampResp, and fails).
	if g.tsaURL == "" && onlyRekorV1(s.Logs) {
		s.TSAs = nil
	}

	issuer := g.oidcIssuer
	if issuer == "" && sc != nil {
		issuer, _ = token.IssuerFromSigningConfig(sc, now)
	}
	o := token.Options{Issuer: issuer, ClientID: g.clientID, RedirectURL: g.redirect, Output: prompts, Interactive: interactive}
	if g.deviceFlow {
		o.Flow = token.FlowDevice
	}
	src := token.Default(o)
	s.Token = func(ctx context.Context) (string, error) {
		tok, err := src.Token(ctx)
		if err != nil && errors.Is(err, token.ErrNoToken) && !interactive {
			return "", fmt.Errorf("%w\n(under git: set SIGSTORE_ID_TOKEN, or run git in a terminal with sigil.oidcIssuer configured to sign in)", err)
		}
		return tok, err
	}

	gs := &gitsign.Signer{Signer: s, Mode: mode, Now: g.now}
	if !g.noCache {
		// The cached credentials depend on the CA and on who signs in:
		// the issuer, the client, and every token source that comes
		// before an interactive sign-in (token.Default's order), so that
		// a token from another identity never signs with the previous
		// one's certificate.
		h := sha256.New()
		fmt.Fprintf(h, "%s\n%s\n%s\n", caURL, issuer, g.clientID)
		for _, name := range []string{"SIGSTORE_ID_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN", "SIGSTORE_ID_TOKEN_FILE"} {
			if v := os.Getenv(name); v != "" {
				fmt.Fprintf(h, "%s=%s\n", name, v)
			}
		}
		tokenFile := os.Getenv("SIGSTORE_ID_TOKEN_FILE")
		if tokenFile == "" {
			tokenFile = token.DefaultTokenFile
		}
		if fi, err := os.Stat(tokenFile); err == nil {
			if !fi.Mode().IsRegular() {
				// A pipe or device gives its token once: it cannot be
				// read for the key and again to sign, and what it gives
				// next is unknown. No cache then.
				return gs, nil
			}
			fh, err := os.Open(tokenFile)
			if err == nil {
				fmt.Fprintf(h, "file %s\n", tokenFile)
				_, _ = io.Copy(h, io.LimitReader(fh, token.MaxTokenSize+1))
				fh.Close()
			}
		}
		gs.Cache = &gitsign.Cache{Now: g.now}
		gs.CacheKey = hex.EncodeToString(h.Sum(nil))
	}
	return gs, nil
}

// verifier builds the git verifier. logs overrides the logs searched for
// signatures without an embedded entry (default: sigil.rekorURL, else the
// trusted root's logs).
func (g *gitSettings) verifier() (*gitsign.Verifier, error) {
	opts, err := g.trustOptions()
	if err != nil {
		return nil, err
	}
	tr, err := client.LoadTrustedRoot(opts)
	if err != nil {
		switch {
		case g.trustedRoot != "":
		case errors.Is(err, client.ErrNotInitialized):
			// No mirror, so no cache either: offline cannot help.
			return nil, fmt.Errorf("%w\n(under git: git config sigil.trustedRoot FILE, or sigil git setup --trusted-root FILE)", err)
		case !g.offline:
			// git verify-commit takes no --offline: name the setting.
			return nil, fmt.Errorf("%w\n(under git, without the mirror: git -c sigil.offline=true verify-commit …, or sigil git verify --offline)", err)
		}
		return nil, err
	}
	ids, err := g.identities()
	if err != nil {
		return nil, err
	}
	v := &gitsign.Verifier{TrustedRoot: tr, Identities: ids, Options: verify.Options{Now: g.clock()}}
	hc := &http.Client{Timeout: 30 * time.Second}
	ua := "sigil/" + Version
	if g.rekorURL != "" {
		v.Logs = []*sign.RekorV1{{BaseURL: g.rekorURL, HTTPClient: hc, UserAgent: ua}}
	} else {
		for _, l := range tr.TLogs {
			if l.BaseURL != "" {
				v.Logs = append(v.Logs, &sign.RekorV1{BaseURL: l.BaseURL, HTTPClient: hc, UserAgent: ua})
			}
		}
	}
	return v, nil
}

// runGitProgram runs sigil as git's signing program when args are gpg's.
func runGitProgram(args []string, stdout, stderr io.Writer) (int, bool) {
	if !gitsign.IsGPGInvocation(args) {
		return 0, false
	}
	ctx := context.Background()
	var g gitSettings
	load := func() error {
		cfg, err := readGitConfig(ctx)
		if err != nil {
			return err
		}
		if err := g.apply(cfg); err != nil {
			return err
		}
		return g.clockFromEnv()
	}
	tty, _ := terminal()
	var p *gitsign.Program
	p = &gitsign.Program{
		Name: "sigil", Stdin: os.Stdin, Stdout: stdout, Stderr: stderr, Alert: tty,
		Signer: func() (*gitsign.Signer, error) {
			if err := load(); err != nil {
				return nil, err
			}
			prompts, interactive := tty, tty != nil
			if prompts == nil {
				// No terminal: git (before 2.41) hides stderr, so a
				// device sign-in's code goes to SIGIL_GIT_LOG too.
				prompts = stderr
				if p.Log != nil {
					prompts = io.MultiWriter(stderr, p.Log)
				}
			}
			s, err := g.signer(prompts, interactive)
			if err != nil {
				return nil, err
			}
			// git (before 2.41) hides the program's stderr: warnings go
			// where failures go too, the terminal and SIGIL_GIT_LOG.
			s.Notice = p.Warn
			return s, nil
		},
		Verifier: func() (*gitsign.Verifier, error) {
			if err := load(); err != nil {
				return nil, err
			}
			return g.verifier()
		},
	}
	if path := os.Getenv("SIGIL_GIT_LOG"); path != "" {
		if f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600); err == nil {
			defer f.Close()
			p.Log = f
		}
	}
	return p.Run(ctx, args), true
}

func newGit() *cobra.Command {
	c := &cobra.Command{
		Use:   "git",
		Short: "Sign git commits and tags keyless, and verify them (gitsign-compatible)",
		Long: `Sign every commit and tag with your OIDC identity instead of a GPG key, through
git's own x509 signing interface, and verify them later from the transparency
log, long after the ten-minute certificate has expired.

Set up once with "sigil git setup": git then runs sigil as its signing program
(gpg.format x509, gpg.x509.program sigil). Signatures are gitsign's: a detached
CMS SignedData with the certificate, and the transparency log entry embedded
(offline mode, the default) or found in the log by search (online mode, as
gitsign's default). gitsign verifies sigil's signatures and sigil verifies
gitsign's. Settings live in git config, section "sigil" (see "sigil git setup
--help"); a certificate is reused for a series of commits while it is valid.

"git verify-commit" and "git log --show-signature" check the signature, the
log entry and the certificate chain, and the identity when
sigil.certificateIdentity and sigil.certificateOIDCIssuer are set (without
them git is told the signer's trust is undefined: %G? shows U, and
gpg.minTrustLevel or merge --verify-signatures refuse it). "sigil git verify"
always requires an identity, like the other verify commands.`,
		Example: `  sigil git setup --trusted-root trusted_root.json --signing-config signing_config.json
  git commit -m "signed, keyless"
  git verify-commit HEAD
  sigil git verify HEAD --certificate-identity alice@example.com --certificate-oidc-issuer https://accounts.example.com`,
	}
	c.AddCommand(newGitSetup(), newGitVerify())
	return c
}

func newGitSetup() *cobra.Command {
	var (
		g              gitSettings
		global, noSign bool
		program        string
	)
	c := &cobra.Command{
		Use:   "setup [--global] [settings…]",
		Short: "Configure git (this repository, or --global) to sign with sigil",
		Long: `Configure git to sign commits and tags with sigil, in this repository or, with
--global, for the user. It sets gpg.format x509, gpg.x509.program (this sigil
binary's absolute path, so git finds it whatever its PATH), commit.gpgsign and
tag.gpgsign (unless --no-sign-by-default), and the sigil.* settings given as
flags, and prints each "git config" it ran. With tag.gpgsign, git makes every
"git tag NAME" a signed annotated tag (and asks for its message); "git tag
--no-sign NAME" makes a lightweight one.

Without --trusted-root and --signing-config, sigil uses the TUF mirror set up
with "sigil trust init". Identity tokens come from SIGSTORE_ID_TOKEN or the CI
environment, else from a sign-in in the terminal (--oidc-issuer, or the signing
config's); the certificate is cached for its ten minutes under the user cache
directory (mode 0600), so a rebase signs in once.`,
		Example: `  # This repository, services and trust from the TUF mirror of "sigil trust init":
  sigil git setup

  # For every repository of the user, with trust files and the identity verify-commit requires:
  sigil git setup --global --trusted-root ~/sigil/trusted_root.json --signing-config ~/sigil/signing_config.json \
    --certificate-identity alice@example.com --certificate-oidc-issuer https://accounts.example.com

  # gitsign's online log mode, against explicit services (with no signing config,
  # name the issuer to sign in at, unless tokens come from SIGSTORE_ID_TOKEN or CI):
  sigil git setup --fulcio-url https://ca.example.com --rekor-url https://log.example.com --rekor-mode online \
    --trusted-root trusted_root.json --oidc-issuer https://accounts.example.com`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := gitsign.ParseMode(g.mode); err != nil {
				return err
			}
			if _, err := g.identities(); err != nil {
				return err
			}
			if g.rekorV2 && g.rekorURL == "" {
				return errors.New("--rekor-v2 names the API of the log --rekor-url gives; without --rekor-url the signing config chooses the log")
			}
			if program == "" {
				exe, err := os.Executable()
				if err != nil {
					return fmt.Errorf("couldn't find the sigil executable (pass --program): %w", err)
				}
				if program, err = filepath.EvalSymlinks(exe); err != nil {
					program = exe
				}
				if strings.Contains(program, string(filepath.Separator)+"go-build") {
					// go run's build is deleted when it exits (or, cached,
					// when the build cache is trimmed): git would find no
					// signing program at a later commit.
					return fmt.Errorf("couldn't use this sigil as git's signing program: %s is a build of go run, deleted when it exits or when the build cache is trimmed; install sigil (go install ./cmd/sigil) and run sigil git setup, or pass --program PATH", program)
				}
			}
			scope := "--local"
			if global {
				scope = "--global"
			} else if out, err := exec.Command("git", "rev-parse", "--git-dir").CombinedOutput(); err != nil {
				return fmt.Errorf("couldn't find a git repository here (%s); run in one, or pass --global", bytes.TrimSpace(out))
			}
			abs := func(p string) (string, error) {
				if p == "" {
					return "", nil
				}
				a, err := filepath.Abs(p)
				if err != nil {
					return "", err
				}
				if _, err := os.Stat(a); err != nil {
					return "", fmt.Errorf("couldn't use %s: %w", p, err)
				}
				return a, nil
			}
			var err error
			if g.trustedRoot, err = abs(g.trustedRoot); err != nil {
				return err
			}
			if g.signingConfig, err = abs(g.signingConfig); err != nil {
				return err
			}
			set := [][2]string{{"gpg.format", "x509"}, {"gpg.x509.program", program}}
			if !noSign {
				set = append(set, [2]string{"commit.gpgsign", "true"}, [2]string{"tag.gpgsign", "true"})
			}
			for _, kv := range [][2]string{
				{"sigil.trustedRoot", g.trustedRoot}, {"sigil.signingConfig", g.signingConfig},
				{"sigil.fulcioURL", g.fulcioURL}, {"sigil.rekorURL", g.rekorURL}, {"sigil.timestampServerURL", g.tsaURL},
				{"sigil.rekorMode", g.mode},
				{"sigil.certificateIdentity", g.identity}, {"sigil.certificateIdentityRegexp", g.identityRegexp},
				{"sigil.certificateOIDCIssuer", g.issuer}, {"sigil.certificateOIDCIssuerRegexp", g.issuerRegexp},
				{"sigil.oidcIssuer", g.oidcIssuer}, {"sigil.oidcClientID", g.clientID},
			} {
				if kv[1] != "" {
					set = append(set, kv)
				}
			}
			if cmd.Flags().Changed("rekor-v2") {
				set = append(set, [2]string{"sigil.rekorV2", fmt.Sprint(g.rekorV2)})
			}
			if cmd.Flags().Changed("offline") {
				set = append(set, [2]string{"sigil.offline", fmt.Sprint(g.offline)})
			}
			if cmd.Flags().Changed("oidc-device-flow") {
				set = append(set, [2]string{"sigil.oidcDeviceFlow", fmt.Sprint(g.deviceFlow)})
			}
			if cmd.Flags().Changed("no-credential-cache") {
				set = append(set, [2]string{"sigil.credentialCache", fmt.Sprint(!g.noCache)})
			}
			for _, kv := range set {
				if out, err := exec.Command("git", "config", scope, kv[0], kv[1]).CombinedOutput(); err != nil {
					return fmt.Errorf("couldn't set git config %s: %s", kv[0], bytes.TrimSpace(out))
				}
				fmt.Fprintf(cmd.OutOrStdout(), "git config %s %s %s\n", scope, kv[0], shellQuote(kv[1]))
			}
			if ids, _ := g.identities(); len(ids) == 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "Note: no identity to verify against (--certificate-identity, --certificate-oidc-issuer): git shows signatures as of unknown validity (U in git log --format=%%G?), and merge --verify-signatures refuses them (\"untrusted GPG signature\").\n")
			}
			return nil
		},
	}
	fl := c.Flags()
	fl.BoolVar(&global, "global", false, "configure the user's git (~/.gitconfig) instead of this repository")
	fl.BoolVar(&noSign, "no-sign-by-default", false, "do not set commit.gpgsign and tag.gpgsign (sign with git commit -S, git tag -s)")
	fl.StringVar(&program, "program", "", "signing program git runs (default: this sigil binary's absolute path)")
	fl.StringVar(&g.trustedRoot, "trusted-root", "", "trusted root JSON file (default: the TUF mirror of sigil trust init)")
	fl.StringVar(&g.signingConfig, "signing-config", "", "signing config JSON file (default: the TUF mirror)")
	fl.BoolVar(&g.offline, "offline", false, "use the cached TUF metadata without contacting the mirror")
	fl.StringVar(&g.fulcioURL, "fulcio-url", "", "CA base URL, instead of the signing config's")
	fl.StringVar(&g.rekorURL, "rekor-url", "", "transparency log base URL, instead of the signing config's; also searched for online-mode signatures")
	fl.BoolVar(&g.rekorV2, "rekor-v2", false, "with --rekor-url: the log speaks Rekor v2 (needs a timestamp authority; offline mode only)")
	fl.StringVar(&g.tsaURL, "timestamp-server-url", "", "RFC 3161 timestamp endpoint (default: the signing config's, used only with a Rekor v2 log, as gitsign verifies no timestamp)")
	fl.StringVar(&g.mode, "rekor-mode", "", "where the log entry goes: offline (embedded in the signature; default) or online (found by search, gitsign's default)")
	fl.StringVar(&g.identity, "certificate-identity", "", "identity git verify-commit requires (exact)")
	fl.StringVar(&g.identityRegexp, "certificate-identity-regexp", "", "identity git verify-commit requires (regular expression)")
	fl.StringVar(&g.issuer, "certificate-oidc-issuer", "", "OIDC issuer git verify-commit requires (exact)")
	fl.StringVar(&g.issuerRegexp, "certificate-oidc-issuer-regexp", "", "OIDC issuer git verify-commit requires (regular expression)")
	fl.StringVar(&g.oidcIssuer, "oidc-issuer", "", "OIDC issuer to sign in at (default: the signing config's)")
	fl.StringVar(&g.clientID, "oidc-client-id", "", "OAuth client ID at the issuer (default sigstore)")
	fl.BoolVar(&g.deviceFlow, "oidc-device-flow", false, "sign in with a code entered on any device instead of a browser here")
	fl.BoolVar(&g.noCache, "no-credential-cache", false, "get a new certificate for every signature")
	return c
}

func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:@=+,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func newGitVerify() *cobra.Command {
	var (
		g      gitSettings
		ext    verifyFlags
		output string
	)
	c := &cobra.Command{
		Use:   "verify [REV | A..B] (--certificate-identity ID | --certificate-identity-regexp RE) (--certificate-oidc-issuer URL | --certificate-oidc-issuer-regexp RE)",
		Short: "Verify the signature of a commit or tag against an identity policy",
		Long: `Verify the sigil or gitsign signature of REV (default HEAD): a commit, or an
annotated tag when REV names one. The signature must match the object, its
certificate must chain to a CA of the trusted root at the time the transparency
log (or a timestamp authority) vouches for, and the certificate identity must
match the policy. The log entry embedded in the signature is verified offline;
a signature without one (gitsign's online mode) is looked up in the log
(--rekor-url, else the trusted root's logs).

A range A..B (or A...B, as git rev-list reads them) verifies every commit
in it, merges included, and reports each; the exit status is 1 when any
commit fails (an unsigned one too) or when the range holds no commit. A CI
gate can so require that every commit of a pull request was signed by an
allowed identity: sigil git verify origin/main..HEAD … In a shallow clone
(a CI checkout with a fetch depth) a range that reaches the clone's boundary
fails, as the commits behind it cannot be listed: fetch enough history.

Defaults come from git config (sigil.trustedRoot, sigil.rekorURL,
sigil.certificateIdentity, …); flags override them. On failure one line says
which check failed and why, and the exit status is 1.`,
		Example: `  sigil git verify --certificate-identity alice@example.com --certificate-oidc-issuer https://accounts.example.com
  sigil git verify v1.2.0 --certificate-identity-regexp '^https://github\.com/org/repo/' \
    --certificate-oidc-issuer https://token.actions.githubusercontent.com --trusted-root trusted_root.json
  sigil git verify HEAD~3 --certificate-identity alice@example.com --certificate-oidc-issuer https://accounts.example.com --output json
  sigil git verify origin/main..HEAD --certificate-identity-regexp '@example\.com$' --certificate-oidc-issuer https://accounts.example.com`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := signContext(cmd)
			cfg, err := readGitConfig(ctx)
			if err != nil {
				return err
			}
			var d gitSettings
			if err := d.apply(cfg); err != nil {
				return err
			}
			// Flags override git config.
			fl := cmd.Flags()
			for name, p := range map[string][2]*string{
				"trusted-root": {&g.trustedRoot, &d.trustedRoot}, "rekor-url": {&g.rekorURL, &d.rekorURL},
				"certificate-identity": {&g.identity, &d.identity}, "certificate-identity-regexp": {&g.identityRegexp, &d.identityRegexp},
				"certificate-oidc-issuer": {&g.issuer, &d.issuer}, "certificate-oidc-issuer-regexp": {&g.issuerRegexp, &d.issuerRegexp},
			} {
				if fl.Changed(name) {
					*p[1] = *p[0]
				}
			}
			if fl.Changed("offline") {
				d.offline = g.offline
			}
			if fl.Changed("certificate-identity") || fl.Changed("certificate-identity-regexp") || fl.Changed("certificate-oidc-issuer") || fl.Changed("certificate-oidc-issuer-regexp") {
				// A policy on the command line replaces the configured one whole.
				d.identity, d.identityRegexp, d.issuer, d.issuerRegexp = g.identity, g.identityRegexp, g.issuer, g.issuerRegexp
			}
			d.extensions = &ext
			ids, err := d.identities()
			if err != nil {
				return err
			}
			if len(ids) == 0 {
				if ext.hasExtensions() {
					return errors.New("certificate extension flags need an identity policy too: pass --certificate-identity (or -regexp) and --certificate-oidc-issuer (or -regexp), or set sigil.certificateIdentity and sigil.certificateOIDCIssuer")
				}
				return errors.New("no identity policy: pass --certificate-identity (or -regexp) and --certificate-oidc-issuer (or -regexp), or set sigil.certificateIdentity and sigil.certificateOIDCIssuer")
			}
			if err := d.clockFromEnv(); err != nil {
				return err
			}
			rev := "HEAD"
			if len(args) == 1 {
				rev = args[0]
			}
			if isGitRange(rev) {
				objs, err := readRange(ctx, rev)
				if err != nil {
					return err
				}
				v, err := d.verifier()
				if err != nil {
					return err
				}
				return verifyGitRange(ctx, cmd, output, rev, v, objs)
			}
			obj, err := readObject(ctx, rev)
			if err != nil {
				return err
			}
			v, err := d.verifier()
			if err != nil {
				return err
			}
			res, err := v.Verify(ctx, obj.payload, obj.sig)
			if err != nil {
				err = fmt.Errorf("%s %s: %w", obj.kind, obj.id, err)
				if output == "json" {
					// A CI gate reading JSON gets the failure as JSON too,
					// as for a range; the exit status stays 1.
					enc := json.NewEncoder(cmd.OutOrStdout())
					enc.SetIndent("", "  ")
					if jerr := enc.Encode(gitReport{Object: obj.id, Type: obj.kind, Error: err.Error()}); jerr != nil {
						return jerr
					}
				}
				return err
			}
			return reportGit(cmd, output, obj, res)
		},
	}
	fl := c.Flags()
	fl.StringVar(&g.trustedRoot, "trusted-root", "", "trusted root JSON file (default: sigil.trustedRoot, else the TUF mirror)")
	fl.BoolVar(&g.offline, "offline", false, "use the cached TUF metadata without contacting the mirror")
	fl.StringVar(&g.rekorURL, "rekor-url", "", "Rekor v1 log to search for signatures that embed no log entry (default: sigil.rekorURL, else the trusted root's logs)")
	fl.StringVar(&g.identity, "certificate-identity", "", "exact certificate identity (SAN): email, URI or username")
	fl.StringVar(&g.identityRegexp, "certificate-identity-regexp", "", "regular expression the certificate identity must match (unanchored: use ^…$)")
	fl.StringVar(&g.issuer, "certificate-oidc-issuer", "", "exact OIDC issuer of the certificate")
	fl.StringVar(&g.issuerRegexp, "certificate-oidc-issuer-regexp", "", "regular expression the OIDC issuer must match (unanchored)")
	ext.registerExtensions(fl)
	fl.StringVarP(&output, "output", "o", "text", "output format: text or json")
	return c
}

// gitObject is a signed commit or tag read from the repository.
type gitObject struct {
	kind, id     string // "commit" or "tag"; full object ID
	payload, sig []byte
	err          error // in a range: why the object has no signature to verify
}

// gitObjects runs git to read objects as they are stored: replace refs
// (git replace, local and not fetched by default) would otherwise swap in
// another object's content, signature included, under the object ID
// asked for, and a signed replacement would verify for an unsigned commit.
func gitObjects(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Env = append(os.Environ(), "GIT_NO_REPLACE_OBJECTS=1")
	return cmd
}

// readObject reads REV: the tag object when REV names an annotated tag,
// else the commit it names.
func readObject(ctx context.Context, rev string) (*gitObject, error) {
	run := func(args ...string) ([]byte, error) {
		cmd := gitObjects(ctx, args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			msg := strings.TrimSpace(stderr.String())
			if msg == "" {
				msg = err.Error()
			}
			return nil, fmt.Errorf("couldn't read %s: git %s: %s", rev, args[0], msg)
		}
		return out, nil
	}
	if strings.HasPrefix(rev, "-") {
		return nil, fmt.Errorf("couldn't read %s: not a revision", rev)
	}
	o := &gitObject{kind: "commit"}
	out, err := run("cat-file", "-t", rev)
	if err != nil {
		return nil, err
	}
	target := rev + "^{commit}"
	if strings.TrimSpace(string(out)) == "tag" {
		o.kind, target = "tag", rev
	}
	out, err = run("rev-parse", "--verify", "--end-of-options", target)
	if err != nil {
		return nil, err
	}
	o.id = strings.TrimSpace(string(out))
	raw, err := run("cat-file", o.kind, o.id)
	if err != nil {
		return nil, err
	}
	if o.kind == "tag" {
		o.payload, o.sig, err = gitsign.SplitTag(raw)
	} else {
		o.payload, o.sig, err = gitsign.SplitCommit(raw)
	}
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", o.kind, o.id, err)
	}
	return o, nil
}

// gitReport is the JSON form of one verified (or, in a range, failed)
// object.
type gitReport struct {
	Object       string         `json:"object"`
	Type         string         `json:"type"`
	Identity     string         `json:"identity,omitempty"`
	Issuer       string         `json:"issuer,omitempty"`
	Time         *time.Time     `json:"time,omitempty"`
	LogMode      string         `json:"logMode,omitempty"`
	Verification *verify.Result `json:"verification,omitempty"`
	Error        string         `json:"error,omitempty"`
}

func newGitReport(obj *gitObject, res *gitsign.Result) gitReport {
	r := gitReport{Object: obj.id, Type: obj.kind, Identity: res.Identity, Issuer: res.Issuer, Time: &res.Time, LogMode: string(gitsign.Offline), Verification: res.Verified}
	if res.Online {
		r.LogMode = string(gitsign.Online)
	}
	return r
}

// describeGit writes the text report of one good signature: signer, time
// and where the log vouches for it.
func describeGit(w io.Writer, obj *gitObject, res *gitsign.Result) {
	fmt.Fprintf(w, "%s %s signed at %s", obj.kind, obj.id, res.Time.UTC().Format(time.RFC3339))
	for _, e := range res.Verified.TlogEntries {
		fmt.Fprintf(w, "; transparency log %s index %d", e.LogURL, e.LogIndex)
	}
	if res.Online {
		fmt.Fprint(w, " (found by search)")
	}
	fmt.Fprintln(w)
}

func reportGit(cmd *cobra.Command, output string, obj *gitObject, res *gitsign.Result) error {
	switch output {
	case "json":
		enc := json.NewEncoder(cmd.OutOrStdout())
		enc.SetIndent("", "  ")
		return enc.Encode(newGitReport(obj, res))
	case "text", "":
		w := cmd.ErrOrStderr()
		fmt.Fprintf(w, "Good signature from %s (issuer %s)\n", res.Identity, res.Issuer)
		describeGit(w, obj, res)
		fmt.Fprintln(w, "Verified OK")
		return nil
	}
	return fmt.Errorf("unknown --output %q: use text or json", output)
}

// isGitRange reports whether rev is a range (A..B or A...B) rather than
// one revision. ".." cannot occur in a ref name (git check-ref-format), so
// a revision holding it is a range or an error either way.
func isGitRange(rev string) bool { return strings.Contains(rev, "..") }

// readRange reads the commits of a range, newest first, as git rev-list
// orders them: one rev-list and one cat-file --batch process, whatever
// the range's length.
//
// The walk must have followed each commit's own parents: in a shallow
// clone (a CI checkout with a fetch depth) git gives the boundary commits
// no parents, and a graft gives a commit others, so rev-list would stop
// there and leave the commits behind them out of the range, unverified.
// A commit whose stored parents are not those git walked fails the range.
func readRange(ctx context.Context, rng string) ([]*gitObject, error) {
	if strings.HasPrefix(rng, "-") {
		return nil, fmt.Errorf("couldn't read %s: not a range", rng)
	}
	var stderr bytes.Buffer
	list := gitObjects(ctx, "rev-list", "--parents", "--end-of-options", rng)
	list.Stderr = &stderr
	out, err := list.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return nil, fmt.Errorf("couldn't list the commits of %s: git rev-list: %s", rng, msg)
	}
	var ids []string
	walked := map[string][]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			ids = append(ids, f[0])
			walked[f[0]] = f[1:]
		}
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("couldn't verify %s: the range holds no commit", rng)
	}
	stderr.Reset()
	cat := gitObjects(ctx, "cat-file", "--batch")
	cat.Stdin = strings.NewReader(strings.Join(ids, "\n") + "\n")
	cat.Stderr = &stderr
	raw, err := cat.Output()
	if err != nil {
		return nil, fmt.Errorf("couldn't read the commits of %s: git cat-file: %s", rng, strings.TrimSpace(stderr.String()+" "+err.Error()))
	}
	objs := make([]*gitObject, 0, len(ids))
	for _, id := range ids {
		// Each object is "<id> <type> <size>\n<content>\n".
		head, rest, ok := bytes.Cut(raw, []byte("\n"))
		f := strings.Fields(string(head))
		var size int
		if ok && len(f) == 3 {
			size, err = strconv.Atoi(f[2])
		}
		if !ok || len(f) != 3 || f[0] != id || f[1] != "commit" || err != nil || size < 0 || size >= len(rest) || rest[size] != '\n' {
			return nil, fmt.Errorf("couldn't read commit %s of %s: git cat-file answered %q", id, rng, head)
		}
		if stored := commitParents(rest[:size]); !slices.Equal(stored, walked[id]) {
			return nil, fmt.Errorf("couldn't list the commits of %s: commit %s records the parents %s but git walked %s (the boundary of a shallow clone, or a graft), so the commits behind it would be left out unverified; fetch the history (git fetch --unshallow) and verify again",
				rng, id, parentList(stored), parentList(walked[id]))
		}
		o := &gitObject{kind: "commit", id: id}
		o.payload, o.sig, err = gitsign.SplitCommit(rest[:size])
		if err != nil {
			// An unsigned commit fails verification, not the listing.
			o.err = fmt.Errorf("commit %s: %w", id, err)
		}
		objs = append(objs, o)
		raw = rest[size+1:]
	}
	return objs, nil
}

// commitParents returns the parents a commit object records (its "parent"
// header lines), in order.
func commitParents(raw []byte) []string {
	var parents []string
	for len(raw) > 0 && raw[0] != '\n' {
		line, rest, _ := bytes.Cut(raw, []byte{'\n'})
		if p, ok := bytes.CutPrefix(line, []byte("parent ")); ok {
			parents = append(parents, string(p))
		}
		raw = rest
	}
	return parents
}

func parentList(ids []string) string {
	if len(ids) == 0 {
		return "none"
	}
	return strings.Join(ids, ", ")
}

// verifyGitRange verifies every commit of a range and reports each; it
// fails when any commit does.
func verifyGitRange(ctx context.Context, cmd *cobra.Command, output, rng string, v *gitsign.Verifier, objs []*gitObject) error {
	if output != "json" && output != "text" && output != "" {
		return fmt.Errorf("unknown --output %q: use text or json", output)
	}
	reports := make([]gitReport, 0, len(objs))
	failed := 0
	w := cmd.ErrOrStderr()
	for _, o := range objs {
		err := o.err
		var res *gitsign.Result
		if err == nil {
			if res, err = v.Verify(ctx, o.payload, o.sig); err != nil {
				err = fmt.Errorf("%s %s: %w", o.kind, o.id, err)
			}
		}
		if err != nil {
			failed++
			reports = append(reports, gitReport{Object: o.id, Type: o.kind, Error: err.Error()})
			if output != "json" {
				fmt.Fprintf(w, "FAILED %s\n", errorText(err))
			}
			continue
		}
		reports = append(reports, newGitReport(o, res))
		if output != "json" {
			fmt.Fprintf(w, "Good signature from %s (issuer %s): ", res.Identity, res.Issuer)
			describeGit(w, o, res)
		}
	}
	if output == "json" {
		enc := json.NewEncoder(cmd.OutOrStdout())
		enc.SetIndent("", "  ")
		out := struct {
			Range    string      `json:"range"`
			Verified int         `json:"verified"`
			Failed   int         `json:"failed"`
			Commits  []gitReport `json:"commits"`
		}{rng, len(objs) - failed, failed, reports}
		if err := enc.Encode(out); err != nil {
			return err
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d commits in %s failed verification", failed, len(objs), rng)
	}
	if output != "json" {
		fmt.Fprintf(w, "Verified OK: all %d commits in %s\n", len(objs), rng)
	}
	return nil
}

// onlyRekorV1 reports whether every log is a Rekor v1 log.
func onlyRekorV1(logs []sign.LogClient) bool {
	for _, l := range logs {
		if _, v1 := l.(*sign.RekorV1); !v1 {
			return false
		}
	}
	return len(logs) > 0
}
