package trust

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"time"

	prototrust "github.com/sigstore/protobuf-specs/gen/pb-go/trustroot/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

// SigningConfigMediaType is the only signing-config media type clients
// accept (sigstore-go pkg/root/signing_config.go).
const SigningConfigMediaType = "application/vnd.dev.sigstore.signingconfig.v0.2+json"

// ErrSigningConfig wraps every error about a malformed signing config.
var ErrSigningConfig = errors.New("invalid signing config")

// SigningConfig says where a signer gets certificates, tokens, log entries
// and timestamps (dev.sigstore.trustroot.v1.SigningConfig, v0.2).
//
// URL semantics (sigstore/protobuf-specs): CA, OIDC and Rekor URLs are base
// URLs; TSA URLs are the full URL of the timestamp endpoint.
type SigningConfig struct {
	CAs, OIDCProviders, Rekors, TSAs []Service
	RekorConfig, TSAConfig           ServiceConfig
}

// Service is one endpoint of a signing config.
type Service struct {
	URL             string
	MajorAPIVersion uint32
	Valid           Window
	Operator        string
}

// Selector values of a ServiceConfig.
const (
	SelectAll   = "ALL"
	SelectAny   = "ANY"
	SelectExact = "EXACT"
)

// ServiceConfig says how many of a list of services a signer uses.
type ServiceConfig struct {
	Selector string // ALL, ANY or EXACT
	Count    uint32 // EXACT only
}

// ParseSigningConfig parses and validates a signing config v0.2.
func ParseSigningConfig(data []byte) (*SigningConfig, error) {
	var pb prototrust.SigningConfig
	if err := protojson.Unmarshal(data, &pb); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSigningConfig, err)
	}
	if pb.GetMediaType() != SigningConfigMediaType {
		return nil, fmt.Errorf("%w: unsupported media type %q (want %s)", ErrSigningConfig, pb.GetMediaType(), SigningConfigMediaType)
	}
	sc := &SigningConfig{}
	var err error
	if sc.CAs, err = services(pb.GetCaUrls(), "CA"); err != nil {
		return nil, err
	}
	if sc.OIDCProviders, err = services(pb.GetOidcUrls(), "OIDC provider"); err != nil {
		return nil, err
	}
	if sc.Rekors, err = services(pb.GetRekorTlogUrls(), "transparency log"); err != nil {
		return nil, err
	}
	if sc.TSAs, err = services(pb.GetTsaUrls(), "timestamp authority"); err != nil {
		return nil, err
	}
	if sc.RekorConfig, err = serviceConfig(pb.GetRekorTlogConfig(), len(sc.Rekors), "rekorTlogConfig"); err != nil {
		return nil, err
	}
	if sc.TSAConfig, err = serviceConfig(pb.GetTsaConfig(), len(sc.TSAs), "tsaConfig"); err != nil {
		return nil, err
	}
	return sc, nil
}

func services(in []*prototrust.Service, what string) ([]Service, error) {
	var out []Service
	for i, s := range in {
		u, err := url.Parse(s.GetUrl())
		if err != nil || u.Scheme == "" || u.Host == "" {
			return nil, fmt.Errorf("%w: %s %d: URL %q needs a scheme and a host", ErrSigningConfig, what, i, s.GetUrl())
		}
		if s.GetValidFor().GetStart() == nil {
			return nil, fmt.Errorf("%w: %s %d (%s): validFor needs a start", ErrSigningConfig, what, i, s.GetUrl())
		}
		out = append(out, Service{URL: s.GetUrl(), MajorAPIVersion: s.GetMajorApiVersion(), Valid: window(s.GetValidFor()), Operator: s.GetOperator()})
	}
	return out, nil
}

func serviceConfig(c *prototrust.ServiceConfiguration, n int, what string) (ServiceConfig, error) {
	if n == 0 && c == nil {
		return ServiceConfig{}, nil
	}
	sel := c.GetSelector()
	switch sel {
	case prototrust.ServiceSelector_ALL, prototrust.ServiceSelector_ANY:
		return ServiceConfig{Selector: sel.String()}, nil
	case prototrust.ServiceSelector_EXACT:
		if c.GetCount() == 0 || int(c.GetCount()) > n {
			return ServiceConfig{}, fmt.Errorf("%w: %s: EXACT needs a count between 1 and %d", ErrSigningConfig, what, n)
		}
		return ServiceConfig{Selector: SelectExact, Count: c.GetCount()}, nil
	}
	return ServiceConfig{}, fmt.Errorf("%w: %s: undefined selector", ErrSigningConfig, what)
}

// Marshal returns the signing config as indented JSON.
func (sc *SigningConfig) Marshal() ([]byte, error) {
	pb := &prototrust.SigningConfig{MediaType: SigningConfigMediaType}
	conv := func(in []Service) []*prototrust.Service {
		var out []*prototrust.Service
		for _, s := range in {
			out = append(out, &prototrust.Service{Url: s.URL, MajorApiVersion: s.MajorAPIVersion, ValidFor: s.Valid.proto(), Operator: s.Operator})
		}
		return out
	}
	cfg := func(c ServiceConfig) *prototrust.ServiceConfiguration {
		if c.Selector == "" {
			return nil
		}
		return &prototrust.ServiceConfiguration{Selector: prototrust.ServiceSelector(prototrust.ServiceSelector_value[c.Selector]), Count: c.Count}
	}
	pb.CaUrls, pb.OidcUrls, pb.RekorTlogUrls, pb.TsaUrls = conv(sc.CAs), conv(sc.OIDCProviders), conv(sc.Rekors), conv(sc.TSAs)
	pb.RekorTlogConfig, pb.TsaConfig = cfg(sc.RekorConfig), cfg(sc.TSAConfig)
	return protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(pb)
}

// newestFirst orders services by descending validity start.
func newestFirst(in []Service) []Service {
	s := slices.Clone(in)
	slices.SortStableFunc(s, func(a, b Service) int { return b.Valid.Start.Compare(a.Valid.Start) })
	return s
}

func descending(v []uint32) []uint32 {
	s := slices.Clone(v)
	slices.Sort(s)
	slices.Reverse(s)
	return s
}

// SelectService picks one service: the highest supported API version, then
// the newest service valid at now (sigstore-go SelectService).
func SelectService(services []Service, versions []uint32, now time.Time) (Service, error) {
	for _, v := range descending(versions) {
		for _, s := range newestFirst(services) {
			if s.MajorAPIVersion == v && s.Valid.Contains(now) {
				return s, nil
			}
		}
	}
	return Service{}, fmt.Errorf("no service valid at %s speaks API version %v", now.UTC().Format(time.RFC3339), versions)
}

// SelectServices picks services per the config (sigstore-go
// SelectServices): within the highest supported API version that has valid
// services, the newest per operator; then all of them, one at random, or
// Count at random.
func SelectServices(services []Service, cfg ServiceConfig, versions []uint32, now time.Time) ([]Service, error) {
	var picked []Service
	for _, v := range descending(versions) {
		ops := map[string]bool{}
		for _, s := range newestFirst(services) {
			if s.MajorAPIVersion == v && s.Valid.Contains(now) && !ops[s.Operator] {
				ops[s.Operator] = true
				picked = append(picked, s)
			}
		}
		if len(picked) > 0 {
			break
		}
	}
	if len(picked) == 0 {
		return nil, fmt.Errorf("no service valid at %s speaks API version %v", now.UTC().Format(time.RFC3339), versions)
	}
	switch cfg.Selector {
	case SelectAll:
		return picked, nil
	case SelectAny, "":
		return []Service{picked[rand.IntN(len(picked))]}, nil
	case SelectExact:
		if int(cfg.Count) > len(picked) {
			return nil, fmt.Errorf("signing config asks for exactly %d services, only %d are usable", cfg.Count, len(picked))
		}
		rand.Shuffle(len(picked), func(i, j int) { picked[i], picked[j] = picked[j], picked[i] })
		return picked[:cfg.Count], nil
	}
	return nil, fmt.Errorf("unknown selector %q", cfg.Selector)
}
