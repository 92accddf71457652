package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"sigil.dev/sigil/trust"
	"sigil.dev/sigil/tuf/client"
)

func init() { registerCommand("trust", newTrust) }

// trustFlags are the flags through which a client command gets its trusted
// root and signing config: files, or (by default) the TUF mirror set up
// with `sigil trust init`, online or from the cache.
type trustFlags struct {
	trustedRoot, signingConfig string
	offline                    bool
	// cacheValidity is --tuf-cache-validity; fs, where it was registered,
	// tells whether it was given (else $SIGIL_TUF_CACHE_VALIDITY
	// applies). A trustFlags without flags updates on every load.
	cacheValidity time.Duration
	fs            *pflag.FlagSet
}

// register adds --trusted-root, --signing-config, --offline and
// --tuf-cache-validity.
func (f *trustFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.trustedRoot, "trusted-root", "", "trusted root JSON file (default: trusted_root.json from the TUF mirror set up with sigil trust init)")
	fs.StringVar(&f.signingConfig, "signing-config", "", "signing config JSON file (default: signing_config.v0.2.json from the TUF mirror)")
	f.registerOffline(fs)
}

// registerOffline adds --offline and --tuf-cache-validity.
func (f *trustFlags) registerOffline(fs *pflag.FlagSet) {
	fs.BoolVar(&f.offline, "offline", false, "use the cached TUF metadata without contacting the mirror")
	fs.DurationVar(&f.cacheValidity, "tuf-cache-validity", client.DefaultCacheValidity, "use the TUF metadata verified this recently without contacting the mirror (0: update on every command; default from $"+client.CacheValidityEnv+" when set)")
	f.fs = fs
}

func (f *trustFlags) options() client.Options {
	o := client.Options{
		TrustedRootFile:   f.trustedRoot,
		SigningConfigFile: f.signingConfig,
		Offline:           f.offline,
		CacheValidity:     f.cacheValidity,
		UserAgent:         "sigil/" + Version,
	}
	if d, err := f.envCacheValidity(); err == nil && d >= 0 {
		o.CacheValidity = d
	}
	return o
}

// envCacheValidity returns $SIGIL_TUF_CACHE_VALIDITY when it applies (the
// flag is registered but not given, and the variable is set), else -1.
func (f *trustFlags) envCacheValidity() (time.Duration, error) {
	if f.fs == nil || f.fs.Changed("tuf-cache-validity") {
		return -1, nil
	}
	return cacheValidityEnv()
}

// cacheValidityEnv returns $SIGIL_TUF_CACHE_VALIDITY, or -1 when unset.
func cacheValidityEnv() (time.Duration, error) {
	v, ok := os.LookupEnv(client.CacheValidityEnv)
	if !ok {
		return -1, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return -1, fmt.Errorf("couldn't use $%s=%q: want a duration such as 10m, or 0", client.CacheValidityEnv, v)
	}
	return d, nil
}

// load returns the trusted root and signing config.
func (f *trustFlags) load() (*trust.TrustedRoot, *trust.SigningConfig, error) {
	if _, err := f.envCacheValidity(); err != nil {
		return nil, nil, err
	}
	return client.LoadTrust(f.options())
}

// documents reads the trusted root, and the signing config if
// signingConfig, without parsing them.
func (f *trustFlags) documents(signingConfig bool) (*client.Documents, error) {
	if _, err := f.envCacheValidity(); err != nil {
		return nil, err
	}
	return client.LoadDocuments(f.options(), signingConfig)
}

// loadTrustedRoot returns the trusted root alone (for verifying).
func (f *trustFlags) loadTrustedRoot() (*trust.TrustedRoot, error) {
	if _, err := f.envCacheValidity(); err != nil {
		return nil, err
	}
	return client.LoadTrustedRoot(f.options())
}

func newTrust() *cobra.Command {
	c := &cobra.Command{
		Use:   "trust",
		Short: "Set up and inspect where sigil gets its trusted root and signing config",
		Long: `sigil commands take the trusted root (which CAs, logs and timestamp
authorities to trust) and the signing config (which services to use) from a
TUF repository: set one up once with trust init, from a root.json obtained out
of band. Later commands update from the mirror, verifying every step with TUF,
and keep a cache for --offline use ($SIGIL_TUF_CACHE, default the user cache
directory + sigil/tuf). A command within --tuf-cache-validity (default 10m,
or $SIGIL_TUF_CACHE_VALIDITY) of the last update uses the view it verified
without contacting the mirror; trust show always updates. --trusted-root and
--signing-config files override it.`,
		Example: `  sigil trust init --mirror https://sigil.example.com/tuf --root root.json
  sigil trust show
  sigil trust show --offline --output json`,
	}
	c.AddCommand(newTrustInit(), newTrustShow())
	return c
}

func newTrustInit() *cobra.Command {
	var mirror, rootPath string
	c := &cobra.Command{
		Use:   "init --mirror URL --root root.json",
		Short: "Trust a TUF repository: store its mirror and initial root, fetch its targets",
		Long: `Store the mirror URL and the initial TUF root in the cache, update from the
mirror (following any root rotations since that root) and fetch
trusted_root.json and signing_config.v0.2.json. A wrong root or an
unreachable mirror fails here and leaves an earlier setup untouched.

Get root.json from a channel you trust: sigil server prints its path on first
start; a repository published with sigil tuf publish has it at its top.

The cache follows one mirror: trust init with another replaces it for every
later command. To use several instances, give each its own cache directory
(SIGIL_TUF_CACHE=~/.cache/sigil/tuf-staging sigil trust init …, and the same
variable for the commands that use it). trust init starts over: the versions
the cache had seen no longer hold a mirror back (as with cosign initialize).`,
		Example: `  sigil trust init --mirror http://127.0.0.1:8080/tuf --root /var/lib/sigil/tuf/repository/root.json
  sigil trust init --mirror https://tuf.example.com --root root.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if mirror == "" {
				return fmt.Errorf("no mirror: pass --mirror URL")
			}
			root, err := readFile("TUF root", rootPath)
			if err != nil {
				return fmt.Errorf("%w (pass --root root.json)", err)
			}
			st, err := client.Init(client.Options{UserAgent: "sigil/" + Version}, mirror, root)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "Trusting %s (root v%d); cache %s\n", st.Mirror, st.Roles["root"].Version, st.CacheDir)
			return nil
		},
	}
	c.Flags().StringVar(&mirror, "mirror", "", "URL of the TUF repository (where root.json and timestamp.json are)")
	c.Flags().StringVar(&rootPath, "root", "", "initial TUF root.json, obtained out of band")
	return c
}

func newTrustShow() *cobra.Command {
	var offline bool
	var output string
	c := &cobra.Command{
		Use:   "show [--offline] [--output json]",
		Short: "Update from the mirror and show the TUF state, trusted root and signing config",
		Example: `  sigil trust show
  sigil trust show --offline --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Always an update (or the cache, --offline): this is how
			// a user refreshes the view the other commands cache.
			cl, err := client.Open(client.Options{Offline: offline, UserAgent: "sigil/" + Version})
			if err != nil {
				return err
			}
			st, err := cl.Status()
			if err != nil {
				return err
			}
			tr, err := cl.TrustedRoot()
			if err != nil {
				return err
			}
			sc, scErr := cl.SigningConfig()
			switch output {
			case "json":
				out := struct {
					TUF           *client.Status  `json:"tuf"`
					TrustedRoot   json.RawMessage `json:"trustedRoot"`
					SigningConfig json.RawMessage `json:"signingConfig,omitempty"`
				}{TUF: st}
				if out.TrustedRoot, err = tr.Marshal(); err != nil {
					return err
				}
				if scErr == nil {
					if out.SigningConfig, err = sc.Marshal(); err != nil {
						return err
					}
				}
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			case "text", "":
				printTrust(cmd.OutOrStdout(), st, tr, sc, scErr)
				return nil
			}
			return fmt.Errorf("unknown --output %q: use text or json", output)
		},
	}
	c.Flags().BoolVar(&offline, "offline", false, "show the cached TUF metadata without contacting the mirror")
	c.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return c
}

func printTrust(w io.Writer, st *client.Status, tr *trust.TrustedRoot, sc *trust.SigningConfig, scErr error) {
	day := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	fmt.Fprintf(w, "TUF mirror  %s\ncache       %s\n", st.Mirror, st.CacheDir)
	if !st.LastRefresh.IsZero() {
		fmt.Fprintf(w, "updated     %s\n", day(st.LastRefresh))
	}
	for _, role := range []string{"root", "targets", "snapshot", "timestamp"} {
		ri, ok := st.Roles[role]
		if !ok {
			continue
		}
		keys := ""
		if rk, ok := st.RootKeys[role]; ok {
			keys = fmt.Sprintf("  %d of %d keys", rk.Threshold, len(rk.KeyIDs))
			if role == "root" {
				// What a user compares with the root keys they were
				// given out of band.
				ids := make([]string, len(rk.KeyIDs))
				for i, id := range rk.KeyIDs {
					ids[i] = id[:min(len(id), 12)]
				}
				keys += " (" + strings.Join(ids, ", ") + ")"
			}
		}
		fmt.Fprintf(w, "  %-10s v%-5d expires %s%s\n", role, ri.Version, day(ri.Expires), keys)
	}
	for _, t := range st.Targets {
		fmt.Fprintf(w, "  target %s (%d bytes, sha256:%s)\n", t.Name, t.Length, t.SHA256)
	}

	fmt.Fprintln(w, "\nTrusted root:")
	window := func(v trust.Window) string {
		if v.End.IsZero() {
			return "from " + day(v.Start)
		}
		return day(v.Start) + " to " + day(v.End)
	}
	logs := func(kind string, m map[string]*trust.Log) {
		ids := make([]string, 0, len(m))
		for id := range m {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			l := m[id]
			fmt.Fprintf(w, "  %-6s %s  %s  key %s…  %s\n", kind, l.BaseURL, strings.TrimPrefix(l.KeyDetails.String(), "PKIX_"), id[:min(len(id), 16)], window(l.Valid))
		}
	}
	logs("tlog", tr.TLogs)
	logs("ctlog", tr.CTLogs)
	for _, ca := range tr.CAs {
		fmt.Fprintf(w, "  ca     %s  %s  %s\n", ca.URI, ca.Root.Subject.String(), window(ca.Valid))
	}
	for _, ca := range tr.TSAs {
		fmt.Fprintf(w, "  tsa    %s  %s  %s\n", ca.URI, ca.Root.Subject.String(), window(ca.Valid))
	}

	fmt.Fprintln(w, "\nSigning config:")
	if scErr != nil {
		fmt.Fprintf(w, "  none: %v\n", scErr)
		return
	}
	for _, x := range []struct {
		kind string
		s    []trust.Service
	}{{"ca", sc.CAs}, {"oidc", sc.OIDCProviders}, {"tlog", sc.Rekors}, {"tsa", sc.TSAs}} {
		for _, s := range x.s {
			fmt.Fprintf(w, "  %-6s %s  v%d  %s\n", x.kind, s.URL, s.MajorAPIVersion, window(s.Valid))
		}
	}
}
