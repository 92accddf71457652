// Package httpx holds small HTTP helpers shared by the services.
package httpx

import (
	"strconv"
	"strings"
)

// AcceptsGzip reports whether an Accept-Encoding header value allows a
// gzip-coded response (RFC 9110 §12.5.3): gzip (or x-gzip) listed with a
// non-zero weight, or, when neither is listed, "*" with a non-zero weight.
// "gzip;q=0" refuses it, as does a header that does not name it.
func AcceptsGzip(header string) bool {
	star := false
	for _, item := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(item, ";")
		coding = strings.ToLower(strings.TrimSpace(coding))
		if coding != "gzip" && coding != "x-gzip" && coding != "*" {
			continue
		}
		ok := weight(params) > 0
		if coding == "*" {
			star = ok
			continue
		}
		return ok
	}
	return star
}

// weight returns the q parameter of a list item's parameters (1 when
// absent, 0 when malformed).
func weight(params string) float64 {
	for _, p := range strings.Split(params, ";") {
		name, value, found := strings.Cut(strings.TrimSpace(p), "=")
		if !found || !strings.EqualFold(strings.TrimSpace(name), "q") {
			continue
		}
		q, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil || q < 0 || q > 1 {
			return 0
		}
		return q
	}
	return 1
}
