package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"sigil.dev/sigil/trust"
	"sigil.dev/sigil/tuf"
)

func init() { register(newTUF) }

func newTUF() *cobra.Command {
	c := &cobra.Command{
		Use:   "tuf",
		Short: "Run the offline TUF ceremony that signs sigil's trust root",
		Long: `Maintain the TUF repository through which clients get trusted_root.json and
signing_config.v0.2.json: create keys, initialise a repository with N root
keys and a threshold, add or replace targets, rotate root keys, collect
signatures and publish a directory any static web server can serve.

A repository directory (--repo) holds the published tree in repository/
(N.root.json, root.json, N.targets.json, N.snapshot.json, timestamp.json,
targets/<sha256>.<name>) and metadata being signed in staged/. Commands that
change something stage it; sign adds signatures; publish commits what reached
its thresholds. Root and targets keys stay offline. The snapshot and timestamp
keys are online: sigil server keeps them fresh (their public keys are in
<data>/tuf/keys/*.pem.pub), or publish signs them when given the keys.

Encrypted keys (PKCS #8, as OpenSSL writes them) take their password from
--password-env or --password-file, else from the terminal.`,
		Example: `  # Keys: one per root keyholder, one for targets (each asks for a password).
  sigil tuf keygen --out alice-root.pem
  sigil tuf keygen --out bob-root.pem
  sigil tuf keygen --out carol-root.pem
  sigil tuf keygen --out targets.pem

  # A 2-of-3 root; the online keys are the server's.
  sigil tuf init --repo ceremony --root-key alice-root.pem.pub --root-key bob-root.pem.pub \
    --root-key carol-root.pem.pub --root-threshold 2 --targets-key targets.pem.pub \
    --snapshot-key /var/lib/sigil/tuf/keys/snapshot.pem.pub --timestamp-key /var/lib/sigil/tuf/keys/timestamp.pem.pub
  sigil tuf add-target --repo ceremony trusted_root.json signing_config.v0.2.json
  sigil tuf sign --repo ceremony --key alice-root.pem
  sigil tuf sign --repo ceremony --key bob-root.pem --key targets.pem
  sigil tuf status --repo ceremony
  sigil tuf publish --repo ceremony

  # Copy ceremony/repository to the server's <data>/tuf/repository, or publish a
  # static mirror with the online keys:
  sigil tuf publish --repo ceremony --snapshot-key snapshot.pem --timestamp-key timestamp.pem \
    --timestamp-expires 30d /srv/www/tuf`,
	}
	c.AddCommand(newTUFKeygen(), newTUFInit(), newTUFMerge(), newTUFAddTarget(), newTUFRemoveTarget(), newTUFRotateRoot(),
		newTUFSign(), newTUFStatus(), newTUFDiscard(), newTUFPublish())
	return c
}

// keyPassword returns the password source for encrypted keys: the flags,
// else the terminal (prompting with the key's name).
func keyPassword(pw *passwordFlags, cmd *cobra.Command, path string) tuf.Password {
	return func() ([]byte, error) {
		if src := pw.source(); !src.IsZero() {
			return src.Read()
		}
		return promptPassword(cmd.ErrOrStderr(), fmt.Sprintf("Password for %s: ", path), false)
	}
}

// promptPassword reads a password from the terminal (twice when confirm).
func promptPassword(w io.Writer, prompt string, confirm bool) ([]byte, error) {
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		return nil, errors.New("couldn't read password: standard input is not a terminal; use --password-env or --password-file")
	}
	fmt.Fprint(w, prompt)
	p, err := term.ReadPassword(fd)
	fmt.Fprintln(w)
	if err != nil {
		return nil, fmt.Errorf("couldn't read password: %w", err)
	}
	if len(p) == 0 {
		return nil, errors.New("couldn't read password: empty")
	}
	if confirm {
		fmt.Fprint(w, "Again: ")
		q, err := term.ReadPassword(fd)
		fmt.Fprintln(w)
		if err != nil {
			return nil, fmt.Errorf("couldn't read password: %w", err)
		}
		if string(p) != string(q) {
			return nil, errors.New("couldn't read password: the two entries differ")
		}
	}
	return p, nil
}

func loadTUFKeys(cmd *cobra.Command, pw *passwordFlags, paths []string) ([]*tuf.Key, error) {
	var out []*tuf.Key
	for _, p := range paths {
		k, err := tuf.LoadKey(p, keyPassword(pw, cmd, p))
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, nil
}

// isHexKeyID reports whether s is a TUF key ID: 64 lower-case hex digits.
// (A loop, not a package-level regexp: those are compiled at every
// command's start.)
func isHexKeyID(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// keyIDs turns key files or hex key IDs into key IDs.
func keyIDs(cmd *cobra.Command, pw *passwordFlags, args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		if isHexKeyID(a) {
			if _, err := os.Stat(a); err != nil {
				out = append(out, a)
				continue
			}
		}
		k, err := tuf.LoadKey(a, keyPassword(pw, cmd, a))
		if err != nil {
			return nil, fmt.Errorf("%w (give a key file or a 64-hex-digit key ID)", err)
		}
		out = append(out, k.ID())
	}
	return out, nil
}

// parseExpiry reads a lifetime ("365d", "26w", "720h") or an RFC 3339 time
// and returns the expiry time; "" gives the zero time (the default).
func parseExpiry(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		if !t.After(now) {
			return time.Time{}, fmt.Errorf("expiry %s is in the past", s)
		}
		return t, nil
	}
	d, err := parseLifetime(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("expiry %q: want a lifetime such as 365d, 26w or 720h, or an RFC 3339 time", s)
	}
	return now.Add(d), nil
}

// parseLifetime reads "365d", "26w" or a Go duration ("720h").
func parseLifetime(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		if v, err := strconv.Atoi(n); err == nil && v > 0 {
			return time.Duration(v) * 24 * time.Hour, nil
		}
	}
	if n, ok := strings.CutSuffix(s, "w"); ok {
		if v, err := strconv.Atoi(n); err == nil && v > 0 {
			return time.Duration(v) * 7 * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("lifetime %q: want a lifetime such as 365d, 26w or 720h", s)
	}
	return d, nil
}

func openRepo(dir string) (*tuf.Repo, error) {
	if dir == "" {
		return nil, errors.New("no repository: pass --repo DIR")
	}
	return tuf.OpenRepo(dir, nil)
}

func newTUFKeygen() *cobra.Command {
	var out, typ string
	var plain bool
	var pw passwordFlags
	c := &cobra.Command{
		Use:   "keygen --out FILE [--type ed25519|ecdsa-p256] [--plain]",
		Short: "Create a TUF signing key (FILE) and its public key (FILE.pub)",
		Long: `Create a signing key for a TUF role. The private key is written to FILE
(mode 0600) as encrypted PKCS #8 unless --plain, the public key to FILE.pub;
the TUF key ID is printed. Give the .pub file to init and rotate-root, and the
private key to sign and publish.`,
		Example: `  sigil tuf keygen --out alice-root.pem
  SIGIL_TUF_PASSWORD=… sigil tuf keygen --out targets.pem --type ecdsa-p256 --password-env SIGIL_TUF_PASSWORD
  sigil tuf keygen --out snapshot.pem --plain`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return errors.New("no output file: pass --out FILE")
			}
			k, err := tuf.GenerateKey(typ)
			if err != nil {
				return err
			}
			var password []byte
			if !plain {
				if src := pw.source(); !src.IsZero() {
					if password, err = src.Read(); err != nil {
						return err
					}
				} else if password, err = promptPassword(cmd.ErrOrStderr(), "Password for the new key: ", true); err != nil {
					return fmt.Errorf("%w (or --plain for an unencrypted key)", err)
				}
			}
			if err := tuf.WriteKey(out, k, password); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s\n", k.ID())
			fmt.Fprintf(cmd.ErrOrStderr(), "Wrote %s (%s, %s) and %s.pub\n", out, k.Type(), map[bool]string{true: "unencrypted", false: "encrypted"}[plain], out)
			return nil
		},
	}
	c.Flags().StringVar(&out, "out", "", "private key file to create (the public key goes to FILE.pub)")
	c.Flags().StringVar(&typ, "type", tuf.KeyEd25519, "key type: ed25519 or ecdsa-p256")
	c.Flags().BoolVar(&plain, "plain", false, "write the private key unencrypted (online keys, tests)")
	pw.register(c, "the new key")
	return c
}

func newTUFInit() *cobra.Command {
	var repoDir, rootExp, targetsExp string
	var rootKeys, targetsKeys []string
	var snapKey, tsKey string
	var rootT, targetsT int
	var pw passwordFlags
	c := &cobra.Command{
		Use:   "init --repo DIR --root-key FILE... [--root-threshold N] --targets-key FILE... --snapshot-key FILE --timestamp-key FILE",
		Short: "Stage version 1 of a new repository's root and targets",
		Long: `Stage the first root (consistent snapshots, the given keys and thresholds) and
an empty first targets version. Nothing is published until the root has a
threshold of root signatures and the targets a threshold of targets
signatures (sign), and publish commits them. Keys may be public (.pub) or
private key files; only their public halves are used.`,
		Example: `  sigil tuf init --repo ceremony --root-key alice-root.pem.pub --root-key bob-root.pem.pub \
    --root-key carol-root.pem.pub --root-threshold 2 --targets-key targets.pem.pub \
    --snapshot-key snapshot.pem.pub --timestamp-key timestamp.pem.pub --root-expires 365d`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			repo, err := openRepo(repoDir)
			if err != nil {
				return err
			}
			now := time.Now()
			o := tuf.InitOptions{RootThreshold: rootT, TargetsThreshold: targetsT}
			if o.RootExpires, err = parseExpiry(rootExp, now); err != nil {
				return err
			}
			if o.TargetsExpires, err = parseExpiry(targetsExp, now); err != nil {
				return err
			}
			for _, x := range []struct {
				flag  string
				paths []string
				dst   *[]*tuf.Key
			}{{"--root-key", rootKeys, &o.RootKeys}, {"--targets-key", targetsKeys, &o.TargetsKeys}, {"--snapshot-key", nonEmpty(snapKey), &o.SnapshotKeys}, {"--timestamp-key", nonEmpty(tsKey), &o.TimestampKeys}} {
				if len(x.paths) == 0 {
					return fmt.Errorf("no %s given", x.flag)
				}
				if *x.dst, err = loadTUFKeys(cmd, &pw, x.paths); err != nil {
					return err
				}
			}
			if err := repo.Init(o); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "Staged root v1 (root threshold %d of %d) and targets v1 in %s.\nNext: sigil tuf add-target, then sigil tuf sign with %d root key(s) and %d targets key(s), then sigil tuf publish.\n",
				max(rootT, 1), len(o.RootKeys), repoDir, max(rootT, 1), max(targetsT, 1))
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&repoDir, "repo", "", "repository directory (created if missing)")
	f.StringArrayVar(&rootKeys, "root-key", nil, "root key file (repeatable)")
	f.IntVar(&rootT, "root-threshold", 1, "root signatures required")
	f.StringArrayVar(&targetsKeys, "targets-key", nil, "targets key file (repeatable)")
	f.IntVar(&targetsT, "targets-threshold", 1, "targets signatures required")
	f.StringVar(&snapKey, "snapshot-key", "", "snapshot (online) key file")
	f.StringVar(&tsKey, "timestamp-key", "", "timestamp (online) key file")
	f.StringVar(&rootExp, "root-expires", "365d", "root lifetime (365d, 26w, 720h) or expiry (RFC 3339)")
	f.StringVar(&targetsExp, "targets-expires", "180d", "targets lifetime or expiry")
	pw.register(c, "encrypted key files given (only public keys are needed)")
	return c
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// targetArgs reads FILE or FILE=NAME arguments.
func targetArgs(args []string) (map[string][]byte, error) {
	files := map[string][]byte{}
	for _, a := range args {
		path, name, ok := strings.Cut(a, "=")
		if !ok {
			name = filepath.Base(path)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("couldn't read target: %w", err)
		}
		if _, dup := files[name]; dup {
			return nil, fmt.Errorf("target %s given twice", name)
		}
		files[name] = b
	}
	return files, nil
}

// checkTrustTargets refuses a trusted root or signing config that does not
// parse, and a trusted root that names no CA or no transparency log (what a
// host running only some services builds; see the server package on
// splitting services): every client taking it from this repository would
// fail to verify anything.
func checkTrustTargets(files map[string][]byte) error {
	for name, b := range files {
		switch {
		case name == tuf.TargetTrustedRoot:
			tr, err := trust.ParseTrustedRoot(b)
			if err != nil {
				return fmt.Errorf("target %s: %w", name, err)
			}
			if len(tr.CAs) == 0 || len(tr.TLogs) == 0 {
				return fmt.Errorf("target %s lists %d certificate authorities and %d transparency logs: every verification against it would fail (on a host that runs only some services, merge the trusted roots its hosts serve at /trusted_root.json with sigil tuf merge)", name, len(tr.CAs), len(tr.TLogs))
			}
		case strings.HasPrefix(name, "signing_config"):
			if _, err := trust.ParseSigningConfig(b); err != nil {
				return fmt.Errorf("target %s: %w", name, err)
			}
		}
	}
	return nil
}

func newTUFMerge() *cobra.Command {
	var out, previous string
	c := &cobra.Command{
		Use:   "merge FILE... [--out FILE]",
		Short: "Merge the trusted roots (or signing configs) that the hosts of a split deployment serve",
		Long: `When the services run on several hosts (sigil server --services), each host
serves at /trusted_root.json only the CA, CT log, transparency logs or TSA it
runs, and at /signing_config.json its own services plus the others it was
given under remote:. merge combines such documents, all trusted roots or all
signing configs, into the one the ceremony adds with add-target.

Trusted roots: logs are matched by log ID, authorities by their certificate
chain. Signing configs: services are matched by URL and API version, and a
host's description of a service it runs (with its operator and start date)
replaces another host's remote: entry for it. Anything two inputs describe
differently is an error, not a choice: review the files and fix the hosts.
The parts of "sigil log serve --tlogs-out" merge too.

--previous names the trusted root published before (a trusted root merge
only). What it lists and the inputs do not stays: an entry an input
replaced (a CA or TSA with the same URI and a new chain, after
"sigil ca intermediate"; a log with the same base URL and a new key) with
its validity ending now, so that what it signed still verifies; anything
else as it was published.`,
		Example: `  curl -fsS https://ca.example.com/trusted_root.json -o ca-root.json
  curl -fsS https://log.example.com/trusted_root.json -o log-root.json
  curl -fsS https://ca.example.com/signing_config.json -o ca-sc.json
  curl -fsS https://log.example.com/signing_config.json -o log-sc.json
  sigil tuf merge ca-root.json log-root.json --out trusted_root.json
  sigil tuf merge ca-sc.json log-sc.json --out signing_config.v0.2.json
  sigil tuf add-target --repo ceremony trusted_root.json signing_config.v0.2.json
  # after rotating the CA's intermediate on its own host:
  sigil tuf merge ca-root.json log-root.json --previous published/trusted_root.json --out trusted_root.json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			raw, summary, err := mergeTrustFiles(args, previous, time.Now())
			if err != nil {
				return err
			}
			if out == "" || out == "-" {
				_, err = cmd.OutOrStdout().Write(raw)
			} else if err = writeOutput(out, raw, 0o644); err != nil {
				err = fmt.Errorf("couldn't write %s: %w", out, err)
			}
			if err == nil {
				fmt.Fprintln(cmd.ErrOrStderr(), summary)
			}
			return err
		},
	}
	c.Flags().StringVarP(&out, "out", "o", "", "write the merged document here (default: standard output)")
	c.Flags().StringVar(&previous, "previous", "", "the trusted root published before: keep what it lists and the inputs replaced, its validity ending now")
	return c
}

// mergeTrustFiles merges trusted roots or signing configs (all of one
// kind, told apart by media type) and returns the result as JSON with a
// summary of what it lists. With previous (a trusted root file), what it
// lists and the merged roots do not is kept (trust.KeepRetired, retired
// at now).
func mergeTrustFiles(paths []string, previous string, now time.Time) ([]byte, string, error) {
	var roots []*trust.TrustedRoot
	var configs []*trust.SigningConfig
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, "", fmt.Errorf("couldn't read %s: %w", p, err)
		}
		var head struct {
			MediaType string `json:"mediaType"`
		}
		if err := json.Unmarshal(b, &head); err != nil {
			return nil, "", fmt.Errorf("couldn't read %s: %w", p, err)
		}
		if head.MediaType == trust.SigningConfigMediaType {
			sc, err := trust.ParseSigningConfig(b)
			if err != nil {
				return nil, "", fmt.Errorf("%s: %w", p, err)
			}
			configs = append(configs, sc)
			continue
		}
		tr, err := trust.ParseTrustedRoot(b)
		if err != nil {
			return nil, "", fmt.Errorf("%s is neither a signing config v0.2 nor a trusted root: %w", p, err)
		}
		roots = append(roots, tr)
	}
	if len(roots) > 0 && len(configs) > 0 {
		return nil, "", fmt.Errorf("couldn't merge: %d trusted roots and %d signing configs given; merge each kind on its own", len(roots), len(configs))
	}
	if len(configs) > 0 && previous != "" {
		return nil, "", errors.New("couldn't merge: --previous applies to trusted roots, not signing configs")
	}
	if len(configs) > 0 {
		sc, err := trust.MergeSigningConfigs(configs...)
		if err != nil {
			return nil, "", err
		}
		raw, err := sc.Marshal()
		if err != nil {
			return nil, "", err
		}
		return append(raw, '\n'), fmt.Sprintf("signing config: %d CAs, %d OIDC providers, %d transparency logs (%s), %d timestamp authorities (%s)",
			len(sc.CAs), len(sc.OIDCProviders), len(sc.Rekors), sc.RekorConfig, len(sc.TSAs), sc.TSAConfig), nil
	}
	tr, err := trust.MergeTrustedRoots(roots...)
	if err != nil {
		return nil, "", err
	}
	var kept []string
	if previous != "" {
		b, err := os.ReadFile(previous)
		if err != nil {
			return nil, "", fmt.Errorf("couldn't read %s: %w", previous, err)
		}
		prev, err := trust.ParseTrustedRoot(b)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", previous, err)
		}
		tr, kept = trust.KeepRetired(tr, prev, now)
	}
	raw, err := tr.Marshal()
	if err != nil {
		return nil, "", err
	}
	summary := fmt.Sprintf("trusted root: %d certificate authorities, %d CT logs, %d transparency logs, %d timestamp authorities", len(tr.CAs), len(tr.CTLogs), len(tr.TLogs), len(tr.TSAs))
	if len(tr.CAs) == 0 || len(tr.TLogs) == 0 {
		summary += " (incomplete: add-target refuses a trusted root without a CA or a transparency log)"
	}
	for _, k := range kept {
		summary += "\n  from --previous: " + k
	}
	return append(raw, '\n'), summary, nil
}

func newTUFAddTarget() *cobra.Command {
	var repoDir, exp string
	c := &cobra.Command{
		Use:   "add-target --repo DIR FILE[=NAME]...",
		Short: "Stage targets to add or replace (by name) in the next targets version",
		Long: `Stage the next targets version with these files added, or replacing the
targets of the same name (the file's base name, or NAME). Other targets stay.
Earlier signatures of the staged targets are dropped: sign again afterwards.`,
		Example: `  sigil tuf add-target --repo ceremony trusted_root.json signing_config.v0.2.json
  sigil tuf add-target --repo ceremony out/root-2027.json=trusted_root.json --expires 26w`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			repo, err := openRepo(repoDir)
			if err != nil {
				return err
			}
			files, err := targetArgs(args)
			if err != nil {
				return err
			}
			if err := checkTrustTargets(files); err != nil {
				return err
			}
			expires, err := parseExpiry(exp, time.Now())
			if err != nil {
				return err
			}
			if err := repo.StageTargets(files, nil, expires); err != nil {
				return err
			}
			return printStaged(cmd, repo)
		},
	}
	c.Flags().StringVar(&repoDir, "repo", "", "repository directory")
	c.Flags().StringVar(&exp, "expires", "180d", "targets lifetime or expiry (RFC 3339)")
	return c
}

func newTUFRemoveTarget() *cobra.Command {
	var repoDir, exp string
	var force bool
	c := &cobra.Command{
		Use:   "remove-target --repo DIR NAME...",
		Short: "Stage targets to remove from the next targets version",
		Long: `Stage the next targets version without these targets. Removing trusted_root.json
is refused without --force: every client (sigil, cosign, sigstore-go) reads its
trust from it, so once published no one could verify or sign through this
repository; replace it with add-target instead.`,
		Example: `  sigil tuf remove-target --repo ceremony old_key.pub`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, name := range args {
				switch {
				case name == tuf.TargetTrustedRoot && !force:
					return fmt.Errorf("refusing to remove %s: every client reads its trust from it, so no one could verify or sign through this repository once it is published; to change it, stage a new one with add-target (or pass --force to remove it anyway)", name)
				case strings.HasPrefix(name, "signing_config"):
					fmt.Fprintf(cmd.ErrOrStderr(), "Warning: without %s, cosign v3 and sigil find no services to sign with through this repository (verification still works)\n", name)
				}
			}
			repo, err := openRepo(repoDir)
			if err != nil {
				return err
			}
			expires, err := parseExpiry(exp, time.Now())
			if err != nil {
				return err
			}
			if err := repo.StageTargets(nil, args, expires); err != nil {
				return err
			}
			return printStaged(cmd, repo)
		},
	}
	c.Flags().StringVar(&repoDir, "repo", "", "repository directory")
	c.Flags().StringVar(&exp, "expires", "180d", "targets lifetime or expiry (RFC 3339)")
	c.Flags().BoolVar(&force, "force", false, "remove trusted_root.json too")
	return c
}

// warnOnlineKeys prints the repository's OnlineKeyWarnings (a ceremony
// run in a server's DATA/tuf that rotated the online keys away from the
// server's).
func warnOnlineKeys(cmd *cobra.Command, repo *tuf.Repo) {
	ws, err := repo.OnlineKeyWarnings()
	if err != nil {
		return
	}
	for _, w := range ws {
		fmt.Fprintf(cmd.ErrOrStderr(), "Warning: %s\n", w)
	}
}

func newTUFRotateRoot() *cobra.Command {
	var repoDir, exp, snapKey, tsKey string
	var addRoot, rmRoot, addTargets, rmTargets []string
	var rootT, targetsT int
	var pw passwordFlags
	c := &cobra.Command{
		Use:   "rotate-root --repo DIR [--add-root-key FILE]... [--remove-root-key FILE|KEYID]... [--root-threshold N] ...",
		Short: "Stage the next root version: change keys, thresholds or just the expiry",
		Long: `Stage the next root version from the newest one: add or remove root and targets
keys, replace the online keys, change thresholds, renew the expiry. The new
root must be signed by a threshold of the previous root's root keys AND of its
own, so clients that trust the old root follow the rotation: collect both with
sign (a removed keyholder signs too). When the targets keys change, stage and
sign targets with the new keys (add-target) before publishing.`,
		Example: `  # Replace Carol's root key by Dave's, keeping 2 of 3.
  sigil tuf rotate-root --repo ceremony --remove-root-key carol-root.pem.pub --add-root-key dave-root.pem.pub
  sigil tuf sign --repo ceremony --key alice-root.pem --key bob-root.pem --key dave-root.pem
  sigil tuf publish --repo ceremony

  # Renew the root for another year with the same keys.
  sigil tuf rotate-root --repo ceremony --expires 365d`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			repo, err := openRepo(repoDir)
			if err != nil {
				return err
			}
			ch := tuf.RootChange{Add: map[string][]*tuf.Key{}, Remove: map[string][]string{}, Replace: map[string][]*tuf.Key{}, Thresholds: map[string]int{}}
			if ch.Expires, err = parseExpiry(exp, time.Now()); err != nil {
				return err
			}
			for role, paths := range map[string][]string{tuf.RoleRoot: addRoot, tuf.RoleTargets: addTargets} {
				if len(paths) > 0 {
					if ch.Add[role], err = loadTUFKeys(cmd, &pw, paths); err != nil {
						return err
					}
				}
			}
			// --snapshot-key and --timestamp-key replace the online keys
			// of the root being edited (a staged rotation's, if any).
			for role, paths := range map[string][]string{tuf.RoleSnapshot: nonEmpty(snapKey), tuf.RoleTimestamp: nonEmpty(tsKey)} {
				if len(paths) > 0 {
					if ch.Replace[role], err = loadTUFKeys(cmd, &pw, paths); err != nil {
						return err
					}
				}
			}
			for role, args := range map[string][]string{tuf.RoleRoot: rmRoot, tuf.RoleTargets: rmTargets} {
				if len(args) > 0 {
					if ch.Remove[role], err = keyIDs(cmd, &pw, args); err != nil {
						return err
					}
				}
			}
			if cmd.Flags().Changed("root-threshold") {
				ch.Thresholds[tuf.RoleRoot] = rootT
			}
			if cmd.Flags().Changed("targets-threshold") {
				ch.Thresholds[tuf.RoleTargets] = targetsT
			}
			if err := repo.RotateRoot(ch); err != nil {
				return err
			}
			warnOnlineKeys(cmd, repo)
			return printStaged(cmd, repo)
		},
	}
	f := c.Flags()
	f.StringVar(&repoDir, "repo", "", "repository directory")
	f.StringArrayVar(&addRoot, "add-root-key", nil, "root key file to add (repeatable)")
	f.StringArrayVar(&rmRoot, "remove-root-key", nil, "root key file or key ID to remove (repeatable)")
	f.IntVar(&rootT, "root-threshold", 0, "new root threshold")
	f.StringArrayVar(&addTargets, "add-targets-key", nil, "targets key file to add (repeatable)")
	f.StringArrayVar(&rmTargets, "remove-targets-key", nil, "targets key file or key ID to remove (repeatable)")
	f.IntVar(&targetsT, "targets-threshold", 0, "new targets threshold")
	f.StringVar(&snapKey, "snapshot-key", "", "replace the snapshot key by this one (put its private key on the TUF host as DATA/tuf/keys/snapshot.pem with the published root; a running server picks it up)")
	f.StringVar(&tsKey, "timestamp-key", "", "replace the timestamp key by this one (put its private key on the TUF host as DATA/tuf/keys/timestamp.pem with the published root; a running server picks it up)")
	f.StringVar(&exp, "expires", "365d", "new root lifetime or expiry (RFC 3339)")
	pw.register(c, "encrypted key files given (only public keys are needed)")
	return c
}

func newTUFSign() *cobra.Command {
	var repoDir string
	var keyPaths []string
	var pw passwordFlags
	c := &cobra.Command{
		Use:   "sign --repo DIR --key FILE...",
		Short: "Sign the staged root and targets with the given keys",
		Long: `Add each key's signature to the staged metadata it may sign: the staged root
(its own root keys and the previous root's) and the staged targets (the
targets keys). A key that can sign nothing staged is an error. Prints how far
each threshold is met.`,
		Example: `  sigil tuf sign --repo ceremony --key alice-root.pem
  sigil tuf sign --repo ceremony --key bob-root.pem --key targets.pem --password-file pw.txt`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			repo, err := openRepo(repoDir)
			if err != nil {
				return err
			}
			if len(keyPaths) == 0 {
				return errors.New("no key: pass --key FILE")
			}
			ks, err := loadTUFKeys(cmd, &pw, keyPaths)
			if err != nil {
				return err
			}
			res, err := repo.Sign(ks)
			if err != nil {
				return err
			}
			for i, k := range ks {
				fmt.Fprintf(cmd.ErrOrStderr(), "%s (%s) signed %s\n", keyPaths[i], k.ID()[:12], strings.Join(res.Signed[k.ID()], " and "))
			}
			return printStaged(cmd, repo)
		},
	}
	c.Flags().StringVar(&repoDir, "repo", "", "repository directory")
	c.Flags().StringArrayVar(&keyPaths, "key", nil, "private key file (repeatable)")
	pw.register(c, "the keys")
	return c
}

// printStaged prints the staged metadata and its signature progress.
func printStaged(cmd *cobra.Command, repo *tuf.Repo) error {
	st, err := repo.Status()
	if err != nil {
		return err
	}
	w := cmd.ErrOrStderr()
	for _, x := range []struct {
		name string
		s    *tuf.StagedStatus
	}{{"root", st.StagedRoot}, {"targets", st.StagedTargets}} {
		if x.s == nil {
			continue
		}
		fmt.Fprintf(w, "Staged %s v%d, expires %s:\n", x.name, x.s.Version, x.s.Expires.UTC().Format(time.RFC3339))
		for _, rs := range x.s.Signatures {
			mark := "missing"
			if rs.Met() {
				mark = "ok"
			}
			fmt.Fprintf(w, "  %-28s %d of %d signatures  %s\n", rs.Role, len(rs.SignedBy), rs.Threshold, mark)
		}
		if x.s.TargetFiles != nil {
			for _, n := range sortedKeys(x.s.TargetFiles) {
				fmt.Fprintf(w, "  target %s sha256:%s\n", n, x.s.TargetFiles[n])
			}
		}
	}
	if st.StagedRoot != nil || st.StagedTargets != nil {
		ready := (st.StagedRoot == nil || st.StagedRoot.Ready()) && (st.StagedTargets == nil || st.StagedTargets.Ready())
		if ready {
			fmt.Fprintln(w, "Ready: run sigil tuf publish.")
		} else {
			fmt.Fprintln(w, "Not ready: collect the missing signatures with sigil tuf sign.")
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// repoStatus opens the repository in dir and reads its status.
func repoStatus(dir string) (*tuf.Repo, *tuf.Status, error) {
	repo, err := openRepo(dir)
	if err != nil {
		return nil, nil, err
	}
	st, err := repo.Status()
	if err != nil {
		return nil, nil, err
	}
	return repo, st, nil
}

func newTUFDiscard() *cobra.Command {
	var repoDir string
	c := &cobra.Command{
		Use:   "discard --repo DIR",
		Short: "Drop everything staged (root, targets, their signatures); the published tree stays",
		Long: `Drop the staged root and targets with the signatures collected for them, to
start a change over (a mistake in add-target or rotate-root, a ceremony
abandoned). Nothing published changes; clients see no difference.`,
		Example: `  sigil tuf discard --repo ceremony`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			repo, st, err := repoStatus(repoDir)
			if err != nil {
				return err
			}
			if st.StagedRoot == nil && st.StagedTargets == nil {
				fmt.Fprintln(cmd.ErrOrStderr(), "Nothing was staged.")
				return nil
			}
			if err := repo.DiscardStaged(); err != nil {
				return fmt.Errorf("couldn't discard the staged changes: %w", err)
			}
			fmt.Fprintln(cmd.ErrOrStderr(), "Discarded the staged changes; the published metadata is unchanged.")
			return nil
		},
	}
	c.Flags().StringVar(&repoDir, "repo", "", "repository directory")
	return c
}

func newTUFStatus() *cobra.Command {
	var repoDir, output string
	c := &cobra.Command{
		Use:     "status --repo DIR [--output json]",
		Short:   "Show the published and staged metadata of a repository",
		Example: `  sigil tuf status --repo /var/lib/sigil/tuf --output json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			repo, st, err := repoStatus(repoDir)
			if err != nil {
				return err
			}
			switch output {
			case "json":
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(st)
			case "text", "":
			default:
				return fmt.Errorf("unknown --output %q: use text or json", output)
			}
			w := cmd.OutOrStdout()
			if !st.Initialized {
				fmt.Fprintln(w, "Published: nothing yet (init, sign and publish first)")
			} else {
				fmt.Fprintln(w, "Published:")
				for _, x := range []struct {
					role string
					mi   *tuf.MetaInfo
				}{{"root", st.Root}, {"targets", st.Targets}, {"snapshot", st.Snapshot}, {"timestamp", st.Timestamp}} {
					if x.mi == nil {
						fmt.Fprintf(w, "  %-10s none valid (the online keys must sign it)\n", x.role)
						continue
					}
					mark := ""
					if !time.Now().Before(x.mi.Expires) {
						mark = "  EXPIRED: clients refuse it"
					}
					fmt.Fprintf(w, "  %-10s v%-5d expires %s%s\n", x.role, x.mi.Version, x.mi.Expires.UTC().Format(time.RFC3339), mark)
				}
				for _, role := range []string{"root", "targets", "snapshot", "timestamp"} {
					fmt.Fprintf(w, "  %s keys: %s\n", role, strings.Join(st.Keys[role], ", "))
				}
				for _, n := range sortedKeys(st.TargetFiles) {
					fmt.Fprintf(w, "  target %s sha256:%s\n", n, st.TargetFiles[n])
				}
			}
			return printStaged(cmd, repo)
		},
	}
	c.Flags().StringVar(&repoDir, "repo", "", "repository directory")
	c.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return c
}

func newTUFPublish() *cobra.Command {
	var repoDir, snapKey, tsKey, snapExp, tsExp string
	var pw passwordFlags
	c := &cobra.Command{
		Use:   "publish --repo DIR [--snapshot-key FILE --timestamp-key FILE] [OUT]",
		Short: "Commit fully signed staged metadata; sign snapshot and timestamp; copy to OUT",
		Long: `Publish a repository:
 1. staged root and targets whose thresholds are met are committed to
    DIR/repository (nothing is committed if any threshold is unmet);
 2. with --snapshot-key and --timestamp-key, a new snapshot and timestamp are
    signed as needed (otherwise the sigil server signs them whose
    DATA/tuf is DIR: run the ceremony there, or copy DIR to DATA/tuf;
    a running server picks it up within a minute);
 3. with OUT, DIR/repository is copied to OUT for any static web server,
    timestamp.json last (an air-gapped mirror).`,
		Example: `  sigil tuf publish --repo ceremony
  sigil tuf publish --repo ceremony --snapshot-key snapshot.pem --timestamp-key timestamp.pem \
    --snapshot-expires 60d --timestamp-expires 30d /srv/www/tuf`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			repo, err := openRepo(repoDir)
			if err != nil {
				return err
			}
			w := cmd.ErrOrStderr()
			warnOnlineKeys(cmd, repo)
			res, err := repo.Commit()
			switch {
			case errors.Is(err, tuf.ErrNothingStaged):
			case err != nil:
				_ = printStaged(cmd, repo)
				return err
			default:
				if res.Root != 0 {
					fmt.Fprintf(w, "Published root v%d\n", res.Root)
				}
				if res.Targets != 0 {
					fmt.Fprintf(w, "Published targets v%d\n", res.Targets)
				}
			}
			if (snapKey == "") != (tsKey == "") {
				return errors.New("give both --snapshot-key and --timestamp-key, or neither")
			}
			if snapKey != "" {
				o := tuf.OnlineOptions{}
				if o.SnapshotKeys, err = loadTUFKeys(cmd, &pw, []string{snapKey}); err != nil {
					return err
				}
				if o.TimestampKeys, err = loadTUFKeys(cmd, &pw, []string{tsKey}); err != nil {
					return err
				}
				if snapExp != "" {
					if o.SnapshotExpiry, err = parseLifetime(snapExp); err != nil {
						return err
					}
				}
				if tsExp != "" {
					if o.TimestampExpiry, err = parseLifetime(tsExp); err != nil {
						return err
					}
				}
				// Lifetimes asked for explicitly apply now, also when
				// the current versions have more than half of theirs left.
				o.Force = snapExp != "" || tsExp != ""
				r, err := repo.SignOnline(o)
				if err != nil {
					return err
				}
				if r.Snapshot != 0 {
					fmt.Fprintf(w, "Signed snapshot v%d\n", r.Snapshot)
				}
				if r.Timestamp != 0 {
					fmt.Fprintf(w, "Signed timestamp v%d\n", r.Timestamp)
				}
			}
			st, err := repo.Status()
			if err != nil {
				return err
			}
			if st.Snapshot == nil || st.Timestamp == nil {
				fmt.Fprintf(w, "Snapshot and timestamp are not signed yet: the sigil server serving %s signs them, or run publish with --snapshot-key and --timestamp-key.\n", repo.PublishedPath())
			}
			if len(args) == 1 {
				if err := repo.Export(args[0]); err != nil {
					return err
				}
				fmt.Fprintf(w, "Copied the repository to %s; clients bootstrap with %s\n", args[0], filepath.Join(args[0], "root.json"))
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&repoDir, "repo", "", "repository directory")
	f.StringVar(&snapKey, "snapshot-key", "", "snapshot private key file")
	f.StringVar(&tsKey, "timestamp-key", "", "timestamp private key file")
	f.StringVar(&snapExp, "snapshot-expires", "", "snapshot lifetime (default 14d)")
	f.StringVar(&tsExp, "timestamp-expires", "", "timestamp lifetime (default 7d)")
	pw.register(c, "the online keys")
	return c
}
