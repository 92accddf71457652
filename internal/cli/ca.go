package cli

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"sigil.dev/sigil/ca"
	"sigil.dev/sigil/ca/keys"
	"sigil.dev/sigil/ctlog"
	"sigil.dev/sigil/internal/connlimit"
	"sigil.dev/sigil/internal/fsutil"
	"sigil.dev/sigil/internal/klogslog"
	"sigil.dev/sigil/oidc"
)

func init() { register(newCA) }

func newCA() *cobra.Command {
	c := &cobra.Command{
		Use:   "ca",
		Short: "Create and run the certificate authority (Fulcio-compatible)",
		Long: `The certificate authority turns an OIDC identity token and a proof of
possession into a ten-minute code-signing certificate, speaking Fulcio's v1 and
v2 APIs so that cosign, sigstore-go, sigstore-python and gitsign can use it.`,
	}
	c.AddCommand(newCAInit(), newCAIntermediate(), newCAServe())
	return c
}

// passwordFlags name where a key password comes from.
type passwordFlags struct{ env, file string }

func (p *passwordFlags) register(c *cobra.Command, what string) {
	c.Flags().StringVar(&p.env, "password-env", "", "environment variable holding the password of "+what)
	c.Flags().StringVar(&p.file, "password-file", "", "file whose first line is the password of "+what)
}

func (p *passwordFlags) source() keys.Password { return keys.Password{Env: p.env, File: p.file} }

func newCAInit() *cobra.Command {
	var (
		dir, rootKeyPath, keyType, org, pkcs11URI string
		rootYears, interYears                     int
		force                                     bool
		pw                                        passwordFlags
	)
	c := &cobra.Command{
		Use:   "init",
		Short: "Create a root and an intermediate CA certificate with their keys",
		Long: `init creates a CA chain in --dir:

  root.pem               the root certificate (the trust anchor of the trusted root)
  root-key.pem           the root key, encrypted (or --root-key PATH)
  intermediate.pem       the issuing certificate: codeSigning EKU, path length 0
  intermediate-key.pem   its key, encrypted (absent with --pkcs11-uri)
  chain.pem              intermediate then root: what "sigil ca serve --chain" reads

Keys are ECDSA P-256 by default (verification is about 8x cheaper than P-384 in
Go); --key-type ecdsa-p384 when policy asks for it. Keys are written as
password-encrypted PKCS#8 (PBKDF2-SHA256, AES-256-CBC), readable by OpenSSL and
Fulcio. Without --password-env or --password-file a random password is written
to DIR/password (mode 0600).

The root key is needed only to issue intermediates: write it to removable media
with --root-key and keep it offline. With --pkcs11-uri the intermediate key is
generated on a PKCS#11 token (an HSM) and never leaves it.`,
		Example: `  # A CA in ./ca with a generated password
  sigil ca init --dir ca

  # P-384, password from the environment, root key straight to a USB stick
  SIGIL_CA_PASSWORD=... sigil ca init --dir ca --key-type ecdsa-p384 \
    --password-env SIGIL_CA_PASSWORD --root-key /media/usb/sigil-root-key.pem

  # The issuing key on an HSM (here SoftHSM2)
  sigil ca init --dir ca --password-env SIGIL_CA_PASSWORD \
    --pkcs11-uri 'pkcs11:token=sigil;object=ca-intermediate?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=/run/secrets/hsm-pin'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			kt := keys.KeyType(keyType)
			if _, err := kt.Curve(); err != nil {
				return err
			}
			if rootYears < 1 || interYears < 1 {
				return errors.New("--root-years and --intermediate-years must be at least 1")
			}
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return fmt.Errorf("couldn't create %s: %w", dir, err)
			}
			if !force {
				f := keys.DirFiles(dir)
				for _, p := range []string{f.Root, f.Intermediate, f.Chain} {
					if _, err := os.Stat(p); err == nil {
						return fmt.Errorf("%s exists; refusing to overwrite a CA (use --force to replace it)", p)
					}
				}
			}
			password, generated, err := initPassword(pw.source(), filepath.Join(dir, "password"), force)
			if err != nil {
				return err
			}
			c, err := keys.Init(keys.InitOptions{
				Dir: dir, KeyType: kt, Password: password, RootKey: rootKeyPath, PKCS11: pkcs11URI, Force: force,
				Chain: keys.ChainOptions{
					Organization: org, RootName: org + " root", IntermediateName: org + " intermediate",
					RootValidity: years(rootYears), IntermediateValidity: years(interYears),
				},
			})
			if generated {
				if cerr := commitPassword(filepath.Join(dir, "password"), err == nil); cerr != nil {
					return cerr
				}
			}
			if err != nil {
				if errors.Is(err, keys.ErrExists) {
					return fmt.Errorf("%v; refusing to overwrite a CA", err)
				}
				return err
			}
			defer c.Close()
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "Created a CA (%s keys) in %s:\n", kt, dir)
			fmt.Fprintf(w, "  root          %s  (%s, until %s)\n", c.Files.Root, c.Root.Subject, c.Root.NotAfter.Format(time.DateOnly))
			fmt.Fprintf(w, "  root key      %s  (encrypted)\n", c.RootKey)
			fmt.Fprintf(w, "  intermediate  %s  (%s, until %s)\n", c.Files.Intermediate, c.Intermediate.Subject, c.Intermediate.NotAfter.Format(time.DateOnly))
			if pkcs11URI != "" {
				fmt.Fprintf(w, "  issuing key   on the PKCS#11 token: %s\n", redactPIN(pkcs11URI))
			} else {
				fmt.Fprintf(w, "  issuing key   %s  (encrypted)\n", c.IntermediateKey)
			}
			fmt.Fprintf(w, "  chain         %s\n", c.Files.Chain)
			if generated {
				fmt.Fprintf(w, "  password      %s  (generated; mode 0600)\n", filepath.Join(dir, "password"))
			}
			fmt.Fprintf(w, "\nThe root key is needed only to issue new intermediates (sigil ca intermediate).\nMove %s to offline storage now.\n", c.RootKey)
			return nil
		},
	}
	fl := c.Flags()
	fl.StringVar(&dir, "dir", "ca", "directory to write the CA into")
	fl.StringVar(&rootKeyPath, "root-key", "", "where to write the encrypted root key (default DIR/root-key.pem); keep it offline")
	fl.StringVar(&keyType, "key-type", string(keys.ECDSAP256), "key type of both CA keys: ecdsa-p256 or ecdsa-p384")
	fl.StringVar(&org, "organization", "sigil", "organization of the certificate subjects (common names are \"<org> root\" and \"<org> intermediate\")")
	fl.IntVar(&rootYears, "root-years", 10, "validity of the root in years")
	fl.IntVar(&interYears, "intermediate-years", 5, "validity of the intermediate in years (never beyond the root)")
	fl.StringVar(&pkcs11URI, "pkcs11-uri", "", "generate the issuing key on this PKCS#11 token (RFC 7512 URI with module-path and a PIN)")
	fl.BoolVar(&force, "force", false, "overwrite an existing CA in --dir")
	pw.register(c, "the CA keys")
	return c
}

func newCAIntermediate() *cobra.Command {
	var (
		rootCert, rootKey, dir, keyType, org, pkcs11URI string
		interYears                                      int
		force                                           bool
		pw                                              passwordFlags
	)
	c := &cobra.Command{
		Use:   "intermediate",
		Short: "Issue a new intermediate from the (offline) root, e.g. to rotate the issuing key",
		Long: `intermediate brings the root key back for one signature: it creates a new
issuing key (a file, or on a PKCS#11 token) and its certificate under the root,
and writes intermediate.pem, intermediate-key.pem and chain.pem into --dir. The
root certificate stays the same.

Stop the CA, rotate, start it again: "sigil server" (when it runs the CA, the
logs and TUF) then publishes a trusted root with a new CA entry and keeps the old
one, its validity ending at that start, so every bundle signed before still
verifies. In production the new trusted root waits for the offline targets keys
(the server says which "sigil tuf" commands to run); publish it before rotating
again, or the intermediate in between is in neither trusted root. Where the CA runs on its own
host, the ceremony merges the hosts' /trusted_root.json with
"sigil tuf merge --previous" and the trusted root published before, which keeps
the old entry the same way.`,
		Example: `  sigil ca intermediate --root-cert ca/root.pem --root-key /media/usb/sigil-root-key.pem \
    --password-env SIGIL_CA_PASSWORD --dir ca-2027 --force`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			kt := keys.KeyType(keyType)
			if interYears < 1 {
				return errors.New("--intermediate-years must be at least 1")
			}
			b, err := readFile("root certificate", rootCert)
			if err != nil {
				return err
			}
			block, _ := pem.Decode(b)
			if block == nil {
				return fmt.Errorf("couldn't read root certificate: %s holds no PEM block", rootCert)
			}
			root, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return fmt.Errorf("couldn't read root certificate: %w", err)
			}
			if pw.source().IsZero() {
				return errors.New("give the root key's password with --password-env or --password-file")
			}
			rk, closer, err := keys.Load(keys.Source{File: rootKey, Password: pw.source()})
			if err != nil {
				return err
			}
			defer closer.Close()
			password, err := pw.source().Read()
			if err != nil {
				return err
			}
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return fmt.Errorf("couldn't create %s: %w", dir, err)
			}
			out := map[string]string{"intermediate": filepath.Join(dir, "intermediate.pem"), "key": filepath.Join(dir, "intermediate-key.pem"), "chain": filepath.Join(dir, "chain.pem")}
			if !force {
				for _, p := range out {
					if _, err := os.Stat(p); err == nil {
						return fmt.Errorf("%s exists; refusing to overwrite (use --force)", p)
					}
				}
			}
			var interKey crypto.Signer
			if pkcs11URI != "" {
				s, closer, err := keys.GeneratePKCS11(pkcs11URI, kt)
				if err != nil {
					return err
				}
				defer closer.Close()
				interKey = s
			} else if interKey, err = keys.GenerateKey(kt); err != nil {
				return err
			}
			// Without its certificate the new key is of no use: remove
			// one just generated on a token, or a second attempt finds
			// it there and refuses to generate it again.
			fail := func(err error) error {
				if pkcs11URI != "" {
					if derr := keys.DeletePKCS11Key(interKey); derr != nil {
						return fmt.Errorf("%w (and couldn't remove the key pair just generated on the PKCS#11 token: %v)", err, derr)
					}
				}
				return err
			}
			inter, err := keys.NewIntermediate(root, rk, interKey.Public(), keys.ChainOptions{Organization: org, IntermediateName: org + " intermediate", IntermediateValidity: years(interYears)})
			if err != nil {
				return fail(err)
			}
			// Every file is written beside its final name first and renamed
			// into place only when all are written: with --force, a
			// failure half-way (a full disk) left the new key beside the
			// old certificates, and the old key gone.
			staged := map[string]string{}
			unstage := func() {
				for _, tmp := range staged {
					os.Remove(tmp)
				}
			}
			stage := func(name string, write func(string) error) error {
				tmp := out[name] + ".new"
				// A stale one (an earlier crash) would keep its mode.
				if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
					return err
				}
				staged[name] = tmp
				return write(tmp)
			}
			if pkcs11URI == "" {
				if err := stage("key", func(p string) error { return keys.WriteKey(p, interKey, password) }); err != nil {
					unstage()
					return err
				}
			}
			if err := stage("intermediate", func(p string) error { return keys.WriteCertificates(p, inter) }); err != nil {
				unstage()
				return fail(err)
			}
			if err := stage("chain", func(p string) error { return keys.WriteCertificates(p, inter, root) }); err != nil {
				unstage()
				return fail(err)
			}
			for _, name := range []string{"key", "intermediate", "chain"} {
				if tmp, ok := staged[name]; ok {
					if err := os.Rename(tmp, out[name]); err != nil {
						unstage()
						return fmt.Errorf("couldn't move %s into place: %w", out[name], err)
					}
					delete(staged, name)
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Issued %s (until %s) into %s.\n", inter.Subject, inter.NotAfter.Format(time.DateOnly), dir)
			return nil
		},
	}
	fl := c.Flags()
	fl.StringVar(&rootCert, "root-cert", "", "the root certificate (PEM)")
	fl.StringVar(&rootKey, "root-key", "", "the encrypted root key")
	fl.StringVar(&dir, "dir", "ca", "directory to write the new intermediate into")
	fl.StringVar(&keyType, "key-type", string(keys.ECDSAP256), "key type of the new issuing key: ecdsa-p256 or ecdsa-p384")
	fl.StringVar(&org, "organization", "sigil", "organization of the certificate subject")
	fl.IntVar(&interYears, "intermediate-years", 5, "validity in years (never beyond the root)")
	fl.StringVar(&pkcs11URI, "pkcs11-uri", "", "generate the issuing key on this PKCS#11 token")
	fl.BoolVar(&force, "force", false, "overwrite files in --dir")
	pw.register(c, "the root key (also used for the new key file)")
	return c
}

func newCAServe() *cobra.Command {
	var (
		listen, chain, keyFile, pkcs11URI, oidcConfig string
		ctURL, ctKeyFile, ctDir, publicURL            string
		lifetime                                      time.Duration
		detached                                      bool
		pw                                            passwordFlags
	)
	c := &cobra.Command{
		Use:   "serve",
		Short: "Run the CA alone (sigil server runs it with the other services)",
		Long: `serve runs the certificate authority's HTTP API:

  POST /api/v2/signingCert, GET /api/v2/trustBundle, GET /api/v2/configuration
  POST /api/v1/signingCert, GET /api/v1/rootCert
  GET  /healthz, GET /metrics, GET /readyz (with --ct-dir: 503 while the CT
       log's entries fail to become durable)

The OIDC configuration file is Fulcio's format (YAML or JSON; oidc-issuers,
meta-issuers, ci-issuer-metadata) with sigil's additions (claim-policy,
signing-algorithms). With --ct-log-url the CA submits precertificates to that
RFC 6962 log and embeds the SCT; with --ct-dir it runs its own CT log in the
same process, under /ct. Without either it issues without SCTs.`,
		Example: `  # With the files of "sigil ca init" and an issuer configuration
  SIGIL_CA_PASSWORD=... sigil ca serve --chain ca/chain.pem --key ca/intermediate-key.pem \
    --password-env SIGIL_CA_PASSWORD --oidc-config issuers.yaml --ct-dir ct --listen 127.0.0.1:5555

  # issuers.yaml
  oidc-issuers:
    https://token.actions.githubusercontent.com:
      type: github-workflow
      claim-policy:
        # the owner's numeric ID: an organization's name can be renamed and reused
        repository_owner_id: ["1234567"]
        ref: ["refs/heads/main", "refs/tags/v.*"]
    https://accounts.example.com:
      type: email`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))
			// The CT log of --ct-dir runs on Tessera, which logs through
			// klog and slog's default logger: send both to the same place.
			klogslog.Route(log)
			slog.SetDefault(log)
			// After SetDefault the log package (net/http's messages: a
			// handler's panic, accept errors) writes through log at this
			// level, INFO by default, which a WARN handler drops.
			slog.SetLogLoggerLevel(slog.LevelWarn)
			tuneGC(log)
			certs, err := readChain(chain)
			if err != nil {
				return err
			}
			if mode, ok := pw.source().ReadableByOthers(); ok {
				log.Warn("the CA key's password file can be read by other users: chmod 600 it (or use --password-env)", "file", pw.file, "mode", fmt.Sprintf("%04o", mode))
			}
			signer, closer, err := keys.Load(keys.Source{File: keyFile, Password: pw.source(), PKCS11: pkcs11URI})
			if err != nil {
				return err
			}
			defer closer.Close()
			if oidcConfig == "" {
				return errors.New("no --oidc-config: the CA needs at least one OIDC issuer")
			}
			cfg, err := oidc.LoadConfig(oidcConfig)
			if err != nil {
				return err
			}
			verifier, err := oidc.NewVerifier(cfg, oidc.Options{Logger: log})
			if err != nil {
				return err
			}
			if publicURL == "" && unspecifiedHost(listen) {
				return fmt.Errorf("couldn't start the CA: --listen %s is every interface, which names no address clients reach, and the public URL (the CA's URL in the trusted root; with --ct-dir its CT log's identity, kept for good) defaults to http://LISTEN: give --public-url", listen)
			}
			l, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("couldn't listen: %w", err)
			}
			if publicURL == "" {
				publicURL = "http://" + l.Addr().String()
			}
			if !onLoopback(l.Addr()) {
				log.Warn("serving plain HTTP on a non-loopback address: identity tokens cross the network in clear; put a TLS proxy in front (sigil server serves TLS itself with tlsCert and tlsKey)", "listen", l.Addr().String())
			}
			// The CA serves /api/ and its CT log /ct/ at the root of the
			// listener: the CT log's URL is the public URL plus /ct.
			publicURL = strings.TrimRight(publicURL, "/")
			if u, err := url.Parse(publicURL); ctDir != "" && (err != nil || u.Path != "") {
				return fmt.Errorf("--public-url %q must be scheme://host[:port] without a path with --ct-dir: the CA serves /api/ and its CT log /ct/ at the root", publicURL)
			}
			reg := prometheus.NewRegistry()
			reg.MustRegister(prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
			mux := http.NewServeMux()
			var ready []func() error // what /readyz checks
			conf := ca.Config{Signer: signer, Chain: certs, Identity: verifier, Lifetime: lifetime, DetachedSCT: detached, URL: publicURL, Logger: log, Registerer: reg}
			switch {
			case ctURL != "" && ctDir != "":
				return errors.New("give --ct-log-url or --ct-dir, not both")
			case ctURL != "":
				conf.CT = &ctlog.Client{URL: ctURL}
				if ctKeyFile != "" {
					b, err := readFile("CT log public key", ctKeyFile)
					if err != nil {
						return err
					}
					block, _ := pem.Decode(b)
					if block == nil {
						return fmt.Errorf("couldn't read CT log public key: %s holds no PEM block", ctKeyFile)
					}
					if conf.CTKey, err = x509.ParsePKIXPublicKey(block.Bytes); err != nil {
						return fmt.Errorf("couldn't read CT log public key: %w", err)
					}
				}
			case ctDir != "":
				ct, err := ctlog.New(cmd.Context(), ctlog.Config{DataDir: ctDir, PublicURL: publicURL + "/ct", Roots: certs[len(certs)-1:], Logger: log, Registerer: reg})
				if err != nil {
					return err
				}
				defer ct.Close()
				conf.CT, conf.CTKey = ct, nil
				ready = append(ready, ct.Ready)
				mux.Handle("/ct/", ct.Handler())
			}
			svc, err := ca.New(conf)
			if err != nil {
				return err
			}
			mux.Handle("/api/", svc.Handler())
			mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, `{"status":"SERVING"}`)
			})
			mux.HandleFunc("GET /readyz", readyz(ready...))
			mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
			srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 60 * time.Second, WriteTimeout: 60 * time.Second, IdleTimeout: 30 * time.Second}
			ctx, stop := shutdownContext(cmd.Context(), log)
			defer stop()
			errc := make(chan error, 1)
			go func() { errc <- srv.Serve(connlimit.Listener(l)) }()
			fmt.Fprintf(cmd.OutOrStdout(), "CA listening on %s (issuing as %q)\n", publicURL, certs[0].Subject)
			select {
			case err := <-errc:
				return err
			case <-ctx.Done():
			}
			shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			return srv.Shutdown(shutdown)
		},
	}
	fl := c.Flags()
	fl.StringVar(&listen, "listen", "127.0.0.1:5555", "address to listen on")
	fl.StringVar(&publicURL, "public-url", "", "the CA's public base URL (default http://LISTEN)")
	fl.StringVar(&chain, "chain", "", "PEM chain: issuing certificate first, root last (chain.pem of sigil ca init)")
	fl.StringVar(&keyFile, "key", "", "the issuing key (PEM, usually encrypted PKCS#8)")
	fl.StringVar(&pkcs11URI, "pkcs11-uri", "", "the issuing key on a PKCS#11 token, instead of --key")
	fl.StringVar(&oidcConfig, "oidc-config", "", "OIDC issuer configuration (YAML or JSON, Fulcio's format)")
	fl.StringVar(&ctURL, "ct-log-url", "", "RFC 6962 CT log to submit precertificates to (base URL, before /ct/v1)")
	fl.StringVar(&ctKeyFile, "ct-log-public-key", "", "PEM public key of the --ct-log-url log: every SCT is verified before a certificate is returned")
	fl.StringVar(&ctDir, "ct-dir", "", "run a CT log in this process, keeping its data in this directory")
	fl.BoolVar(&detached, "detached-sct", false, "return the SCT beside the certificate instead of embedding it (sigstore-python refuses this, and verifiers of bundles refuse certificates without an embedded SCT by default)")
	fl.DurationVar(&lifetime, "lifetime", 10*time.Minute, "lifetime of issued certificates")
	pw.register(c, "the issuing key")
	return c
}

func years(n int) time.Duration { return time.Duration(n) * 365 * 24 * time.Hour }

// initPassword returns the password for new key files: from the flags, or a
// new random one written to path.
func initPassword(src keys.Password, path string, force bool) ([]byte, bool, error) {
	if !src.IsZero() {
		p, err := src.Read()
		return p, false, err
	}
	if _, err := os.Stat(path); err == nil && !force {
		return nil, false, fmt.Errorf("%s exists; give --password-file %s to reuse it, or --force", path, path)
	}
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return nil, false, err
	}
	p := []byte(base64.RawURLEncoding.EncodeToString(b))
	// Written beside its final name (before any key is encrypted with
	// it, so that it is never lost) and moved into place by
	// commitPassword once the CA is made: a failed init left it behind,
	// so that the next attempt asked for --password-file, and a failed
	// init --force replaced the password of the CA still in place.
	tmp := path + ".new"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, false, fmt.Errorf("couldn't write password: %w", err)
	}
	if err := fsutil.WriteFileAtomic(tmp, append(p, '\n'), 0o600); err != nil {
		return nil, false, fmt.Errorf("couldn't write password: %w", err)
	}
	return p, true, nil
}

// commitPassword moves a password initPassword generated into place
// (ok), or removes it (the CA was not made).
func commitPassword(path string, ok bool) error {
	if !ok {
		os.Remove(path + ".new")
		return nil
	}
	if err := os.Rename(path+".new", path); err != nil {
		return fmt.Errorf("couldn't move the CA password into place (it is in %s.new): %w", path, err)
	}
	return nil
}

func readChain(path string) ([]*x509.Certificate, error) {
	if path == "" {
		return nil, errors.New("no --chain given")
	}
	return keys.ReadCertificates(path)
}

// redactPIN hides every pin-value in a PKCS#11 URI for printing (the
// parser reads the last one, so hiding only the first would print the PIN
// in use). A value ends at the next attribute separator ('&' in the query,
// ';' in the path) or at the query's start.
func redactPIN(uri string) string {
	const attr = "pin-value="
	var b strings.Builder
	for {
		i := strings.Index(uri, attr)
		if i < 0 {
			b.WriteString(uri)
			return b.String()
		}
		b.WriteString(uri[:i] + attr + "REDACTED")
		uri = uri[i+len(attr):]
		if j := strings.IndexAny(uri, "&;?"); j >= 0 {
			uri = uri[j:]
		} else {
			uri = ""
		}
	}
}

// unspecifiedHost reports whether the host of a listen address is empty
// or unspecified (0.0.0.0, ::): every interface, which no client can use
// as the server's address in a public URL.
func unspecifiedHost(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if host == "" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsUnspecified()
}
