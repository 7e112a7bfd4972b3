// Package node is tortie-node, the per-node agent: calico-node's startup
// (node name, address, Node resource, default pool, cluster objects,
// tunnel addresses) followed by Felix's routing side (watch the
// datastore, compute the node's desired state with internal/calc, apply it
// with internal/dataplane), with health and metrics endpoints.
package node

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/calc/policy"
	"github.com/tortienet/tortie/internal/conventions"
	"github.com/tortienet/tortie/internal/datastore"
)

// Config is the agent's configuration, read from calico-node's environment
// variables (calico-reference.md §8.3) plus tortie's own.
type Config struct {
	// FailsafeIn and FailsafeOut, when set (FELIX_FAILSAFE*HOSTPORTS),
	// override FelixConfiguration's failsafe ports, as in Felix.
	FailsafeIn, FailsafeOut *[]policy.ProtoPort

	NodeName     string
	NodenameFile string
	StateDir     string // nodename and mtu files for the CNI plugin

	IP, IPMethod string // IP: "", "autodetect", "none", or an address/CIDR
	// IP6 and IP6Method (IP6, IP6_AUTODETECTION_METHOD): the node's IPv6
	// address, spec.bgp.ipv6Address. IP6 "" or "none" leaves the Node's as
	// it is; "autodetect" runs the method; else an address/CIDR.
	IP6, IP6Method string
	DisableIPCheck bool
	// UsePodCIDR (USE_POD_CIDR): each node's Kubernetes podCIDR is its
	// block (routed and advertised) and its IPIP tunnel address is the
	// podCIDR's x.y.z.1; pods get addresses from host-local usePodCidr.
	UsePodCIDR  bool
	AS          string
	Backend     string // bird, vxlan, none
	ClusterType string
	Datastore   datastore.Config
	DefaultPool *PoolDefaults // nil: NO_DEFAULT_POOLS or CALICO_IPV4POOL_CIDR=none
	HealthAddr  string        // host:port of /liveness and /readiness ("" = off)
	MetricsAddr string        // host:port of /metrics ("" = off)
	// GoMetrics and ProcessMetrics add the Go runtime's and the
	// process's metrics to /metrics (FELIX_PROMETHEUSGOMETRICSENABLED,
	// FELIX_PROMETHEUSPROCESSMETRICSENABLED; both default true, as in
	// Felix).
	GoMetrics, ProcessMetrics bool
	// DebugAddr is the loopback host:port of the pprof server
	// (FELIX_DEBUGPORT, FELIX_DEBUGHOST); "" (the default) is off.
	DebugAddr       string
	ResyncInterval  time.Duration // routeRefreshInterval
	EmptyBlockGrace time.Duration
	// Coalesce is the least time between two syncs of a burst of changes
	// (TORTIE_COALESCE; 0: none): a change after a quiet spell is synced at
	// once, the ones following it within Coalesce wait for the rest.
	Coalesce            time.Duration
	RouteUnencapsulated bool
	// BGPSecretsDir holds BGP passwords in etcd mode: a secretKeyRef
	// {name, key} is the file <dir>/<name>/<key> (TORTIE_BGP_SECRETS_DIR).
	BGPSecretsDir string
}

// PoolDefaults are the CALICO_IPV4POOL_* settings of the default pool.
type PoolDefaults struct {
	CIDR             string
	BlockSize        int
	IPIPMode         v3.EncapMode
	VXLANMode        v3.EncapMode
	NATOutgoing      bool
	NodeSelector     string
	DisableBGPExport bool
}

// ConfigFromEnv reads the configuration; errors name the variable and value.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	env := func(k, def string) string {
		if v := strings.TrimSpace(getenv(k)); v != "" {
			return v
		}
		return def
	}
	c := Config{
		StateDir:    env("TORTIE_STATE_DIR", conventions.DefaultStateDir),
		IP:          env("IP", "autodetect"),
		IPMethod:    env("IP_AUTODETECTION_METHOD", "first-found"),
		IP6:         env("IP6", ""),
		IP6Method:   env("IP6_AUTODETECTION_METHOD", "first-found"),
		AS:          env("AS", ""),
		Backend:     strings.ToLower(env("CALICO_NETWORKING_BACKEND", "bird")),
		ClusterType: env("CLUSTER_TYPE", ""),
		HealthAddr:  hostPort(env("FELIX_HEALTHHOST", "localhost"), env("FELIX_HEALTHPORT", "9099")),
		MetricsAddr: hostPort(env("FELIX_PROMETHEUSMETRICSHOST", "localhost"), env("FELIX_PROMETHEUSMETRICSPORT", "9091")),
		// Unencapsulated routes come from the datastore where BGP does not
		// program them (and, after a restart, until BGP has re-learned them).
		RouteUnencapsulated: true,
		BGPSecretsDir:       env("TORTIE_BGP_SECRETS_DIR", ""),
	}
	c.NodenameFile = env("CALICO_NODENAME_FILE", filepath.Join(c.StateDir, conventions.NodenameFile))
	var err error
	if c.DisableIPCheck, err = envBool(getenv, "DISABLE_NODE_IP_CHECK", false); err != nil {
		return c, err
	}
	if c.UsePodCIDR, err = envBool(getenv, "USE_POD_CIDR", false); err != nil {
		return c, err
	}
	if err := c.observability(getenv); err != nil {
		return c, err
	}
	if err := c.failsafeEnv(getenv); err != nil {
		return c, err
	}
	switch c.Backend {
	case "bird", "vxlan", "none":
	default:
		return c, fmt.Errorf("CALICO_NETWORKING_BACKEND = %q: must be bird, vxlan or none", c.Backend)
	}
	if c.AS != "" {
		if _, err := v3.ASNumberFromString(c.AS); err != nil {
			return c, fmt.Errorf("AS = %q: %v", c.AS, err)
		}
	}
	if c.ResyncInterval, err = envDuration(getenv, "FELIX_ROUTEREFRESHINTERVAL", 90*time.Second); err != nil {
		return c, err
	}
	if c.EmptyBlockGrace, err = envDuration(getenv, "TORTIE_EMPTY_BLOCK_GRACE", 15*time.Minute); err != nil {
		return c, err
	}
	if c.Coalesce, err = envDuration(getenv, "TORTIE_COALESCE", 2*time.Millisecond); err != nil {
		return c, err
	}
	if c.Datastore, err = datastore.LoadConfig("", false, getenv); err != nil {
		return c, err
	}
	if c.DefaultPool, err = poolDefaults(getenv); err != nil {
		return c, err
	}
	c.NodeName = nodeName(getenv, c.NodenameFile)
	if c.NodeName == "" {
		return c, fmt.Errorf("no node name: set NODENAME")
	}
	return c, nil
}

func hostPort(host, port string) string {
	if port == "0" || port == "" {
		return ""
	}
	return host + ":" + port
}

// nodeName: NODENAME, else the nodename file, else HOSTNAME, else the
// kernel's host name, lower-cased, as calico-node works it out.
func nodeName(getenv func(string) string, file string) string {
	if n := strings.TrimSpace(getenv("NODENAME")); n != "" {
		return n
	}
	if b, err := os.ReadFile(file); err == nil {
		if n := strings.TrimSpace(string(b)); n != "" {
			return n
		}
	}
	if n := strings.TrimSpace(getenv("HOSTNAME")); n != "" {
		return strings.ToLower(n)
	}
	h, _ := os.Hostname()
	return strings.ToLower(h)
}

func poolDefaults(getenv func(string) string) (*PoolDefaults, error) {
	if no, err := envBool(getenv, "NO_DEFAULT_POOLS", false); err != nil || no {
		if no && getenv("CALICO_IPV4POOL_CIDR") != "" {
			return nil, fmt.Errorf("NO_DEFAULT_POOLS = true and CALICO_IPV4POOL_CIDR = %q: choose one", getenv("CALICO_IPV4POOL_CIDR"))
		}
		return nil, err
	}
	cidr := strings.TrimSpace(getenv("CALICO_IPV4POOL_CIDR"))
	if strings.EqualFold(cidr, "none") {
		return nil, nil
	}
	if cidr == "" {
		cidr = "192.168.0.0/16"
	}
	p := &PoolDefaults{CIDR: cidr, BlockSize: 26, NodeSelector: "all()"}
	if _, err := netip.ParsePrefix(cidr); err != nil {
		return nil, fmt.Errorf("CALICO_IPV4POOL_CIDR = %q: not a CIDR", cidr)
	}
	if v := strings.TrimSpace(getenv("CALICO_IPV4POOL_BLOCK_SIZE")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, fmt.Errorf("CALICO_IPV4POOL_BLOCK_SIZE = %q: not a number", v)
		}
		p.BlockSize = n
	}
	var err error
	if p.IPIPMode, err = encapEnv(getenv, "CALICO_IPV4POOL_IPIP"); err != nil {
		return nil, err
	}
	if p.VXLANMode, err = encapEnv(getenv, "CALICO_IPV4POOL_VXLAN"); err != nil {
		return nil, err
	}
	if p.NATOutgoing, err = envBool(getenv, "CALICO_IPV4POOL_NAT_OUTGOING", true); err != nil {
		return nil, err
	}
	if p.DisableBGPExport, err = envBool(getenv, "CALICO_IPV4POOL_DISABLE_BGP_EXPORT", false); err != nil {
		return nil, err
	}
	if v := strings.TrimSpace(getenv("CALICO_IPV4POOL_NODE_SELECTOR")); v != "" {
		p.NodeSelector = v
	}
	return p, nil
}

// encapEnv reads Never/off, Always, CrossSubnet/cross-subnet.
func encapEnv(getenv func(string) string, key string) (v3.EncapMode, error) {
	switch v := strings.TrimSpace(getenv(key)); strings.ToLower(v) {
	case "", "never", "off", "false":
		return v3.EncapNever, nil
	case "always", "true":
		return v3.EncapAlways, nil
	case "crosssubnet", "cross-subnet":
		return v3.EncapCrossSubnet, nil
	default:
		return "", fmt.Errorf("%s = %q: must be Never, Always or CrossSubnet", key, v)
	}
}

func envBool(getenv func(string) string, key string, def bool) (bool, error) {
	v := strings.TrimSpace(getenv(key))
	if v == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return def, fmt.Errorf("%s = %q: must be true or false", key, v)
	}
	return b, nil
}

func envDuration(getenv func(string) string, key string, def time.Duration) (time.Duration, error) {
	v := strings.TrimSpace(getenv(key))
	if v == "" {
		return def, nil
	}
	if d, err := time.ParseDuration(v); err == nil {
		return d, nil
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		return time.Duration(s * float64(time.Second)), nil
	}
	return def, fmt.Errorf("%s = %q: not a duration", key, v)
}
