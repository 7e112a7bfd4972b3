// Package vmproto is what the IP-in-IP VM test and the program it runs
// inside the VM (test/vm/vminit) say to each other: the plan the test
// writes into the initramfs, and the records vminit prints on the serial
// console, one per line, as "TORTIE-VM <kind> <json>".
package vmproto

import (
	"encoding/json"
	"fmt"
	"strings"
)

// PlanPath is where the test puts the plan in the initramfs.
const PlanPath = "/etc/tortie-vm/plan.json"

// ModulesPath lists the kernel modules vminit loads, dependencies first,
// one path per line (relative to /lib/modules/<release>).
const ModulesPath = "/etc/tortie-vm/modules"

// Console line prefixes.
const (
	RecordPrefix = "TORTIE-VM "
	ResultPrefix = "TORTIE-VM-RESULT "
	LogPrefix    = "TORTIE-VM-LOG "
)

// Plan is the whole VM run: an underlay, then each scenario in turn, each
// with its own datastore, nodes and pods, torn down before the next.
type Plan struct {
	// Bridges are the underlay's L2 segments, in the VM's root namespace,
	// which routes between them.
	Bridges []Bridge `json:"bridges"`
	// Scenarios run one after the other.
	Scenarios []Scenario `json:"scenarios"`
}

// Bridge is one underlay subnet.
type Bridge struct {
	Name string `json:"name"`
	Addr string `json:"addr"` // the router's address on it, CIDR
}

// Scenario is one cluster.
type Scenario struct {
	Name string `json:"name"`
	// Datastore is the embedded etcd's client address in the root namespace
	// (host:port); its peer port is the next one.
	Datastore string `json:"datastore"`
	// Env is given to every tortie-node (CALICO_IPV4POOL_* and so on).
	Env   []string   `json:"env"`
	Nodes []NodeSpec `json:"nodes"`
	// Pings are from the pod on one node to the pod on another (or to an
	// address outside the pools), each with a capture on the underlay
	// interface of the nodes involved.
	Pings []PingSpec `json:"pings"`
}

// NodeSpec is one node: a network namespace with eth0 on a bridge.
type NodeSpec struct {
	Name    string `json:"name"`
	Bridge  string `json:"bridge"`
	Addr    string `json:"addr"`    // CIDR, also tortie-node's IP
	Gateway string `json:"gateway"` // default route
}

// PingSpec is one ping from the pod on From.
type PingSpec struct {
	From string `json:"from"`
	// To is a node name (its pod is pinged) or, with ToIP, ignored.
	To   string `json:"to,omitempty"`
	ToIP string `json:"toIP,omitempty"`
}

// Node is what vminit saw on a node once its pods were routed.
type Node struct {
	Scenario string `json:"scenario"`
	Name     string `json:"name"`
	Addr     string `json:"addr"`
	Tunl0    Link   `json:"tunl0"`
	// MTUFile is what tortie-node wrote for the CNI plugin.
	MTUFile string `json:"mtuFile"`
	// TunnelAddr is the Node resource's spec.bgp.ipv4IPIPTunnelAddr.
	TunnelAddr string  `json:"tunnelAddr"`
	Routes     []Route `json:"routes"`
	// NFT is `nft list table ip tortie` in the node.
	NFT string `json:"nft"`
}

// Link is one interface.
type Link struct {
	Exists bool     `json:"exists"`
	Kind   string   `json:"kind"`
	Up     bool     `json:"up"`
	MTU    int      `json:"mtu"`
	Addrs  []string `json:"addrs"`
}

// Route is one IPv4 route of the main table.
type Route struct {
	Dst    string `json:"dst"`
	Gw     string `json:"gw,omitempty"`
	Dev    string `json:"dev,omitempty"`
	Onlink bool   `json:"onlink,omitempty"`
	Proto  int    `json:"proto"`
	Type   string `json:"type"` // unicast, blackhole, unreachable, ...
}

func (r Route) String() string {
	s := r.Dst
	if r.Type != "unicast" {
		s = r.Type + " " + s
	}
	if r.Gw != "" {
		s += " via " + r.Gw
	}
	if r.Dev != "" {
		s += " dev " + r.Dev
	}
	if r.Onlink {
		s += " onlink"
	}
	return s + fmt.Sprintf(" proto %d", r.Proto)
}

// Pod is one pod made through the CNI plugin.
type Pod struct {
	Scenario string `json:"scenario"`
	Node     string `json:"node"`
	IP       string `json:"ip"`
	MTU      int    `json:"mtu"`
}

// Ping is the outcome of a PingSpec, with what the underlay carried.
type Ping struct {
	Scenario string `json:"scenario"`
	From     string `json:"from"`
	To       string `json:"to,omitempty"`
	FromIP   string `json:"fromIP"`
	ToIP     string `json:"toIP"`
	OK       bool   `json:"ok"`
	Output   string `json:"output"`
	// Captures maps a node name to the packets seen on its eth0.
	Captures map[string][]Flow `json:"captures"`
}

// Flow counts IPv4 packets with the same outer (and, for protocol 4,
// inner) addresses and protocol.
type Flow struct {
	Src        string `json:"src"`
	Dst        string `json:"dst"`
	Proto      int    `json:"proto"`
	InnerSrc   string `json:"innerSrc,omitempty"`
	InnerDst   string `json:"innerDst,omitempty"`
	InnerProto int    `json:"innerProto,omitempty"`
	Packets    int    `json:"packets"`
}

func (f Flow) String() string {
	s := fmt.Sprintf("%s>%s proto %d", f.Src, f.Dst, f.Proto)
	if f.Proto == 4 {
		s += fmt.Sprintf(" [%s>%s proto %d]", f.InnerSrc, f.InnerDst, f.InnerProto)
	}
	return s + fmt.Sprintf(" x%d", f.Packets)
}

// Format renders a record line.
func Format(kind string, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(fmt.Sprintf("%q", err.Error()))
	}
	return RecordPrefix + kind + " " + string(b)
}

// Parse reads a record line; ok is false for other lines. The serial
// console may prefix a line with kernel noise, so the prefix is searched.
func Parse(line string) (kind string, payload []byte, ok bool) {
	i := strings.Index(line, RecordPrefix)
	if i < 0 {
		return "", nil, false
	}
	rest := strings.TrimRight(line[i+len(RecordPrefix):], "\r\n")
	kind, js, found := strings.Cut(rest, " ")
	if !found {
		return "", nil, false
	}
	return kind, []byte(js), true
}
