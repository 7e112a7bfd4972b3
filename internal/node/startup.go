package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/buildinfo"
	"github.com/tortienet/tortie/internal/client"
	"github.com/tortienet/tortie/internal/datastore"
	"github.com/tortienet/tortie/internal/datastore/etcd"
	"github.com/tortienet/tortie/internal/datastore/kdd"
	"github.com/tortienet/tortie/internal/ipam"
)

// Address is the node's chosen underlay address.
type Address struct {
	Prefix    netip.Prefix // address with its subnet, as Node.spec.bgp.ipv4Address
	Interface string
	Reasoning string
}

// Detector finds the node's IPv4 address: ip is the IP variable
// ("autodetect", or an explicit address), method IP_AUTODETECTION_METHOD.
type Detector func(ip, method string) (Address, error)

// kinds used by startup.
func kind(name string) v3.KindInfo {
	k, ok := v3.LookupKind(name)
	if !ok {
		panic("unknown kind " + name)
	}
	return k
}

// startup is calico-node's startup: it leaves the Node, the default pool,
// the cluster objects and the nodename file in place.
func startup(ctx context.Context, cfg Config, c *client.Client, m *ipam.IPAM, detect, detect6 Detector, log *slog.Logger) (Address, error) {
	var addr Address
	if cfg.IP != "none" {
		a, err := detect(cfg.IP, cfg.IPMethod)
		if err != nil {
			return addr, fmt.Errorf("node address (IP=%q, IP_AUTODETECTION_METHOD=%q): %w", cfg.IP, cfg.IPMethod, err)
		}
		addr = a
		log.Info("chose the node address", "address", a.Prefix, "interface", a.Interface, "reasoning", a.Reasoning)
		if !cfg.DisableIPCheck {
			if err := checkDuplicateIP(ctx, c, cfg.NodeName, a.Prefix.Addr()); err != nil {
				return addr, err
			}
		}
	}
	addr6, err := detectIPv6(cfg, detect6, log)
	if err != nil {
		return addr, err
	}
	if err := ensureNode(ctx, c, cfg, addr, addr6); err != nil {
		return addr, err
	}
	if err := ensureDefaultPool(ctx, c, cfg, log); err != nil {
		return addr, err
	}
	if err := ensureClusterObjects(ctx, c, cfg); err != nil {
		return addr, err
	}
	if _, err := m.GetConfig(ctx); err != nil {
		return addr, err
	}
	if err := writeFile(cfg.NodenameFile, cfg.NodeName); err != nil {
		return addr, err
	}
	return addr, nil
}

// checkDuplicateIP refuses an address another node already has.
func checkDuplicateIP(ctx context.Context, c *client.Client, self string, a netip.Addr) error {
	nodes, _, err := c.List(ctx, kind("Node"), "")
	if err != nil {
		return err
	}
	for _, r := range nodes {
		n := r.(*v3.Node)
		if n.Name == self || n.Spec.BGP == nil {
			continue
		}
		if p, err := netip.ParsePrefix(n.Spec.BGP.IPv4Address); err == nil && p.Addr() == a {
			return fmt.Errorf("address %s is already used by node %q: refusing to start (set DISABLE_NODE_IP_CHECK=true to allow it)", a, n.Name)
		}
	}
	return nil
}

// update is a compare-and-swap read-modify-write of one resource, creating
// it (from create) when it does not exist.
func update[T v3.Resource](ctx context.Context, c *client.Client, k v3.KindInfo, name string, create func() T, change func(T)) error {
	for attempt := 0; attempt < 20; attempt++ {
		r, err := c.Get(ctx, k, "", name)
		var obj T
		switch {
		case errors.Is(err, datastore.ErrNotFound):
			obj = create()
			change(obj)
			_, err = c.Create(ctx, obj)
		case err != nil:
			return err
		default:
			obj = r.(T)
			before, _ := json.Marshal(obj)
			change(obj)
			if after, _ := json.Marshal(obj); bytes.Equal(before, after) {
				return nil // already right: no write, so no conflict with the other nodes' agents
			}
			_, err = c.Update(ctx, obj)
		}
		if err == nil || !(errors.Is(err, datastore.ErrConflict) || errors.Is(err, datastore.ErrAlreadyExists)) {
			return err
		}
	}
	return fmt.Errorf("%s %s: too many conflicting writes", k.Kind, name)
}

// detectIPv6 is the node's IPv6 address as IP6 says (invalid: leave the
// Node's as it is).
func detectIPv6(cfg Config, detect6 Detector, log *slog.Logger) (netip.Prefix, error) {
	if cfg.IP6 == "" || cfg.IP6 == "none" || detect6 == nil {
		return netip.Prefix{}, nil
	}
	a, err := detect6(cfg.IP6, cfg.IP6Method)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("node IPv6 address (IP6=%q, IP6_AUTODETECTION_METHOD=%q): %w", cfg.IP6, cfg.IP6Method, err)
	}
	log.Info("chose the node IPv6 address", "address", a.Prefix, "interface", a.Interface, "reasoning", a.Reasoning)
	return a.Prefix, nil
}

func ensureNode(ctx context.Context, c *client.Client, cfg Config, addr Address, addr6 netip.Prefix) error {
	return update(ctx, c, kind("Node"), cfg.NodeName,
		func() *v3.Node { return &v3.Node{ObjectMeta: v3.ObjectMeta{Name: cfg.NodeName}} },
		func(n *v3.Node) {
			if n.Spec.BGP == nil {
				n.Spec.BGP = &v3.NodeBGPSpec{}
			}
			if addr.Prefix.IsValid() {
				n.Spec.BGP.IPv4Address = addr.Prefix.String()
			} else if cfg.IP == "none" {
				n.Spec.BGP.IPv4Address = ""
			}
			if addr6.IsValid() {
				n.Spec.BGP.IPv6Address = addr6.String()
			}
			if cfg.AS != "" {
				as, _ := v3.ASNumberFromString(cfg.AS)
				n.Spec.BGP.ASNumber = &as
			}
			if *n.Spec.BGP == (v3.NodeBGPSpec{}) {
				n.Spec.BGP = nil
			}
		})
}

// ensureDefaultPool creates default-ipv4-ippool when no IPv4 pool exists.
func ensureDefaultPool(ctx context.Context, c *client.Client, cfg Config, log *slog.Logger) error {
	d := cfg.DefaultPool
	if d == nil {
		return nil
	}
	pools, _, err := c.List(ctx, kind("IPPool"), "")
	if err != nil {
		return err
	}
	for _, r := range pools {
		if p, err := netip.ParsePrefix(r.(*v3.IPPool).Spec.CIDR); err == nil && p.Addr().Is4() {
			return nil
		}
	}
	p := &v3.IPPool{ObjectMeta: v3.ObjectMeta{Name: "default-ipv4-ippool"}}
	p.Spec = v3.IPPoolSpec{CIDR: d.CIDR, BlockSize: d.BlockSize, IPIPMode: d.IPIPMode, VXLANMode: d.VXLANMode,
		NATOutgoing: d.NATOutgoing, NodeSelector: d.NodeSelector, DisableBGPExport: d.DisableBGPExport}
	if _, err := c.Create(ctx, p); err != nil && !errors.Is(err, datastore.ErrAlreadyExists) {
		return fmt.Errorf("create the default pool from CALICO_IPV4POOL_* (cidr %s, blockSize %d): %w", d.CIDR, d.BlockSize, err)
	}
	log.Info("created the default IPv4 pool", "cidr", d.CIDR, "ipipMode", d.IPIPMode, "vxlanMode", d.VXLANMode, "natOutgoing", d.NATOutgoing)
	return nil
}

// ensureClusterObjects: ClusterInformation stamped with this version and
// ready, the default FelixConfiguration, this node's FelixConfiguration and
// the default BGPConfiguration, as calico-node's startup leaves them.
func ensureClusterObjects(ctx context.Context, c *client.Client, cfg Config) error {
	ready := true
	if err := update(ctx, c, kind("ClusterInformation"), "default",
		func() *v3.ClusterInformation {
			return &v3.ClusterInformation{ObjectMeta: v3.ObjectMeta{Name: "default"}}
		},
		func(ci *v3.ClusterInformation) {
			ci.Spec.CalicoVersion = buildinfo.Version
			ci.Spec.DatastoreReady = &ready
			if cfg.ClusterType != "" {
				ci.Spec.ClusterType = cfg.ClusterType
			}
		}); err != nil {
		return err
	}
	createIfMissing := func(r v3.Resource) error {
		if _, err := c.Create(ctx, r); err != nil && !errors.Is(err, datastore.ErrAlreadyExists) {
			return err
		}
		return nil
	}
	fc := &v3.FelixConfiguration{ObjectMeta: v3.ObjectMeta{Name: "default"}}
	fc.Spec.ReportingInterval, fc.Spec.LogSeverityScreen = v3.NewDuration(0), "Info"
	nc := &v3.FelixConfiguration{ObjectMeta: v3.ObjectMeta{Name: "node." + cfg.NodeName}}
	nc.Spec.DefaultEndpointToHostAction = "Return"
	bc := &v3.BGPConfiguration{ObjectMeta: v3.ObjectMeta{Name: "default"}}
	for _, r := range []v3.Resource{fc, nc, bc} {
		if err := createIfMissing(r); err != nil {
			return err
		}
	}
	return nil
}

// writeFile writes a state file atomically (the CNI plugin reads them).
func writeFile(path, content string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := fmt.Sprintf("%s.tmp.%d", path, os.Getpid())
	if err := os.WriteFile(tmp, []byte(strings.TrimSpace(content)+"\n"), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// waitForDatastore opens the datastore, retrying until ctx ends.
func waitForDatastore(ctx context.Context, cfg datastore.Config, log *slog.Logger) (*client.Client, error) {
	delay := 200 * time.Millisecond
	for {
		s, err := datastore.Open(ctx, cfg, datastore.Backends{Etcd: etcd.Dial, Kubernetes: kdd.Dial})
		if err == nil {
			return client.New(s), nil
		}
		log.Warn("waiting for the datastore", "endpoints", cfg.Etcd.Endpoints, "error", err)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("datastore: %w (last error: %v)", ctx.Err(), err)
		case <-time.After(delay):
		}
		delay = min(2*delay, 5*time.Second)
	}
}
