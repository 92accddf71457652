package server

import (
	"net/http"
	"time"

	"sigil.dev/sigil/tuf"
)

// TUFRepo returns the server's TUF repository.
func TUFRepo(s *Server) *tuf.Repo { return s.tuf.Repo() }

// SetTimeouts sets the HTTP read and write timeouts of servers started
// afterwards and returns a function that restores them.
func SetTimeouts(read, write time.Duration) (restore func()) {
	r, w := readTimeout, writeTimeout
	readTimeout, writeTimeout = read, write
	return func() { readTimeout, writeTimeout = r, w }
}

// ReadinessNames names the readiness checks /readyz runs, in order.
func ReadinessNames(s *Server) []string {
	var out []string
	for _, c := range s.readiness() {
		out = append(out, c.name)
	}
	return out
}

// ServeReadyFailing serves /readyz for s with the named check failing with
// err and the others as they are.
func ServeReadyFailing(s *Server, name string, err error, w http.ResponseWriter) {
	checks := s.readiness()
	for i := range checks {
		if checks[i].name == name {
			checks[i].check = func() error { return err }
		}
	}
	serveReady(w, checks)
}

// TSAEndpoint is tsaEndpoint.
func TSAEndpoint(u string) string { return tsaEndpoint(u) }
