// Package connlimit caps the connections a server holds at once, so that
// they cannot use up the open files the services need.
package connlimit

import (
	"net"
	"sync"
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
func Listener(l net.Listener) net.Listener { return limitConns(l, Max()) }

// limitListener accepts at most cap(sem) connections at once; the next
// ones wait in the kernel's backlog until one closes.
type limitListener struct {
	net.Listener
	sem       chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

func limitConns(l net.Listener, n int) net.Listener {
	if n <= 0 {
		return l
	}
	return &limitListener{Listener: l, sem: make(chan struct{}, n), done: make(chan struct{})}
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.sem }}, nil
}

func (l *limitListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
