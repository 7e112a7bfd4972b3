package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"slices"
	"testing"
	"time"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/calc"
	"github.com/tortienet/tortie/internal/calc/policy"
	"github.com/tortienet/tortie/internal/dataplane/nft"
	"github.com/tortienet/tortie/internal/ns/nstest"
	"sigs.k8s.io/knftables"
)

// Policy sizes as in felix-scale.md §0: endpoints on one node, and
// GlobalNetworkPolicies of 10 rules each selecting every endpoint.
var (
	policyEndpoints = []int{200, 1000}
	policyCounts    = []int{0, 1000} // 0 is the no-policy baseline; 1000 × 10 = 10k rules
)

// BenchmarkPolicy measures the policy dataplane on one node (a network
// namespace with two real pods, a client and a server, and the other
// endpoints as interfaces named in the dispatch maps): the model's build,
// the nftables table written from zero, one policy changed with every rule
// present, one endpoint added, the dataplane's objects per endpoint, and
// new TCP connections per second from client to server through every rule
// (only the last rule of the last policy opens the server's port), each
// beside the no-policy baseline of the same run.
func BenchmarkPolicy(b *testing.B) {
	benchPolicy(b, "GlobalNetworkPolicies × 10 rules, each selecting every endpoint", policyEndpoints, exactRule)
}

// BenchmarkPolicyPrefixRange is BenchmarkPolicy (1,000 endpoints) with
// rules on a source prefix (/24) and a destination port range (16 ports)
// instead of a /32 and one port.
func BenchmarkPolicyPrefixRange(b *testing.B) {
	benchPolicy(b, "GlobalNetworkPolicies × 10 rules on a /24 and a 16-port range, each selecting every endpoint", []int{1000}, prefixRangeRule)
}

func benchPolicy(b *testing.B, title string, endpointCounts []int, rule ruleShape) {
	if msg := requireRootFor("the policy benchmark"); msg != "" {
		b.Skip(msg)
	}
	fmt.Printf("\nPolicy: %s (load average %s)\n", title, loadAvg())
	fmt.Printf("%-9s %-7s %10s %11s %13s %12s %12s %12s %12s %8s %9s %s\n", "endpoints", "rules", "build", "from zero", "change: model", "change: nft",
		"+1 ep: model", "+1 ep (nft)", "+1 ep (direct)", "objs/ep", "conn/s", "(bulk Gbit/s)")
	for _, n := range endpointCounts {
		var rs []policyResult
		for _, pols := range policyCounts {
			rs = append(rs, runPolicyBench(b, n, pols, rule))
		}
		ratio := interleavedRates(b, rs)
		bulk := interleavedBulk(b, rs)
		for i, pols := range policyCounts {
			r := rs[i]
			fmt.Printf("%-9d %-7d %10s %11s %13s %12s %12s %12s %12s %8.1f %9.0f", n, pols*10,
				round3(r.build), round3(r.fromZero), round3(r.changeModel), round3(r.change),
				round3(r.addModel), round3(r.addEndpoint), round3(r.addDirect), r.objsPerEndpoint, r.connPerSec)
			if i > 0 {
				fmt.Printf(" (%.0f %% of no policy)", 100*ratio[i])
			}
			fmt.Printf(" (bulk %.2f Gbit/s", r.bulkGbps)
			if i > 0 {
				fmt.Printf(", %.0f %% of no policy", 100*bulk[i])
			}
			fmt.Println(")")
		}
	}
}

// Connection rates are measured with every table of an endpoint count in
// place at once (each in its own node), in short windows taken in turn,
// so that the load of a shared machine weighs on each side alike: the
// rate of each is the median of its windows, and the fraction of the
// baseline (the first) the median of the rounds' ratios.
const (
	rateRounds = 15
	rateWindow = 400 * time.Millisecond
)

func interleavedRates(b *testing.B, rs []policyResult) (ratio []float64) {
	rates, ratio := interleaved(rs, rateRounds, rateWindow, func(r policyResult, d time.Duration) float64 { return r.conn(d) })
	for i := range rs {
		rs[i].connPerSec = rates[i]
	}
	return ratio
}

// interleaved takes rounds of one window of measure per table; rate is
// the median of each table's windows, ratio the median of its rounds'
// ratios to the first table's.
func interleaved(rs []policyResult, rounds int, window time.Duration, measure func(policyResult, time.Duration) float64) (rate, ratio []float64) {
	rates := make([][]float64, len(rs))
	ratios := make([][]float64, len(rs))
	for range rounds {
		var round []float64
		for i, r := range rs {
			round = append(round, measure(r, window))
			rates[i] = append(rates[i], round[i])
			ratios[i] = append(ratios[i], round[i]/round[0])
		}
	}
	for i := range rs {
		rate = append(rate, median(rates[i]))
		ratio = append(ratio, median(ratios[i]))
	}
	return rate, ratio
}

func median(xs []float64) float64 {
	slices.Sort(xs)
	return xs[len(xs)/2]
}

type policyResult struct {
	build, fromZero, changeModel, change, addEndpoint time.Duration
	addModel, addDirect                               time.Duration
	objsPerEndpoint, connPerSec, bulkGbps             float64
	// conn measures new connections per second through this node's table
	// for a while.
	conn func(time.Duration) float64
	// bulk measures one connection's throughput through it (Gbit/s).
	bulk func(time.Duration) float64
}

func runPolicyBench(b *testing.B, endpoints, pols int, rule ruleShape) policyResult {
	node := nstest.New(b, "tbp")
	client := benchPod(b, node, "calic", "10.244.1.1", "10.244.1.254")
	server := benchPod(b, node, "calis", "10.244.2.1", "10.244.2.254")
	node.MustRun(b, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	b.Cleanup(acceptLoop(b, server, "10.244.2.1:5201"))

	in := policyInput(endpoints, pols, rule)
	var r policyResult
	builder := policy.NewBuilder()
	start := time.Now()
	prog := policy.Compile(builder.Build(in), "n1")
	r.build = time.Since(start)
	nat := calc.NAT{MasqPools: nil, AllPools: nil}
	var owner *nft.Owner
	var real knftables.Interface
	err := node.Do(func() (err error) {
		if real, err = nft.NewNFTables(); err != nil {
			return err
		}
		owner = nft.New(nft.Config{NFT: real})
		start = time.Now()
		_, err = owner.Apply(context.Background(), nft.Wanted{NAT: nat, Policy: &prog})
		r.fromZero = time.Since(start)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	r.conn = func(d time.Duration) float64 { return connRate(b, client, "10.244.2.1:5201", d) }
	r.bulk = func(d time.Duration) float64 { return bulkRate(b, client, "10.244.2.1:5201", d) }
	r.objsPerEndpoint = float64(len(prog.Endpoints)*2+spoofElements(prog)) / float64(len(prog.Endpoints))
	if pols > 0 {
		start := time.Now()
		p := changeOnePolicy(builder, in, pols/2)
		r.changeModel = time.Since(start)
		r.change = applyTimed(b, node, owner, nat, p)
	}
	// A new endpoint, its elements written by nft, then (another Owner of
	// the same table) straight over netlink.
	r.addModel, r.addEndpoint = addEndpointTimed(b, builder, node, owner, nat, in, "nft")
	in.WorkloadEndpoints = slices.Clone(in.WorkloadEndpoints)
	direct := nft.New(nft.Config{NFT: real, Direct: true})
	now := policy.Compile(builder.Build(in), "n1")
	applyTimed(b, node, direct, nat, &now) // reads the table back: the Owner knows it from here
	_, r.addDirect = addEndpointTimed(b, builder, node, direct, nat, in, "direct")
	return r
}

// ruleShape is the source net and destination port of rule k of policy
// p, and of the last rule (the one that lets the client reach 5201).
type ruleShape func(p, k int, last bool) (string, v3.Port)

// exactRule: Allow TCP from its own /32 to its own port.
func exactRule(p, k int, last bool) (string, v3.Port) {
	if last {
		return "10.244.1.1/32", v3.SinglePort(5201)
	}
	return fmt.Sprintf("10.200.%d.%d/32", (p*10+k)/250, (p*10+k)%250+1), v3.SinglePort(uint16(20000 + k))
}

// prefixRangeRule: Allow TCP from its own /24 to an aligned range of 16
// ports.
func prefixRangeRule(p, k int, last bool) (string, v3.Port) {
	if last {
		return "10.244.1.0/24", v3.PortRange(5200, 5215)
	}
	i := p*10 + k
	return fmt.Sprintf("10.%d.%d.0/24", 100+i/250, i%250), v3.PortRange(uint16(20000+16*k), uint16(20015+16*k))
}

// policyInput: the profile fp-net (allow all), endpoints labelled fp-net,
// and pols policies of 10 rules, each Allow TCP from the net to the port
// rule says; the last rule of the last policy lets the client reach 5201.
func policyInput(endpoints, pols int, rule ruleShape) policy.Input {
	var in policy.Input
	prof := &v3.Profile{ObjectMeta: v3.ObjectMeta{Name: "fp-net"}}
	prof.Spec.Ingress, prof.Spec.Egress = []v3.Rule{{Action: v3.Allow}}, []v3.Rule{{Action: v3.Allow}}
	prof.Spec.LabelsToApply = map[string]string{"fp-net": ""}
	in.Profiles = []*v3.Profile{prof}
	wep := func(name, iface, ip string) *v3.WorkloadEndpoint {
		w := &v3.WorkloadEndpoint{ObjectMeta: v3.ObjectMeta{Name: name, Namespace: "default"}}
		w.Spec.Node, w.Spec.InterfaceName, w.Spec.IPNetworks, w.Spec.Profiles = "n1", iface, []string{ip + "/32"}, []string{"fp-net"}
		return w
	}
	in.WorkloadEndpoints = append(in.WorkloadEndpoints, wep("client", "calic", "10.244.1.1"), wep("server", "calis", "10.244.2.1"))
	for i := 2; i < endpoints; i++ {
		in.WorkloadEndpoints = append(in.WorkloadEndpoints, wep(fmt.Sprintf("w%d", i), fmt.Sprintf("caliw%d", i), fmt.Sprintf("10.244.%d.%d", 10+i/250, i%250+1)))
	}
	tcp := v3.ProtocolFromString("TCP")
	for p := range pols {
		g := &v3.GlobalNetworkPolicy{ObjectMeta: v3.ObjectMeta{Name: fmt.Sprintf("fp-%04d", p)}}
		order := float64(p + 1)
		g.Spec.Order, g.Spec.Selector, g.Spec.Types = &order, "has(fp-net)", []v3.PolicyType{v3.PolicyTypeIngress}
		for k := range 10 {
			src, port := rule(p, k, p == pols-1 && k == 9)
			g.Spec.Ingress = append(g.Spec.Ingress, v3.Rule{Action: v3.Allow, Protocol: &tcp,
				Source: v3.EntityRule{Nets: []string{src}}, Destination: v3.EntityRule{Ports: []v3.Port{port}}})
		}
		in.GlobalNetworkPolicies = append(in.GlobalNetworkPolicies, g)
	}
	return in
}

// changeOnePolicy changes the ports of policy i (a new object, as the
// agent's view decodes one) and returns the program.
func changeOnePolicy(b *policy.Builder, in policy.Input, i int) *policy.Program {
	g := *in.GlobalNetworkPolicies[i]
	g.Spec.Ingress = slices.Clone(g.Spec.Ingress)
	for k := range g.Spec.Ingress {
		g.Spec.Ingress[k].Destination.Ports = []v3.Port{v3.SinglePort(uint16(30000 + k))}
	}
	in.GlobalNetworkPolicies = slices.Clone(in.GlobalNetworkPolicies)
	in.GlobalNetworkPolicies[i] = &g
	p := policy.Compile(b.Build(in), "n1")
	return &p
}

func applyTimed(b *testing.B, node *nstest.NS, o *nft.Owner, nat calc.NAT, p *policy.Program) time.Duration {
	var took time.Duration
	if err := node.Do(func() error {
		start := time.Now()
		_, err := o.Apply(context.Background(), nft.Wanted{NAT: nat, Policy: p})
		took = time.Since(start)
		return err
	}); err != nil {
		b.Fatal(err)
	}
	return took
}

// addEndpointTimed adds endpoints one at a time (model, program and
// table) and returns the medians of the model's part (build and compile)
// and of the whole, from the endpoint's arrival to its table write.
func addEndpointTimed(b *testing.B, builder *policy.Builder, node *nstest.NS, o *nft.Owner, nat calc.NAT, in policy.Input, tag string) (model, total time.Duration) {
	var models, totals []time.Duration
	for i := range 9 {
		w := *in.WorkloadEndpoints[len(in.WorkloadEndpoints)-1]
		w.Name, w.Spec.InterfaceName, w.Spec.IPNetworks = fmt.Sprintf("new%s%d", tag, i), fmt.Sprintf("cali%s%d", tag, i), []string{fmt.Sprintf("10.244.250.%d/32", len(tag)*10+i+1)}
		in.WorkloadEndpoints = append(in.WorkloadEndpoints, &w)
		start := time.Now()
		p := policy.Compile(builder.Build(in), "n1")
		models = append(models, time.Since(start))
		applyTimed(b, node, o, nat, &p)
		totals = append(totals, time.Since(start))
	}
	slices.Sort(models)
	slices.Sort(totals)
	return models[len(models)/2], totals[len(totals)/2]
}

func spoofElements(p policy.Program) int {
	n := 0
	for _, e := range p.Endpoints {
		n += len(e.Addrs)
	}
	return n
}

func benchPod(b *testing.B, node *nstest.NS, iface, addr, gw string) *nstest.NS {
	p := nstest.New(b, "tbq")
	if err := node.AddVeth(iface, "e"+iface, gw+"/24"); err != nil {
		b.Fatal(err)
	}
	node.MustRun(b, "ip", "link", "set", "e"+iface, "netns", p.Name)
	p.MustRun(b, "ip", "link", "set", "e"+iface, "name", "eth0")
	p.MustRun(b, "ip", "addr", "add", addr+"/24", "dev", "eth0")
	p.MustRun(b, "ip", "link", "set", "eth0", "up")
	p.MustRun(b, "ip", "route", "add", "default", "via", gw)
	return p
}

func acceptLoop(b *testing.B, p *nstest.NS, addr string) func() {
	var ln net.Listener
	if err := p.Do(func() (err error) { ln, err = net.Listen("tcp", addr); return err }); err != nil {
		b.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { // reads what a bulk sender sends; a connection-rate client sends nothing
				_, _ = io.Copy(io.Discard, c)
				c.Close()
			}()
		}
	}()
	return func() { ln.Close() }
}

// bulkRate sends to addr from inside p on one TCP connection for d and
// returns the rate in Gbit/s.
func bulkRate(b *testing.B, p *nstest.NS, addr string, d time.Duration) float64 {
	n := 0
	err := p.Do(func() error {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return fmt.Errorf("connect %s: %w", addr, err)
		}
		defer c.Close()
		buf := make([]byte, 128<<10)
		c.SetWriteDeadline(time.Now().Add(d))
		for {
			m, err := c.Write(buf)
			n += m
			if err != nil {
				return nil // the deadline
			}
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	return float64(n) * 8 / d.Seconds() / 1e9
}

// interleavedBulk is interleavedRates for bulk throughput: rounds of one
// window per table, the rate the median of its windows, the fraction the
// median of the rounds' ratios.
func interleavedBulk(b *testing.B, rs []policyResult) (ratio []float64) {
	rates, ratio := interleaved(rs, 11, time.Second, func(r policyResult, d time.Duration) float64 { return r.bulk(d) })
	for i := range rs {
		rs[i].bulkGbps = rates[i]
	}
	return ratio
}

// connRate opens new TCP connections to addr from inside p for d and
// returns how many completed per second.
func connRate(b *testing.B, p *nstest.NS, addr string, d time.Duration) float64 {
	n := 0
	err := p.Do(func() error {
		end := time.Now().Add(d)
		for time.Now().Before(end) {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err != nil {
				return fmt.Errorf("connect %s: %w", addr, err)
			}
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
			n++
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return float64(n) / d.Seconds()
}
