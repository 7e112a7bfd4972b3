package kdd

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/datastore"
)

// The Pod annotations Calico's CNI plugin writes (calico-reference.md §2.10).
const (
	annPodIP       = "cni.projectcalico.org/podIP"
	annPodIPs      = "cni.projectcalico.org/podIPs"
	annContainerID = "cni.projectcalico.org/containerID"
)

var pods = resource{version: "v1", plural: "pods", kind: "Pod", namespaced: true}

// k8sPod is the part of a Pod tortie reads.
type k8sPod struct {
	Metadata meta `json:"metadata"`
	Spec     struct {
		NodeName           string `json:"nodeName"`
		HostNetwork        bool   `json:"hostNetwork"`
		ServiceAccountName string `json:"serviceAccountName"`
		Containers         []struct {
			Ports []struct {
				Name          string `json:"name"`
				ContainerPort int    `json:"containerPort"`
				Protocol      string `json:"protocol"`
				HostPort      int    `json:"hostPort"`
				HostIP        string `json:"hostIP"`
			} `json:"ports"`
		} `json:"containers"`
	} `json:"spec"`
	Status struct {
		Phase  string `json:"phase"`
		PodIPs []struct {
			IP string `json:"ip"`
		} `json:"podIPs"`
	} `json:"status"`
}

// wepMapping: WorkloadEndpoints are Pods. The endpoint <node>-k8s-<pod>-eth0
// of namespace ns is the Pod ns/<pod>; its addresses are the annotations
// the CNI plugin writes, which are what a write of the endpoint patches.
func wepMapping() *mapping {
	m := &mapping{prefix: datastore.ResourceListPrefix("workloadendpoints", ""), res: pods, style: stylePatch}
	m.objName = func(key string) (string, string, bool) {
		ns, name, ok := datastore.SplitResourceKey("workloadendpoints", key, true)
		if !ok {
			return "", "", false
		}
		seg := splitWEPName(name)
		if len(seg) != 4 || seg[1] != "k8s" {
			return "", "", false
		}
		return ns, seg[2], true
	}
	m.toKV = func(_ *object, raw []byte) (string, []byte, bool, error) {
		var p k8sPod
		if err := json.Unmarshal(raw, &p); err != nil {
			return "", nil, false, err
		}
		w, ok := workloadEndpoint(&p)
		if !ok {
			return "", nil, false, nil
		}
		b, err := json.Marshal(w)
		return datastore.ResourceKey("workloadendpoints", w.Namespace, w.Name), b, err == nil, err
	}
	m.patch = func(key string, value []byte, _ *object) (map[string]any, error) {
		var w v3.WorkloadEndpoint
		if err := json.Unmarshal(value, &w); err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		var ips []string
		for _, n := range w.Spec.IPNetworks {
			if p, err := netip.ParsePrefix(n); err == nil {
				ips = append(ips, p.String())
			}
		}
		ann := map[string]any{annPodIP: "", annPodIPs: strings.Join(ips, ","), annContainerID: w.Spec.ContainerID}
		if len(ips) > 0 {
			ann[annPodIP] = ips[0]
		}
		return map[string]any{"metadata": map[string]any{"annotations": ann}}, nil
	}
	m.clear = func(string, *object) map[string]any {
		return map[string]any{"metadata": map[string]any{"annotations": map[string]any{annPodIP: "", annPodIPs: ""}}}
	}
	return m
}

// workloadEndpoint is the WorkloadEndpoint a Pod stands for; ok is false
// for host-network, unscheduled and finished pods and for pods without an
// address (the CNI DEL sets the podIP annotation to "").
func workloadEndpoint(p *k8sPod) (*v3.WorkloadEndpoint, bool) {
	if p.Spec.HostNetwork || p.Spec.NodeName == "" || p.Status.Phase == "Succeeded" || p.Status.Phase == "Failed" {
		return nil, false
	}
	ips := podIPs(p)
	if len(ips) == 0 {
		return nil, false
	}
	ns, sa := p.Metadata.Namespace, p.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	labels := map[string]string{}
	for k, v := range p.Metadata.Labels {
		labels[k] = v
	}
	labels["projectcalico.org/namespace"] = ns
	labels["projectcalico.org/orchestrator"] = "k8s"
	labels["projectcalico.org/serviceaccount"] = sa
	w := &v3.WorkloadEndpoint{TypeMeta: v3.TypeMeta{Kind: "WorkloadEndpoint", APIVersion: v3.APIVersion}}
	w.ObjectMeta = v3.ObjectMeta{Name: WEPName(p.Spec.NodeName, p.Metadata.Name, "eth0"), Namespace: ns,
		UID: p.Metadata.UID, CreationTimestamp: p.Metadata.CreationTimestamp, Labels: labels}
	w.Spec = v3.WorkloadEndpointSpec{
		Orchestrator: "k8s", Node: p.Spec.NodeName, Pod: p.Metadata.Name, Endpoint: "eth0",
		ContainerID: p.Metadata.Annotations[annContainerID], ServiceAccountName: sa, IPNetworks: ips,
		Profiles:      []string{"kns." + ns, "ksa." + ns + "." + sa},
		InterfaceName: VethName(ns, p.Metadata.Name),
	}
	for _, c := range p.Spec.Containers {
		for _, port := range c.Ports {
			if port.Name == "" {
				continue
			}
			proto := port.Protocol
			if proto == "" {
				proto = "TCP"
			}
			w.Spec.Ports = append(w.Spec.Ports, v3.WorkloadEndpointPort{Name: port.Name,
				Protocol: v3.ProtocolFromString(proto), Port: port.ContainerPort, HostPort: port.HostPort, HostIP: port.HostIP})
		}
	}
	return w, true
}

// podIPs are the pod's addresses as /32 or /128 networks: the CNI
// plugin's annotations when it wrote them, else the Pod status.
func podIPs(p *k8sPod) []string {
	var raw []string
	a := p.Metadata.Annotations
	if s, ok := a[annPodIPs]; ok {
		raw = strings.Split(s, ",")
	} else if s, ok := a[annPodIP]; ok {
		raw = []string{s}
	} else {
		for _, ip := range p.Status.PodIPs {
			raw = append(raw, ip.IP)
		}
	}
	var out []string
	for _, s := range raw {
		s = strings.TrimSpace(s)
		if pfx, err := netip.ParsePrefix(s); err == nil {
			out = append(out, netip.PrefixFrom(pfx.Addr(), pfx.Addr().BitLen()).String())
		} else if ip, err := netip.ParseAddr(s); err == nil {
			out = append(out, netip.PrefixFrom(ip, ip.BitLen()).String())
		}
	}
	return out
}

// WEPName is Calico's WorkloadEndpoint name of a Kubernetes pod: the
// segments node, "k8s", pod and endpoint joined by "-", each "-" inside a
// segment doubled.
func WEPName(node, pod, endpoint string) string {
	seg := []string{node, "k8s", pod, endpoint}
	for i, s := range seg {
		seg[i] = strings.ReplaceAll(s, "-", "--")
	}
	return strings.Join(seg, "-")
}

// splitWEPName is the inverse of WEPName's join.
func splitWEPName(name string) []string {
	var seg []string
	var cur strings.Builder
	for i := 0; i < len(name); i++ {
		switch {
		case name[i] == '-' && i+1 < len(name) && name[i+1] == '-':
			cur.WriteByte('-')
			i++
		case name[i] == '-':
			seg = append(seg, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(name[i])
		}
	}
	return append(seg, cur.String())
}

// VethName is the host-side interface name Calico gives a pod's veth:
// "cali" and the first 11 hex digits of SHA-1("<namespace>.<pod>").
func VethName(namespace, pod string) string {
	sum := sha1.Sum([]byte(namespace + "." + pod))
	return "cali" + hex.EncodeToString(sum[:])[:11]
}
