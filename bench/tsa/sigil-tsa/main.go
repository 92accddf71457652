// Command sigil-tsa serves sigil's TSA (package tsa) alone on a loopback
// address, for bench/tsa/run.sh to measure next to the Sigstore
// timestamp-authority. It generates a key and chain in a temporary
// directory and stops on SIGINT or SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"sigil.dev/sigil/tsa"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:3001", "listen address (loopback)")
	flag.Parse()
	dir, err := os.MkdirTemp("", "sigil-tsa-bench-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	s, err := tsa.New(tsa.Config{DataDir: dir})
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	if ip := ln.Addr().(*net.TCPAddr).IP; !ip.IsLoopback() {
		log.Fatalf("refusing to listen on %s: loopback only", ip)
	}
	srv := &http.Server{Handler: s.Handler()}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		_ = srv.Shutdown(context.Background())
	}()
	fmt.Fprintf(os.Stderr, "sigil TSA on http://%s/api/v1/timestamp\n", ln.Addr())
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		log.Fatal(err)
	}
}
