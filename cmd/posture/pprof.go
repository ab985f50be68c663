//go:build pprof

package main

// Built with -tags pprof, the server serves net/http/pprof on the loopback
// address in POSTURE_PPROF_ADDR (e.g. 127.0.0.1:6060): how the load and
// sizing figures of docs/ were profiled. Release builds have no such
// listener.

import (
	"log"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
)

func init() {
	addr := os.Getenv("POSTURE_PPROF_ADDR")
	if addr == "" {
		return
	}
	if host, _, err := net.SplitHostPort(addr); err != nil || !net.ParseIP(host).IsLoopback() {
		log.Fatalf("POSTURE_PPROF_ADDR %q: want a loopback address and port", addr)
	}
	go func() { log.Println(http.ListenAndServe(addr, nil)) }()
}
