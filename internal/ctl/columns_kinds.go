package ctl

import (
	"fmt"
	"strconv"
	"strings"

	v3 "github.com/tortienet/tortie/api/v3"
)

// The per-kind columns, grouped as the API is. Each group answers for its
// kinds and says no to the others. Headings and cell contents follow
// calicoctl's resourcemgr templates.

func ipamColumns(kind string) (kindColumns, bool) {
	switch kind {
	case "IPPool":
		mode := func(m string) string {
			if m == "" {
				return "Never"
			}
			return m
		}
		return kindColumns{
			ps:   []string{"NAME", "CIDR", "SELECTOR"},
			wide: []string{"NAME", "CIDR", "NAT", "IPIPMODE", "VXLANMODE", "DISABLED", "DISABLEBGPEXPORT", "SELECTOR", "ASSIGNMENTMODE"},
			cells: map[string]cell{
				"CIDR":             col(func(p *v3.IPPool) string { return p.Spec.CIDR }),
				"NAT":              col(func(p *v3.IPPool) string { return strconv.FormatBool(p.Spec.NATOutgoing) }),
				"IPIPMODE":         col(func(p *v3.IPPool) string { return mode(string(p.Spec.IPIPMode)) }),
				"VXLANMODE":        col(func(p *v3.IPPool) string { return mode(string(p.Spec.VXLANMode)) }),
				"DISABLED":         col(func(p *v3.IPPool) string { return strconv.FormatBool(p.Spec.Disabled) }),
				"DISABLEBGPEXPORT": col(func(p *v3.IPPool) string { return strconv.FormatBool(p.Spec.DisableBGPExport) }),
				"SELECTOR":         col(func(p *v3.IPPool) string { return p.Spec.NodeSelector }),
				"ASSIGNMENTMODE":   col(func(p *v3.IPPool) string { return string(p.Spec.AssignmentMode) }),
			},
		}, true
	case "IPAMConfiguration":
		return kindColumns{ps: []string{"NAME", "STRICTAFFINITY", "AUTOALLOCATEBLOCKS"}, wide: []string{"NAME", "STRICTAFFINITY", "AUTOALLOCATEBLOCKS", "MAXBLOCKSPERHOST"}, cells: map[string]cell{
			"STRICTAFFINITY":     col(func(c *v3.IPAMConfiguration) string { return strconv.FormatBool(c.Spec.StrictAffinity) }),
			"AUTOALLOCATEBLOCKS": col(func(c *v3.IPAMConfiguration) string { return strconv.FormatBool(c.Spec.AutoAllocateBlocks) }),
			"MAXBLOCKSPERHOST":   col(func(c *v3.IPAMConfiguration) string { return strconv.Itoa(int(c.Spec.MaxBlocksPerHost)) }),
		}}, true
	case "IPReservation":
		return kindColumns{ps: []string{"NAME"}, wide: []string{"NAME", "CIDRS"}, cells: map[string]cell{
			"CIDRS": col(func(r *v3.IPReservation) string { return joinTruncate(r.Spec.ReservedCIDRs, ",", 80) }),
		}}, true
	case "Node":
		return kindColumns{ps: []string{"NAME"}, wide: []string{"NAME", "ASN", "IPV4", "IPV6"}, cells: map[string]cell{
			"ASN": func(r v3.Resource, pc *printContext) string {
				n := r.(*v3.Node)
				switch {
				case n.Spec.BGP == nil:
					return ""
				case n.Spec.BGP.ASNumber != nil:
					return n.Spec.BGP.ASNumber.String()
				}
				return "(" + pc.globalAS + ")"
			},
			"IPV4": col(func(n *v3.Node) string { return nodeBGP(n).IPv4Address }),
			"IPV6": col(func(n *v3.Node) string { return nodeBGP(n).IPv6Address }),
		}}, true
	case "ClusterInformation":
		h := []string{"NAME", "CLUSTERGUID", "CLUSTERTYPE", "CALICOVERSION", "DATASTOREREADY"}
		return kindColumns{ps: h, wide: h, cells: map[string]cell{
			"CLUSTERGUID":    col(func(c *v3.ClusterInformation) string { return c.Spec.ClusterGUID }),
			"CLUSTERTYPE":    col(func(c *v3.ClusterInformation) string { return c.Spec.ClusterType }),
			"CALICOVERSION":  col(func(c *v3.ClusterInformation) string { return c.Spec.CalicoVersion }),
			"DATASTOREREADY": col(func(c *v3.ClusterInformation) string { return fmtBoolPtr(c.Spec.DatastoreReady) }),
		}}, true
	}
	return kindColumns{}, false
}

func bgpColumns(kind string) (kindColumns, bool) {
	switch kind {
	case "BGPPeer":
		h := []string{"NAME", "PEERIP", "NODE", "ASN"}
		return kindColumns{ps: h, wide: h, cells: map[string]cell{
			"PEERIP": col(func(p *v3.BGPPeer) string { return p.Spec.PeerIP }),
			"NODE": col(func(p *v3.BGPPeer) string {
				switch {
				case p.Spec.Node != "":
					return p.Spec.Node
				case p.Spec.NodeSelector != "":
					return p.Spec.NodeSelector
				}
				return "(global)"
			}),
			"ASN": col(func(p *v3.BGPPeer) string { return p.Spec.ASNumber.String() }),
		}}, true
	case "BGPConfiguration":
		h := []string{"NAME", "LOGSEVERITY", "MESHENABLED", "ASNUMBER"}
		return kindColumns{ps: h, wide: h, cells: map[string]cell{
			"LOGSEVERITY": col(func(b *v3.BGPConfiguration) string { return b.Spec.LogSeverityScreen }),
			"MESHENABLED": col(func(b *v3.BGPConfiguration) string {
				return orDash(b.Spec.NodeToNodeMeshEnabled != nil, fmtBoolPtr(b.Spec.NodeToNodeMeshEnabled))
			}),
			"ASNUMBER": col(func(b *v3.BGPConfiguration) string {
				if b.Spec.ASNumber == nil {
					return "-"
				}
				return b.Spec.ASNumber.String()
			}),
		}}, true
	case "BGPFilter":
		h := []string{"NAME", "NUMEXPORTV4", "NUMIMPORTV4", "NUMEXPORTV6", "NUMIMPORTV6"}
		return kindColumns{ps: h, wide: h, cells: map[string]cell{
			"NUMEXPORTV4": col(func(f *v3.BGPFilter) string { return strconv.Itoa(len(f.Spec.ExportV4)) }),
			"NUMIMPORTV4": col(func(f *v3.BGPFilter) string { return strconv.Itoa(len(f.Spec.ImportV4)) }),
			"NUMEXPORTV6": col(func(f *v3.BGPFilter) string { return strconv.Itoa(len(f.Spec.ExportV6)) }),
			"NUMIMPORTV6": col(func(f *v3.BGPFilter) string { return strconv.Itoa(len(f.Spec.ImportV6)) }),
		}}, true
	case "CalicoNodeStatus":
		return kindColumns{ps: []string{"NAME", "NODE"}, wide: []string{"NAME", "NODE", "CLASSES"}, cells: map[string]cell{
			"NODE":    col(func(s *v3.CalicoNodeStatus) string { return s.Spec.Node }),
			"CLASSES": col(func(s *v3.CalicoNodeStatus) string { return strings.Join(s.Spec.Classes, ",") }),
		}}, true
	}
	return kindColumns{}, false
}

// policyColumns: the policy kinds and tiers.
func policyColumns(kind string) (kindColumns, bool) {
	tiered := func(tier func(v3.Resource) string, order func(v3.Resource) *float64, sel func(v3.Resource) string) kindColumns {
		return kindColumns{ps: []string{"NAME", "TIER"}, wide: []string{"NAME", "TIER", "ORDER", "SELECTOR"}, cells: map[string]cell{
			"TIER":     func(r v3.Resource, _ *printContext) string { return tier(r) },
			"ORDER":    func(r v3.Resource, _ *printContext) string { return fmtFloatPtr(order(r)) },
			"SELECTOR": func(r v3.Resource, _ *printContext) string { return sel(r) },
		}}
	}
	switch kind {
	case "NetworkPolicy", "StagedNetworkPolicy":
		return tiered(func(r v3.Resource) string { return policySpec(r).Tier },
			func(r v3.Resource) *float64 { return policySpec(r).Order },
			func(r v3.Resource) string { return policySpec(r).Selector }), true
	case "GlobalNetworkPolicy", "StagedGlobalNetworkPolicy":
		return tiered(func(r v3.Resource) string { return globalPolicySpec(r).Tier },
			func(r v3.Resource) *float64 { return globalPolicySpec(r).Order },
			func(r v3.Resource) string { return globalPolicySpec(r).Selector }), true
	case "StagedKubernetesNetworkPolicy":
		return kindColumns{ps: []string{"NAME"}, wide: []string{"NAME", "PODSELECTOR"}, cells: map[string]cell{
			"PODSELECTOR": col(func(p *v3.StagedKubernetesNetworkPolicy) string { return p.Spec.PodSelector.GoString() }),
		}}, true
	case "Tier":
		h := []string{"NAME", "ORDER"}
		return kindColumns{ps: h, wide: h, cells: map[string]cell{
			"ORDER": col(func(t *v3.Tier) string { return fmtFloatPtr(t.Spec.Order) }),
		}}, true
	}
	return kindColumns{}, false
}

func endpointColumns(kind string) (kindColumns, bool) {
	switch kind {
	case "HostEndpoint":
		return kindColumns{ps: []string{"NAME", "NODE"}, wide: []string{"NAME", "NODE", "INTERFACE", "IPS", "PROFILES"}, cells: map[string]cell{
			"NODE":      col(func(h *v3.HostEndpoint) string { return h.Spec.Node }),
			"INTERFACE": col(func(h *v3.HostEndpoint) string { return h.Spec.InterfaceName }),
			"IPS":       col(func(h *v3.HostEndpoint) string { return strings.Join(h.Spec.ExpectedIPs, ",") }),
			"PROFILES":  col(func(h *v3.HostEndpoint) string { return strings.Join(h.Spec.Profiles, ",") }),
		}}, true
	case "WorkloadEndpoint":
		return kindColumns{
			ps:   []string{"WORKLOAD", "NODE", "NETWORKS", "INTERFACE"},
			wide: []string{"NAME", "WORKLOAD", "NODE", "NETWORKS", "INTERFACE", "PROFILES", "NATS"},
			cells: map[string]cell{
				"WORKLOAD": col(func(w *v3.WorkloadEndpoint) string {
					if w.Spec.Workload != "" {
						return w.Spec.Workload
					}
					return w.Spec.Pod
				}),
				"NODE":         col(func(w *v3.WorkloadEndpoint) string { return w.Spec.Node }),
				"ORCHESTRATOR": col(func(w *v3.WorkloadEndpoint) string { return w.Spec.Orchestrator }),
				"NETWORKS":     col(func(w *v3.WorkloadEndpoint) string { return strings.Join(w.Spec.IPNetworks, ",") }),
				"INTERFACE":    col(func(w *v3.WorkloadEndpoint) string { return w.Spec.InterfaceName }),
				"PROFILES":     col(func(w *v3.WorkloadEndpoint) string { return strings.Join(w.Spec.Profiles, ",") }),
				"NATS": col(func(w *v3.WorkloadEndpoint) string {
					nats := make([]string, len(w.Spec.IPNATs))
					for i, n := range w.Spec.IPNATs {
						nats[i] = fmt.Sprint(n) // a struct, as the template prints it: {internal external}
					}
					return strings.Join(nats, ",")
				}),
			},
		}, true
	}
	return kindColumns{}, false
}

// setColumns: profiles and network sets.
func setColumns(kind string) (kindColumns, bool) {
	switch kind {
	case "Profile":
		return kindColumns{ps: []string{"NAME"}, wide: []string{"NAME", "LABELS"}, cells: map[string]cell{
			"LABELS": col(func(p *v3.Profile) string { return joinMap(p.Spec.LabelsToApply) }),
		}}, true
	case "NetworkSet":
		return kindColumns{ps: []string{"NAME"}, wide: []string{"NAME", "NETS"}, cells: map[string]cell{
			"NETS": col(func(s *v3.NetworkSet) string { return joinTruncate(s.Spec.Nets, ",", 80) }),
		}}, true
	case "GlobalNetworkSet":
		return kindColumns{ps: []string{"NAME"}, wide: []string{"NAME", "NETS"}, cells: map[string]cell{
			"NETS": col(func(s *v3.GlobalNetworkSet) string { return joinTruncate(s.Spec.Nets, ",", 80) }),
		}}, true
	}
	return kindColumns{}, false
}

func nodeBGP(n *v3.Node) v3.NodeBGPSpec {
	if n.Spec.BGP == nil {
		return v3.NodeBGPSpec{}
	}
	return *n.Spec.BGP
}

// policySpec is the NetworkPolicySpec of a NetworkPolicy or a staged one.
func policySpec(r v3.Resource) *v3.NetworkPolicySpec {
	if s, ok := r.(*v3.StagedNetworkPolicy); ok {
		return &s.Spec.NetworkPolicySpec
	}
	return &r.(*v3.NetworkPolicy).Spec
}

// globalPolicySpec is the GlobalNetworkPolicySpec of a GlobalNetworkPolicy
// or a staged one.
func globalPolicySpec(r v3.Resource) *v3.GlobalNetworkPolicySpec {
	if s, ok := r.(*v3.StagedGlobalNetworkPolicy); ok {
		return &s.Spec.GlobalNetworkPolicySpec
	}
	return &r.(*v3.GlobalNetworkPolicy).Spec
}
