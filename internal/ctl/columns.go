package ctl

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/client"
	"github.com/tortienet/tortie/internal/datastore"
)

// defaultASNumber is Calico's AS when BGPConfiguration "default" sets none.
const defaultASNumber = 64512

// printContext is what some columns need beyond the resource itself.
type printContext struct {
	wide     bool
	globalAS string // the inherited AS, as shown in parentheses
}

func newPrintContext(ctx context.Context, c *client.Client, ki v3.KindInfo, wide bool) (*printContext, error) {
	pc := &printContext{wide: wide, globalAS: strconv.Itoa(defaultASNumber)}
	if ki.Kind != "Node" || !wide {
		return pc, nil
	}
	bk, _ := v3.LookupKind("BGPConfiguration")
	r, err := c.Get(ctx, bk, "", "default")
	switch {
	case errors.Is(err, datastore.ErrNotFound):
	case err != nil:
		return nil, err
	default:
		if as := r.(*v3.BGPConfiguration).Spec.ASNumber; as != nil {
			pc.globalAS = as.String()
		}
	}
	return pc, nil
}

// column is one column of a `get` table.
type column struct {
	header string
	value  func(r v3.Resource, pc *printContext) string
}

// columns returns the ps and wide columns of a kind, as calicoctl prints them.
func columns(kind string) (ps, wide []column) {
	name := column{"NAME", func(r v3.Resource, _ *printContext) string { return r.GetObjectMeta().Name }}
	switch kind {
	case "IPPool":
		cidr := col("CIDR", func(p *v3.IPPool) string { return p.Spec.CIDR })
		sel := col("SELECTOR", func(p *v3.IPPool) string { return p.Spec.NodeSelector })
		return []column{name, cidr, sel}, []column{name, cidr,
			col("NAT", func(p *v3.IPPool) string { return strconv.FormatBool(p.Spec.NATOutgoing) }),
			col("IPIPMODE", func(p *v3.IPPool) string { return string(p.Spec.IPIPMode) }),
			col("VXLANMODE", func(p *v3.IPPool) string { return string(p.Spec.VXLANMode) }),
			col("DISABLED", func(p *v3.IPPool) string { return strconv.FormatBool(p.Spec.Disabled) }),
			col("DISABLEBGPEXPORT", func(p *v3.IPPool) string { return strconv.FormatBool(p.Spec.DisableBGPExport) }),
			sel,
			col("ASSIGNMENTMODE", func(p *v3.IPPool) string { return string(p.Spec.AssignmentMode) }),
		}
	case "Node":
		return []column{name}, []column{name,
			{"ASN", func(r v3.Resource, pc *printContext) string {
				n := r.(*v3.Node)
				if n.Spec.BGP != nil && n.Spec.BGP.ASNumber != nil {
					return n.Spec.BGP.ASNumber.String()
				}
				return "(" + pc.globalAS + ")"
			}},
			col("IPV4", func(n *v3.Node) string { return nodeBGP(n).IPv4Address }),
			col("IPV6", func(n *v3.Node) string { return nodeBGP(n).IPv6Address }),
		}
	case "BGPPeer":
		cols := []column{name,
			col("PEERIP", func(p *v3.BGPPeer) string {
				if p.Spec.PeerIP != "" {
					return p.Spec.PeerIP
				}
				return p.Spec.PeerSelector
			}),
			col("NODE", func(p *v3.BGPPeer) string {
				switch {
				case p.Spec.Node != "":
					return p.Spec.Node
				case p.Spec.NodeSelector != "":
					return p.Spec.NodeSelector
				}
				return "(global)"
			}),
			col("ASN", func(p *v3.BGPPeer) string {
				if p.Spec.PeerSelector != "" {
					return ""
				}
				return p.Spec.ASNumber.String()
			}),
		}
		return cols, cols
	case "BGPConfiguration":
		cols := []column{name,
			col("LOGSEVERITY", func(b *v3.BGPConfiguration) string { return b.Spec.LogSeverityScreen }),
			col("MESHENABLED", func(b *v3.BGPConfiguration) string { return fmtBoolPtr(b.Spec.NodeToNodeMeshEnabled) }),
			col("ASNUMBER", func(b *v3.BGPConfiguration) string {
				if b.Spec.ASNumber == nil {
					return ""
				}
				return b.Spec.ASNumber.String()
			}),
		}
		return cols, cols
	case "NetworkPolicy":
		tier := col("TIER", func(p *v3.NetworkPolicy) string { return p.Spec.Tier })
		return []column{name, tier}, []column{name, tier,
			col("ORDER", func(p *v3.NetworkPolicy) string { return fmtFloatPtr(p.Spec.Order) }),
			col("SELECTOR", func(p *v3.NetworkPolicy) string { return p.Spec.Selector }),
		}
	case "GlobalNetworkPolicy":
		tier := col("TIER", func(p *v3.GlobalNetworkPolicy) string { return p.Spec.Tier })
		return []column{name, tier}, []column{name, tier,
			col("ORDER", func(p *v3.GlobalNetworkPolicy) string { return fmtFloatPtr(p.Spec.Order) }),
			col("SELECTOR", func(p *v3.GlobalNetworkPolicy) string { return p.Spec.Selector }),
		}
	case "HostEndpoint":
		node := col("NODE", func(h *v3.HostEndpoint) string { return h.Spec.Node })
		return []column{name, node}, []column{name, node,
			col("INTERFACE", func(h *v3.HostEndpoint) string { return h.Spec.InterfaceName }),
			col("IPS", func(h *v3.HostEndpoint) string { return strings.Join(h.Spec.ExpectedIPs, ",") }),
			col("PROFILES", func(h *v3.HostEndpoint) string { return strings.Join(h.Spec.Profiles, ",") }),
		}
	case "WorkloadEndpoint":
		workload := col("WORKLOAD", func(w *v3.WorkloadEndpoint) string { return w.Spec.Workload })
		node := col("NODE", func(w *v3.WorkloadEndpoint) string { return w.Spec.Node })
		nets := col("NETWORKS", func(w *v3.WorkloadEndpoint) string { return strings.Join(w.Spec.IPNetworks, ",") })
		iface := col("INTERFACE", func(w *v3.WorkloadEndpoint) string { return w.Spec.InterfaceName })
		return []column{workload, node, nets, iface}, []column{name, workload, node, nets, iface,
			col("PROFILES", func(w *v3.WorkloadEndpoint) string { return strings.Join(w.Spec.Profiles, ",") }),
			col("NATS", func(w *v3.WorkloadEndpoint) string {
				var nats []string
				for _, n := range w.Spec.IPNATs {
					nats = append(nats, n.InternalIP+"<->"+n.ExternalIP)
				}
				return strings.Join(nats, ",")
			}),
		}
	case "Profile":
		return []column{name}, []column{name, col("LABELS", func(p *v3.Profile) string {
			var kv []string
			for _, k := range sortedKeys(p.Spec.LabelsToApply) {
				kv = append(kv, k+"="+p.Spec.LabelsToApply[k])
			}
			return strings.Join(kv, ",")
		})}
	case "NetworkSet":
		return []column{name}, []column{name, col("NETS", func(s *v3.NetworkSet) string { return strings.Join(s.Spec.Nets, ",") })}
	case "GlobalNetworkSet":
		return []column{name}, []column{name, col("NETS", func(s *v3.GlobalNetworkSet) string { return strings.Join(s.Spec.Nets, ",") })}
	case "IPReservation":
		return []column{name}, []column{name, col("CIDRS", func(s *v3.IPReservation) string { return strings.Join(s.Spec.ReservedCIDRs, ",") })}
	case "ClusterInformation":
		cols := []column{name,
			col("CLUSTERGUID", func(c *v3.ClusterInformation) string { return c.Spec.ClusterGUID }),
			col("CLUSTERTYPE", func(c *v3.ClusterInformation) string { return c.Spec.ClusterType }),
			col("CALICOVERSION", func(c *v3.ClusterInformation) string { return c.Spec.CalicoVersion }),
			col("DATASTOREREADY", func(c *v3.ClusterInformation) string { return fmtBoolPtr(c.Spec.DatastoreReady) }),
		}
		return cols, cols
	case "Tier":
		cols := []column{name, {"ORDER", func(r v3.Resource, _ *printContext) string { return fmtFloatPtr(r.(*v3.Tier).Spec.Order) }}}
		return cols, cols
	}
	return []column{name}, []column{name}
}

// col adapts a typed accessor to a column.
func col[T v3.Resource](header string, f func(T) string) column {
	return column{header, func(r v3.Resource, _ *printContext) string { return f(r.(T)) }}
}

// table renders resources of one kind into header and rows; withNamespace
// adds calicoctl's leading NAMESPACE column (for -A).
func table(ki v3.KindInfo, rs []v3.Resource, pc *printContext, withNamespace bool) ([]string, [][]string) {
	ps, wide := columns(ki.Kind)
	cols := ps
	if pc.wide {
		cols = wide
	}
	if withNamespace {
		cols = append([]column{{"NAMESPACE", func(r v3.Resource, _ *printContext) string { return r.GetObjectMeta().Namespace }}}, cols...)
	}
	header := make([]string, len(cols))
	for i, c := range cols {
		header[i] = c.header
	}
	rows := make([][]string, 0, len(rs))
	for _, r := range rs {
		row := make([]string, len(cols))
		for i, c := range cols {
			row[i] = c.value(r, pc)
		}
		rows = append(rows, row)
	}
	return header, rows
}

func nodeBGP(n *v3.Node) v3.NodeBGPSpec {
	if n.Spec.BGP == nil {
		return v3.NodeBGPSpec{}
	}
	return *n.Spec.BGP
}

func fmtBoolPtr(b *bool) string {
	if b == nil {
		return ""
	}
	return strconv.FormatBool(*b)
}

func fmtFloatPtr(f *float64) string {
	if f == nil {
		return ""
	}
	return fmt.Sprint(*f)
}

func tierOrder(r v3.Resource) float64 {
	if t, ok := r.(*v3.Tier); ok && t.Spec.Order != nil {
		return *t.Spec.Order
	}
	return 1e308
}
