package e2e

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tortienet/tortie/internal/client"
	"github.com/tortienet/tortie/internal/datastore/kdd/kasrun"
	"github.com/tortienet/tortie/internal/ipam"
	"github.com/tortienet/tortie/internal/lab"
)

// The lab on the Kubernetes datastore (issue 14): a kube-apiserver on the
// lab's etcd, tortie-node on every node with DATASTORE_TYPE=kubernetes,
// the lab acting as kubelet (it registers the Nodes and creates each Pod
// before calling CNI with K8S_POD_* arguments), tortie-controllers
// running.

// k8sLabNeeds skips unless a node lab can run and the kube-apiserver and
// kubectl are there.
func k8sLabNeeds(t *testing.T) string {
	t.Helper()
	nodeLabNeeds(t, "nft")
	if _, err := kasrun.Binary(); err != nil {
		t.Skip("skipping: ", err)
	}
	if _, err := os.Stat(bin("tortie-controllers")); err != nil {
		t.Skipf("skipping: tortie-controllers is not in %s (make build)", binDir)
	}
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("skipping: no kubectl on PATH")
	}
	return kubectl
}

const k8sLabTopology = `datastore: kubernetes
subnets:
  - {name: s1, cidr: 172.31.1.0/24}
pool: {vxlanMode: Always}
nodes:
  - {name: node1}
  - {name: node2}
  - {name: node3}
pods:
  - {name: web, namespace: shop, node: node1, labels: {app: web}}
  - {name: client, namespace: shop, node: node2, labels: {app: client}}
  - {name: client, namespace: other, node: node3, labels: {app: client}}
  - {name: spare, namespace: shop, node: node3, labels: {app: spare}}
`

// Only pods labelled app=client in web's own namespace may reach it.
const k8sLabPolicy = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-from-clients, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress]
  ingress:
  - from:
    - podSelector: {matchLabels: {app: client}}
`

// TestLabKubernetes: pods on 3 nodes connect; a Kubernetes NetworkPolicy
// applied with kubectl changes reachability as Kubernetes defines it and
// deleting it restores it; a pod deleted from the API (its DEL never
// came) loses its endpoint and, after the grace period, its address to
// tortie-controllers; an apiserver restart changes nothing in the
// dataplane and the agents' watches resume.
func TestLabKubernetes(t *testing.T) {
	kubectl := k8sLabNeeds(t)
	l := upNodeLab(t, "k8s", k8sLabTopology)
	c := l.cluster()
	l.pingAll("up on the Kubernetes datastore")
	l.checkPodsInAPI(c)
	l.checkAPIServerRestart(c) // the policy below then shows the watches resumed

	file := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(file, []byte(k8sLabPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	l.mustRun("exec", "underlay", "--", kubectl, "apply", "-f", file)
	reach := func(from, to string, want bool) {
		t.Helper()
		f, d := c.pods[from], c.pods[to]
		waitFor(t, fmt.Sprintf("%s -> %s (allowed %v)", from, to, want), func() error {
			err := pingFromPod(f.netns, d.ip)
			switch {
			case want:
				return err
			case err == nil:
				return errReached
			}
			return nil
		})
	}
	reach("shop/client", "shop/web", true)
	reach("other/client", "shop/web", false) // podSelector alone: web's namespace only
	reach("shop/spare", "shop/web", false)
	reach("shop/web", "other/client", true) // only web's ingress is isolated
	// The lab's expectations and policy explain read the policy too.
	if out := l.mustRun("ping"); !strings.Contains(out, "10 of 10 expected pairs connected") {
		t.Errorf("lab ping with the NetworkPolicy: the matrix should expect the 2 blocked pairs:\n%s", out)
	}
	out, errOut, _ := l.run("exec", "underlay", "--", bin("tortiectl"), "policy", "explain", "other/client", "shop/web")
	if !strings.Contains(out, "denied") {
		t.Errorf("policy explain other/client shop/web:\n%s%s", out, errOut)
	}
	out, errOut, _ = l.run("exec", "underlay", "--", bin("tortiectl"), "policy", "explain", "shop/client", "shop/web")
	if !strings.Contains(out, "knp.default.web-from-clients") {
		t.Errorf("policy explain shop/client shop/web should name the policy that allows it:\n%s%s", out, errOut)
	}
	l.mustRun("exec", "underlay", "--", kubectl, "delete", "-f", file)
	reach("other/client", "shop/web", true)
	reach("shop/spare", "shop/web", true)

	l.checkDeletedPodReleased(kubectl, c.pods["shop/spare"])
}

// checkPodsInAPI: each pod's addresses are in its Pod's annotations, as
// Calico's plugin writes them, and its endpoint carries the pod's labels.
func (l *nodeLab) checkPodsInAPI(c *labCluster) {
	l.t.Helper()
	for key, p := range c.pods {
		ns, name, _ := strings.Cut(key, "/")
		ann := l.kubectlIn("get", "pod", "-n", ns, name, "-o", `jsonpath={.metadata.annotations.cni\.projectcalico\.org/podIP}`)
		if ann != p.ip+"/32" {
			l.t.Errorf("pod %s: podIP annotation %q, want %s/32", key, ann, p.ip)
		}
	}
	out := l.tortiectlIn("get", "workloadendpoints", "-n", "shop", "-o", "wide")
	if strings.Count(out, "kns.shop") != 3 {
		l.t.Errorf("get workloadendpoints -n shop: want 3 endpoints with profile kns.shop:\n%s", out)
	}
}

// kubectlIn runs kubectl in the underlay namespace (on the lab's
// KUBECONFIG).
func (l *nodeLab) kubectlIn(args ...string) string {
	l.t.Helper()
	kubectl, _ := exec.LookPath("kubectl")
	return l.mustRun("exec", append([]string{"underlay", "--", kubectl}, args...)...)
}

// checkDeletedPodReleased deletes the pod from the API only, as the node
// controller does for the pods of a dead node: its endpoint goes at once
// (a WorkloadEndpoint is its Pod), and tortie-controllers releases its
// address once the grace period has passed.
func (l *nodeLab) checkDeletedPodReleased(kubectl string, p labPod) {
	l.t.Helper()
	ns, name, _ := strings.Cut(p.key, "/")
	l.mustRun("exec", "underlay", "--", kubectl, "delete", "pod", "-n", ns, name, "--grace-period=0", "--force")
	lb, err := lab.Open(lab.Config{Root: l.stateDir}, l.name)
	if err != nil {
		l.t.Fatal(err)
	}
	s, err := lb.Store(l.t.Context())
	if err != nil {
		l.t.Fatal(err)
	}
	defer s.Close()
	m := ipam.New(client.New(s))
	ip := netip.MustParseAddr(p.ip)
	if a, ok, err := m.GetAllocation(l.t.Context(), ip); err != nil || !ok {
		l.t.Fatalf("%s (%s) is not allocated before the controllers ran: %+v %v", p.key, ip, a, err)
	}
	waitFor(l.t, "the endpoint of the deleted pod is gone", func() error {
		if out := l.tortiectlIn("get", "workloadendpoints", "-n", ns); strings.Contains(out, name) {
			return fmt.Errorf("still listed:\n%s", out)
		}
		return nil
	})
	waitFor(l.t, "tortie-controllers released "+p.ip, func() error {
		a, ok, err := m.GetAllocation(l.t.Context(), ip)
		if err != nil || ok {
			return fmt.Errorf("allocation %+v (%v)", a, err)
		}
		return nil
	})
	if out := l.tortiectlIn("ipam", "check"); !strings.Contains(out, "found 0 problems") {
		l.t.Errorf("ipam check after the release:\n%s", out)
	}
}

// checkAPIServerRestart restarts the apiserver: the agents keep running
// and the nodes' routes and nftables stay as they were once the agents
// have reconnected (their watches resume from where they were; a change
// made after the restart, the caller's, shows that they did).
func (l *nodeLab) checkAPIServerRestart(c *labCluster) {
	l.t.Helper()
	before := map[string]string{}
	pids := map[string]int{}
	for _, n := range c.nodes {
		before[n.name] = l.dataplane(n.name)
		p, err := l.agentProcess(n.name)
		if err != nil {
			l.t.Fatal(err)
		}
		pids[n.name] = p
	}
	l.mustRun("restart", "kube-apiserver")
	for _, n := range c.nodes {
		l.waitReady(n.name)
	}
	time.Sleep(3 * time.Second) // the agents' watches reconnect (and would resync) meanwhile
	for _, n := range c.nodes {
		if p, err := l.agentProcess(n.name); err != nil || p != pids[n.name] {
			l.t.Errorf("tortie-node on %s: pid %d before, %d after the restart (%v)", n.name, pids[n.name], p, err)
		}
		if after := l.dataplane(n.name); after != before[n.name] {
			l.t.Errorf("node %s: the dataplane changed over the apiserver restart:\n%s", n.name, diffLines(before[n.name], after))
		}
	}
}

// agentProcess is the pid of the node's tortie-node.
func (l *nodeLab) agentProcess(node string) (int, error) {
	lb, err := lab.Open(lab.Config{Root: l.stateDir}, l.name)
	if err != nil {
		return 0, err
	}
	p, err := lb.Process(node)
	return p.Pid, err
}

const k8sPodCIDRTopology = `datastore: kubernetes
usePodCIDR: true
subnets:
  - {name: s1, cidr: 172.31.1.0/24}
pool: {vxlanMode: Always}
nodes:
  - {name: node1}
  - {name: node2}
  - {name: node3}
pods:
  - {name: a, node: node1}
  - {name: b, node: node2}
  - {name: c, node: node3}
`

// TestLabKubernetesUsePodCIDR: with Node podCIDRs set, host-local
// (subnet: usePodCidr) gives each pod an address from its node's podCIDR
// and tortie-node (USE_POD_CIDR) routes the podCIDRs: pods on 3 nodes
// connect.
func TestLabKubernetesUsePodCIDR(t *testing.T) {
	k8sLabNeeds(t)
	l := upNodeLab(t, "k8spc", k8sPodCIDRTopology)
	st := l.status()
	for i, node := range []string{"node1", "node2", "node3"} {
		cidr := netip.MustParsePrefix(fmt.Sprintf("10.244.%d.0/24", i))
		got := l.kubectlIn("get", "node", node, "-o", "jsonpath={.spec.podCIDR}")
		if got != cidr.String() {
			t.Errorf("node %s: podCIDR %q, want %s", node, got, cidr)
		}
		for _, p := range st.Pods {
			if p.Node == node && (len(p.IPs) != 1 || !cidr.Contains(netip.MustParsePrefix(p.IPs[0]).Addr())) {
				t.Errorf("pod %s on %s: addresses %v, want one in its node's podCIDR %s", p.Key, node, p.IPs, cidr)
			}
		}
	}
	l.pingAll("usePodCidr")
}
