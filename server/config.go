package server

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config configures a server. The zero value plus a DataDir is a complete
// development instance on 127.0.0.1:8080. A YAML file with the same keys
// (see LoadConfig) configures production.
type Config struct {
	// DataDir holds all state: CA chain and keys, logs, TSA keys, the TUF
	// repository, the dev issuer key. Created on first start.
	DataDir string `yaml:"dataDir"`
	// Listen is the address to serve on; default 127.0.0.1:8080.
	Listen string `yaml:"listen"`
	// PublicURL is how clients reach this server; every service's URL in
	// the trusted root and signing config derives from it. Default
	// http://<Listen> (https:// with TLS).
	PublicURL string `yaml:"publicURL"`
	// TLS certificate and key files; without them the server speaks plain
	// HTTP (fine on loopback, not elsewhere). When the certificate file
	// changes (a renewal), the pair is read again within a second of the
	// next handshake; a pair that does not load keeps the previous one.
	TLSCert string `yaml:"tlsCert"`
	TLSKey  string `yaml:"tlsKey"`

	// Dev runs the built-in OIDC issuer, generates the TUF root and targets
	// keys locally and keeps the CA key password in DataDir. Production
	// (Dev false) reads issuers from CA.Issuers, the CA key password from
	// CA.PasswordEnv/PasswordFile, and TUF root and targets come from an
	// offline ceremony (sigil tuf).
	Dev bool `yaml:"dev"`
	// ForceDevIssuer allows the dev issuer on a non-loopback address:
	// anyone who reaches it can then sign as the dev identity.
	ForceDevIssuer bool `yaml:"forceDevIssuer"`
	// DevIdentity is the email the dev issuer approves; default
	// dev@sigil.test.
	DevIdentity string `yaml:"devIdentity"`

	// Services to run here; all when empty. Names: ca, ct, tlog, tsa, tuf,
	// oidc (the dev issuer).
	Services []string `yaml:"services"`
	// URLs of services run elsewhere, for the trusted root and signing
	// config this server publishes (multi-host deployments).
	Remote RemoteURLs `yaml:"remote"`

	CA   CAConfig   `yaml:"ca"`
	TLog TLogConfig `yaml:"tlog"`
}

// RemoteURLs point at services that run on other hosts (YAML keys ca,
// tlog, tsa, oidc): the signing config this server builds names them
// (without an operator, valid since 1970: the running host's own entry
// replaces it when `sigil tuf merge` combines the hosts' signing configs),
// and oidc names the issuer clients sign in at (also an external identity
// provider, when this host runs every service). A host that runs TUF
// without the CA or the logs publishes no trusted root of its own (it
// would lack their keys): merge the ones the hosts serve at
// /trusted_root.json into the ceremony; so does a host with a remote tsa
// until a published trusted root lists that TSA. tsa is the timestamp
// endpoint; a URL without a path is taken as a sigil server's base URL,
// whose endpoint is /api/v1/timestamp (name a TSA served at the root of
// its host with a "/" path: https://tsa.example/).
type RemoteURLs struct {
	CA   string `yaml:"ca"`
	TLog string `yaml:"tlog"`
	TSA  string `yaml:"tsa"`
	OIDC string `yaml:"oidc"`
}

// CAConfig configures the certificate authority.
type CAConfig struct {
	// Issuers is the OIDC issuer configuration file (Fulcio's format);
	// dev mode trusts the dev issuer and adds these.
	Issuers string `yaml:"issuers"`
	// KeyType of a CA made on first start: ecdsa-p256 (default) or
	// ecdsa-p384.
	KeyType string `yaml:"keyType"`
	// PasswordEnv or PasswordFile give the password of the CA key files.
	PasswordEnv  string `yaml:"passwordEnv"`
	PasswordFile string `yaml:"passwordFile"`
	// PKCS11 is a PKCS#11 URI of the issuing key instead of a file.
	PKCS11 string `yaml:"pkcs11"`
	// Lifetime of certificates; default 10m.
	Lifetime time.Duration `yaml:"lifetime"`
	// DetachedSCT returns SCTs beside certificates instead of embedded.
	// Bundles carry no detached SCT, so verifiers (sigil, cosign,
	// sigstore-go) refuse the certificates by default, as they do those
	// of a CA without a CT log: only for clients that need it.
	DetachedSCT bool `yaml:"detachedSCT"`
}

// TLogConfig configures the transparency logs.
type TLogConfig struct {
	// V1 and V2 choose which logs run; both by default. A disabled
	// log's API is not served (404) and the signing config does not name
	// it; its key stays in the trusted root.
	DisableV1 bool `yaml:"disableV1"`
	DisableV2 bool `yaml:"disableV2"`
	// CheckpointInterval of the logs' published checkpoints.
	CheckpointInterval time.Duration `yaml:"checkpointInterval"`
}

// Service names.
const (
	SvcCA   = "ca"
	SvcCT   = "ct"
	SvcTLog = "tlog"
	SvcTSA  = "tsa"
	SvcTUF  = "tuf"
	SvcOIDC = "oidc"
)

var allServices = []string{SvcCA, SvcCT, SvcTLog, SvcTSA, SvcTUF, SvcOIDC}

// LoadConfig reads a YAML configuration file. Unknown keys are errors.
func LoadConfig(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("couldn't read configuration: %w", err)
	}
	defer f.Close()
	var c Config
	d := yaml.NewDecoder(f)
	d.KnownFields(true)
	if err := d.Decode(&c); err != nil {
		if errors.Is(err, io.EOF) {
			// yaml.v3 answers a file with no document with a bare EOF.
			return nil, fmt.Errorf("couldn't parse configuration %s: it is empty (no YAML document)", path)
		}
		return nil, fmt.Errorf("couldn't parse configuration %s: %w", path, err)
	}
	return &c, nil
}

// runs reports whether the service runs here.
func (c *Config) runs(name string) bool {
	if len(c.Services) == 0 {
		return name != SvcOIDC || c.Dev
	}
	for _, s := range c.Services {
		if s == name {
			return true
		}
	}
	return false
}

// normalize fills defaults and validates, with messages that say what to fix.
func (c *Config) normalize() error {
	var errs []string
	if c.DataDir == "" {
		errs = append(errs, "dataDir: required (where sigil keeps its keys and logs)")
	} else if abs, err := filepath.Abs(c.DataDir); err == nil {
		c.DataDir = abs
	}
	if c.Listen == "" {
		c.Listen = "127.0.0.1:8080"
	}
	host, _, err := net.SplitHostPort(c.Listen)
	if err != nil {
		errs = append(errs, fmt.Sprintf("listen: %q is not host:port (e.g. 127.0.0.1:8080)", c.Listen))
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, "tlsCert and tlsKey: give both or neither")
	}
	if c.PublicURL == "" {
		scheme := "http"
		if c.TLSCert != "" {
			scheme = "https"
		}
		if host == "" || host == "0.0.0.0" || host == "::" {
			errs = append(errs, "publicURL: required when listening on all interfaces (how do clients reach this server?)")
		}
		c.PublicURL = scheme + "://" + c.Listen
	}
	c.PublicURL = strings.TrimSuffix(c.PublicURL, "/")
	if u, err := url.Parse(c.PublicURL); err != nil || u.Scheme == "" || u.Host == "" || u.Path != "" {
		errs = append(errs, fmt.Sprintf("publicURL: %q must be scheme://host[:port], without a path", c.PublicURL))
	}
	for _, s := range c.Services {
		known := false
		for _, a := range allServices {
			known = known || s == a
		}
		if !known {
			errs = append(errs, fmt.Sprintf("services: unknown service %q (known: %s)", s, strings.Join(allServices, ", ")))
		}
	}
	if c.runs(SvcOIDC) && !c.Dev {
		errs = append(errs, "services: the oidc dev issuer runs only with dev: true")
	}
	if !c.Dev && c.runs(SvcCA) && c.CA.Issuers == "" {
		errs = append(errs, "ca.issuers: required outside dev mode (the OIDC issuers the CA trusts, in Fulcio's format)")
	}
	if c.Dev && c.runs(SvcCA) && !c.runs(SvcOIDC) && c.CA.Issuers == "" {
		// The dev CA trusts the dev issuer only where it runs.
		errs = append(errs, "ca.issuers: required when the dev issuer does not run on this host (the OIDC issuers the CA trusts, in Fulcio's format), or add oidc to --services")
	}
	if !c.Dev && c.runs(SvcCA) && c.CA.PasswordEnv == "" && c.CA.PasswordFile == "" && c.CA.PKCS11 == "" {
		errs = append(errs, "ca.passwordEnv or ca.passwordFile (or ca.pkcs11): required outside dev mode to unlock the CA key")
	}
	if c.TLog.DisableV1 && c.TLog.DisableV2 && c.runs(SvcTLog) {
		errs = append(errs, "tlog: both logs disabled; drop tlog from services instead")
	}
	if c.DevIdentity == "" {
		c.DevIdentity = "dev@sigil.test"
	}
	if len(errs) > 0 {
		return errors.New("invalid configuration:\n  " + strings.Join(errs, "\n  "))
	}
	return nil
}
