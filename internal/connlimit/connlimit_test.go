package connlimit

import (
	"errors"
	"net"
	"testing"
	"time"
)

// TestLimit: at the limit Accept waits until a connection closes (closing
// one twice frees one slot), and Close ends a waiting Accept.
func TestLimit(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := limitConns(raw, 2)
	for range 4 {
		c, err := net.Dial("tcp", raw.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	a, _ := l.Accept()
	b, _ := l.Accept()
	got := make(chan net.Conn)
	go func() {
		c, _ := l.Accept()
		got <- c
	}()
	select {
	case <-got:
		t.Fatal("accepted a third connection at the limit of two")
	case <-time.After(100 * time.Millisecond):
	}
	a.Close()
	a.Close()
	c := <-got
	go func() {
		c, _ := l.Accept()
		got <- c
	}()
	select {
	case <-got:
		t.Fatal("a second Close freed a second slot")
	case <-time.After(100 * time.Millisecond):
	}
	l.Close()
	if c := <-got; c != nil {
		t.Error("accepted after Close")
	}
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after Close: %v", err)
	}
	b.Close()
	c.Close()
	if Max() < 0 {
		t.Error("negative Max")
	}
}
