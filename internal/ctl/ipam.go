package ctl

import (
	"encoding/json"
	"fmt"
	"math/big"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/buildinfo"
	"github.com/tortienet/tortie/internal/ipam"
)

func (a *App) ipamCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "ipam", Short: "IP address management: show, check, release, configure"}
	cmd.AddCommand(a.ipamShowCommand(), a.ipamCheckCommand(), a.ipamReleaseCommand(), a.ipamConfigureCommand())
	return cmd
}

func (a *App) ipamShowCommand() *cobra.Command {
	var ip string
	var showBlocks, showBorrowed, showConfig bool
	cmd := &cobra.Command{
		Use:   "show [--ip=ADDR | --show-blocks | --show-borrowed | --show-configuration]",
		Short: "Show pool and block usage, one address, borrowed addresses or the IPAM configuration",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			c, err := a.client(ctx)
			if err != nil {
				return a.fail("%v", err)
			}
			defer c.Close()
			m := ipam.New(c)
			switch {
			case ip != "":
				addr, err := netip.ParseAddr(ip)
				if err != nil {
					return a.fail("--ip = %q: not an IP address", ip)
				}
				al, ok, err := m.GetAllocation(ctx, addr)
				if err != nil {
					return a.fail("%v", err)
				}
				if !ok {
					fmt.Fprintf(a.Out, "IP %s is not assigned\n", addr)
					return nil
				}
				fmt.Fprintf(a.Out, "IP %s is in use\nHandle ID: %s\nActive Owner Attributes:\n", addr, al.HandleID)
				for _, k := range sortedKeys(al.Attrs) {
					fmt.Fprintf(a.Out, "  %s: %s\n", k, al.Attrs[k])
				}
				return nil
			case showConfig:
				cfg, err := m.GetConfig(ctx)
				if err != nil {
					return a.fail("%v", err)
				}
				return writeBoxTable(a.Out, []string{"PROPERTY", "VALUE"}, configRows(cfg))
			case showBorrowed:
				blocks, err := m.ListBlocks(ctx)
				if err != nil {
					return a.fail("%v", err)
				}
				return writeBoxTable(a.Out, []string{"IP", "BORROWING-NODE", "BLOCK", "BLOCK OWNER", "TYPE", "ALLOCATED-TO"}, borrowedRows(blocks))
			}
			blocks, err := m.ListBlocks(ctx)
			if err != nil {
				return a.fail("%v", err)
			}
			pk, _ := v3.LookupKind("IPPool")
			pools, _, err := c.List(ctx, pk, "")
			if err != nil {
				return a.fail("%v", err)
			}
			return writeBoxTable(a.Out, []string{"GROUPING", "CIDR", "IPS TOTAL", "IPS IN USE", "IPS FREE"}, usageRows(pools, blocks, showBlocks))
		},
	}
	cmd.Flags().StringVar(&ip, "ip", "", "show who holds this address")
	cmd.Flags().BoolVar(&showBlocks, "show-blocks", false, "add a row per block")
	cmd.Flags().BoolVar(&showBorrowed, "show-borrowed", false, "list addresses allocated from another node's block")
	cmd.Flags().BoolVar(&showConfig, "show-configuration", false, "show the IPAM configuration")
	return cmd
}

func configRows(cfg ipam.Config) [][]string {
	persist := cfg.KubeVirtPersist
	if persist == "" {
		persist = "Enabled"
	}
	return [][]string{
		{"StrictAffinity", strconv.FormatBool(cfg.StrictAffinity)},
		{"AutoAllocateBlocks", strconv.FormatBool(cfg.AutoAllocateBlocks)},
		{"MaxBlocksPerHost", strconv.Itoa(cfg.MaxBlocksPerHost)},
		{"KubeVirtVMAddressPersistence", persist},
	}
}

// usageRows is the `ipam show` table: a row per pool with its usage and,
// with showBlocks, a row per block of the pool (sorted as strings, as
// calicoctl sorts them).
func usageRows(pools []v3.Resource, blocks []*ipam.Block, showBlocks bool) [][]string {
	var rows [][]string
	for _, r := range pools {
		p := r.(*v3.IPPool)
		cidr, err := netip.ParsePrefix(p.Spec.CIDR)
		if err != nil {
			continue
		}
		total := new(big.Int).Lsh(big.NewInt(1), uint(cidr.Addr().BitLen()-cidr.Bits()))
		used := 0
		var mine []*ipam.Block
		for _, b := range blocks {
			if cidr.Contains(b.Prefix().Addr()) {
				used += b.InUse()
				mine = append(mine, b)
			}
		}
		rows = append(rows, usageRow("IP Pool", p.Spec.CIDR, total, used))
		if showBlocks {
			sort.Slice(mine, func(i, j int) bool { return mine[i].CIDR < mine[j].CIDR })
			for _, b := range mine {
				rows = append(rows, usageRow("Block", b.CIDR, big.NewInt(int64(b.Size())), b.InUse()))
			}
		}
	}
	return rows
}

func usageRow(group, cidr string, total *big.Int, used int) []string {
	u := big.NewInt(int64(used))
	free := new(big.Int).Sub(total, u)
	return []string{group, cidr, total.String(), fmt.Sprintf("%d (%s%%)", used, percent(u, total)), fmt.Sprintf("%s (%s%%)", free, percent(free, total))}
}

// percent is 100*n/total rounded to a whole number.
func percent(n, total *big.Int) string {
	if total.Sign() == 0 {
		return "0"
	}
	f := new(big.Float).Quo(new(big.Float).SetInt(new(big.Int).Mul(n, big.NewInt(100))), new(big.Float).SetInt(total))
	v, _ := f.Float64()
	return strconv.FormatFloat(v, 'f', 0, 64)
}

// borrowedRows lists allocations whose node is not the block's owner.
func borrowedRows(blocks []*ipam.Block) [][]string {
	var rows [][]string
	for _, b := range blocks {
		owner := b.Host()
		for ord := range b.Allocations {
			attr, held := b.Owner(ord)
			node := attr.ActiveOwnerAttrs[ipam.AttrNode]
			if !held || node == "" || node == owner {
				continue
			}
			typ := attr.ActiveOwnerAttrs[ipam.AttrType]
			if typ == "" {
				typ = "Workload"
			}
			to := attr.HandleID
			if pod := attr.ActiveOwnerAttrs[ipam.AttrPod]; pod != "" {
				to = attr.ActiveOwnerAttrs[ipam.AttrNamespace] + "/" + pod
			}
			rows = append(rows, []string{b.Addr(ord).String(), node, b.CIDR, owner, typ, to})
		}
	}
	return rows
}

func (a *App) ipamCheckCommand() *cobra.Command {
	var output string
	var showAll bool
	cmd := &cobra.Command{
		Use:   "check [-o report.json]",
		Short: "Look for leaked addresses and inconsistent IPAM records",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client(cmd.Context())
			if err != nil {
				return a.fail("%v", err)
			}
			defer c.Close()
			r, err := ipam.New(c).Check(cmd.Context())
			if err != nil {
				return a.fail("%v", err)
			}
			r.Version = buildinfo.Version
			printCheck(a, r, showAll)
			if output != "" {
				b, _ := json.MarshalIndent(r, "", "  ")
				if err := os.WriteFile(output, append(b, '\n'), 0o644); err != nil {
					return a.fail("write report: %v", err)
				}
				fmt.Fprintf(a.Out, "Wrote the report to %s\n", output)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "write a JSON report for ipam release --from-report")
	cmd.Flags().BoolVar(&showAll, "show-all-ips", false, "list every allocation, not only the problems")
	cmd.Flags().Bool("show-problem-ips", true, "list the addresses with problems (always on)")
	return cmd
}

func printCheck(a *App, r *ipam.Report, showAll bool) {
	p := func(format string, args ...any) { fmt.Fprintf(a.Out, format+"\n", args...) }
	p("Checking IPAM for inconsistencies...\n")
	p("Loading all IPAM blocks...")
	p("Found %d IPAM blocks.", len(r.Blocks))
	for _, b := range r.Blocks {
		aff := b.Affinity
		if aff == "" {
			aff = "<none>"
		}
		p(" IPAM block %s affinity=%s:", b.CIDR, aff)
		if showAll {
			p("  %d of %d addresses in use", b.InUse, b.Size)
		}
	}
	p("IPAM blocks record %d allocations.\n", r.Allocations)
	p("Loading all IPAM pools...")
	for _, pool := range r.Pools {
		p("  %s", pool)
	}
	p("Found %d active IP pools.\n", len(r.Pools))
	p("Loading all nodes.")
	p("Found %d node tunnel IPs.\n", r.NodeTunnelIPs)
	p("Loading all workload endpoints.")
	p("Found %d workload IPs.", r.WorkloadIPs)
	p("Workloads and nodes are using %d IPs.\n", r.InUse)
	p("Loading all handles")
	p("Looking for top (up to 20) nodes by allocations...")
	nodes := sortedKeys(r.AllocationsByNode)
	sort.SliceStable(nodes, func(i, j int) bool { return r.AllocationsByNode[nodes[i]] > r.AllocationsByNode[nodes[j]] })
	for i, n := range nodes {
		if i == 20 {
			break
		}
		p("  %s has %d allocations", n, r.AllocationsByNode[n])
	}
	if len(nodes) > 0 {
		p("Node with most allocations has %d; median is %d", r.AllocationsByNode[nodes[0]], r.AllocationsByNode[nodes[len(nodes)/2]])
	}
	p("")
	printCheckScans(p, r)
	p("Check complete; found %d problems.", r.Problems())
	if len(r.NodesWithoutEndpoints) > 0 {
		p("\nWARNING: nodes %s hold workload allocations but have no WorkloadEndpoint at all.", strings.Join(r.NodesWithoutEndpoints, ", "))
		p("WARNING: this is what the IPAM plugin used without tortie's CNI plugin looks like: then their")
		p("WARNING: \"leaked\" addresses belong to live containers. Do not release them; ipam release")
		p("WARNING: --from-report refuses to, unless --force.")
	}
}

// printCheckScans prints the scans of ipam check.
func printCheckScans(p func(string, ...any), r *ipam.Report) {
	p("Scanning for IPs that are allocated but not actually in use...")
	for _, l := range r.Leaked {
		p("  %s leaked; handle %s, node %s, block %s", l.IP, l.Handle, l.Node, l.Block)
	}
	p("Found %d IPs that are allocated in IPAM but not actually in use.", len(r.Leaked))
	p("Scanning for IPs that are in use by a workload or node but not allocated in IPAM...")
	for _, u := range r.MultipleOwners {
		p("  %s has multiple owners.", u.IP)
	}
	for _, u := range r.OutsidePools {
		for _, o := range u.Owners {
			p("  %s in use by %s is not in any active IP pool.", u.IP, o)
		}
	}
	for _, u := range r.NotAllocated {
		for _, o := range u.Owners {
			p("  %s in use by %s and in active IPAM pool but has no IPAM allocation.", u.IP, o)
		}
	}
	p("Found %d in-use IPs that are not in active IP pools.", len(r.OutsidePools))
	p("Found %d in-use IPs that are in active IP pools but have no corresponding IPAM allocation.\n", len(r.NotAllocated))
	p("Scanning for IPAM handles with no matching IPs...")
	for _, h := range r.EmptyHandles {
		p("  %s doesn't have any active IPs.", h)
	}
	p("Found %d handles with no matching IPs (and %d handles with matches).", len(r.EmptyHandles), r.GoodHandles)
	p("Scanning for IPs with missing handle...")
	for _, h := range r.MissingHandles {
		p("  %s is in use in a block but doesn't exist.", h.Handle)
	}
	p("Found %d handles mentioned in blocks with no matching handle resource.", len(r.MissingHandles))
	p("Scanning for handles with mismatched counts...")
	for _, h := range r.HandleMismatches {
		p("  handle %s records %d IPs in block %s, the block holds %d", h.Handle, h.Recorded, h.Block, h.Actual)
	}
	p("Found %d handles with mismatched counts.", len(r.HandleMismatches))
	p("Scanning for affinities of nodes that do not exist...")
	for _, s := range r.StaleAffinities {
		p("  %s is affine to %s, which does not exist", s.Block, s.Host)
	}
	p("Found %d affinities of nodes that do not exist.", len(r.StaleAffinities))
}

func (a *App) ipamReleaseCommand() *cobra.Command {
	var ip, cniCache string
	var reports []string
	var force bool
	cmd := &cobra.Command{
		Use:   "release (--ip=ADDR | --from-report=FILE...)",
		Short: "Release one address, or the addresses leaked in every given report",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (ip == "") == (len(reports) == 0) {
				return a.fail("give either --ip or --from-report")
			}
			ctx := cmd.Context()
			c, err := a.client(ctx)
			if err != nil {
				return a.fail("%v", err)
			}
			defer c.Close()
			m := ipam.New(c)
			if ip != "" {
				addr, err := netip.ParseAddr(ip)
				if err != nil {
					return a.fail("--ip = %q: not an IP address", ip)
				}
				missing, err := m.ReleaseIPs(ctx, ipam.ReleaseOptions{Address: addr})
				if err != nil {
					return a.fail("release %s: %v", addr, err)
				}
				if len(missing) > 0 {
					return a.fail("IP %s is not assigned", addr)
				}
				fmt.Fprintf(a.Out, "Successfully released IP %s\n", addr)
				return nil
			}
			var rs []*ipam.Report
			for _, f := range reports {
				b, err := os.ReadFile(f)
				if err != nil {
					return a.fail("read report: %v", err)
				}
				var r ipam.Report
				if err := json.Unmarshal(b, &r); err != nil {
					return a.fail("report %s: %v", f, err)
				}
				rs = append(rs, &r)
			}
			opts := ipam.ReleaseReportOptions{Force: force, RuntimeKnows: ipam.CNICacheKnows(cniCache)}
			released, err := m.ReleaseReport(ctx, opts, rs...)
			if err != nil {
				return a.fail("release from report: %v", err)
			}
			for _, ip := range released {
				fmt.Fprintf(a.Out, "Released %s\n", ip)
			}
			fmt.Fprintf(a.Out, "Released %d leaked IPs\n", len(released))
			return nil
		},
	}
	cmd.Flags().StringVar(&ip, "ip", "", "the address to release")
	cmd.Flags().StringArrayVar(&reports, "from-report", nil, "a report from ipam check -o (repeatable: only addresses leaked in all are released)")
	cmd.Flags().BoolVar(&force, "force", false, "release even what looks live: addresses on nodes without any WorkloadEndpoint, of containers the runtime still knows, or most of a pool")
	cmd.Flags().StringVar(&cniCache, "cni-cache-dir", "/var/lib/cni", "the container runtime's CNI cache (a handle whose container is cached there is live)")
	return cmd
}

func (a *App) ipamConfigureCommand() *cobra.Command {
	var strict string
	var maxBlocks int
	cmd := &cobra.Command{
		Use:   "configure [--strictaffinity=BOOL] [--maxblocksperhost=N]",
		Short: "Change the IPAM configuration",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var strictVal bool
			if strict != "" {
				v, err := strconv.ParseBool(strict)
				if err != nil {
					return a.fail("--strictaffinity = %q: must be true or false", strict)
				}
				strictVal = v
			}
			setMax := cmd.Flags().Changed("maxblocksperhost") || cmd.Flags().Changed("max-blocks-per-host")
			if strict == "" && !setMax {
				return a.fail("nothing to change: give --strictaffinity and/or --maxblocksperhost")
			}
			c, err := a.client(cmd.Context())
			if err != nil {
				return a.fail("%v", err)
			}
			defer c.Close()
			cfg, err := ipam.New(c).SetConfig(cmd.Context(), func(cfg *ipam.Config) {
				if strict != "" {
					cfg.StrictAffinity = strictVal
				}
				if setMax {
					cfg.MaxBlocksPerHost = maxBlocks
				}
			})
			if err != nil {
				return a.fail("%v", err)
			}
			fmt.Fprintln(a.Out, "Successfully updated the IPAM configuration")
			return writeBoxTable(a.Out, []string{"PROPERTY", "VALUE"}, configRows(cfg))
		},
	}
	cmd.Flags().StringVar(&strict, "strictaffinity", "", "true: never borrow from other nodes' blocks")
	cmd.Flags().IntVar(&maxBlocks, "maxblocksperhost", 0, "the most blocks a node may claim (0: the default, 20)")
	cmd.Flags().IntVar(&maxBlocks, "max-blocks-per-host", 0, "alias of --maxblocksperhost")
	return cmd
}
