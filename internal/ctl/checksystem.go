package ctl

import (
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/vishvananda/netlink"

	"github.com/tortienet/tortie/internal/checksystem"
	"github.com/tortienet/tortie/internal/ns"
)

func (a *App) nodeChecksystemCommand() *cobra.Command {
	var configFile string
	cmd := &cobra.Command{
		Use:   "checksystem [-f KERNEL-CONFIG]",
		Short: "Check that this machine's kernel has what tortie uses, and say what will not work without what is missing",
		Long: `Looks for each kernel feature tortie uses (veth, nftables, conntrack, vxlan,
ipip, wireguard, TCP MD5 for BGP passwords) in the kernel's build configuration
(-f FILE, else /proc/config.gz or /boot/config-<release>), else among the loaded
and installed modules, else, as root, by making one of its interfaces in a
throwaway network namespace (which loads nothing). It also shows the sysctls
tortie-node needs. The machine's own network configuration is not changed.
The exit status is 1 when a feature tortie cannot work without is missing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var probe func(string) error
			if os.Geteuid() == 0 {
				probe = probeLink
			}
			h, err := checksystem.LinuxHost(configFile, probe)
			if err != nil {
				return a.fail("checksystem: %v", err)
			}
			r := checksystem.Check(h)
			writeChecksystem(a.Out, r)
			if !r.OK() {
				return &exitError{code: 1}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&configFile, "kernel-config", "f", "", "the kernel's build configuration (default: /proc/config.gz, else /boot/config-<release>)")
	return cmd
}

// writeChecksystem prints the report: the features, the sysctls, a verdict.
func writeChecksystem(w io.Writer, r *checksystem.Report) {
	src := r.ConfigSource
	if src == "" {
		src = "none found: loaded and installed modules and probes"
	}
	fmt.Fprintf(w, "Kernel %s (kernel config: %s)\n\n", r.Release, src)
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "FEATURE\tSTATUS\tFOUND\tWITHOUT IT")
	var missing []string
	for _, s := range r.Features {
		status, without := "OK", ""
		if !s.OK {
			status, without = "MISSING", s.Feature.Without
			if s.Feature.Required {
				status = "MISSING (required)"
			}
			missing = append(missing, s.Feature.Name)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Feature.Name, status, s.How, without)
	}
	if r.NftErr != nil {
		fmt.Fprintf(tw, "nft program\tMISSING (required)\t%v\t%s\n", r.NftErr, "tortie-node cannot program policy or NAT")
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "SYSCTL\tVALUE\tWANT\tOTHERWISE")
	for _, s := range r.Sysctls {
		v, note := s.Value, ""
		if s.Err != nil {
			v = "unreadable"
		}
		if v != s.Sysctl.Want {
			note = s.Sysctl.Without
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", strings.ReplaceAll(s.Sysctl.Path, "/", "."), v, s.Sysctl.Want, note)
	}
	tw.Flush()
	fmt.Fprintln(w)
	switch {
	case !r.OK():
		fmt.Fprintln(w, "This machine does not meet tortie's requirements (see MISSING (required) above).")
	case len(missing) > 0:
		fmt.Fprintf(w, "This machine meets tortie's requirements; without %s, what is said above does not work.\n", strings.Join(missing, ", "))
	default:
		fmt.Fprintln(w, "This machine has everything tortie uses.")
	}
}

// probeLink makes a link of the kind in a throwaway network namespace and
// removes the namespace. It is only tried for a feature no module
// provides, so it loads nothing.
func probeLink(kind string) error {
	name := fmt.Sprintf("tcs-%d", os.Getpid())
	if err := ns.Create(name); err != nil {
		return err
	}
	defer ns.Delete(name)
	h, err := ns.Handle(name)
	if err != nil {
		return err
	}
	defer h.Close()
	attrs := netlink.LinkAttrs{Name: "probe0"}
	var l netlink.Link
	switch kind {
	case "veth":
		l = &netlink.Veth{LinkAttrs: attrs, PeerName: "probe1"}
	case "vxlan":
		l = &netlink.Vxlan{LinkAttrs: attrs, VxlanId: 4096, Port: 4789}
	case "ipip":
		l = &netlink.Iptun{LinkAttrs: attrs}
	case "wireguard":
		l = &netlink.Wireguard{LinkAttrs: attrs}
	default:
		return fmt.Errorf("no probe for %s", kind)
	}
	return h.LinkAdd(l)
}
