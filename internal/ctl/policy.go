package ctl

import (
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/calc/policy"
	"github.com/tortienet/tortie/internal/datastore/kdd"
)

func (a *App) policyCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "policy", Short: "Explain network policy"}
	var via [2]string // --in, --out
	explain := &cobra.Command{
		Use:   "explain SRC DST [PORT/PROTO]",
		Short: "Say whether SRC may reach DST and which tier, policy and rule decided",
		Long: "SRC and DST are a workload endpoint (its name, or a pod as NAMESPACE/POD), a host endpoint (its name)\n" +
			"or an address. A host endpoint's address as DST is its host receiving through it, as SRC its host\n" +
			"sending out of it; --in and --out name the host endpoints crossed where the addresses do not tell\n" +
			"(an outside address reaching a pod through eth0: --in <eth0's host endpoint>).\n" +
			"PORT/PROTO is e.g. 80/tcp, 53/udp or icmp (the default: an ICMP echo, as ping sends).\n" +
			"The answer comes from the same model tortie-node enforces.",
		Args: cobra.RangeArgs(2, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			rs, err := c.ListKinds(cmd.Context(), slices.Concat(policy.Kinds, []string{"StagedKubernetesNetworkPolicy"})...)
			if err != nil {
				return err
			}
			knps, err := kdd.ListKubernetesNetworkPolicies(cmd.Context(), c.Store())
			if err != nil {
				return err
			}
			rs = append(rs, knps...)
			felix, err := c.ListKinds(cmd.Context(), "FelixConfiguration")
			if err != nil {
				return err
			}
			m := policy.Build(policy.FromResources(stagedK8s(rs)))
			proto := "icmp"
			if len(args) == 3 {
				proto = args[2]
			}
			return a.explain(m, felix, args[0], args[1], proto, via)
		},
	}
	explain.Flags().StringVar(&via[0], "in", "", "the host endpoint (by name) the packet arrives through, where its addresses do not tell")
	explain.Flags().StringVar(&via[1], "out", "", "the host endpoint (by name) the packet leaves by, where its addresses do not tell")
	cmd.AddCommand(explain)
	return cmd
}

// stagedK8s turns staged Kubernetes NetworkPolicies into the staged Calico
// policies they stand for (see kdd.StagedPolicy), for the preview.
func stagedK8s(rs []v3.Resource) []v3.Resource {
	out := rs[:0:0]
	for _, r := range rs {
		s, ok := r.(*v3.StagedKubernetesNetworkPolicy)
		if !ok {
			out = append(out, r)
			continue
		}
		np, err := kdd.StagedPolicy(s)
		if err != nil {
			continue // validation refuses what does not convert
		}
		out = append(out, &v3.StagedNetworkPolicy{ObjectMeta: np.ObjectMeta,
			Spec: v3.StagedNetworkPolicySpec{StagedAction: s.Spec.StagedAction, NetworkPolicySpec: np.Spec}})
	}
	return out
}

func (a *App) explain(m *policy.Model, felix []v3.Resource, src, dst, proto string, via [2]string) error {
	var path policy.Path
	for i, name := range via {
		if name == "" {
			continue
		}
		e := hostEndpointNamed(m, name)
		if e == nil {
			return a.fail("--%s %q: no host endpoint by that name", []string{"in", "out"}[i], name)
		}
		if i == 0 {
			path.In = e
		} else {
			path.Out = e
		}
	}
	s, err := resolveEndpoint(m, src)
	if err != nil {
		return a.fail("SRC %q: %v", src, err)
	}
	d, err := resolveEndpoint(m, dst)
	if err != nil {
		return a.fail("DST %q: %v", dst, err)
	}
	pkt, err := parsePortProto(proto)
	if err != nil {
		return a.fail("PORT/PROTO %q: %v", proto, err)
	}
	pkt.Src, pkt.Dst = s, d
	v, notes := explainPath(m, felix, pkt, path)
	verdict := "allowed"
	if !v.Allowed {
		verdict = "denied"
	}
	fmt.Fprintf(a.Out, "%s -> %s %s: %s\n", describeAddr(m, s), describeAddr(m, d), strings.ToUpper(proto), verdict)
	if v.Path != nil {
		for i := range v.Path {
			writeDecision(a.Out, &v.Path[i])
		}
	}
	for _, dec := range []*policy.Decision{v.Egress, v.Ingress} {
		if dec != nil && v.Path == nil {
			writeDecision(a.Out, dec)
		}
	}
	for _, n := range notes {
		fmt.Fprintln(a.Out, n)
	}
	if len(m.Staged) > 0 {
		a.previewStaged(m, pkt)
	}
	for _, p := range m.Problems {
		fmt.Fprintf(a.Out, "not enforced (does not compile): %s\n", p)
	}
	if !v.Allowed {
		return &exitError{code: 1}
	}
	return nil
}

// previewStaged says what the staged policies would decide once
// committed (they are reported, never enforced).
func (a *App) previewStaged(m *policy.Model, pkt policy.Packet) {
	v := m.Preview().Evaluate(pkt)
	verdict := "allowed"
	if !v.Allowed {
		verdict = "denied"
	}
	var names []string
	for _, s := range m.Staged {
		names = append(names, fmt.Sprintf("%s (%s)", s.Name, s.Action))
	}
	fmt.Fprintf(a.Out, "staged, not enforced: %s\nwith the staged policies committed: %s\n", strings.Join(names, ", "), verdict)
	for _, dec := range []*policy.Decision{v.Egress, v.Ingress} {
		if dec != nil {
			writeDecision(a.Out, dec)
		}
	}
}

func writeDecision(w io.Writer, d *policy.Decision) {
	if d.Stage != policy.Normal || d.Failsafe {
		fmt.Fprintf(w, "%s of %s (%s stage):\n", d.Direction, d.Endpoint, d.Stage)
	} else {
		fmt.Fprintf(w, "%s of %s:\n", d.Direction, d.Endpoint)
	}
	for _, s := range d.Steps {
		switch {
		case d.Failsafe:
			fmt.Fprintf(w, "  failsafe port, before any policy: %s\n", s.Action)
		case d.Stage == policy.Forward && s.Tier == "" && s.Policy == "":
			fmt.Fprintf(w, "  no applyOnForward policy decided: forwarded traffic is allowed\n")
		case s.Tier != "" && s.Policy != "":
			fmt.Fprintf(w, "  tier %s: policy %s: rule %d: %s\n", s.Tier, s.Policy, s.Rule, s.Action)
		case s.Tier != "":
			fmt.Fprintf(w, "  tier %s: no rule matched: end of tier: %s\n", s.Tier, s.Action)
		case s.Policy != "":
			fmt.Fprintf(w, "  profile %s: rule %d: %s\n", s.Policy, s.Rule, s.Action)
		default:
			fmt.Fprintf(w, "  no profile allowed it: %s\n", s.Action)
		}
	}
}

// resolveEndpoint turns an address, a workload endpoint's name, a pod
// (NAMESPACE/POD) or a host endpoint's name (its first expected IP) into
// an address.
func resolveEndpoint(m *policy.Model, s string) (netip.Addr, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a, nil
	}
	ns, name, namespaced := strings.Cut(s, "/")
	for _, e := range m.Entities {
		if e.Kind == policy.NetworkSet || len(e.Nets) == 0 {
			continue
		}
		eNS, eName, _ := strings.Cut(e.Key, "/")
		if (e.Kind == policy.WorkloadEndpoint && namespaced && eNS == ns && (eName == name || e.Pod == name)) ||
			(e.Kind == policy.WorkloadEndpoint && !namespaced && eName == s) ||
			(e.Kind == policy.HostEndpoint && e.Key == s) {
			return e.Nets[0].Addr(), nil
		}
	}
	return netip.Addr{}, fmt.Errorf("no workload endpoint, host endpoint (with an expected IP) or address by that name")
}

func hostEndpointNamed(m *policy.Model, name string) *policy.Entity {
	for _, e := range m.Entities {
		if e.Kind == policy.HostEndpoint && e.Key == name {
			return e
		}
	}
	return nil
}

func describeAddr(m *policy.Model, a netip.Addr) string {
	if e := m.HostEndpointAt(a); e != nil {
		return fmt.Sprintf("%s (%s, host endpoint on %s %s)", e.Key, a, e.Node, e.Interface)
	}
	if e := m.Endpoint(a); e != nil {
		return fmt.Sprintf("%s (%s)", e.Key, a)
	}
	return a.String()
}

// parsePortProto reads 80/tcp, 53/udp, tcp or icmp.
func parsePortProto(s string) (policy.Packet, error) {
	port, proto, hasPort := strings.Cut(strings.ToLower(s), "/")
	if !hasPort {
		proto, port = port, ""
	}
	var p policy.Packet
	n, ok := v3.ProtocolFromString(strings.ToUpper(proto)).Number()
	if !ok {
		if n, ok = protoNumber(proto); !ok {
			return p, fmt.Errorf("unknown protocol %q (tcp, udp, sctp, icmp or a number)", proto)
		}
	}
	p.Protocol = uint8(n)
	switch {
	case p.Protocol == policy.ProtoICMP:
		p.ICMPType = 8 // echo request
	case port != "":
		v, err := strconv.ParseUint(port, 10, 16)
		if err != nil || v == 0 {
			return p, fmt.Errorf("port %q: want a number from 1 to 65535", port)
		}
		p.DstPort, p.SrcPort = uint16(v), 40000
	}
	return p, nil
}

func protoNumber(s string) (int, bool) {
	if s == "icmp" {
		return policy.ProtoICMP, true
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n > 0 && n < 256
}
