package lab

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/tortienet/tortie/internal/lab/topo"
	"github.com/tortienet/tortie/internal/ns"
)

// DefaultRouterAS is a lab router's AS when the topology gives none.
const DefaultRouterAS = 65000

// neighbor is a BGP neighbour of a lab router.
type neighbor struct {
	Name  string // the node or router
	Local netip.Addr
	Addr  netip.Addr
	AS    uint32
	Node  bool
	// Local6 and Addr6 are the two ends' IPv6 addresses, when the subnet
	// has an IPv6 network (invalid otherwise): a second session, IPv6.
	Local6, Addr6 netip.Addr
}

func routerAS(r topo.Router) uint32 {
	if r.AS != 0 {
		return r.AS
	}
	return DefaultRouterAS
}

// nodeAS is a node's AS as its agent will set it: AS from the node's or
// the topology's env, else Calico's default.
func (l *Lab) nodeAS(n topo.Node) uint32 {
	for _, env := range []map[string]string{n.Env, l.top.Env} {
		if v, err := strconv.ParseUint(env["AS"], 10, 32); err == nil && v > 0 {
			return uint32(v)
		}
	}
	return 64512
}

// neighbors of r: every node and every other daemon-running router with
// an interface on one of r's subnets.
func (l *Lab) neighbors(r topo.Router) []neighbor {
	var out []neighbor
	for _, ri := range r.Interfaces {
		for _, n := range l.top.Nodes {
			for _, ni := range n.Interfaces {
				if ni.Subnet == ri.Subnet {
					s, _ := l.top.Subnet(ri.Subnet)
					out = append(out, neighbor{Name: n.Name, Local: ri.Addr, Addr: ni.Addr, AS: l.nodeAS(n), Node: true,
						Local6: s.Addr6(ri.Addr), Addr6: s.Addr6(ni.Addr)})
				}
			}
		}
		for _, o := range l.top.Routers {
			if o.Name == r.Name || o.Kind == topo.RouterNone {
				continue
			}
			for _, oi := range o.Interfaces {
				if oi.Subnet == ri.Subnet {
					out = append(out, neighbor{Name: o.Name, Local: ri.Addr, Addr: oi.Addr, AS: routerAS(o)})
				}
			}
		}
	}
	return out
}

// startRouters starts the daemon of each bird2 or frr router, then gives
// the nodes their BGPPeers to the routers and applies the topology's own
// resources.
func (l *Lab) startRouters(ctx context.Context) error {
	for _, r := range l.top.Routers {
		if r.Kind == topo.RouterNone {
			continue
		}
		if len(r.Interfaces) == 0 {
			return fmt.Errorf("router %s has no interface", r.Name)
		}
		if err := ns.Sysctl(l.routerNS(r.Name), "net.ipv4.ip_forward", "1"); err != nil {
			return fmt.Errorf("router %s: %w", r.Name, err)
		}
		if l.routesIPv6(r) {
			if err := ns.Sysctl(l.routerNS(r.Name), "net.ipv6.conf.all.forwarding", "1"); err != nil {
				return fmt.Errorf("router %s: %w", r.Name, err)
			}
		}
		dir := filepath.Join(l.Dir(), "routers", r.Name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		var err error
		if r.Kind == topo.RouterBird2 {
			err = l.startBird(r, dir)
		} else {
			err = l.startFRR(ctx, r, dir)
		}
		if err != nil {
			return fmt.Errorf("router %s (%s): %w", r.Name, r.Kind, err)
		}
	}
	if doc := l.routerPeers() + l.pool6() + l.top.Apply; doc != "" {
		return l.tortiectlApply("resources.yaml", doc)
	}
	return nil
}

// routerPeers is a node-specific BGPPeer from each node to each router on
// its subnets, as a user peers a rack with its top-of-rack router.
func (l *Lab) routerPeers() string {
	var doc string
	for _, r := range l.top.Routers {
		if r.Kind == topo.RouterNone {
			continue
		}
		for _, nb := range l.neighbors(r) {
			if !nb.Node {
				continue
			}
			doc += fmt.Sprintf(`apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: lab-%s-%s
spec:
  node: %s
  peerIP: %s
  asNumber: %d
---
`, r.Name, nb.Name, nb.Name, nb.Local, routerAS(r))
			if nb.Local6.IsValid() && r.Kind == topo.RouterBird2 {
				doc += fmt.Sprintf(`apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: lab-%s-%s-v6
spec:
  node: %s
  peerIP: %s
  asNumber: %d
---
`, r.Name, nb.Name, nb.Name, nb.Local6, routerAS(r))
			}
		}
	}
	return doc
}

// routesIPv6 says whether r has IPv6 sessions: a bird2 router (the lab
// configures IPv6 for bird2 alone) on a subnet with an IPv6 network.
func (l *Lab) routesIPv6(r topo.Router) bool {
	return r.Kind == topo.RouterBird2 && slices.ContainsFunc(l.neighbors(r), func(nb neighbor) bool { return nb.Local6.IsValid() })
}

// pool6 is the topology's IPv6 pool, when it has one.
func (l *Lab) pool6() string {
	p := l.top.Pool.Prefix6
	if !p.IsValid() {
		return ""
	}
	return fmt.Sprintf(`apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: lab-ipv6-ippool
spec:
  cidr: %s
  blockSize: 122
  natOutgoing: false
---
`, p)
}

// tortiectlApply applies doc with tortiectl inside the underlay namespace.
func (l *Lab) tortiectlApply(name, doc string) error {
	file := filepath.Join(l.Dir(), name)
	if err := os.WriteFile(file, []byte(doc), 0o644); err != nil {
		return err
	}
	cmd := nsCommand(l.ulNS(), filepath.Join(l.cfg.BinDir, "tortiectl"), "apply", "-f", file)
	cmd.Env = append(baseEnv(), l.datastoreEnv()...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("apply %s: %w: %s", file, err, out)
	}
	return nil
}

// waitForFile waits for a daemon's socket.
func waitForFile(path string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not appear within %v", path, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
