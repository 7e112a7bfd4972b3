package lab

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/vishvananda/netlink"

	"github.com/tortienet/tortie/internal/lab/topo"
	"github.com/tortienet/tortie/internal/ns"
)

// Member is one namespace of the lab, as users name it.
type Member struct {
	Kind  string // topo.KindNode, KindPod, ...
	Name  string // "node1", "default/web", "underlay", "outside", "tor"
	Netns string
	Node  string // for pods: their node
}

// Members lists the lab's namespaces: underlay, outside, nodes, routers,
// pods, in that order.
func (l *Lab) Members() []Member {
	ms := []Member{{Kind: topo.KindUnderlay, Name: "underlay", Netns: l.ulNS()}}
	if l.top.Outside != nil {
		ms = append(ms, Member{Kind: topo.KindOutside, Name: "outside", Netns: l.outNS()})
	}
	for _, n := range l.top.Nodes {
		ms = append(ms, Member{Kind: topo.KindNode, Name: n.Name, Netns: l.nodeNS(n.Name)})
	}
	for _, r := range l.top.Routers {
		ms = append(ms, Member{Kind: topo.KindRouter, Name: r.Name, Netns: l.routerNS(r.Name)})
	}
	for _, p := range l.top.Pods {
		ms = append(ms, Member{Kind: topo.KindPod, Name: p.Key(), Netns: l.podNS(p), Node: p.Node})
	}
	return ms
}

// Find resolves a name given on the command line: a node, router or pod
// name, a pod's "namespace/name", "underlay", "outside", or a namespace
// name.
func (l *Lab) Find(name string) (Member, error) {
	var found []Member
	for _, m := range l.Members() {
		if m.Name == name || m.Netns == name || (m.Kind == topo.KindPod && podName(m.Name) == name) {
			found = append(found, m)
		}
	}
	switch len(found) {
	case 0:
		return Member{}, fmt.Errorf("lab %s has no node, pod or router %q", l.top.Name, name)
	case 1:
		return found[0], nil
	}
	return Member{}, fmt.Errorf("%q names %d pods; use namespace/name", name, len(found))
}

func podName(key string) string { return key[strings.LastIndexByte(key, '/')+1:] }

// Link is one interface of a lab namespace as the kernel reports it.
type Link struct {
	Name   string         `json:"name"`
	Index  int            `json:"index"`
	Type   string         `json:"type"`
	MAC    string         `json:"mac,omitempty"`
	MTU    int            `json:"mtu"`
	Up     bool           `json:"up"`
	Master string         `json:"master,omitempty"`
	Addrs  []netip.Prefix `json:"addrs,omitempty"`
	// PeerNetns and PeerName are the other end of a veth, when it is in
	// a lab namespace.
	PeerNetns string `json:"peerNetns,omitempty"`
	PeerName  string `json:"peerName,omitempty"`

	peerIndex, peerNsID int
}

// readLinks lists the links and IPv4 addresses of a namespace.
func readLinks(netns string) ([]Link, error) {
	h, err := ns.Handle(netns)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	var nls []netlink.Link
	if err := ns.Retry(func() (err error) { nls, err = h.LinkList(); return err }); err != nil {
		return nil, fmt.Errorf("links of %s: %w", netns, err)
	}
	byIndex := map[int]string{}
	for _, nl := range nls {
		byIndex[nl.Attrs().Index] = nl.Attrs().Name
	}
	var links []Link
	for _, nl := range nls {
		a := nl.Attrs()
		lk := Link{Name: a.Name, Index: a.Index, Type: nl.Type(), MTU: a.MTU,
			Up: a.Flags&net.FlagUp != 0, Master: byIndex[a.MasterIndex], peerNsID: a.NetNsID}
		if a.HardwareAddr != nil {
			lk.MAC = a.HardwareAddr.String()
		}
		if lk.Type == "veth" {
			lk.peerIndex = a.ParentIndex
		}
		var addrs []netlink.Addr
		if err := ns.Retry(func() (err error) { addrs, err = h.AddrList(nl, netlink.FAMILY_V4); return err }); err != nil {
			return nil, fmt.Errorf("addresses of %s in %s: %w", a.Name, netns, err)
		}
		for _, ad := range addrs {
			if ip, ok := netip.AddrFromSlice(ad.IP.To4()); ok {
				ones, _ := ad.Mask.Size()
				lk.Addrs = append(lk.Addrs, netip.PrefixFrom(ip, ones))
			}
		}
		links = append(links, lk)
	}
	return links, nil
}

// inventory is a snapshot of the links of every lab namespace, with veth
// ends paired across namespaces.
type inventory map[string][]Link // netns -> links

// readInventory reads every existing namespace among members.
func readInventory(members []Member) (inventory, error) {
	inv := inventory{}
	for _, m := range members {
		if !ns.Exists(m.Netns) {
			continue
		}
		links, err := readLinks(m.Netns)
		if err != nil {
			return nil, err
		}
		inv[m.Netns] = links
	}
	inv.pairVeths()
	return inv, nil
}

// pairVeths finds the other end of each veth. A veth knows its peer's
// ifindex; ifindexes repeat across namespaces, so when several ends match,
// the peer's namespace id (as the veth's own namespace numbers it) decides.
func (inv inventory) pairVeths() {
	for netns, links := range inv {
		for i := range links {
			lk := &links[i]
			if lk.Type != "veth" || lk.peerIndex == 0 {
				continue
			}
			var cands []linkRef
			for other, olinks := range inv {
				for _, o := range olinks {
					if o.Type == "veth" && o.Index == lk.peerIndex && o.peerIndex == lk.Index && (other != netns || o.Name != lk.Name) {
						cands = append(cands, linkRef{other, o.Name})
					}
				}
			}
			if len(cands) > 1 {
				cands = filterByNsID(netns, lk.peerNsID, cands)
			}
			if len(cands) == 1 {
				lk.PeerNetns, lk.PeerName = cands[0].netns, cands[0].name
			}
		}
	}
}

// linkRef names a link in a namespace.
type linkRef struct{ netns, name string }

// filterByNsID keeps the candidates whose namespace netns numbers nsid.
func filterByNsID(netns string, nsid int, cands []linkRef) []linkRef {
	if nsid < 0 {
		return cands
	}
	h, err := ns.Handle(netns)
	if err != nil {
		return cands
	}
	defer h.Close()
	var keep []linkRef
	for _, c := range cands {
		fd, err := ns.Open(c.netns)
		if err != nil {
			continue
		}
		id, err := h.GetNetNsIdByFd(int(fd))
		fd.Close()
		if err == nil && id == nsid {
			keep = append(keep, c)
		}
	}
	return keep
}

// link returns the named link of a namespace.
func (inv inventory) link(netns, name string) (Link, bool) {
	for _, lk := range inv[netns] {
		if lk.Name == name {
			return lk, true
		}
	}
	return Link{}, false
}

// owner returns the namespace and link holding address a, preferring
// namespaces in prefer (e.g. those on a given bridge).
func (inv inventory) owner(a netip.Addr, prefer map[string]bool) (string, string, bool) {
	var anyNS, anyLink string
	for netns, links := range inv {
		for _, lk := range links {
			for _, p := range lk.Addrs {
				if p.Addr() != a {
					continue
				}
				if prefer == nil || prefer[netns] {
					return netns, lk.Name, true
				}
				anyNS, anyLink = netns, lk.Name
			}
		}
	}
	return anyNS, anyLink, anyNS != ""
}
