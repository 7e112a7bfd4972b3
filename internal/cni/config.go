package cni

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/containernetworking/cni/pkg/types"

	"github.com/tortienet/tortie/internal/conventions"
	"github.com/tortienet/tortie/internal/datastore"
)

// Defaults for NetConf.
const (
	// DefaultStateDir holds the files the node agent writes for the plugin.
	DefaultStateDir = conventions.DefaultStateDir
	// DefaultMTU is used when mtu is 0 and the node agent wrote no MTU file.
	DefaultMTU = 1500
	// DefaultEtcdEndpoints is Calico's default.
	DefaultEtcdEndpoints = "http://127.0.0.1:2379"
	// DefaultDatastoreTimeout bounds connecting to the datastore.
	DefaultDatastoreTimeout = 5 * time.Second
)

// NetConf is the tortie plugin's configuration: the fields of Calico's
// calico plugin (cni-plugin/pkg/types), so that a Calico conflist works
// with only "type" changed, plus state_dir and mtu_file. Fields that are
// accepted but not used yet (the Kubernetes ones, feature_control, ...) are
// kept raw; fields this struct does not know are ignored.
type NetConf struct {
	types.PluginConf

	DatastoreType    string `json:"datastore_type"`
	EtcdEndpoints    string `json:"etcd_endpoints"`
	EtcdDiscoverySrv string `json:"etcd_discovery_srv"`
	EtcdScheme       string `json:"etcd_scheme"`
	EtcdCACertFile   string `json:"etcd_ca_cert_file"`
	EtcdCertFile     string `json:"etcd_cert_file"`
	EtcdKeyFile      string `json:"etcd_key_file"`
	// DatastoreTimeoutSeconds bounds connecting to the datastore (tortie;
	// DefaultDatastoreTimeout when 0).
	DatastoreTimeoutSeconds float64 `json:"datastore_timeout_seconds"`

	// Nodename overrides the node name read from NodenameFile.
	Nodename string `json:"nodename"`
	// NodenameFile is written by the node agent once it has started
	// (<state_dir>/nodename); its absence means the agent is not running.
	NodenameFile string `json:"nodename_file"`
	// NodenameFileOptional lets the plugin run without a node agent (the
	// node name then comes from Nodename or the hostname).
	NodenameFileOptional bool `json:"nodename_file_optional"`
	// StateDir is where the node agent's files are (tortie; lets the lab
	// run several nodes on one machine).
	StateDir string `json:"state_dir"`
	// MTU of the veth; 0 means the MTU file, or DefaultMTU without one.
	MTU int `json:"mtu"`
	// MTUFile overrides <state_dir>/mtu (tortie).
	MTUFile        string `json:"mtu_file"`
	RequireMTUFile bool   `json:"require_mtu_file"`
	NumQueues      int    `json:"num_queues"`

	LogLevel    string `json:"log_level"`
	LogFilePath string `json:"log_file_path"`

	ContainerSettings struct {
		AllowIPForwarding bool `json:"allow_ip_forwarding"`
	} `json:"container_settings"`

	Policy struct {
		Type string `json:"type"`
	} `json:"policy"`
	Kubernetes     json.RawMessage `json:"kubernetes,omitempty"`
	FeatureControl json.RawMessage `json:"feature_control,omitempty"`

	kubeconfig string // kubernetes.kubeconfig, with datastore_type kubernetes
}

// parseKubernetes reads kubernetes.kubeconfig for the Kubernetes
// datastore; without it the plugin uses the in-cluster configuration.
func (c *NetConf) parseKubernetes() error {
	if len(c.Kubernetes) == 0 {
		return nil
	}
	var k struct {
		Kubeconfig string `json:"kubeconfig"`
	}
	if err := json.Unmarshal(c.Kubernetes, &k); err != nil {
		return fmt.Errorf("kubernetes: %w", err)
	}
	c.kubeconfig = k.Kubeconfig
	return nil
}

// kdd reports whether the plugin uses the Kubernetes datastore.
func (c *NetConf) kdd() bool { return c.DatastoreType == "kubernetes" }

// ParseConf reads a plugin configuration and checks the fields every
// command relies on. Errors name the field and the value.
func ParseConf(stdin []byte) (*NetConf, error) {
	c := &NetConf{}
	if err := json.Unmarshal(stdin, c); err != nil {
		return nil, fmt.Errorf("parse network configuration: %w", err)
	}
	switch strings.ToLower(c.DatastoreType) {
	case "", "etcdv3":
		c.DatastoreType = "etcdv3"
	case "kubernetes":
		c.DatastoreType = "kubernetes"
		if err := c.parseKubernetes(); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("datastore_type = %q: must be etcdv3 or kubernetes", c.DatastoreType)
	}
	if c.EtcdEndpoints == "" {
		c.EtcdEndpoints = DefaultEtcdEndpoints
	}
	if (c.EtcdCertFile == "") != (c.EtcdKeyFile == "") {
		return nil, fmt.Errorf("etcd_cert_file (%q) and etcd_key_file (%q) must be given together", c.EtcdCertFile, c.EtcdKeyFile)
	}
	if c.MTU < 0 || (c.MTU > 0 && c.MTU < 68) || c.MTU > 65535 {
		return nil, fmt.Errorf("mtu = %d: must be 0 (from the node) or between 68 and 65535", c.MTU)
	}
	if c.NumQueues < 0 || c.NumQueues > 1024 {
		return nil, fmt.Errorf("num_queues = %d: must be between 0 and 1024", c.NumQueues)
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		return nil, err
	}
	if c.DatastoreTimeoutSeconds < 0 {
		return nil, fmt.Errorf("datastore_timeout_seconds = %v: must not be negative", c.DatastoreTimeoutSeconds)
	}
	return c, nil
}

// requireIPAM checks that an IPAM plugin is configured.
func (c *NetConf) requireIPAM() error {
	if c.IPAM.Type == "" {
		return fmt.Errorf("ipam.type is empty: configure an IPAM plugin, e.g. \"ipam\": {\"type\": \"tortie-ipam\"}")
	}
	return nil
}

func (c *NetConf) stateDir() string {
	if c.StateDir != "" {
		return c.StateDir
	}
	return DefaultStateDir
}

func (c *NetConf) nodenameFile() string {
	if c.NodenameFile != "" {
		return c.NodenameFile
	}
	return filepath.Join(c.stateDir(), conventions.NodenameFile)
}

func (c *NetConf) mtuFile() string {
	if c.MTUFile != "" {
		return c.MTUFile
	}
	return filepath.Join(c.stateDir(), conventions.MTUFile)
}

// errNodeAgent is the node agent not having started on this node.
var errNodeAgent = errors.New("node agent not ready")

// NodeName is the node's name: nodename, else the nodename file, else the
// hostname. The file must exist unless nodename_file_optional is set: it is
// how the plugin knows that tortie-node has started. The error wraps
// errNodeAgent and names the file.
func (c *NetConf) NodeName() (string, error) {
	file := c.nodenameFile()
	b, err := os.ReadFile(file)
	if err != nil && !c.NodenameFileOptional {
		return "", fmt.Errorf("%w: cannot read %s (%v): check that tortie-node is running on this node and writes its state to %s, or set nodename_file_optional", errNodeAgent, file, unwrapPath(err), filepath.Dir(file))
	}
	if c.Nodename != "" {
		return c.Nodename, nil
	}
	if name := strings.TrimSpace(string(b)); name != "" {
		return name, nil
	}
	if err == nil && !c.NodenameFileOptional {
		return "", fmt.Errorf("%w: %s is empty", errNodeAgent, file)
	}
	h, herr := os.Hostname()
	if herr != nil {
		return "", fmt.Errorf("no nodename configured and no hostname: %w", herr)
	}
	return strings.ToLower(h), nil
}

// LinkMTU is the MTU for the veth: mtu when set, else the node agent's MTU
// file, else DefaultMTU (an error instead when require_mtu_file is set).
func (c *NetConf) LinkMTU() (int, error) {
	if c.MTU > 0 {
		return c.MTU, nil
	}
	file := c.mtuFile()
	b, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) && !c.RequireMTUFile {
		return DefaultMTU, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read MTU file: %w", err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || n < 68 || n > 65535 {
		return 0, fmt.Errorf("MTU file %s holds %q: want a number between 68 and 65535", file, strings.TrimSpace(string(b)))
	}
	return n, nil
}

// clientConfig is the datastore connection the configuration asks for.
func (c *NetConf) clientConfig() datastore.Config {
	timeout := DefaultDatastoreTimeout
	if c.DatastoreTimeoutSeconds > 0 {
		timeout = time.Duration(c.DatastoreTimeoutSeconds * float64(time.Second))
	}
	return datastore.Config{
		DatastoreType: c.DatastoreType,
		Kubeconfig:    c.kubeconfig,
		Etcd: datastore.EtcdConfig{
			Endpoints:   datastore.SplitList(c.EtcdEndpoints),
			CACertFile:  c.EtcdCACertFile,
			CertFile:    c.EtcdCertFile,
			KeyFile:     c.EtcdKeyFile,
			DialTimeout: timeout,
		},
	}
}

// unwrapPath drops the path from a *fs.PathError: the message names the
// file already.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
