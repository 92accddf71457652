// Package server composes every sigil service into one process: the
// certificate authority and its CT log, the transparency logs (Rekor v2 and
// v1), the timestamp authority, the TUF repository that distributes the
// trusted root and signing config generated from the running services, and
// in dev mode a built-in OIDC issuer. One listener, one data directory; the
// first start creates everything, later starts reuse it.
//
// Routes (one mux; each service keeps its own paths):
//
//	/api/v1/signingCert, /api/v1/rootCert, /api/v2/signingCert,
//	/api/v2/trustBundle, /api/v2/configuration      CA (Fulcio v1 and v2)
//	/api/v1/log/…, /api/v1/index/retrieve            transparency log, Rekor v1 API
//	/api/v2/log/entries, /api/v2/checkpoint,
//	/api/v2/tile/…                                    transparency log, Rekor v2 API
//	/api/v1/timestamp, /api/v1/timestamp/certchain    TSA (RFC 3161)
//	/ct/…                                             CT log (RFC 6962 add-(pre-)chain, static-ct reads)
//	/tuf/…                                            TUF repository
//	/oidc/…                                           dev OIDC issuer (dev mode only)
//	/healthz, /readyz, /metrics                        readyz: 503 before the TUF repository exists and while the transparency or CT log's writes fail
//
// Trust statement per datastore (what a compromise of each means):
//   - DataDir/ca: the CA key is the root of identity; whoever holds it can
//     issue certificates for any identity. Keep it encrypted (password) or
//     in an HSM (PKCS#11), and the root key offline in production. In dev
//     mode DataDir/ca/password decrypts both keys.
//   - DataDir/tlog, DataDir/ct: the logs' keys must never sign two
//     inconsistent checkpoints; their stored tiles need not be trusted
//     (clients verify proofs against signed checkpoints). Whoever holds a
//     log's key can sign, without the log, checkpoints and inclusion proofs
//     (and, Rekor v1, SETs with any integrated time) for entries no
//     published log holds, and whoever holds the CT key SCTs for
//     certificates not in it: offline verification accepts them, and only
//     monitors comparing checkpoints can notice. With the CA key that forges
//     signatures nobody sees; with the v1 key alone, it dates a signature
//     inside the validity of any certificate whose private key leaked later.
//   - DataDir/tsa: the TSA key anchors time for Rekor v2 verification:
//     whoever holds it can timestamp a signature at any time, so the private
//     key of a certificate that expired long ago signs valid bundles again.
//   - DataDir/tuf: online snapshot/timestamp keys, which can keep clients
//     on older metadata until it expires but not change the targets; root
//     and targets keys live here only in dev mode, where they let whoever
//     reads them publish any trusted root.
//   - DataDir/oidc: the dev issuer key; dev mode only, loopback only.
//     The CT, TSA, log and online TUF keys are stored unencrypted (files
//     0600; DataDir is created 0700, its ct and tlog subdirectories 0755);
//     only the CA key and the offline TUF keys are encrypted. In dev mode,
//     reading DataDir is owning the instance.
//
// Splitting services (Services, Remote): the host that runs the CA runs
// its CT log too (the CA embeds SCTs from it; a CA without one issues
// certificates without SCTs, which verifiers refuse by default). Each
// host serves at /trusted_root.json the keys of the services it runs, and
// at /signing_config.json those services plus the remote ones by URL.
// No host has the whole trusted root unless it runs the CA, the logs and
// the TSA it names, so a host that runs TUF without the CA or the logs
// (or with a remote.tsa, until a published root lists that TSA)
// publishes only what the ceremony
// signs: fetch both documents from every host, merge each kind with `sigil
// tuf merge` (a host's own description of a service replaces another
// host's remote entry for it), review, and add them with `sigil tuf
// add-target` (which refuses a trusted root without CAs or logs). A
// repository copied into a running server's DataDir/tuf is picked up
// within a minute.
package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"sigil.dev/sigil/ca"
	"sigil.dev/sigil/ca/keys"
	"sigil.dev/sigil/ctlog"
	"sigil.dev/sigil/internal/connlimit"
	"sigil.dev/sigil/internal/fsutil"
	"sigil.dev/sigil/internal/klogslog"
	"sigil.dev/sigil/oidc"
	"sigil.dev/sigil/oidc/dev"
	"sigil.dev/sigil/tlog"
	"sigil.dev/sigil/trust"
	"sigil.dev/sigil/tsa"
	"sigil.dev/sigil/tuf"
)

// Server is a running instance.
type Server struct {
	cfg    Config
	log    *slog.Logger
	reg    *prometheus.Registry
	mux    *http.ServeMux
	closer []func() error
	bg     sync.WaitGroup // background goroutines Close waits for

	caKeys *keys.CA
	ca     *ca.Service
	ct     *ctlog.Service
	tlog   *tlog.Service
	tsa    *tsa.Service
	tuf    *tuf.Service
	dev    *dev.Issuer

	trustedRoot   *trust.TrustedRoot
	signingConfig *trust.SigningConfig
	// tufRoot is the trusted root published through TUF when it differs
	// from trustedRoot: it also keeps the entries of other operators that
	// the published root lists (keepRetiredTrust).
	tufRoot    *trust.TrustedRoot
	firstStart bool
	// certs serves the TLS certificate (nil without TLS), loaded in New
	// so that a pair that does not load stops the start before anything
	// is created or announced.
	certs *certReloader

	mu      sync.Mutex
	httpSrv *http.Server
	cancel  context.CancelFunc
}

// New creates (on first start) or opens every service of cfg. ctx bounds
// the background work (TUF refresher); Close stops everything.
func New(ctx context.Context, cfg Config, logger *slog.Logger) (_ *Server, err error) {
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	s := &Server{cfg: cfg, log: logger, reg: prometheus.NewRegistry(), mux: http.NewServeMux()}
	s.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if cfg.TLSCert != "" {
		if s.certs, err = newCertReloader(cfg.TLSCert, cfg.TLSKey, logger.With("service", "tls")); err != nil {
			return nil, err
		}
	}
	if _, err := os.Stat(cfg.DataDir); errors.Is(err, os.ErrNotExist) {
		s.firstStart = true
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("couldn't create data directory: %w", err)
	}
	// One server per data directory: a second one would keep its own
	// duplicate filters and in-memory state over the same logs.
	unlock, err := fsutil.TryLock(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("couldn't open data directory: %w", err)
	}
	s.closer = append(s.closer, func() error { unlock(); return nil })
	// Tessera logs through klog and through slog's default logger; send
	// both to the same place (the process has one default logger: the
	// last server started sets it). Not before the lock: a server refused
	// for a directory in use must not take the running one's logs.
	klogslog.Route(logger.With("component", "tessera"))
	slog.SetDefault(logger.With("component", "tessera"))
	ctx, s.cancel = context.WithCancel(ctx)
	pub := cfg.PublicURL

	if cfg.runs(SvcOIDC) {
		s.dev, err = dev.New(dev.Config{
			DataDir: filepath.Join(cfg.DataDir, "oidc"), PublicURL: pub + "/oidc",
			Identity: dev.Identity{Email: cfg.DevIdentity}, ListenAddr: cfg.Listen, Force: cfg.ForceDevIssuer,
			Logger: logger.With("service", "oidc"),
		})
		if err != nil {
			// dev.New's errors already say "couldn't start the dev OIDC
			// issuer"; say how this server forces it.
			if errors.Is(err, dev.ErrNotLoopback) {
				return nil, fmt.Errorf("%w (forceDevIssuer: true in the --config file)", err)
			}
			return nil, err
		}
		s.mux.Handle("/oidc/", s.dev.Handler())
	}

	if cfg.runs(SvcCA) || cfg.runs(SvcCT) {
		if s.caKeys, err = s.openCAKeys(); err != nil {
			return nil, err
		}
		s.closer = append(s.closer, s.caKeys.Close)
	}
	if cfg.runs(SvcCT) {
		s.ct, err = ctlog.New(ctx, ctlog.Config{
			DataDir: filepath.Join(cfg.DataDir, "ct"), PublicURL: pub + "/ct",
			Roots: []*x509.Certificate{s.caKeys.Root}, Logger: logger.With("service", "ct"), Registerer: s.reg,
		})
		if err != nil {
			return nil, fmt.Errorf("couldn't start the CT log: %w", err)
		}
		s.closer = append(s.closer, s.ct.Close)
		s.mux.Handle("/ct/", s.ct.Handler())
	}
	if cfg.runs(SvcCA) {
		if err := s.startCA(); err != nil {
			return nil, err
		}
	}
	if cfg.runs(SvcTLog) {
		s.tlog, err = tlog.New(ctx, tlog.Config{
			DataDir: filepath.Join(cfg.DataDir, "tlog"), V2PublicURL: pub, V1PublicURL: pub,
			CheckpointInterval: cfg.TLog.CheckpointInterval,
			Logger:             logger, Registerer: s.reg, // tlog.New adds service=tlog
		})
		if err != nil {
			return nil, fmt.Errorf("couldn't start the transparency log: %w", err)
		}
		s.closer = append(s.closer, s.tlog.Close)
		// A disabled API is not served: left out of the signing config
		// alone, it still took entries from any client that knew its URL.
		h, v1, v2 := s.tlog.Handler(), s.tlog.Handler(), s.tlog.Handler()
		if cfg.TLog.DisableV1 {
			v1 = disabledLog(`{"code":404,"message":"the Rekor v1 API is disabled on this server (tlog.disableV1)"}`)
		}
		if cfg.TLog.DisableV2 {
			v2 = disabledLog(`{"code":5,"message":"the Rekor v2 API is disabled on this server (tlog.disableV2)","details":[]}`)
		}
		s.mux.Handle("/api/v1/log", v1)
		s.mux.Handle("/api/v1/log/", v1)
		s.mux.Handle("/api/v1/index/", v1)
		s.mux.Handle("/api/v2/", h) // its 404s for the CA's paths when the CA runs elsewhere
		s.mux.Handle("/api/v2/log/", v2)
		s.mux.Handle("/api/v2/checkpoint", v2)
		s.mux.Handle("/api/v2/tile/", v2)
		s.mux.Handle("GET /checkpoint", v2)
		s.mux.Handle("GET /tile/", v2)
	}
	if cfg.runs(SvcTSA) {
		s.tsa, err = tsa.New(tsa.Config{
			DataDir: filepath.Join(cfg.DataDir, "tsa"), URL: pub + "/api/v1/timestamp",
			Logger: logger.With("service", "tsa"), Registerer: s.reg,
		})
		if err != nil {
			return nil, fmt.Errorf("couldn't start the timestamp authority: %w", err)
		}
		s.mux.Handle("/api/v1/timestamp", s.tsa.Handler())
		s.mux.Handle("/api/v1/timestamp/", s.tsa.Handler())
	}

	if err := s.buildTrust(); err != nil {
		return nil, err
	}
	if cfg.runs(SvcTUF) {
		if err := s.startTUF(ctx); err != nil {
			return nil, err
		}
	}
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	s.mux.HandleFunc("GET /readyz", s.ready)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	s.mux.HandleFunc("GET /trusted_root.json", s.serveJSON(func() ([]byte, error) { return s.trustedRoot.Marshal() }))
	s.mux.HandleFunc("GET /signing_config.json", s.serveJSON(func() ([]byte, error) { return s.signingConfig.Marshal() }))
	return s, nil
}

// disabledLog answers every request with 404 and body, a Rekor error.
func disabledLog(body string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(body + "\n"))
	})
}

func (s *Server) serveJSON(f func() ([]byte, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		b, err := f()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
	}
}

// readiness is one service's readiness check, for /readyz.
type readiness struct {
	name  string
	check func() error
}

// readiness lists the checks of the services this server runs: a
// transparency log or CT log whose writes fail (a full or unwritable disk,
// storage that failed an integrity check), a TUF repository not published
// yet.
func (s *Server) readiness() []readiness {
	var out []readiness
	if s.tlog != nil {
		out = append(out, readiness{"tlog", s.tlog.Ready})
	}
	if s.ct != nil {
		out = append(out, readiness{"ct", s.ct.Ready})
	}
	if s.tuf != nil {
		out = append(out, readiness{"tuf", s.tuf.Ready})
	}
	return out
}

func (s *Server) ready(w http.ResponseWriter, _ *http.Request) { serveReady(w, s.readiness()) }

func serveReady(w http.ResponseWriter, checks []readiness) {
	for _, c := range checks {
		if err := c.check(); err != nil {
			http.Error(w, c.name+": "+err.Error(), http.StatusServiceUnavailable)
			return
		}
	}
	w.Write([]byte("ready\n"))
}

// openCAKeys opens the CA chain and issuing key, creating them on first
// start. In dev mode the key password is a random one kept in DataDir.
func (s *Server) openCAKeys() (*keys.CA, error) {
	dir := filepath.Join(s.cfg.DataDir, "ca")
	src := keys.Source{PKCS11: s.cfg.CA.PKCS11, Password: keys.Password{Env: s.cfg.CA.PasswordEnv, File: s.cfg.CA.PasswordFile}}
	if mode, ok := src.Password.ReadableByOthers(); ok {
		s.log.Warn("the CA key's password file can be read by other users: chmod 600 it (or use ca.passwordEnv)", "file", src.Password.File, "mode", fmt.Sprintf("%04o", mode))
	}
	if s.cfg.Dev && src.Password.IsZero() {
		src.Password.File = filepath.Join(dir, "password")
	}
	if _, err := os.Stat(filepath.Join(dir, "chain.pem")); errors.Is(err, os.ErrNotExist) {
		if s.cfg.Dev && s.cfg.CA.PasswordEnv == "" && s.cfg.CA.PasswordFile == "" {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, err
			}
			b := make([]byte, 24)
			rand.Read(b)
			// A new file, 0600 whatever an old one at the path was.
			if err := fsutil.WriteFileAtomic(src.Password.File, []byte(hex.EncodeToString(b)+"\n"), 0o600); err != nil {
				return nil, fmt.Errorf("couldn't write the dev CA password: %w", err)
			}
		}
		if src.Password.IsZero() {
			// ca.pkcs11 alone: the issuing key is in the HSM, but the
			// root key created on a first start is a file.
			return nil, fmt.Errorf("couldn't create the CA in %s: the root key a first start creates is an encrypted file, and no ca.passwordEnv or ca.passwordFile gives its password; set one, or create the CA before the first start with `sigil ca init --dir %s --pkcs11-uri … --root-key FILE` (the root key kept offline)", dir, dir)
		}
		pw, err := src.Password.Read()
		if err != nil {
			return nil, fmt.Errorf("couldn't read the CA key password: %w", err)
		}
		kt := keys.ECDSAP256
		if s.cfg.CA.KeyType != "" {
			kt = keys.KeyType(s.cfg.CA.KeyType)
		}
		c, err := keys.Init(keys.InitOptions{Dir: dir, KeyType: kt, Password: pw, PKCS11: s.cfg.CA.PKCS11,
			Chain: keys.ChainOptions{Organization: "sigil " + hostOf(s.cfg.PublicURL)}})
		if err != nil {
			return nil, fmt.Errorf("couldn't create the CA: %w", err)
		}
		s.log.Info("created a CA", "dir", dir, "root", c.Root.Subject.String())
		if !s.cfg.Dev {
			s.log.Warn("the CA's root key was created online, beside the issuing key: move "+filepath.Join(dir, "root-key.pem")+" to offline storage (or create the CA with `sigil ca init --root-key` before the first start)", "dir", dir)
		}
		return c, nil
	}
	c, err := keys.Open(dir, src)
	if err != nil {
		return nil, fmt.Errorf("couldn't open the CA in %s: %w", dir, err)
	}
	return c, nil
}

func hostOf(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	return p.Hostname()
}

func (s *Server) startCA() error {
	cfg := &oidc.Config{OIDCIssuers: map[string]oidc.Issuer{}}
	if s.cfg.CA.Issuers != "" {
		c, err := oidc.LoadConfig(s.cfg.CA.Issuers)
		if err != nil {
			return err
		}
		cfg = c
		if cfg.OIDCIssuers == nil {
			cfg.OIDCIssuers = map[string]oidc.Issuer{}
		}
	}
	if s.dev != nil {
		cfg.OIDCIssuers[s.dev.URL()] = oidc.Issuer{IssuerURL: s.dev.URL(), ClientID: s.dev.Audience(), Type: oidc.TypeEmail, Description: "sigil dev issuer"}
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("couldn't use the OIDC issuer configuration: %w", err)
	}
	id, err := oidc.NewVerifier(cfg, oidc.Options{Logger: s.log.With("service", "oidc-verify")})
	if err != nil {
		return fmt.Errorf("couldn't set up token verification: %w", err)
	}
	if r := s.cfg.Remote.OIDC; r != "" && s.dev == nil && !id.Trusts(r) {
		// The signing config sends clients to sign in there: every
		// certificate request would be refused.
		s.log.Warn("remote.oidc is not an issuer the CA trusts: clients sign in there (the signing config names it) and the CA refuses their tokens; add it to the ca.issuers file", "issuer", r)
	}
	c := ca.Config{
		Signer: s.caKeys.Signer, Chain: s.caKeys.Chain(), Identity: id,
		DetachedSCT: s.cfg.CA.DetachedSCT, Lifetime: s.cfg.CA.Lifetime, URL: s.cfg.PublicURL,
		Logger: s.log.With("service", "ca"), Registerer: s.reg,
	}
	if s.ct != nil {
		// In process: the log signs SCTs with the key it holds, so the CA
		// does not verify them again (no CTKey), and the log does not
		// verify the CA's precertificate signature again (AddIssuedPreChain).
		c.CT = s.ct
		if s.cfg.CA.DetachedSCT {
			s.log.Warn("the CA returns detached SCTs (ca.detachedSCT): its certificates embed no SCT, and verifiers (sigil, cosign, sigstore-go) refuse those by default, sigil sign-blob included; sigstore-python refuses the detached form at signing")
		}
	} else {
		s.log.Warn("the CA runs without the CT log (add ct to services on this host): its certificates carry no SCT, and verifiers (sigil, cosign, sigstore-go) refuse those by default")
	}
	if s.ca, err = ca.New(c); err != nil {
		return fmt.Errorf("couldn't start the CA: %w", err)
	}
	h := s.ca.Handler()
	for _, p := range []string{"/api/v1/signingCert", "/api/v1/rootCert", "/api/v2/signingCert", "/api/v2/trustBundle", "/api/v2/configuration"} {
		s.mux.Handle(p, h)
	}
	return nil
}

// tsaEndpoint is the timestamp endpoint a remote.tsa URL names: the URL
// itself, or, for a URL without a path (a sigil server's base URL, given
// as remote.ca and remote.tlog are), that server's /api/v1/timestamp.
// Signing configs name a TSA by its endpoint (the TSA host's own entry
// does), so a base URL would send clients to the wrong path and appear
// beside the TSA host's entry when the ceremony merges them.
func tsaEndpoint(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Path != "" || p.RawQuery != "" {
		// A path, even "/", is the endpoint: a TSA served at the root
		// of its host (as many public ones are) is named with a "/".
		return u
	}
	p.Path = "/api/v1/timestamp"
	return p.String()
}

// buildTrust assembles the trusted root and signing config from the
// services running here (and the remote URLs configured).
func (s *Server) buildTrust() error {
	tr := &trust.TrustedRoot{MediaType: trust.TrustedRootMediaTypeLegacy, TLogs: map[string]*trust.Log{}, CTLogs: map[string]*trust.Log{}}
	sc := &trust.SigningConfig{RekorConfig: trust.ServiceConfig{Selector: trust.SelectAny}, TSAConfig: trust.ServiceConfig{Selector: trust.SelectAny}}
	op := hostOf(s.cfg.PublicURL)
	if s.ca != nil {
		c, err := s.ca.TrustedCA()
		if err != nil {
			return fmt.Errorf("couldn't describe the CA: %w", err)
		}
		tr.CAs = append(tr.CAs, c)
		sc.CAs = append(sc.CAs, trust.Service{URL: s.cfg.PublicURL, MajorAPIVersion: 1, Valid: trust.Window{Start: c.Valid.Start}, Operator: op})
	} else if s.cfg.Remote.CA != "" {
		sc.CAs = append(sc.CAs, trust.Service{URL: s.cfg.Remote.CA, MajorAPIVersion: 1, Valid: trust.Window{Start: time.Unix(0, 0)}})
	}
	if s.ct != nil {
		l, err := s.ct.TrustedLog()
		if err != nil {
			return fmt.Errorf("couldn't describe the CT log: %w", err)
		}
		tr.CTLogs[l.HexID()] = l
	}
	if s.tlog != nil {
		logs, err := s.tlog.TrustedLogs()
		if err != nil {
			return err
		}
		for i, l := range logs {
			tr.TLogs[l.HexID()] = l
			// TrustedLogs lists the v2 log first, then v1.
			version := uint32(2 - i)
			if version == 2 && s.cfg.TLog.DisableV2 || version == 1 && s.cfg.TLog.DisableV1 {
				continue
			}
			sc.Rekors = append(sc.Rekors, trust.Service{URL: l.BaseURL, MajorAPIVersion: version, Valid: trust.Window{Start: l.Valid.Start}, Operator: op})
		}
	} else if s.cfg.Remote.TLog != "" {
		sc.Rekors = append(sc.Rekors, trust.Service{URL: s.cfg.Remote.TLog, MajorAPIVersion: 1, Valid: trust.Window{Start: time.Unix(0, 0)}})
	}
	if s.tsa != nil {
		t, err := s.tsa.TrustedTSA()
		if err != nil {
			return fmt.Errorf("couldn't describe the TSA: %w", err)
		}
		tr.TSAs = append(tr.TSAs, t)
		svc := s.tsa.SigningConfigService()
		svc.Operator = op
		sc.TSAs = append(sc.TSAs, svc)
	} else if s.cfg.Remote.TSA != "" {
		sc.TSAs = append(sc.TSAs, trust.Service{URL: tsaEndpoint(s.cfg.Remote.TSA), MajorAPIVersion: 1, Valid: trust.Window{Start: time.Unix(0, 0)}})
	}
	switch {
	case s.dev != nil:
		sc.OIDCProviders = append(sc.OIDCProviders, trust.Service{URL: s.dev.URL(), MajorAPIVersion: 1, Valid: trust.Window{Start: time.Unix(0, 0).UTC()}, Operator: op})
	case s.cfg.Remote.OIDC != "":
		sc.OIDCProviders = append(sc.OIDCProviders, trust.Service{URL: s.cfg.Remote.OIDC, MajorAPIVersion: 1, Valid: trust.Window{Start: time.Unix(0, 0).UTC()}})
	}
	if len(sc.TSAs) == 0 {
		sc.TSAConfig = trust.ServiceConfig{}
	}
	if len(sc.Rekors) == 0 {
		sc.RekorConfig = trust.ServiceConfig{}
	}
	// Round-trip both documents so the server serves exactly what parses.
	raw, err := tr.Marshal()
	if err != nil {
		return err
	}
	if s.trustedRoot, err = trust.ParseTrustedRoot(raw); err != nil {
		return fmt.Errorf("couldn't build the trusted root: %w", err)
	}
	raw, err = sc.Marshal()
	if err != nil {
		return err
	}
	if s.signingConfig, err = trust.ParseSigningConfig(raw); err != nil {
		return fmt.Errorf("couldn't build the signing config: %w", err)
	}
	return nil
}

func (s *Server) startTUF(ctx context.Context) error {
	var err error
	s.tuf, err = tuf.New(tuf.Config{Dir: filepath.Join(s.cfg.DataDir, "tuf"), Dev: s.cfg.Dev, Logger: s.log.With("service", "tuf"), Registerer: s.reg})
	if err != nil {
		return fmt.Errorf("couldn't start the TUF repository: %w", err)
	}
	if s.ca == nil || s.tlog == nil {
		// The CA or the logs run elsewhere: the trusted root this host
		// can build lacks their keys, and publishing it would break
		// every verification. The targets come from the ceremony.
		s.log.Warn("this host serves TUF without the CA or the transparency logs, so it publishes only targets signed in the `sigil tuf` ceremony: merge the /trusted_root.json and /signing_config.json every host serves with `sigil tuf merge` and add them with `sigil tuf add-target`", "remote_ca", s.cfg.Remote.CA, "remote_tlog", s.cfg.Remote.TLog)
	} else {
		if err := s.keepRetiredTrust(time.Now()); err != nil {
			return err
		}
		root := s.trustedRoot
		if s.tufRoot != nil {
			root = s.tufRoot
		}
		if s.tsa == nil && s.cfg.Remote.TSA != "" && len(root.TSAs) == 0 {
			// The TSA the signing config names runs elsewhere and no
			// published root lists its chain yet: without it every
			// Rekor v2 entry's time fails verification. The first
			// trusted root comes from the ceremony's merge; later
			// starts keep the TSA it lists (keepRetiredTrust).
			s.log.Warn("the timestamp authority runs elsewhere (remote.tsa) and no published trusted root lists it, so this host publishes none of its own: merge the /trusted_root.json and /signing_config.json every host serves with `sigil tuf merge` and add them with `sigil tuf add-target`", "remote_tsa", s.cfg.Remote.TSA)
		} else if err := s.publishTrust(); err != nil {
			return err
		}
	}
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		if err := s.tuf.Run(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("TUF refresher stopped", "err", err)
		}
	}()
	s.mux.Handle("/tuf/", http.StripPrefix("/tuf", s.tuf.Handler()))
	return nil
}

// keepRetiredTrust adds to the trusted root this server built what the
// trusted root its TUF repository published last lists and this server no
// longer runs: the CA after "sigil ca intermediate", a TSA chain or a log
// key replaced. Each stays, valid until now if it was still open, so that
// every bundle signed before the rotation still verifies
// (trust.KeepRetired). An entry is dropped only through the ceremony:
// publish a trusted root without it (sigil tuf add-target), and the next
// start keeps nothing that is not published.
//
// Another operator's entries that the published root lists (a remote
// TSA's, merged in the ceremony) stay in what TUF publishes, but not in
// the /trusted_root.json this host serves, which describes the services
// it runs (trust.KeepReplaced): "sigil tuf merge" takes that document, and
// a copy of a remote TSA's entry in it would keep the chain that TSA's
// host replaced valid, open-ended, beside the new one.
func (s *Server) keepRetiredTrust(now time.Time) error {
	raw, err := s.tuf.Repo().Target(tuf.TargetTrustedRoot)
	if errors.Is(err, tuf.ErrNoTarget) {
		return nil // nothing published yet
	}
	if err != nil {
		// Publishing without what it lists would drop the keys it
		// keeps for older bundles: fail instead.
		return fmt.Errorf("couldn't read the published trusted root: %w", err)
	}
	prev, err := trust.ParseTrustedRoot(raw)
	if err != nil {
		return fmt.Errorf("couldn't read the published trusted root: %w", err)
	}
	merged, kept := trust.KeepRetired(s.trustedRoot, prev, now)
	if len(kept) == 0 {
		return nil
	}
	if staged := s.stagedTrustedRoot(); staged != nil {
		// A start before the ceremony: the published root still lists
		// the replaced items open, and the trusted root an earlier start
		// staged for the ceremony retired them at that start. Retire
		// them at the same time again, rather than at every restart
		// until the ceremony (which moved the end of a replaced, maybe
		// compromised, key later each time and changed the file under
		// review), when that gives exactly the staged root.
		again := trust.EndsFrom(prev, staged, now)
		if m, k := trust.KeepRetired(s.trustedRoot, again, now); sameTrustedRoot(m, staged) {
			prev, merged, kept = again, m, k
		}
	}
	if raw, err = merged.Marshal(); err != nil {
		return err
	}
	if s.tufRoot, err = trust.ParseTrustedRoot(raw); err != nil {
		return fmt.Errorf("couldn't build the trusted root: %w", err)
	}
	if raw, err = trust.KeepReplaced(s.trustedRoot, prev, now).Marshal(); err != nil {
		return err
	}
	if s.trustedRoot, err = trust.ParseTrustedRoot(raw); err != nil {
		return fmt.Errorf("couldn't build the trusted root: %w", err)
	}
	for _, k := range kept {
		s.log.Info("the published trusted root lists a key or CA this server no longer uses: kept, so that what it signed still verifies", "retired", k)
	}
	return nil
}

// stagedTrustedRoot returns the trusted root an earlier start staged for
// the offline targets keys (production), or nil.
func (s *Server) stagedTrustedRoot() *trust.TrustedRoot {
	if s.cfg.Dev {
		return nil
	}
	raw, err := s.tuf.Incoming(tuf.TargetTrustedRoot)
	if err != nil {
		return nil
	}
	tr, err := trust.ParseTrustedRoot(raw)
	if err != nil {
		return nil
	}
	return tr
}

// sameTrustedRoot reports whether a and b describe the same trusted root:
// both are marshalled by this binary, whose protojson spaces alike.
func sameTrustedRoot(a, b *trust.TrustedRoot) bool {
	ra, err := a.Marshal()
	if err != nil {
		return false
	}
	rb, err := b.Marshal()
	return err == nil && bytes.Equal(ra, rb)
}

// publishTrust hands the trusted root and signing config this server built
// to its TUF repository (staged for the offline targets keys in
// production).
func (s *Server) publishTrust() error {
	root := s.trustedRoot
	if s.tufRoot != nil {
		root = s.tufRoot
	}
	tr, err := root.Marshal()
	if err != nil {
		return err
	}
	sc, err := s.signingConfig.Marshal()
	if err != nil {
		return err
	}
	if err := s.tuf.SetTargets(map[string][]byte{tuf.TargetTrustedRoot: tr, tuf.TargetSigningConfig: sc}); err != nil {
		if !errors.Is(err, tuf.ErrTargetsOffline) {
			return fmt.Errorf("couldn't publish the trust targets: %w", err)
		}
		s.log.Warn("the trusted root or signing config changed and needs the offline targets keys: run the `sigil tuf` ceremony", "err", err)
	}
	return nil
}

// Handler returns the server's routes.
func (s *Server) Handler() http.Handler { return s.mux }

// TrustedRoot returns the trusted root the server serves at
// /trusted_root.json: the services it runs, and what it replaced. Its TUF
// repository also keeps other operators' entries that the published root
// lists.
func (s *Server) TrustedRoot() *trust.TrustedRoot { return s.trustedRoot }

// SigningConfig returns the signing config the server publishes.
func (s *Server) SigningConfig() *trust.SigningConfig { return s.signingConfig }

// FirstStart reports whether this start created the data directory.
func (s *Server) FirstStart() bool { return s.firstStart }

// PublicURL returns the base URL of the services.
func (s *Server) PublicURL() string { return s.cfg.PublicURL }

// TUFRootPath returns the path of the TUF root.json clients bootstrap
// trust from, or "" without TUF.
func (s *Server) TUFRootPath() string {
	if s.tuf == nil {
		return ""
	}
	return s.tuf.RootPath()
}

// DevIssuerURL returns the dev issuer's URL, or "".
func (s *Server) DevIssuerURL() string {
	if s.dev == nil {
		return ""
	}
	return s.dev.URL()
}

// DevIssuer returns the dev issuer, or nil.
func (s *Server) DevIssuer() *dev.Issuer { return s.dev }

// readTimeout bounds a client that stalls its request body (every API here
// takes small bodies; the log's writes use 30 s of their own);
// writeTimeout, longer, bounds an answer a client does not read and leaves
// time to answer a stalled body. Variables for tests.
var (
	readTimeout  = time.Minute
	writeTimeout = 90 * time.Second
)

// Serve serves on l until ctx is done, then shuts down gracefully: new
// connections stop, requests in flight finish (up to 30 s), then the
// services close (each drains its writes, so nothing acknowledged is lost).
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	srv := &http.Server{Handler: s.mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: readTimeout, WriteTimeout: writeTimeout, IdleTimeout: 2 * time.Minute,
		// net/http's own messages (TLS handshake errors…) as structured logs.
		ErrorLog: slog.NewLogLogger(s.log.With("service", "http").Handler(), slog.LevelWarn)}
	if a, ok := l.Addr().(*net.TCPAddr); ok && s.cfg.TLSCert == "" && !a.IP.IsLoopback() {
		s.log.Warn("serving plain HTTP on a non-loopback address: identity tokens and everything else cross the network in clear; set tlsCert and tlsKey, or put a TLS proxy in front", "listen", l.Addr().String())
	}
	s.mu.Lock()
	s.httpSrv = srv
	s.mu.Unlock()
	// Connections beyond the open-file limit would leave the logs no file
	// to open: Tessera panics, and the server with it.
	l = connlimit.Listener(l)
	if s.certs != nil {
		srv.TLSConfig = &tls.Config{GetCertificate: s.certs.getCertificate}
	}
	errc := make(chan error, 1)
	go func() {
		if s.cfg.TLSCert != "" {
			errc <- srv.ServeTLS(l, "", "")
		} else {
			errc <- srv.Serve(l)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	return err
}

// Listen opens the configured listener.
func (s *Server) Listen() (net.Listener, error) {
	l, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("couldn't listen on %s: %w", s.cfg.Listen, err)
	}
	return l, nil
}

// Close stops the services in reverse order of start.
func (s *Server) Close() error {
	if s.cancel != nil {
		s.cancel()
	}
	s.bg.Wait() // the TUF refresher, which writes into the data directory
	var errs []string
	for i := len(s.closer) - 1; i >= 0; i-- {
		if err := s.closer[i](); err != nil {
			errs = append(errs, err.Error())
		}
	}
	s.closer = nil
	if len(errs) > 0 {
		return errors.New("couldn't close cleanly: " + strings.Join(errs, "; "))
	}
	return nil
}
