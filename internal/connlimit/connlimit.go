// Package connlimit caps the connections a server holds at once, so that
// they cannot use up the open files the services need.
package connlimit

import (
	"net"

	"golang.org/x/net/netutil"
)

// connReserve is how many open files a server keeps for its own use
// beyond connections (at least this many, or a quarter of the limit):
// the logs' storage opens files for every write, and Tessera panics when
// it cannot open its lock file.
const connReserve = 128

// Max is how many connections a server holds at once, from the process's
// open-file limit now (0: no limit).
func Max() int {
	n := openFileLimit()
	if n <= 0 {
		return 0
	}
	return max(n-max(n/4, connReserve), 16)
}

// Listener returns l accepting at most Max connections at once; the next
// ones wait in the kernel's backlog until one closes. Past the open-file
// limit the logs' storage could not open a file, and Tessera panics when
// it cannot open its lock file.
func Listener(l net.Listener) net.Listener {
	n := Max()
	if n <= 0 {
		return l
	}
	return netutil.LimitListener(l, n)
}
