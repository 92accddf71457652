package server

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// certReloader serves the TLS certificate from its files and reads them
// again when the certificate file changes, so a renewed certificate (from
// cert-manager, an ACME client, a cron job) is taken up without a restart.
// A reload that fails (the key not yet replaced beside the new
// certificate, say) keeps the previous certificate and is tried again.
type certReloader struct {
	certFile, keyFile string
	log               *slog.Logger
	now               func() time.Time

	mu      sync.Mutex
	cur     *tls.Certificate
	mod     time.Time // of certFile, when cur was loaded
	size    int64
	checked time.Time
}

// reloadCheck bounds how often the certificate file is looked at.
const reloadCheck = time.Second

func newCertReloader(certFile, keyFile string, log *slog.Logger) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile, log: log, now: time.Now}
	if err := r.load(); err != nil {
		return nil, err
	}
	return r, nil
}

// load reads the pair; the caller holds mu (or is the constructor).
func (r *certReloader) load() error {
	fi, err := os.Stat(r.certFile)
	if err != nil {
		return fmt.Errorf("couldn't read the TLS certificate: %w", err)
	}
	c, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("couldn't load the TLS certificate and key: %w", err)
	}
	r.cur, r.mod, r.size = &c, fi.ModTime(), fi.Size()
	return nil
}

// getCertificate is tls.Config.GetCertificate.
func (r *certReloader) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if now.Sub(r.checked) < reloadCheck {
		return r.cur, nil
	}
	r.checked = now
	fi, err := os.Stat(r.certFile)
	if err != nil || (fi.ModTime().Equal(r.mod) && fi.Size() == r.size) {
		return r.cur, nil
	}
	if err := r.load(); err != nil {
		r.log.Warn("keeping the current TLS certificate: "+err.Error(), "cert", r.certFile)
		return r.cur, nil
	}
	r.log.Info("reloaded the TLS certificate", "cert", r.certFile, "not_after", r.cur.Leaf.NotAfter)
	return r.cur, nil
}
