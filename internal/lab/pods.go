package lab

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/containernetworking/cni/libcni"
	types100 "github.com/containernetworking/cni/pkg/types/100"

	"github.com/tortienet/tortie/internal/lab/topo"
	"github.com/tortienet/tortie/internal/ns"
)

// podIfName is the pod's interface, as kubelet names it.
const podIfName = "eth0"

// cniTimeout bounds one CNI ADD or DEL.
const cniTimeout = 90 * time.Second

// addPods makes every pod of the topology, one after the other.
func (l *Lab) addPods(ctx context.Context) error {
	for _, p := range l.top.Pods {
		if err := l.addPod(ctx, p); err != nil {
			return fmt.Errorf("pod %s: %w", p.Key(), err)
		}
	}
	return nil
}

// addPod makes the pod's namespace and calls CNI ADD for it on its node,
// with the Kubernetes arguments kubelet passes.
func (l *Lab) addPod(ctx context.Context, p topo.Pod) error {
	rec := PodRecord{
		Key: p.Key(), Node: p.Node, Netns: l.podNS(p), IfName: podIfName,
		ContainerID: fmt.Sprintf("lab-%s-%s-%s", l.top.Name, p.Namespace, p.Name),
		Conflist:    l.dirsOf(p.Node).conflistPath(),
	}
	idx := -1
	if err := l.rec.update(func(st *State) { idx = len(st.Pods); st.Pods = append(st.Pods, rec) }); err != nil {
		return err
	}
	if err := l.makeNamespace(topo.KindPod, p.Key(), rec.Netns); err != nil {
		return err
	}
	list, err := libcni.ConfListFromFile(rec.Conflist)
	if err != nil {
		return fmt.Errorf("CNI configuration: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, cniTimeout)
	defer cancel()
	if l.kube() {
		if err := l.createPodObject(ctx, p); err != nil {
			_ = l.rec.update(func(st *State) { st.Pods[idx].Error = err.Error() })
			return err
		}
	}
	start := time.Now()
	res, err := l.cniConfig(p.Node).AddNetworkList(ctx, list, runtimeConf(rec, p))
	if err != nil {
		_ = l.rec.update(func(st *State) { st.Pods[idx].Error = err.Error() })
		return fmt.Errorf("CNI ADD on node %s: %w", p.Node, err)
	}
	r, err := types100.NewResultFromResult(res)
	if err != nil {
		return fmt.Errorf("CNI ADD result: %w", err)
	}
	for _, ip := range r.IPs {
		rec.IPs = append(rec.IPs, ip.Address.String())
	}
	for _, ifc := range r.Interfaces {
		if ifc.Sandbox == "" {
			rec.HostIf = ifc.Name
		}
	}
	if err := l.labelEndpoint(ctx, p, rec.ContainerID); err != nil {
		return err
	}
	l.log.Info("pod added", "pod", p.Key(), "node", p.Node, "ips", rec.IPs, "hostIf", rec.HostIf, "took", time.Since(start).Round(time.Millisecond))
	return l.rec.update(func(st *State) { st.Pods[idx] = rec })
}

// runtimeConf is what kubelet (through its runtime) passes to CNI.
func runtimeConf(rec PodRecord, p topo.Pod) *libcni.RuntimeConf {
	return &libcni.RuntimeConf{
		ContainerID: rec.ContainerID,
		NetNS:       ns.Path(rec.Netns),
		IfName:      rec.IfName,
		Args: [][2]string{
			{"IgnoreUnknown", "1"},
			{"K8S_POD_NAMESPACE", p.Namespace},
			{"K8S_POD_NAME", p.Name},
			{"K8S_POD_INFRA_CONTAINER_ID", rec.ContainerID},
		},
	}
}

// delPod calls CNI DEL for a recorded pod, as kubelet does when it removes
// the pod sandbox; the namespace itself is removed by Down.
func (l *Lab) delPod(ctx context.Context, rec PodRecord) error {
	namespace, name, _ := strings.Cut(rec.Key, "/")
	if _, err := os.Stat(rec.Conflist); err != nil {
		return fmt.Errorf("pod %s: %w", rec.Key, err)
	}
	list, err := libcni.ConfListFromFile(rec.Conflist)
	if err != nil {
		return fmt.Errorf("pod %s: %w", rec.Key, err)
	}
	rt := runtimeConf(rec, topo.Pod{Namespace: namespace, Name: name})
	if !ns.Exists(rec.Netns) {
		rt.NetNS = "" // CNI DEL must succeed without the namespace
	}
	if err := l.cniConfig(rec.Node).DelNetworkList(ctx, list, rt); err != nil {
		return fmt.Errorf("pod %s: CNI DEL: %w", rec.Key, err)
	}
	return nil
}
