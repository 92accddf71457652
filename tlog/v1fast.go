package tlog

import "encoding/base64"

// fastParseProposed decodes the usual shape of a Rekor v1 write — a
// hashedrekord 0.0.1 proposal with plain strings, each field once, no
// other fields — in one pass without reflection. For anything else it
// returns ok=false and the caller decodes with encoding/json, which
// decides. Whenever it succeeds, its result equals encoding/json's
// (FuzzFastParseProposed checks this).
func fastParseProposed(data []byte) (pe *proposedEntry, ok bool) {
	p := fastParser{b: data}
	pe = &proposedEntry{}
	var kind, version []byte
	if !p.object(func(key string) bool {
		switch key {
		case "kind":
			kind, ok = p.str()
			return ok
		case "apiVersion":
			version, ok = p.str()
			return ok
		case "spec":
			pe.Spec = &v1Spec{}
			return p.object(func(key string) bool {
				switch key {
				case "signature":
					sg := &hrSignature{}
					pe.Spec.Signature = sg
					return p.object(func(key string) bool {
						switch key {
						case "content":
							return p.std64(&sg.Content)
						case "publicKey":
							sg.PublicKey = &hrPublicKey{}
							return p.object(func(key string) bool { return key == "content" && p.std64(&sg.PublicKey.Content) })
						}
						return false
					})
				case "data":
					d := &hrData{}
					pe.Spec.Data = d
					return p.object(func(key string) bool {
						if key != "hash" {
							return false
						}
						d.Hash = &v1HashJSON{}
						return p.object(func(key string) bool {
							var v []byte
							switch key {
							case "algorithm":
								v, ok = p.str()
								d.Hash.Algorithm = string(v)
							case "value":
								v, ok = p.str()
								d.Hash.Value = string(v)
							default:
								return false
							}
							return ok
						})
					})
				}
				return false
			})
		}
		return false
	}) {
		return nil, false
	}
	p.ws()
	if p.i != len(p.b) || string(kind) != "hashedrekord" || string(version) != "0.0.1" || pe.Spec == nil {
		return nil, false
	}
	pe.Kind, pe.APIVersion = string(kind), string(version)
	return pe, true
}

// std64 reads a base64 string as encoding/json decodes []byte: standard
// alphabet, padded.
func (p *fastParser) std64(dst *[]byte) bool {
	if *dst != nil {
		return false
	}
	s, ok := p.str()
	if !ok {
		return false
	}
	d := make([]byte, base64.StdEncoding.DecodedLen(len(s)))
	n, err := base64.StdEncoding.Decode(d, s)
	if err != nil || n == 0 {
		return false
	}
	*dst = d[:n]
	return true
}
