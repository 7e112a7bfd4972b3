package cni

import (
	"log/slog"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"

	"github.com/tortienet/tortie/internal/cni/veth"
)

// attachment is what one command works on: the workload, its node and
// the interfaces it has or will have.
type attachment struct {
	w    Workload
	node string
	spec *veth.Spec
	log  *slog.Logger
}

// newAttachment works out names, node and MTU; it touches nothing.
func (p *Plugin) newAttachment(args *skel.CmdArgs, needMTU bool) (*attachment, error) {
	if err := p.Conf.requireIPAM(); err != nil {
		return nil, cniError(types.ErrInvalidNetworkConfig, err)
	}
	node, err := p.Conf.NodeName()
	if err != nil {
		return nil, notReady(types.ErrTryAgainLater, err)
	}
	mtu := 0
	if needMTU {
		if mtu, err = p.Conf.LinkMTU(); err != nil {
			return nil, cniError(types.ErrInternal, err)
		}
	}
	w := NewWorkload(p.Conf.Name, args.ContainerID, args.IfName, args.Args)
	a := &attachment{w: w, node: node, spec: &veth.Spec{
		NetNS: args.Netns, IfName: args.IfName, HostIfName: w.HostIfName(),
		MTU: mtu, NumQueues: p.Conf.NumQueues,
		AllowIPForwarding: p.Conf.ContainerSettings.AllowIPForwarding,
	}}
	a.log = p.Log.With("container", args.ContainerID, "iface", args.IfName, "host_iface", a.spec.HostIfName)
	if w.Orchestrator == OrchestratorK8s {
		a.log = a.log.With("pod", w.Namespace+"/"+w.Pod)
	}
	return a, nil
}
