package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"sigil.dev/sigil/server"
)

func init() { register(newServer) }

func newServer() *cobra.Command {
	var (
		cfgFile, data, listen, publicURL string
		services                         []string
		prod, verbose                    bool
	)
	c := &cobra.Command{
		Use:   "server",
		Short: "Run a complete private Sigstore instance: CA, CT log, transparency logs, TSA, TUF, dev OIDC issuer",
		Long: `Run every sigil service in one process on one address.

The first start creates everything in the data directory (CA chain, log, CT
and TSA keys, TUF root) and prints how clients bootstrap trust and the next
commands to run; later starts reuse it. Without --config the instance is in
dev mode: a built-in OIDC issuer on /oidc signs you in as dev@sigil.test, and
TUF root and targets keys live in the data directory. While the dev issuer
runs, non-loopback listen and public addresses are refused (a --config with
dev: true and no oidc service may listen anywhere: its TUF keys are still in
the data directory, so keep dev mode off shared machines).

Production takes a YAML --config (dataDir, listen, publicURL and services,
which the flags override, plus ca.issuers, ca.passwordEnv, tlsCert/tlsKey,
remote URLs; every field is in the server package documentation: go doc -all
sigil.dev/sigil/server). --services runs a subset on this host.`,
		Example: `  sigil server                                  # dev instance on http://127.0.0.1:8080, data in ./sigil-data
  sigil server --data /var/lib/sigil --listen 127.0.0.1:9000
  sigil server --config /etc/sigil/server.yaml
  sigil server --config server.yaml --services ca,ct      # only the CA and its CT log here`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg := &server.Config{Dev: true}
			if cfgFile != "" {
				var err error
				if cfg, err = server.LoadConfig(cfgFile); err != nil {
					return err
				}
			}
			if cmd.Flags().Changed("data") || cfg.DataDir == "" {
				cfg.DataDir = data
			}
			if listen != "" {
				cfg.Listen = listen
			}
			if publicURL != "" {
				cfg.PublicURL = publicURL
			}
			if len(services) > 0 {
				cfg.Services = services
			}
			if prod {
				cfg.Dev = false
			}
			if cfg.PublicURL == "" {
				// The public URL defaults to http://<listen>: with port 0
				// it would name a port nobody listens on, in the trusted
				// root, the signing config and the logs' identities.
				if _, port, err := net.SplitHostPort(cfg.Listen); err == nil && port == "0" {
					return fmt.Errorf("couldn't start the server: listen %s picks a free port that clients cannot know; give the port, or the URL clients reach this server at (--public-url, publicURL)", cfg.Listen)
				}
			}
			level := slog.LevelInfo
			if verbose {
				level = slog.LevelDebug
			}
			logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
			// A PIN in the configuration is a secret like ca.passwordFile,
			// whose readability the server checks.
			if fi, err := os.Stat(cfgFile); err == nil && strings.Contains(cfg.CA.PKCS11, "pin-value=") && fi.Mode().Perm()&0o077 != 0 {
				logger.Warn("the configuration file holds the HSM PIN (pin-value in ca.pkcs11) and can be read by other users: chmod 600 it (or give the PIN through pin-source, a 0600 file, or SIGIL_PKCS11_PIN)", "file", cfgFile, "mode", fmt.Sprintf("%04o", fi.Mode().Perm()))
			}
			tuneGC(logger)
			ctx, stop := shutdownContext(context.Background(), logger)
			defer stop()
			start := time.Now()
			srv, err := server.New(ctx, *cfg, logger)
			if err != nil {
				return err
			}
			l, err := srv.Listen()
			if err != nil {
				srv.Close()
				return err
			}
			printBootstrap(cmd.ErrOrStderr(), srv, time.Since(start))
			err = srv.Serve(ctx, l)
			if errors.Is(err, context.Canceled) {
				err = nil
			}
			if err == nil {
				logger.Info("stopped")
			}
			return err
		},
	}
	fl := c.Flags()
	fl.StringVar(&cfgFile, "config", "", "YAML configuration file (production)")
	fl.StringVar(&data, "data", "sigil-data", "data directory (created on first start)")
	fl.StringVar(&listen, "listen", "", "address to listen on (default 127.0.0.1:8080)")
	fl.StringVar(&publicURL, "public-url", "", "base URL clients use (default http://<listen>, https:// with a TLS certificate)")
	fl.StringSliceVar(&services, "services", nil, "run only these services here: ca, ct, tlog, tsa, tuf, oidc")
	fl.BoolVar(&prod, "production", false, "production mode even without --config: no dev issuer, TUF root and targets from a ceremony")
	fl.BoolVarP(&verbose, "verbose", "v", false, "debug logging")
	return c
}

func printBootstrap(w io.Writer, srv *server.Server, took time.Duration) {
	pub := srv.PublicURL()
	state := "started"
	if srv.FirstStart() {
		state = "created and started"
	}
	fmt.Fprintf(w, "\nsigil server %s in %s: %s\n", state, took.Round(time.Millisecond), pub)
	root := srv.TUFRootPath()
	if root == "" {
		fmt.Fprintf(w, "  trusted root:   %s/trusted_root.json\n  signing config: %s/signing_config.json\n\n", pub, pub)
		return
	}
	if rel, err := filepath.Rel(mustGetwd(), root); err == nil && !strings.HasPrefix(rel, "..") {
		root = rel
	}
	exe := selfCommand()
	if _, err := os.Stat(srv.TUFRootPath()); err != nil {
		// Production before the ceremony: nothing for clients to trust yet.
		fmt.Fprintf(w, "  TUF mirror: %s/tuf\n\nThe TUF repository is not initialized: run the offline ceremony (%s tuf --help:\ninit, add-target, sign, publish) and put its repository here; then clients run\n  %s trust init --mirror %s/tuf --root root.json\nwith the ceremony's root.json.\n\n", pub, exe, exe, pub)
		return
	}
	fmt.Fprintf(w, "  TUF mirror: %s/tuf\n  TUF root:   %s\n", pub, root)
	fmt.Fprintf(w, "\nNext, in another terminal (same directory):\n")
	fmt.Fprintf(w, "  %s trust init --mirror %s/tuf --root %s\n", exe, pub, root)
	if iss := srv.DevIssuerURL(); iss != "" {
		fmt.Fprintf(w, "  echo hello > hello.txt\n")
		fmt.Fprintf(w, "  %s sign-blob hello.txt --bundle hello.sigstore.json     # the dev issuer signs you in as %s\n", exe, srv.DevIssuer().Identity().Email)
		fmt.Fprintf(w, "  %s verify-blob hello.txt --bundle hello.sigstore.json --certificate-identity %s --certificate-oidc-issuer %s\n", exe, srv.DevIssuer().Identity().Email, iss)
	}
	fmt.Fprintln(w)
}

// selfCommand returns how to run this sigil again from a shell: "sigil"
// when that is this program on PATH, "go run ./cmd/sigil" under go run,
// else the executable's path.
func selfCommand() string {
	p, err := os.Executable()
	if err != nil {
		return "sigil"
	}
	if strings.Contains(p, string(filepath.Separator)+"go-build") {
		return "go run ./cmd/sigil"
	}
	if lp, err := exec.LookPath("sigil"); err == nil {
		if a, err := filepath.EvalSymlinks(lp); err == nil {
			if b, err := filepath.EvalSymlinks(p); err == nil && a == b {
				return "sigil"
			}
		}
	}
	return p
}

func mustGetwd() string {
	d, _ := os.Getwd()
	return d
}

// onLoopback reports whether a listener's address is a loopback one, where
// plain HTTP crosses no network.
func onLoopback(a net.Addr) bool {
	t, ok := a.(*net.TCPAddr)
	return !ok || t.IP.IsLoopback()
}

// readyz answers a readiness check: 503 with the first check's error, or
// "ready".
func readyz(checks ...func() error) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		for _, c := range checks {
			if err := c(); err != nil {
				http.Error(w, err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		io.WriteString(w, "ready\n") //nolint:errcheck
	}
}

// shutdownContext is cancelled by the first SIGINT or SIGTERM, which starts
// a graceful shutdown; from then on the signals have their default action
// again, so a second Ctrl-C ends the process at once (anything
// acknowledged is durable already).
//
// Only a signal logs "shutting down": calling the returned stop (a start
// that failed, a normal return) ends the watch silently. It used to log
// then too, a spurious line written while the caller printed its error.
func shutdownContext(parent context.Context, log *slog.Logger) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(parent)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	stopped := make(chan struct{})
	var once sync.Once
	stop := func() {
		once.Do(func() {
			signal.Stop(sigs)
			close(stopped)
			cancel()
		})
	}
	go func() {
		select {
		case <-sigs:
			signal.Stop(sigs) // the next one has its default action
			if log != nil {
				log.Info("shutting down gracefully (interrupt again to stop at once)")
			}
			cancel()
		case <-stopped:
		case <-ctx.Done():
			signal.Stop(sigs)
		}
	}()
	return ctx, stop
}
