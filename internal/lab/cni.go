package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"path/filepath"
	"time"

	"github.com/containernetworking/cni/libcni"

	"github.com/tortienet/tortie/internal/conventions"
	"github.com/tortienet/tortie/internal/lab/topo"
)

// cniNetworkName is the network name in every conflist the lab writes
// (Calico's manifests use the same).
const cniNetworkName = "k8s-pod-network"

// chooseCNI settles the plugin flavor. auto is tortie when the tortie
// plugin answers a CNI VERSION request, else ptp (the upstream plugin),
// so that the lab works before tortie's plugin does and switches to it by
// itself once it does.
func (l *Lab) chooseCNI(ctx context.Context) error {
	flavor := l.top.CNI
	paths := l.rec.snapshot().CNIPath
	if flavor == topo.CNIAuto {
		flavor = topo.CNIPtp
		if l.tortiePluginWorks(ctx, paths) {
			flavor = topo.CNITortie
		}
	}
	if l.kube() && flavor != topo.CNITortie {
		return fmt.Errorf("datastore kubernetes needs the tortie CNI plugin, and %s does not answer a CNI VERSION request (make build)", filepath.Join(l.cfg.BinDir, "tortie"))
	}
	need := map[string][]string{
		topo.CNITortie: {"tortie", "tortie-ipam"},
		topo.CNIPtp:    {"ptp", "host-local"},
		topo.CNIBridge: {"bridge", "host-local"},
	}[flavor]
	for _, p := range need {
		if _, err := (nodeExec{}).FindInPath(p, paths); err != nil {
			return fmt.Errorf("CNI flavor %s: %w", flavor, err)
		}
	}
	l.log.Info("CNI plugins", "flavor", flavor, "path", paths)
	return l.rec.update(func(st *State) { st.CNI = flavor })
}

// tortiePluginWorks asks bin/tortie for its supported CNI versions.
func (l *Lab) tortiePluginWorks(ctx context.Context, paths []string) bool {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	cfg := libcni.NewCNIConfig(paths, nodeExec{netns: l.ulNS()})
	_, err := cfg.GetVersionInfo(ctx, "tortie")
	if err != nil {
		l.log.Info("the tortie CNI plugin does not answer VERSION; using ptp", "err", err)
	}
	return err == nil
}

// conflist builds the CNI configuration of a node for the lab's flavor.
func (l *Lab) conflist(node topo.Node, index int, dirs nodeDirs) ([]byte, error) {
	st := l.rec.snapshot()
	mtu := l.nodeMTU(node)
	var plugin map[string]any
	switch st.CNI {
	case topo.CNITortie:
		plugin = map[string]any{
			"type":           "tortie",
			"log_level":      "info",
			"log_file_path":  filepath.Join(dirs.log, "cni.log"),
			"datastore_type": "etcdv3",
			"etcd_endpoints": st.Datastore,
			"nodename":       node.Name,
			"nodename_file":  filepath.Join(dirs.lib, conventions.NodenameFile),
			// mtu 0: the plugin reads the MTU file tortie-node (or, with
			// no agent, the lab) writes in the node's state directory.
			"state_dir":           dirs.lib,
			"mtu":                 0,
			"ipam_lock_file":      filepath.Join(dirs.run, "ipam.lock"),
			"endpoint_status_dir": filepath.Join(dirs.run, "endpoint-status"),
			"ipam":                map[string]any{"type": "tortie-ipam"},
		}
		if l.top.Pool.Prefix6.IsValid() {
			plugin["ipam"] = map[string]any{"type": "tortie-ipam", "assign_ipv4": "true", "assign_ipv6": "true"}
		}
		if l.kube() {
			l.kubeConf(plugin, dirs)
		}
	case topo.CNIPtp, topo.CNIBridge:
		subnet, err := nodeSubnet(l.top.Pool.Prefix, index)
		if err != nil {
			return nil, err
		}
		ipam := map[string]any{
			"type":    "host-local",
			"ranges":  [][]map[string]string{{{"subnet": subnet.String()}}},
			"routes":  []map[string]string{{"dst": "0.0.0.0/0"}},
			"dataDir": filepath.Join(dirs.lib, "host-local"),
		}
		plugin = map[string]any{"type": "ptp", "mtu": mtu, "ipMasq": false, "ipam": ipam}
		if st.CNI == topo.CNIBridge {
			plugin = map[string]any{"type": "bridge", "bridge": "cni0", "isGateway": true,
				"mtu": mtu, "ipMasq": false, "ipam": ipam}
		}
	default:
		return nil, fmt.Errorf("unknown CNI flavor %q", st.CNI)
	}
	list := map[string]any{"cniVersion": "1.0.0", "name": cniNetworkName, "plugins": []any{plugin}}
	return json.MarshalIndent(list, "", "  ")
}

// kubeConf turns a tortie plugin configuration to the Kubernetes
// datastore, as Calico's manifests write it: the kubeconfig, k8s policy,
// and with usePodCIDR host-local on the node's podCIDR.
func (l *Lab) kubeConf(plugin map[string]any, dirs nodeDirs) {
	delete(plugin, "etcd_endpoints")
	plugin["datastore_type"] = "kubernetes"
	plugin["kubernetes"] = map[string]any{"kubeconfig": l.Kubeconfig()}
	plugin["policy"] = map[string]any{"type": "k8s"}
	if l.top.UsePodCIDR {
		plugin["ipam"] = map[string]any{"type": "host-local", "subnet": "usePodCidr", "dataDir": filepath.Join(dirs.lib, "host-local")}
	}
}

// nodeSubnet is node i's host-local range for the upstream plugins: the
// i-th /24 of the pool (the pool must be /24 or larger).
func nodeSubnet(pool netip.Prefix, i int) (netip.Prefix, error) {
	if pool.Bits() > 24 || i >= 1<<(24-pool.Bits()) {
		return netip.Prefix{}, fmt.Errorf("pool %s has no /24 for node %d (the ptp and bridge flavors give each node a /24)", pool, i+1)
	}
	b := pool.Addr().As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v += uint32(i) << 8
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), 0}), 24), nil
}

// nodeMTU is the MTU of the node's first underlay interface less the
// encapsulation overhead of the pool (IPIP 20, VXLAN 50).
func (l *Lab) nodeMTU(n topo.Node) int {
	s, _ := l.top.Subnet(n.Interfaces[0].Subnet)
	mtu := s.MTU
	switch {
	case l.top.Pool.VXLANMode != "Never":
		mtu -= 50
	case l.top.Pool.IPIPMode != "Never":
		mtu -= 20
	}
	return mtu
}

// cniConfig is libcni's runtime for one node: plugins found in the lab's
// CNI path, run inside the node's namespace, results cached in the lab
// directory (never /var/lib/cni).
func (l *Lab) cniConfig(node string) *libcni.CNIConfig {
	st := l.rec.snapshot()
	return libcni.NewCNIConfigWithCacheDir(st.CNIPath, filepath.Join(st.Dir, "cni-cache"), nodeExec{netns: l.nodeNS(node)})
}
