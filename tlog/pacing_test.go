package tlog

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"sigil.dev/sigil/internal/testpki"
)

// TestGroupCommitPacingIdle: a write to a quiet log is not held back by
// the group-commit delay, however long it is.
func TestGroupCommitPacingIdle(t *testing.T) {
	l := startLog(t, "", func(c *Config) { c.GroupCommitDelay = time.Hour })
	p, _ := testpki.New(testpki.Options{})
	s := newSigner(t, p, nil, true)
	for i := range 3 {
		req, _ := s.v2Request(t, []byte("lone "+strconv.Itoa(i)))
		resp, body := l.post("/api/v2/log/entries", req)
		mustStatus(t, resp, body, http.StatusCreated)
	}
}
