package tlog

import (
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
)

// fastParseV2 parses the usual shape of a write request — a
// hashedRekordRequestV002 with lowerCamelCase names, plain strings, each
// field once — in one pass without reflection; it is the hot path of the
// Rekor v2 API. For anything else (other names or kinds, escapes, null,
// numbers, repeated or unknown fields, empty values) it returns ok=false and
// the caller uses parseV2Request, which decides. Whenever it succeeds, its
// result equals parseV2Request's (FuzzFastParseV2 checks this).
func fastParseV2(data []byte) (r *v2Request, ok bool) {
	p := fastParser{b: data}
	r = &v2Request{}
	var sawKey, sawCert bool
	if !p.object(func(key string) bool {
		return key == "hashedRekordRequestV002" && p.object(func(key string) bool {
			switch key {
			case "digest":
				return p.b64(&r.digest)
			case "signature":
				return p.object(func(key string) bool {
					switch key {
					case "content":
						return p.b64(&r.sig)
					case "verifier":
						return p.object(func(key string) bool {
							switch key {
							case "publicKey":
								sawKey = true
								return p.object(func(key string) bool { return key == "rawBytes" && p.b64(&r.publicKey) })
							case "x509Certificate":
								sawCert = true
								return p.object(func(key string) bool { return key == "rawBytes" && p.b64(&r.cert) })
							case "keyDetails":
								s, ok := p.str()
								if _, known := protocommon.PublicKeyDetails_value[string(s)]; !ok || !known || string(s) == "PUBLIC_KEY_DETAILS_UNSPECIFIED" {
									return false
								}
								r.keyDetails = string(s)
								return true
							}
							return false
						})
					}
					return false
				})
			}
			return false
		})
	}) {
		return nil, false
	}
	p.ws()
	if p.i != len(p.b) || len(r.digest) == 0 || len(r.sig) == 0 || r.keyDetails == "" || sawKey == sawCert ||
		(sawKey && r.publicKey == nil) || (sawCert && r.cert == nil) {
		return nil, false
	}
	return r, true
}

type fastParser struct {
	b []byte
	i int
}

func (p *fastParser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *fastParser) lit(c byte) bool {
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// str reads a string without escapes or control characters.
func (p *fastParser) str() ([]byte, bool) {
	if !p.lit('"') {
		return nil, false
	}
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			s := p.b[start:p.i]
			p.i++
			return s, len(s) > 0
		case c == '\\' || c < 0x20 || c >= 0x80:
			return nil, false
		}
		p.i++
	}
	return nil, false
}

func (p *fastParser) b64(dst *[]byte) bool {
	if *dst != nil {
		return false // repeated
	}
	s, ok := p.str()
	if !ok {
		return false
	}
	d, err := decodeB64(s)
	if err != nil || len(d) == 0 {
		return false
	}
	*dst = d
	return true
}

// object reads {"key": value, …}, calling member for each key (which
// reads the value); each key may appear once.
func (p *fastParser) object(member func(key string) bool) bool {
	if !p.lit('{') {
		return false
	}
	seen := 0
	var keys [4]string
	if p.lit('}') {
		return true
	}
	for {
		k, ok := p.str()
		if !ok || !p.lit(':') {
			return false
		}
		key := string(k)
		for _, prev := range keys[:seen] {
			if prev == key {
				return false
			}
		}
		if seen == len(keys) {
			return false
		}
		keys[seen] = key
		seen++
		if !member(key) {
			return false
		}
		if p.lit('}') {
			return true
		}
		if !p.lit(',') {
			return false
		}
	}
}
