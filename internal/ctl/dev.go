package ctl

import (
	"fmt"
	"net/netip"

	"github.com/spf13/cobra"

	"github.com/tortienet/tortie/internal/simcluster"
)

// devCommand groups developer tools.
func (a *App) devCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:    "dev",
		Short:  "Developer tools (simulated clusters for trying tortie at scale)",
		Args:   cobra.NoArgs,
		Hidden: a.KubectlPlugin,
	}
	cmd.AddCommand(a.devSimclusterCommand())
	return cmd
}

// devSimclusterCommand writes a simulated cluster into the datastore.
func (a *App) devSimclusterCommand() *cobra.Command {
	var (
		s              simcluster.Spec
		pool, nodeCIDR string
	)
	cmd := &cobra.Command{
		Use:   "simcluster --nodes N [--endpoints-per-node E]",
		Short: "Write a simulated cluster (N nodes x E endpoints) in Calico's layout",
		Long: `Writes, into the datastore tortiectl is configured for, a cluster as
calico-node and the CNI plugin would have left it: one IPPool (VXLAN
Always, natOutgoing) and N nodes, each with its Node (an address from
--node-cidr, a VXLAN tunnel address and MAC), one block with a confirmed
affinity, and E WorkloadEndpoints in namespace <prefix> whose addresses are
allocated in that block with their IPAM handles. Run one real tortie-node
against it to see how the agent does at that scale (bench/scale_test.go
does this and measures it).

The keys are written in transactions of up to 128 keys: 100,000 endpoints
take seconds on etcd. The pool is created first and must not exist yet
(nor overlap another); nothing else is written if it cannot be. A datastore
that goes away part-way keeps what was written: clear it and start again.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if s.PoolCIDR, err = netip.ParsePrefix(pool); err != nil {
				return fmt.Errorf("--pool-cidr = %q: %v", pool, err)
			}
			if s.NodeCIDR, err = netip.ParsePrefix(nodeCIDR); err != nil {
				return fmt.Errorf("--node-cidr = %q: %v", nodeCIDR, err)
			}
			s.Defaults()
			if err := s.Validate(); err != nil {
				return fmt.Errorf("--%w", err)
			}
			c, err := a.client(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			res, err := simcluster.Write(cmd.Context(), c, s)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.Out, "Wrote %d nodes and %d workload endpoints (%d keys in %d transactions) in %.1fs\n",
				res.Nodes, res.Endpoints, res.Keys, res.Txns, res.Took.Seconds())
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&s.Nodes, "nodes", 0, "number of nodes")
	f.IntVar(&s.EndpointsPerNode, "endpoints-per-node", 20, "workload endpoints per node (they share the node's block with its tunnel address)")
	f.StringVar(&pool, "pool-cidr", simcluster.DefaultPoolCIDR.String(), "the IPPool; node i gets its i-th block")
	f.IntVar(&s.BlockSize, "block-size", 26, "the pool's block size")
	f.StringVar(&nodeCIDR, "node-cidr", simcluster.DefaultNodeCIDR.String(), "the nodes' addresses: node i has its (i+1)-th")
	f.StringVar(&s.Prefix, "prefix", "sim", "start of the node names (<prefix>00000...), the pool's name and the endpoints' namespace")
	return cmd
}
