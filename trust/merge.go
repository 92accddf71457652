package trust

import (
	"crypto/sha256"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
)

// MergeTrustedRoots combines trusted roots into one: the parts that the
// hosts of a split deployment publish (each serves, at /trusted_root.json,
// the CA, CT log, transparency logs or TSA it runs) become the
// deployment's trusted root. Logs are matched by log ID and authorities by
// their certificate chain; an item listed by several inputs must be
// described identically by each (a difference means two hosts disagree
// about a key or its validity, which the operator must resolve), and
// appears once. The result keeps the inputs' order for authorities and
// carries the legacy media type.
func MergeTrustedRoots(roots ...*TrustedRoot) (*TrustedRoot, error) {
	out := &TrustedRoot{MediaType: TrustedRootMediaTypeLegacy, TLogs: map[string]*Log{}, CTLogs: map[string]*Log{}}
	mergeLogs := func(dst, src map[string]*Log, what string) error {
		for id, l := range src {
			have, ok := dst[id]
			if !ok {
				dst[id] = l
				continue
			}
			if !proto.Equal(have.proto(), l.proto()) {
				return fmt.Errorf("couldn't merge the trusted roots: %s %s is described differently (base URLs %s and %s, validity %s and %s)", what, id, have.BaseURL, l.BaseURL, have.Valid, l.Valid)
			}
		}
		return nil
	}
	mergeCAs := func(dst []*CA, src []*CA, what string) ([]*CA, error) {
	next:
		for _, c := range src {
			for _, have := range dst {
				if chainDigest(have) != chainDigest(c) {
					continue
				}
				if !proto.Equal(have.proto(), c.proto()) {
					return nil, fmt.Errorf("couldn't merge the trusted roots: the %s %q (root %q) is described differently (validity %s and %s, URIs %q and %q)", what, c.CommonName, c.Root.Subject.CommonName, have.Valid, c.Valid, have.URI, c.URI)
				}
				continue next
			}
			dst = append(dst, c)
		}
		return dst, nil
	}
	for _, tr := range roots {
		var err error
		if err = mergeLogs(out.TLogs, tr.TLogs, "transparency log"); err != nil {
			return nil, err
		}
		if err = mergeLogs(out.CTLogs, tr.CTLogs, "CT log"); err != nil {
			return nil, err
		}
		if out.CAs, err = mergeCAs(out.CAs, tr.CAs, "certificate authority"); err != nil {
			return nil, err
		}
		if out.TSAs, err = mergeCAs(out.TSAs, tr.TSAs, "timestamp authority"); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// chainDigest identifies an authority by its certificates, leaf first.
func chainDigest(c *CA) [32]byte {
	h := sha256.New()
	for _, x := range c.proto().GetCertChain().GetCertificates() {
		fmt.Fprintf(h, "%d:", len(x.GetRawBytes()))
		h.Write(x.GetRawBytes())
	}
	var d [32]byte
	h.Sum(d[:0])
	return d
}

// MergeSigningConfigs combines the signing configs that the hosts of a
// split deployment publish into one. Services are matched by URL (a
// trailing slash ignored) and major API version. A host describes a
// service it runs with its operator and validity start, and one it only
// knows by URL (server's remote: URLs) without an operator, valid since
// 1970: where both forms meet, the running host's description wins. A
// remote transparency log entry guesses the API version (a server's
// remote.tlog is named as v1); where a running host describes that URL, it
// lists the APIs it serves there, and the guess goes (a log host with
// tlog.disableV1 serves no v1 API for clients to be sent to). Two
// different descriptions by running hosts, or different selectors for the
// same kind of service, are an error. A kind of service listed without a
// selector gets ANY.
func MergeSigningConfigs(configs ...*SigningConfig) (*SigningConfig, error) {
	out := &SigningConfig{}
	merge := func(dst []Service, src []Service, what string) ([]Service, error) {
	next:
		for _, s := range src {
			for i, have := range dst {
				if !sameService(have, s) {
					continue
				}
				switch {
				case have == s:
				case have.Operator == "" && s.Operator != "":
					dst[i] = s
				case s.Operator == "" && have.Operator != "":
				default:
					return nil, fmt.Errorf("couldn't merge the signing configs: the %s %s (API v%d) is described differently (operators %q and %q, validity %s and %s)", what, s.URL, s.MajorAPIVersion, have.Operator, s.Operator, have.Valid, s.Valid)
				}
				continue next
			}
			dst = append(dst, s)
		}
		return dst, nil
	}
	selector := func(have, c ServiceConfig, what string) (ServiceConfig, error) {
		switch {
		case c.Selector == "" || have == c:
			return have, nil
		case have.Selector == "":
			return c, nil
		}
		return ServiceConfig{}, fmt.Errorf("couldn't merge the signing configs: the %s selectors differ (%s and %s)", what, have, c)
	}
	for _, sc := range configs {
		var err error
		if out.CAs, err = merge(out.CAs, sc.CAs, "CA"); err != nil {
			return nil, err
		}
		if out.OIDCProviders, err = merge(out.OIDCProviders, sc.OIDCProviders, "OIDC provider"); err != nil {
			return nil, err
		}
		if out.Rekors, err = merge(out.Rekors, sc.Rekors, "transparency log"); err != nil {
			return nil, err
		}
		if out.TSAs, err = merge(out.TSAs, sc.TSAs, "timestamp authority"); err != nil {
			return nil, err
		}
		if out.RekorConfig, err = selector(out.RekorConfig, sc.RekorConfig, "transparency log"); err != nil {
			return nil, err
		}
		if out.TSAConfig, err = selector(out.TSAConfig, sc.TSAConfig, "timestamp authority"); err != nil {
			return nil, err
		}
	}
	out.Rekors = dropDescribedRemotes(out.Rekors)
	if len(out.Rekors) > 0 && out.RekorConfig.Selector == "" {
		out.RekorConfig.Selector = SelectAny
	}
	if len(out.TSAs) > 0 && out.TSAConfig.Selector == "" {
		out.TSAConfig.Selector = SelectAny
	}
	if out.RekorConfig.Selector == SelectExact && int(out.RekorConfig.Count) > len(out.Rekors) ||
		out.TSAConfig.Selector == SelectExact && int(out.TSAConfig.Count) > len(out.TSAs) {
		return nil, fmt.Errorf("couldn't merge the signing configs: an EXACT selector asks for more services than are listed")
	}
	return out, nil
}

// dropDescribedRemotes returns svcs without the remote entries (no
// operator) whose URL a running host describes under any API version.
func dropDescribedRemotes(svcs []Service) []Service {
	own := map[string]bool{}
	for _, s := range svcs {
		if s.Operator != "" {
			own[strings.TrimSuffix(s.URL, "/")] = true
		}
	}
	var out []Service
	for _, s := range svcs {
		if s.Operator == "" && own[strings.TrimSuffix(s.URL, "/")] {
			continue
		}
		out = append(out, s)
	}
	return out
}

func sameService(a, b Service) bool {
	return a.MajorAPIVersion == b.MajorAPIVersion && strings.TrimSuffix(a.URL, "/") == strings.TrimSuffix(b.URL, "/")
}

// String shows the selector: ALL, ANY, "EXACT n", or none.
func (c ServiceConfig) String() string {
	switch c.Selector {
	case "":
		return "none"
	case SelectExact:
		return fmt.Sprintf("EXACT %d", c.Count)
	}
	return c.Selector
}

// KeepRetired returns current with what previous (the trusted root
// published before) lists and current does not. An authority is matched
// by its chain and a log by its log ID, as MergeTrustedRoots matches them.
//
// An item of previous that current replaced is retired: a CA or TSA with
// the URI of one of current's (its chain replaced, as by sigil ca
// intermediate), a log or CT log with the base URL of one of current's
// (its key replaced). It keeps its description, and a validity still open
// ends at retiredAt, rounded up to the second (never before its start), so that what it signed
// while it served still verifies and nothing it signs later does; a
// validity already closed keeps its end. This is how Sigstore's public
// trusted root keeps a rotated Fulcio intermediate or Rekor key: the old
// entry stays with a validFor end.
//
// Any other item of previous (another operator's CA or log that the
// published root also trusts) is kept as it is.
//
// Authorities keep previous's order (oldest first, as the public trusted
// root lists them), current's taking the place of the same chain there;
// current's new ones come last, so a published root that already lists
// everything current does comes back unchanged. KeepRetired
// returns the result and a description of each item it added, for the
// operator's log.
func KeepRetired(current, previous *TrustedRoot, retiredAt time.Time) (*TrustedRoot, []string) {
	return keepRetired(current, previous, retiredAt, true)
}

// KeepReplaced is KeepRetired without another operator's entries: it adds
// to current only what current replaced (retired as KeepRetired retires
// it). This is the part of the history a host that runs current's
// services describes itself (its /trusted_root.json); entries it only
// copied from the published root would keep, in a later "sigil tuf
// merge", a key their own host has replaced valid and open-ended.
func KeepReplaced(current, previous *TrustedRoot, retiredAt time.Time) *TrustedRoot {
	out, _ := keepRetired(current, previous, retiredAt, false)
	return out
}

func keepRetired(current, previous *TrustedRoot, retiredAt time.Time, foreign bool) (*TrustedRoot, []string) {
	out := &TrustedRoot{MediaType: current.MediaType, TLogs: map[string]*Log{}, CTLogs: map[string]*Log{}}
	var notes []string
	// The end is retiredAt rounded up to the second (trusted roots state
	// whole seconds): rounded down, a signature timestamped earlier in the
	// same second (a TSA's time has fractions) would fall outside it.
	end := retiredAt.UTC().Truncate(time.Second)
	if end.Before(retiredAt) {
		end = end.Add(time.Second)
	}
	closeAt := func(w Window) Window {
		if w.End.IsZero() {
			w.End = end
			if w.End.Before(w.Start) {
				w.End = w.Start
			}
		}
		return w
	}
	// retire decides for an item of previous that current does not list:
	// one at a URL current serves was replaced (retired, its validity
	// closed); another is another operator's, kept as published, or
	// dropped when foreign entries are not wanted.
	retire := func(current map[string]bool, url string, v Window) (Window, string, bool) {
		if current[strings.TrimSuffix(url, "/")] {
			return closeAt(v), "retired", true
		}
		return v, "kept as published", foreign
	}
	logs := func(dst, cur, prev map[string]*Log, what string) {
		urls := map[string]bool{}
		for id, l := range cur {
			dst[id] = l
			urls[strings.TrimSuffix(l.BaseURL, "/")] = true
		}
		for id, l := range prev {
			if _, ok := cur[id]; ok {
				continue
			}
			r := *l
			var state string
			var keep bool
			if r.Valid, state, keep = retire(urls, l.BaseURL, l.Valid); !keep {
				continue
			}
			dst[id] = &r
			notes = append(notes, fmt.Sprintf("%s %s: %s (%s), valid %s", state, what, id, l.BaseURL, r.Valid))
		}
	}
	logs(out.TLogs, current.TLogs, previous.TLogs, "transparency log")
	logs(out.CTLogs, current.CTLogs, previous.CTLogs, "CT log")
	cas := func(cur, prev []*CA, what string) []*CA {
		uris := map[string]bool{}
		for _, c := range cur {
			uris[strings.TrimSuffix(c.URI, "/")] = true
		}
		digests := make([][32]byte, len(cur))
		for i, c := range cur {
			digests[i] = chainDigest(c)
		}
		var res []*CA
		used := map[*CA]bool{}
	next:
		for _, c := range prev {
			d := chainDigest(c)
			for i, have := range cur {
				if digests[i] == d {
					// In previous's place: a published root that lists
					// current's authorities among others keeps its order.
					if !used[have] {
						used[have] = true
						res = append(res, have)
					}
					continue next
				}
			}
			r := *c
			var state string
			var keep bool
			if r.Valid, state, keep = retire(uris, c.URI, c.Valid); !keep {
				continue
			}
			res = append(res, &r)
			notes = append(notes, fmt.Sprintf("%s %s: %q (root %q, %s), valid %s", state, what, c.CommonName, c.Root.Subject.CommonName, c.URI, r.Valid))
		}
		for _, c := range cur {
			if !used[c] {
				res = append(res, c)
			}
		}
		return res
	}
	out.CAs = cas(current.CAs, previous.CAs, "certificate authority")
	out.TSAs = cas(current.TSAs, previous.TSAs, "timestamp authority")
	return out, notes
}

// EndsFrom returns a copy of previous in which each item with an open
// validity takes the end that staged gives the same item (matched as
// KeepRetired matches: an authority by its chain, a log by its log ID),
// when staged closes it no later than limit and not before its start.
// Given a trusted root KeepRetired staged earlier, it makes KeepRetired
// retire the same items at the same time again.
func EndsFrom(previous, staged *TrustedRoot, limit time.Time) *TrustedRoot {
	end := func(open, closed Window) Window {
		if open.End.IsZero() && !closed.End.IsZero() && closed.Start.Equal(open.Start) && !closed.End.After(limit) && !closed.End.Before(open.Start) {
			open.End = closed.End
		}
		return open
	}
	out := *previous
	out.TLogs, out.CTLogs = map[string]*Log{}, map[string]*Log{}
	logs := func(dst, prev, st map[string]*Log) {
		for id, l := range prev {
			r := *l
			if s, ok := st[id]; ok {
				r.Valid = end(l.Valid, s.Valid)
			}
			dst[id] = &r
		}
	}
	logs(out.TLogs, previous.TLogs, staged.TLogs)
	logs(out.CTLogs, previous.CTLogs, staged.CTLogs)
	cas := func(prev, st []*CA) []*CA {
		var res []*CA
		for _, c := range prev {
			r := *c
			for _, s := range st {
				if chainDigest(s) == chainDigest(c) {
					r.Valid = end(c.Valid, s.Valid)
					break
				}
			}
			res = append(res, &r)
		}
		return res
	}
	out.CAs = cas(previous.CAs, staged.CAs)
	out.TSAs = cas(previous.TSAs, staged.TSAs)
	return &out
}
