package cli

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"sigil.dev/sigil/ca/keys"
	"sigil.dev/sigil/ctlog"
	"sigil.dev/sigil/internal/connlimit"
	"sigil.dev/sigil/internal/klogslog"
)

func init() { register(newCTLog) }

func newCTLog() *cobra.Command {
	c := &cobra.Command{
		Use:   "ctlog",
		Short: "Run the certificate-transparency log the CA submits precertificates to",
		Long: `The CT log is an RFC 6962 log on Tessera: it takes precertificate and
certificate chains that end at the CA's root, sequences them durably, and
returns SCTs whose extensions name the entry's index. Monitors read it through
the static-ct-api (checkpoint, tiles, data tiles, issuers).`,
	}
	c.AddCommand(newCTLogServe())
	return c
}

func newCTLogServe() *cobra.Command {
	var (
		listen, publicURL, dataDir, rootsFile, keyFile, publicKeyOut string
		checkpointInterval                                           time.Duration
		verbose                                                      bool
	)
	c := &cobra.Command{
		Use:   "serve",
		Short: "Run the CT log alone (sigil ca serve --ct-dir runs it inside the CA)",
		Long: `serve runs the CT log's HTTP API under the path of --public-url:

  POST <path>/ct/v1/add-pre-chain, POST <path>/ct/v1/add-chain
  GET  <path>/ct/v1/get-roots
  GET  <path>/checkpoint, <path>/tile/..., <path>/tile/data/..., <path>/issuer/<sha256>
       (the static-ct-api read path; no RFC 6962 reads such as get-sth)
  GET  /healthz, GET /metrics, GET /readyz (503 while entries fail to become
       durable: a full or unwritable disk)

The log keeps everything in --data-dir: its key (key.pem, generated on first
start unless --key is given), ctlog.json (the origin and key the directory
belongs to), and log/, the static-ct-api tree, which any static file server
can also serve. The public URL is the log's identity: its checkpoint origin
is the URL without scheme, and the trusted root lists the log under it.`,
		Example: `  # A CT log for the CA created by "sigil ca init" (its root.pem)
  sigil ctlog serve --data-dir ct --roots ca/root.pem \
    --public-url https://ct.example.com/2026 --listen 127.0.0.1:6962 --public-key-out ct/pubkey.pem

  # The CA then submits to it
  sigil ca serve ... --ct-log-url https://ct.example.com/2026 --ct-log-public-key ct/pubkey.pem

  # A monitor reads the signed checkpoint and the first data tile
  curl https://ct.example.com/2026/checkpoint
  curl --compressed https://ct.example.com/2026/tile/data/000.p/5`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			level := slog.LevelWarn
			if verbose {
				level = slog.LevelDebug
			}
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
			// Tessera logs through klog and slog's default logger: send
			// both to the same place.
			klogslog.Route(log)
			slog.SetDefault(log)
			// After SetDefault the log package (net/http's messages: a
			// handler's panic, accept errors) writes through log at this
			// level, INFO by default, which a WARN handler drops.
			slog.SetLogLoggerLevel(slog.LevelWarn)
			tuneGC(log)
			if dataDir == "" {
				return errors.New("no --data-dir: the CT log keeps its key and tree there")
			}
			if rootsFile == "" {
				return errors.New("no --roots: the CT log takes only chains ending at the CA's root, given as a PEM file")
			}
			roots, err := keys.ReadCertificates(rootsFile)
			if err != nil {
				return err
			}
			if publicURL == "" && unspecifiedHost(listen) {
				return fmt.Errorf("couldn't start the CT log: --listen %s is every interface, which names no address clients reach, and the public URL (the log's identity, kept for good) defaults to http://LISTEN/ct: give --public-url", listen)
			}
			l, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("couldn't listen: %w", err)
			}
			defer l.Close()
			if publicURL == "" {
				publicURL = "http://" + l.Addr().String() + "/ct"
			}
			u, err := url.Parse(publicURL)
			if err != nil {
				return fmt.Errorf("couldn't parse --public-url: %w", err)
			}
			reg := prometheus.NewRegistry()
			reg.MustRegister(prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
			svc, err := ctlog.New(cmd.Context(), ctlog.Config{
				DataDir: dataDir, PublicURL: publicURL, KeyFile: keyFile, Roots: roots,
				Logger: log, Registerer: reg, CheckpointInterval: checkpointInterval,
			})
			if err != nil {
				return err
			}
			defer svc.Close()
			if publicKeyOut != "" {
				der, err := x509.MarshalPKIXPublicKey(svc.PublicKey())
				if err != nil {
					return err
				}
				if err := writeOutput(publicKeyOut, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644); err != nil {
					return fmt.Errorf("couldn't write the public key: %w", err)
				}
			}
			mux := http.NewServeMux()
			path := strings.TrimRight(u.EscapedPath(), "/")
			if path == "" {
				mux.Handle("/", svc.Handler())
			} else {
				mux.Handle(path+"/", svc.Handler())
			}
			mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, `{"status":"SERVING"}`)
			})
			mux.HandleFunc("GET /readyz", readyz(svc.Ready))
			mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
			srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 60 * time.Second, WriteTimeout: 60 * time.Second, IdleTimeout: 60 * time.Second}
			ctx, stop := shutdownContext(cmd.Context(), log)
			defer stop()
			errc := make(chan error, 1)
			go func() { errc <- srv.Serve(connlimit.Listener(l)) }()
			id := svc.LogID()
			fmt.Fprintf(cmd.OutOrStdout(), "CT log %s listening on %s (log ID %s)\n", svc.Origin(), l.Addr(), hex.EncodeToString(id[:]))
			select {
			case err := <-errc:
				return err
			case <-ctx.Done():
			}
			shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := srv.Shutdown(shutdown); err != nil {
				return err
			}
			return svc.Close()
		},
	}
	fl := c.Flags()
	fl.StringVar(&listen, "listen", "127.0.0.1:6962", "address to listen on")
	fl.StringVar(&publicURL, "public-url", "", "the log's public base URL, its identity (default http://LISTEN/ct)")
	fl.StringVar(&dataDir, "data-dir", "", "directory of the log's key and tree (required)")
	fl.StringVar(&rootsFile, "roots", "", "PEM file of the accepted roots: the CA's root (required)")
	fl.StringVar(&keyFile, "key", "", "PEM ECDSA P-256 private key of the log (default: DATA-DIR/key.pem, generated on first start)")
	fl.StringVar(&publicKeyOut, "public-key-out", "", "write the log's PEM public key here, for the CA and the trusted root")
	fl.DurationVar(&checkpointInterval, "checkpoint-interval", time.Second, "how often a grown log publishes a checkpoint (its merge delay)")
	fl.BoolVarP(&verbose, "verbose", "v", false, "log refused submissions")
	return c
}
