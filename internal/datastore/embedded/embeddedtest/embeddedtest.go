// Package embeddedtest runs a test binary's tests against one embedded
// etcd server in a temporary directory.
package embeddedtest

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/tortienet/tortie/internal/datastore/embedded"
)

// Main starts an embedded etcd on free loopback ports, stores its client
// endpoints in *endpoints, runs the tests, stops the server, removes its
// data and returns the exit code: `os.Exit(embeddedtest.Main(m, &eps))`.
func Main(m *testing.M, endpoints *[]string) int {
	dir, err := os.MkdirTemp("", "tortie-etcd-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	caddr, err := embedded.FreeAddr()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	paddr, err := embedded.FreeAddr()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	srv, err := embedded.Start(context.Background(), embedded.Config{DataDir: dir, ClientAddr: caddr, PeerAddr: paddr})
	if err != nil {
		fmt.Fprintln(os.Stderr, "embedded etcd:", err)
		return 1
	}
	defer srv.Close()
	*endpoints = srv.Endpoints()
	return m.Run()
}
