package cnitest

import (
	"io"
	"net"
	"sync"
	"testing"
)

// Forward listens on listenAddr inside the namespace and relays every
// connection to target, dialled from the host's namespace: processes in a
// node namespace reach a datastore on the host's loopback this way, with
// no interface or route added to the host. It stops when tb ends.
func Forward(tb testing.TB, n *NetNS, listenAddr, target string) {
	tb.Helper()
	var ln net.Listener
	err := n.Do(func() error {
		var err error
		ln, err = net.Listen("tcp", listenAddr)
		return err
	})
	if err != nil {
		tb.Fatalf("listen on %s in %s: %v", listenAddr, n.Name, err)
	}
	var wg sync.WaitGroup
	tb.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Go(func() {
		var conns sync.WaitGroup
		defer conns.Wait()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Go(func() { relay(c, target) })
		}
	})
}

// relay copies both ways until either side closes, then closes both.
func relay(c net.Conn, target string) {
	defer c.Close()
	t, err := net.Dial("tcp", target)
	if err != nil {
		return // the client sees the connection close: "unreachable"
	}
	defer t.Close()
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	go cp(t, c)
	go cp(c, t)
	<-done
	c.Close()
	t.Close()
	<-done
}
