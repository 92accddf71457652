package httpx

import "testing"

func TestAcceptsGzip(t *testing.T) {
	for h, want := range map[string]bool{
		"":                      false,
		"gzip":                  true,
		"GZIP":                  true,
		"x-gzip":                true,
		"gzip, deflate, br":     true,
		"br;q=1.0, gzip;q=0.8":  true,
		"gzip;q=0":              false,
		"gzip; q=0.0":           false,
		"gzip;q=0.001":          true,
		"gzip;q=bogus":          false,
		"identity":              false,
		"deflate, br":           false,
		"*":                     true,
		"*;q=0":                 false,
		"*, gzip;q=0":           false,
		"gzip;q=0, *":           false,
		"notgzip":               false,
		"identity;q=1, *;q=0.5": true,
		"gzip;level=1":          true,
		"gzip;level=1;q=0":      false,
	} {
		if got := AcceptsGzip(h); got != want {
			t.Errorf("AcceptsGzip(%q) = %v, want %v", h, got, want)
		}
	}
}
