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

	"github.com/tortienet/tortie/internal/conventions"
	"github.com/tortienet/tortie/internal/lab/topo"
)

// agentBinary is the node agent's program in the bin dir.
const agentBinary = "tortie-node"

// nodeDirs are a node's private directories inside the lab directory: what
// /var/lib/tortie, /run/tortie, /etc/cni/net.d and /var/log/tortie are on
// a real node.
type nodeDirs struct {
	root, lib, run, netd, log string
}

func (l *Lab) dirsOf(node string) nodeDirs {
	root := filepath.Join(l.Dir(), "nodes", node)
	return nodeDirs{root: root, lib: filepath.Join(root, "lib"), run: filepath.Join(root, "run"),
		netd: filepath.Join(root, "net.d"), log: filepath.Join(root, "log")}
}

// conflistPath is the node's CNI configuration file.
func (d nodeDirs) conflistPath() string { return filepath.Join(d.netd, "10-tortie.conflist") }

// setupNodes prepares every node: directories, CNI configuration, and the
// node agent (or, while there is none, what the agent would have written:
// the nodename and mtu files and, for the tortie plugin, the default pool).
func (l *Lab) setupNodes(ctx context.Context) error {
	agent := filepath.Join(l.cfg.BinDir, agentBinary)
	haveAgent := isExecutable(agent)
	if !haveAgent {
		l.log.Info("no node agent: nodes run without tortie-node (only same-node pod traffic works)", "missing", agent)
		if l.rec.snapshot().CNI == topo.CNITortie {
			if err := l.bootstrapPool(ctx); err != nil {
				return err
			}
		}
	}
	for i, n := range l.top.Nodes {
		d := l.dirsOf(n.Name)
		for _, dir := range []string{d.lib, d.run, d.netd, d.log} {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return fmt.Errorf("node %s: %w", n.Name, err)
			}
		}
		conf, err := l.conflist(n, i, d)
		if err != nil {
			return fmt.Errorf("node %s: %w", n.Name, err)
		}
		if err := os.WriteFile(d.conflistPath(), conf, 0o644); err != nil {
			return fmt.Errorf("node %s: %w", n.Name, err)
		}
		if !haveAgent {
			if err := l.writeAgentFiles(n, d); err != nil {
				return fmt.Errorf("node %s: %w", n.Name, err)
			}
			continue
		}
		if err := l.startAgent(n, d, agent); err != nil {
			return fmt.Errorf("node %s: %w", n.Name, err)
		}
	}
	if haveAgent {
		return l.waitAgents(ctx)
	}
	return nil
}

// writeAgentFiles writes the files tortie-node's startup writes, so the
// CNI plugin finds them while there is no agent.
func (l *Lab) writeAgentFiles(n topo.Node, d nodeDirs) error {
	if err := os.WriteFile(filepath.Join(d.lib, conventions.NodenameFile), []byte(n.Name), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(d.lib, conventions.MTUFile), []byte(strconv.Itoa(l.nodeMTU(n))), 0o644)
}

// startAgent is the hook for the node agent: tortie-node, inside the
// node's namespace, with calico-node's environment pointing at the lab's
// datastore and at the node's own directories.
func (l *Lab) startAgent(n topo.Node, d nodeDirs, agent string) error {
	return l.startProcess(ProcessRecord{
		Role:  agentBinary + "/" + n.Name,
		Netns: l.nodeNS(n.Name),
		Argv:  []string{agent},
		Log:   filepath.Join(d.log, agentBinary+".log"),
	}, l.agentEnv(n, d))
}

// agentEnv is the environment of one node's agent. Topology-wide env comes
// first, the node's own env last, so it wins.
func (l *Lab) agentEnv(n topo.Node, d nodeDirs) []string {
	t := l.top
	env := append(l.procEnv(),
		"NODENAME="+n.Name,
		"IP=autodetect",
		"CALICO_NODENAME_FILE="+filepath.Join(d.lib, conventions.NodenameFile),
		"TORTIE_STATE_DIR="+d.lib,
		"TORTIE_RUN_DIR="+d.run,
		"CALICO_IPV4POOL_CIDR="+t.Pool.Prefix.String(),
		"CALICO_IPV4POOL_BLOCK_SIZE="+strconv.Itoa(t.Pool.BlockSize),
		"CALICO_IPV4POOL_IPIP="+t.Pool.IPIPMode,
		"CALICO_IPV4POOL_VXLAN="+t.Pool.VXLANMode,
		"CALICO_IPV4POOL_NAT_OUTGOING="+strconv.FormatBool(*t.Pool.NATOutgoing),
	)
	env = append(env, l.datastoreEnv()...)
	if t.UsePodCIDR {
		env = append(env, "USE_POD_CIDR=true")
	}
	method := n.Autodetect
	if method == "" {
		method = t.Autodetect
	}
	if method != "" {
		env = append(env, "IP_AUTODETECTION_METHOD="+method)
	}
	if a6 := l.nodeAddr6(n); a6.IsValid() {
		env = append(env, "IP6="+a6.String())
	}
	for _, k := range sortedKeys(t.Env) {
		env = append(env, k+"="+t.Env[k])
	}
	for _, k := range sortedKeys(n.Env) {
		env = append(env, k+"="+n.Env[k])
	}
	return env
}

// waitAgents waits until every agent has written its nodename file, which
// calico-node's startup does last: from then on the CNI plugin works.
func (l *Lab) waitAgents(ctx context.Context) error {
	deadline := time.Now().Add(l.cfg.ReadyTimeout)
	for _, n := range l.top.Nodes {
		file := filepath.Join(l.dirsOf(n.Name).lib, conventions.NodenameFile)
		for {
			if _, err := os.Stat(file); err == nil {
				break
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				log := filepath.Join(l.dirsOf(n.Name).log, agentBinary+".log")
				return fmt.Errorf("node %s: tortie-node did not write %s within %v; its log ends: %s", n.Name, file, l.cfg.ReadyTimeout, tail(log, 1500))
			}
			time.Sleep(200 * time.Millisecond)
		}
		// The agent's first sync writes the MTU file; pods made before it
		// get the plugin's default MTU (as in Calico). Give it a moment so
		// the lab's pods get the node's MTU, but an agent that cannot sync
		// yet (a test's unreachable datastore) does not fail the lab.
		waitFile(ctx, filepath.Join(l.dirsOf(n.Name).lib, conventions.MTUFile), 5*time.Second)
	}
	return nil
}

// waitFile waits until path exists, at most d; it reports whether it does.
func waitFile(ctx context.Context, path string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if _, err := os.Stat(path); err == nil {
			return true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// bootstrapPool applies the lab's IPPool with tortiectl, run inside the
// underlay namespace, as tortie-node's startup would create it from
// CALICO_IPV4POOL_*. Used only while there is no agent.
func (l *Lab) bootstrapPool(ctx context.Context) error {
	p := l.top.Pool
	doc := fmt.Sprintf(`apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: default-ipv4-ippool
spec:
  cidr: %s
  blockSize: %d
  ipipMode: %s
  vxlanMode: %s
  natOutgoing: %t
  nodeSelector: all()
`, p.Prefix, p.BlockSize, p.IPIPMode, p.VXLANMode, *p.NATOutgoing)
	return l.tortiectlApply("pool.yaml", doc)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// nodeAddr6 is the IPv6 address (with its prefix length) of a node's
// first interface, when its subnet has an IPv6 network.
func (l *Lab) nodeAddr6(n topo.Node) netip.Prefix {
	if len(n.Interfaces) == 0 {
		return netip.Prefix{}
	}
	s, ok := l.top.Subnet(n.Interfaces[0].Subnet)
	if a6 := s.Addr6(n.Interfaces[0].Addr); ok && a6.IsValid() {
		return netip.PrefixFrom(a6, s.Prefix6.Bits())
	}
	return netip.Prefix{}
}
