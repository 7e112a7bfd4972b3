//go:build linux

package main

import (
	"errors"
	"net/netip"
	"sort"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/tortienet/tortie/internal/ns"
	"github.com/tortienet/tortie/test/vm/vmproto"
)

// capture counts the IPv4 packets an interface sends and receives, by
// addresses and protocol (and, for IP-in-IP, the inner packet's): a packet
// socket, as tcpdump would use, without tcpdump.
type capture struct {
	fd    int
	mu    sync.Mutex
	flows map[vmproto.Flow]int
	quit  chan struct{}
	done  chan struct{}
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// startCapture opens a packet socket on ifname in the named namespace.
func startCapture(netns, ifname string) (*capture, error) {
	c := &capture{fd: -1, flows: map[vmproto.Flow]int{}, quit: make(chan struct{}), done: make(chan struct{})}
	err := ns.Do(netns, func() error {
		l, err := netlink.LinkByName(ifname)
		if err != nil {
			return err
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
		if err != nil {
			return err
		}
		c.fd = fd
		return unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: l.Attrs().Index})
	})
	if err == nil {
		err = unix.SetsockoptTimeval(c.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Usec: 100_000})
	}
	if err != nil {
		if c.fd >= 0 {
			unix.Close(c.fd)
		}
		return nil, err
	}
	go c.loop()
	return c, nil
}

func (c *capture) loop() {
	defer close(c.done)
	buf := make([]byte, 65536)
	for {
		select {
		case <-c.quit:
			return
		default:
		}
		n, _, err := unix.Recvfrom(c.fd, buf, 0)
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return
		}
		if f, ok := parseIPv4(buf[:n]); ok {
			c.mu.Lock()
			c.flows[f]++
			c.mu.Unlock()
		}
	}
}

// stop ends the capture and returns the flows seen, sorted.
func (c *capture) stop() []vmproto.Flow {
	close(c.quit)
	select {
	case <-c.done:
	case <-time.After(2 * time.Second):
	}
	unix.Close(c.fd)
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]vmproto.Flow, 0, len(c.flows))
	for f, n := range c.flows {
		f.Packets = n
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// parseIPv4 reads an IPv4 header (and the inner one of IP-in-IP).
func parseIPv4(b []byte) (vmproto.Flow, bool) {
	var f vmproto.Flow
	src, dst, proto, payload, ok := ipv4Header(b)
	if !ok {
		return f, false
	}
	f.Src, f.Dst, f.Proto = src, dst, proto
	if proto == 4 {
		if isrc, idst, iproto, _, ok := ipv4Header(payload); ok {
			f.InnerSrc, f.InnerDst, f.InnerProto = isrc, idst, iproto
		}
	}
	return f, true
}

func ipv4Header(b []byte) (src, dst string, proto int, payload []byte, ok bool) {
	if len(b) < 20 || b[0]>>4 != 4 {
		return "", "", 0, nil, false
	}
	ihl := int(b[0]&0x0f) * 4
	if ihl < 20 || len(b) < ihl {
		return "", "", 0, nil, false
	}
	s, _ := netip.AddrFromSlice(b[12:16])
	d, _ := netip.AddrFromSlice(b[16:20])
	return s.String(), d.String(), int(b[9]), b[ihl:], true
}
