// Package conventions is the one home of the names and numbers that
// tortie's processes on a node agree on without talking: the files the
// node agent leaves in its state directory for the CNI plugin, the socket
// it serves there, the host-side interface prefix, the route protocol
// numbers that mark whose routes are whose, and the tunnel devices. A
// value here is read by more than one package (node, cni, dataplane, lab,
// calc); change it here and only here.
//
// It imports nothing and holds only constants, so every layer may use it.
package conventions

// The state directory and the files in it.
const (
	// DefaultStateDir holds the files the node agent writes for the CNI
	// plugin (TORTIE_STATE_DIR for tortie-node, state_dir in a conflist).
	DefaultStateDir = "/var/lib/tortie"
	// NodenameFile holds the node's name, as calico-node's
	// /var/lib/calico/nodename does.
	NodenameFile = "nodename"
	// MTUFile holds the MTU pods get when their conflist says mtu 0.
	MTUFile = "mtu"
	// AgentSocket is where tortie-node serves its datastore connection and
	// its allocator to the CNI plugin (root only).
	AgentSocket = "tortie.sock"
	// StatusSocket is where tortie-node serves its BGP status to
	// `tortiectl node status` (HTTP, JSON).
	StatusSocket = "status.sock"
)

// HostIfPrefix starts every workload's host-side interface name (Felix's
// default interfacePrefix).
const HostIfPrefix = "cali"

// Route protocol numbers (rtm_protocol) that mark tortie's routes.
const (
	// ProtocolAgent marks the routes tortie-node programs ("ip route show
	// proto 80"). 80 is assigned neither in the kernel's rtnetlink.h nor in
	// iproute2's rt_protos, and it is the number Felix uses for its routes,
	// so the table reads like a Calico node's.
	ProtocolAgent = 80
	// ProtocolCNI marks the pod routes the CNI plugin adds ("ip route show
	// proto 81"). Calico's plugin uses 3 (boot), which the kernel and many
	// tools also use; a number of our own lets the node agent find and
	// adopt exactly the plugin's routes, never fight over them.
	ProtocolCNI = 81
)

// Tunnel device names, as Calico names them.
const (
	IPIPDevice  = "tunl0"
	VXLANDevice = "vxlan.calico"
)
