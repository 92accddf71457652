package ca

import (
	"crypto"
	"crypto/x509"
	"math/big"
	"time"

	"sigil.dev/sigil/cert"
	"sigil.dev/sigil/oidc"
)

// BuiltTBS is what ExportedBuildTBS returns.
type BuiltTBS struct {
	TBS       []byte
	Serial    *big.Int
	NotBefore time.Time
}

// ExportedBuildTBS encodes the TBSCertificate the service would sign for p
// and pub at now, with the poison when precert is set.
func ExportedBuildTBS(s *Service, p *oidc.Principal, pub crypto.PublicKey, now time.Time, precert bool) (*BuiltTBS, error) {
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	saved := s.cfg.Now
	s.cfg.Now = func() time.Time { return now }
	defer func() { s.cfg.Now = saved }()
	l, err := s.newLeaf(p, spki)
	if err != nil {
		return nil, err
	}
	var extra []extension
	if precert {
		extra = append(extra, extension{id: cert.OIDPrecertPoison, critical: true, value: poisonValue})
	}
	tbs, err := s.tbs(l, extra...)
	return &BuiltTBS{TBS: tbs, Serial: l.serial, NotBefore: l.notBefore}, err
}
