package server

import "time"

// SetTimeouts sets the HTTP read and write timeouts of servers started
// afterwards and returns a function that restores them.
func SetTimeouts(read, write time.Duration) (restore func()) {
	r, w := readTimeout, writeTimeout
	readTimeout, writeTimeout = read, write
	return func() { readTimeout, writeTimeout = r, w }
}
