package cli

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"sigil.dev/sigil/ca/keys"
	"sigil.dev/sigil/keyfile"
	"sigil.dev/sigil/oidc/token"
	"sigil.dev/sigil/sign"
	"sigil.dev/sigil/trust"
	"sigil.dev/sigil/tuf/client"
)

// signFlags are the flags shared by the signing commands: where trust and
// services come from, which key signs, and how to get a token.
type signFlags struct {
	trust  trustFlags
	tokens tokenFlags

	key          string
	keyAlgorithm string
	fulcioURL    string
	rekorURL     string
	rekorV2      bool
	tsaURL       string
	noTlog       bool
	timeout      time.Duration
	// rekorVersions are the Rekor API versions the command can use from
	// the signing config; default 1 and 2.
	rekorVersions []uint32
}

func (f *signFlags) register(c *cobra.Command) {
	fl := c.Flags()
	f.trust.register(fl)
	f.tokens.register(c)
	fl.StringVar(&f.key, "key", "", "sign with this private key instead of keyless: a file (cosign format; password from SIGIL_PASSWORD, else COSIGN_PASSWORD, else asked) or a PKCS#11 URI (pkcs11:token=…;object=…?module-path=…; PIN from pin-value, pin-source or SIGIL_PKCS11_PIN)")
	fl.StringVar(&f.keyAlgorithm, "key-algorithm", sign.AlgECDSAP256, "ephemeral key for keyless signing: ecdsa-p256, ecdsa-p384 or ed25519")
	fl.StringVar(&f.fulcioURL, "fulcio-url", "", "CA base URL, instead of the signing config's")
	fl.StringVar(&f.rekorURL, "rekor-url", "", "transparency log base URL, instead of the signing config's (Rekor v1 API unless --rekor-v2)")
	fl.BoolVar(&f.rekorV2, "rekor-v2", false, "with --rekor-url: use the Rekor v2 API (needs a timestamp authority)")
	fl.StringVar(&f.tsaURL, "timestamp-server-url", "", "RFC 3161 timestamp endpoint, instead of the signing config's")
	fl.BoolVar(&f.noTlog, "no-tlog-upload", false, "key-based signing only: do not record the signature in a transparency log")
	fl.DurationVar(&f.timeout, "timeout", 2*time.Minute, "time limit for each service, retries included")
}

// signer builds the signer: the services come from the signing config
// (honouring its ALL/ANY/EXACT selectors) unless URLs override them.
func (f *signFlags) signer(cmd *cobra.Command) (*sign.Signer, error) {
	s, err := f.blobSigner(cmd)
	if err != nil {
		return nil, err
	}
	if s.TrustedRoot == nil {
		if s.TrustedRoot, err = s.LoadTrustedRoot(); err != nil {
			return nil, err
		}
		s.LoadTrustedRoot = nil
	}
	return s, nil
}

// blobSigner is signer for commands that only call SignBlob or SignDSSE:
// a trusted root from TUF is parsed by them while the CA works
// (sign.Signer.LoadTrustedRoot). One from --trusted-root is parsed now: a
// wrong file, the likely mistake, then fails before the CA and the logs
// record anything. TUF verified its target against the repository's
// metadata, so that one is as its operator published it.
func (f *signFlags) blobSigner(cmd *cobra.Command) (*sign.Signer, error) {
	ua := "sigil/" + Version
	hc := &http.Client{Timeout: 30 * time.Second}
	s := &sign.Signer{KeyAlgorithm: f.keyAlgorithm, Retry: sign.Retry{Timeout: f.timeout}}
	needConfig := f.fulcioURL == "" && f.key == "" || f.rekorURL == "" && !f.noTlog
	// A key signature with no log entry and no timestamp is checked with
	// the key alone, as cosign does: no trust root is needed.
	keyOnly := f.key != "" && f.noTlog && f.tsaURL == "" && f.trust.trustedRoot == "" && f.trust.signingConfig == ""
	docs := &client.Documents{}
	var err error
	if !keyOnly {
		if docs, err = f.trust.documents(needConfig || f.trust.signingConfig != ""); err != nil {
			return nil, err
		}
	}
	var sc *trust.SigningConfig
	if docs.SigningConfig != nil {
		if sc, err = docs.ParseSigningConfig(); err != nil {
			return nil, err
		}
	}
	switch {
	case f.trust.trustedRoot != "":
		if s.TrustedRoot, err = docs.ParseTrustedRoot(); err != nil {
			return nil, err
		}
	case keyOnly:
		s.TrustedRoot = &trust.TrustedRoot{}
	default:
		s.LoadTrustedRoot = docs.ParseTrustedRoot
	}
	now := time.Now()

	if f.key != "" {
		k, err := loadPrivateKey(cmd, f.key)
		if err != nil {
			return nil, err
		}
		s.Key = k
	} else {
		caURL := f.fulcioURL
		if caURL == "" {
			svc, err := trust.SelectService(sc.CAs, []uint32{1}, now)
			if err != nil {
				return nil, fmt.Errorf("couldn't pick a CA from the signing config: %w", err)
			}
			caURL = svc.URL
		}
		s.CA = &sign.CAClient{URL: caURL, HTTPClient: hc, UserAgent: ua}
		issuer := ""
		if sc != nil {
			issuer, _ = token.IssuerFromSigningConfig(sc, now)
		}
		src, err := f.tokens.source(cmd, issuer)
		if err != nil {
			return nil, err
		}
		s.Token = src.Token
	}

	if f.noTlog && f.key == "" {
		return nil, errors.New("--no-tlog-upload applies only to key-based signing: a ten-minute certificate needs the log's time")
	}
	if f.noTlog && (f.rekorURL != "" || f.rekorV2) {
		// One says where to log, the other not to log: the log was
		// silently left out.
		return nil, errors.New("--no-tlog-upload and --rekor-url (or --rekor-v2) contradict each other: give one")
	}
	if s.TSAs, err = pickTSAs(sc, f.tsaURL, now, hc, ua); err != nil {
		return nil, err
	}
	if !f.noTlog {
		if s.Logs, err = pickLogs(sc, f.rekorURL, f.rekorV2, f.rekorVersions, len(s.TSAs) > 0, now, hc, ua); err != nil {
			return nil, err
		}
	}
	s.Progress = func(step, detail string) {
		if detail != "" && isatty.IsTerminal(os.Stderr.Fd()) {
			fmt.Fprintf(cmd.ErrOrStderr(), "%s: %s\n", step, detail)
		}
	}
	return s, nil
}

// passwordVariables are where the key password comes from, first first.
var passwordVariables = []string{"SIGIL_PASSWORD", "COSIGN_PASSWORD"}

// passwordVariable names the variable password takes the password from,
// "" when none is set (it is asked).
func passwordVariable() string {
	for _, v := range passwordVariables {
		if _, ok := os.LookupEnv(v); ok {
			return v
		}
	}
	return ""
}

// otherPassword notes a later password variable that is set too (and
// differs), which the one used hides.
func otherPassword(used string) string {
	for _, v := range passwordVariables {
		if o, ok := os.LookupEnv(v); ok && v != used && o != os.Getenv(used) {
			return "; " + v + ", also set, comes after it"
		}
	}
	return ""
}

// password returns the key password: SIGIL_PASSWORD, COSIGN_PASSWORD (so
// cosign users' scripts keep working), or asked on the terminal.
func password(cmd *cobra.Command, prompt string, confirm bool) ([]byte, error) {
	if v := passwordVariable(); v != "" {
		return []byte(os.Getenv(v)), nil
	}
	if !isatty.IsTerminal(os.Stdin.Fd()) {
		return nil, errors.New("no key password: set SIGIL_PASSWORD (or COSIGN_PASSWORD); it may be empty")
	}
	fmt.Fprint(cmd.ErrOrStderr(), prompt)
	p, err := term.ReadPassword(int(os.Stdin.Fd()))
	fmt.Fprintln(cmd.ErrOrStderr())
	if err != nil {
		return nil, fmt.Errorf("couldn't read password: %w", err)
	}
	if confirm {
		fmt.Fprint(cmd.ErrOrStderr(), "Enter password again: ")
		q, err := term.ReadPassword(int(os.Stdin.Fd()))
		fmt.Fprintln(cmd.ErrOrStderr())
		if err != nil {
			return nil, fmt.Errorf("couldn't read password: %w", err)
		}
		if string(p) != string(q) {
			return nil, errors.New("the passwords differ")
		}
	}
	return p, nil
}

// isPKCS11URI reports whether a --key names a PKCS#11 URI, in any case of
// the scheme and after spaces (a mistyped one is still refused unquoted).
func isPKCS11URI(path string) bool {
	p := strings.TrimSpace(path)
	return len(p) >= 7 && strings.EqualFold(p[:7], "pkcs11:")
}

func loadPrivateKey(cmd *cobra.Command, path string) (crypto.Signer, error) {
	// A mistyped scheme (" pkcs11:", "PKCS11:") is a URI too, refused by
	// the parser without quoting it: as a file name it was echoed in
	// "couldn't read private key: open …", its pin-value with it.
	if isPKCS11URI(path) {
		// The session lives as long as the process: the command signs and
		// exits.
		k, _, err := keys.LoadPKCS11(path)
		if err != nil {
			return nil, fmt.Errorf("couldn't open the PKCS#11 key: %w", err)
		}
		return k, nil
	}
	raw, err := readFile("private key", path)
	if err != nil {
		return nil, err
	}
	pw, err := password(cmd, "Enter password for private key: ", false)
	if err != nil {
		return nil, err
	}
	k, err := keyfile.Decrypt(raw, pw)
	if errors.Is(err, keyfile.ErrPassword) {
		// Say which password was tried: SIGIL_PASSWORD comes first, so
		// a stale one hides a right COSIGN_PASSWORD.
		if v := passwordVariable(); v != "" {
			return nil, fmt.Errorf("couldn't load %s: %w (the password from %s%s)", path, err, v, otherPassword(v))
		}
	}
	if err != nil {
		return nil, fmt.Errorf("couldn't load %s: %w", path, err)
	}
	return k, nil
}

// openArtifact opens a file, or standard input for "-", and says how big
// it is (-1 if unknown).
func openArtifact(path string) (io.ReadCloser, int64, error) {
	if path == "-" {
		return os.Stdin, -1, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("couldn't open artifact: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, fi.Size(), nil
}

// progressReader reports reading progress on a terminal for large inputs.
type progressReader struct {
	r          io.Reader
	out        io.Writer
	total      int64
	done       int64
	lastReport time.Time
	start      time.Time
}

func withProgress(r io.Reader, total int64, out io.Writer) io.Reader {
	if total < 64<<20 || !isatty.IsTerminal(os.Stderr.Fd()) {
		return r
	}
	return &progressReader{r: r, out: out, total: total, start: time.Now()}
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.done += int64(n)
	if now := time.Now(); now.Sub(p.lastReport) > 200*time.Millisecond || err == io.EOF {
		p.lastReport = now
		mb := float64(p.done) / (1 << 20)
		rate := mb / now.Sub(p.start).Seconds()
		fmt.Fprintf(p.out, "\rhashing: %5.1f%% (%.0f of %.0f MiB, %.0f MiB/s)", 100*float64(p.done)/float64(p.total), mb, float64(p.total)/(1<<20), rate)
		if err == io.EOF {
			fmt.Fprintln(p.out)
		}
	}
	return n, err
}

func signContext(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}

// pickLogs returns the transparency logs to sign into: rekorURL when given
// (the v2 API if rekorV2), else the signing config's logs of the given API
// versions (default 1 and 2), honouring its ALL/ANY/EXACT selector. Without
// a timestamp authority (haveTSA false) a v2 log cannot give the signature
// a time, so the config's v1 logs are chosen when it has any.
func pickLogs(sc *trust.SigningConfig, rekorURL string, rekorV2 bool, versions []uint32, haveTSA bool, now time.Time, hc *http.Client, ua string) ([]sign.LogClient, error) {
	if rekorV2 && rekorURL == "" {
		return nil, errors.New("--rekor-v2 names the API of the log --rekor-url gives; without --rekor-url the signing config chooses the log")
	}
	if rekorURL != "" {
		if rekorV2 {
			return []sign.LogClient{&sign.RekorV2{BaseURL: rekorURL, HTTPClient: hc, UserAgent: ua}}, nil
		}
		return []sign.LogClient{&sign.RekorV1{BaseURL: rekorURL, HTTPClient: hc, UserAgent: ua}}, nil
	}
	if versions == nil {
		versions = []uint32{1, 2}
		if !haveTSA {
			if _, err := trust.SelectServices(sc.Rekors, sc.RekorConfig, []uint32{1}, now); err == nil {
				versions = []uint32{1}
			}
		}
	}
	logs, err := trust.SelectServices(sc.Rekors, sc.RekorConfig, versions, now)
	if err != nil {
		return nil, fmt.Errorf("couldn't pick a transparency log from the signing config: %w", err)
	}
	var out []sign.LogClient
	for _, l := range logs {
		if l.MajorAPIVersion == 2 {
			out = append(out, &sign.RekorV2{BaseURL: l.URL, HTTPClient: hc, UserAgent: ua})
		} else {
			out = append(out, &sign.RekorV1{BaseURL: l.URL, HTTPClient: hc, UserAgent: ua})
		}
	}
	return out, nil
}

// pickTSAs returns the timestamp authorities: tsaURL when given, else the
// signing config's (none when it lists none).
func pickTSAs(sc *trust.SigningConfig, tsaURL string, now time.Time, hc *http.Client, ua string) ([]*sign.TSAClient, error) {
	switch {
	case tsaURL != "":
		return []*sign.TSAClient{{URL: tsaURL, HTTPClient: hc, UserAgent: ua}}, nil
	case sc == nil || len(sc.TSAs) == 0:
		return nil, nil
	}
	tsas, err := trust.SelectServices(sc.TSAs, sc.TSAConfig, []uint32{1}, now)
	if err != nil {
		return nil, fmt.Errorf("couldn't pick a timestamp authority from the signing config: %w", err)
	}
	var out []*sign.TSAClient
	for _, t := range tsas {
		out = append(out, &sign.TSAClient{URL: t.URL, HTTPClient: hc, UserAgent: ua})
	}
	return out, nil
}
