// Package rawhttp is the load generators' HTTP/1.1 client: one keep-alive
// connection per worker, a request written in one system call, the
// response read from a buffered reader without header maps or extra
// goroutines. It exists so that the load generator, which shares the
// benchmark machine's cores with the server it measures, takes as little
// of them as it can: net/http's client costs about 0.1 ms of CPU per
// request (a read and a write goroutine per connection, channel hand-offs,
// header maps), which on a 2-core machine is a large share of a fast
// server's budget. Every server under test is driven by the same client.
//
// It speaks just enough HTTP/1.1 for that: POST with a body, responses
// framed by Content-Length or chunked transfer coding (RFC 9112 §6–7),
// Connection: close honoured by dialling again.
package rawhttp

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"time"
)

// Conn is one keep-alive connection to a server. It is not safe for
// concurrent use: each worker has its own.
type Conn struct {
	addr    string
	host    string
	timeout time.Duration
	c       net.Conn
	br      *bufio.Reader
	buf     []byte // request being written
	body    []byte // last response body (reused)
}

// New returns a connection to the server of base (http://host:port); it
// dials on first use.
func New(base string, timeout time.Duration) (*Conn, error) {
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("rawhttp: %q is not an http://host:port URL", base)
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	return &Conn{addr: addr, host: u.Host, timeout: timeout}, nil
}

// Post sends body to path with the given extra header lines ("Name: value")
// and returns the status code and the response body, which is valid until
// the next call.
func (c *Conn) Post(path, contentType string, header []string, body []byte) (int, []byte, error) {
	status, resp, err := c.post(path, contentType, header, body)
	if err != nil {
		c.Close()
	}
	return status, resp, err
}

func (c *Conn) post(path, contentType string, header []string, body []byte) (int, []byte, error) {
	if c.c == nil {
		nc, err := net.DialTimeout("tcp", c.addr, 5*time.Second)
		if err != nil {
			return 0, nil, err
		}
		c.c, c.br = nc, bufio.NewReaderSize(nc, 16<<10)
	}
	if c.timeout > 0 {
		c.c.SetDeadline(time.Now().Add(c.timeout)) //nolint:errcheck
	}
	b := c.buf[:0]
	b = append(b, "POST "...)
	b = append(b, path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, c.host...)
	b = append(b, "\r\nContent-Type: "...)
	b = append(b, contentType...)
	b = append(b, "\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\r\n"...)
	for _, h := range header {
		b = append(b, h...)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	b = append(b, body...)
	c.buf = b
	if _, err := c.c.Write(b); err != nil {
		return 0, nil, err
	}
	return c.readResponse()
}

// readResponse reads one response (RFC 9112 §4 status line, §5 fields,
// §6 message body length).
func (c *Conn) readResponse() (int, []byte, error) {
	line, err := c.line()
	if err != nil {
		return 0, nil, err
	}
	// HTTP/1.1 200 OK
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return 0, nil, fmt.Errorf("rawhttp: bad status line %q", line)
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, nil, fmt.Errorf("rawhttp: bad status line %q", line)
	}
	length, chunked, closing := -1, false, false
	for {
		line, err := c.line()
		if err != nil {
			return 0, nil, err
		}
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return 0, nil, fmt.Errorf("rawhttp: bad header line %q", line)
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(value)); err != nil || length < 0 {
				return 0, nil, fmt.Errorf("rawhttp: bad Content-Length %q", value)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			closing = bytes.EqualFold(value, []byte("close"))
		}
	}
	c.body = c.body[:0]
	switch {
	case chunked:
		err = c.readChunked()
	case length >= 0:
		c.body = append(c.body, make([]byte, length)...)
		_, err = io.ReadFull(c.br, c.body)
	default:
		return 0, nil, errors.New("rawhttp: response without Content-Length or chunked coding")
	}
	if err != nil {
		return 0, nil, err
	}
	if closing {
		c.Close()
	}
	return status, c.body, nil
}

// readChunked reads a chunked body (RFC 9112 §7.1), ignoring extensions
// and trailers.
func (c *Conn) readChunked() error {
	for {
		line, err := c.line()
		if err != nil {
			return err
		}
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		n, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 32)
		if err != nil || n < 0 {
			return fmt.Errorf("rawhttp: bad chunk size %q", line)
		}
		if n == 0 {
			for { // trailer fields, then the empty line
				l, err := c.line()
				if err != nil || len(l) == 0 {
					return err
				}
			}
		}
		start := len(c.body)
		c.body = append(c.body, make([]byte, n)...)
		if _, err := io.ReadFull(c.br, c.body[start:]); err != nil {
			return err
		}
		if l, err := c.line(); err != nil || len(l) != 0 {
			return fmt.Errorf("rawhttp: chunk not followed by CRLF: %v", err)
		}
	}
}

// line reads one CRLF-terminated line without the CRLF.
func (c *Conn) line() ([]byte, error) {
	l, err := c.br.ReadSlice('\n')
	if err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(l[:len(l)-1], []byte("\r")), nil
}

// Close closes the connection; the next Post dials again.
func (c *Conn) Close() {
	if c.c != nil {
		c.c.Close()
		c.c, c.br = nil, nil
	}
}
