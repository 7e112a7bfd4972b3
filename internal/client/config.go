package client

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/tortienet/tortie/internal/datastore"
)

// DefaultConfigFile is where tortiectl looks for its CalicoAPIConfig.
const DefaultConfigFile = "/etc/tortie/tortiectl.cfg"

// Config says which datastore to talk to. It is read from a
// CalicoAPIConfig-style file and/or the environment, as calicoctl does.
type Config struct {
	DatastoreType  string   // only "etcdv3" for now
	EtcdEndpoints  []string // e.g. http://127.0.0.1:2379
	EtcdCACertFile string
	EtcdCertFile   string
	EtcdKeyFile    string
	DialTimeout    time.Duration
}

// apiConfigFile mirrors calicoctl's CalicoAPIConfig document.
type apiConfigFile struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   any    `json:"metadata,omitempty"`
	Spec       struct {
		DatastoreType  string `json:"datastoreType"`
		EtcdEndpoints  string `json:"etcdEndpoints"`
		EtcdCACertFile string `json:"etcdCACertFile"`
		EtcdCertFile   string `json:"etcdCertFile"`
		EtcdKeyFile    string `json:"etcdKeyFile"`
		EtcdUsername   string `json:"etcdUsername,omitempty"`
		EtcdPassword   string `json:"etcdPassword,omitempty"`
		Kubeconfig     string `json:"kubeconfig,omitempty"`
	} `json:"spec"`
}

// LoadConfig reads path (when it exists, or always when required is true)
// and then lets non-empty environment variables override it: DATASTORE_TYPE,
// ETCD_ENDPOINTS, ETCD_CA_CERT_FILE, ETCD_CERT_FILE, ETCD_KEY_FILE. The
// default is etcdv3 at http://127.0.0.1:2379.
func LoadConfig(path string, required bool, getenv func(string) string) (Config, error) {
	cfg := Config{DatastoreType: "etcdv3", EtcdEndpoints: []string{"http://127.0.0.1:2379"}}
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		var f apiConfigFile
		if err := yaml.UnmarshalStrict(data, &f); err != nil {
			return cfg, fmt.Errorf("config file %s: %w", path, err)
		}
		if f.Kind != "" && f.Kind != "CalicoAPIConfig" {
			return cfg, fmt.Errorf("config file %s: kind = %q: expected CalicoAPIConfig", path, f.Kind)
		}
		setIf(&cfg.DatastoreType, f.Spec.DatastoreType)
		if f.Spec.EtcdEndpoints != "" {
			cfg.EtcdEndpoints = splitList(f.Spec.EtcdEndpoints)
		}
		setIf(&cfg.EtcdCACertFile, f.Spec.EtcdCACertFile)
		setIf(&cfg.EtcdCertFile, f.Spec.EtcdCertFile)
		setIf(&cfg.EtcdKeyFile, f.Spec.EtcdKeyFile)
	case required || !os.IsNotExist(err):
		return cfg, fmt.Errorf("config file: %w", err)
	}
	setIf(&cfg.DatastoreType, getenv("DATASTORE_TYPE"))
	if v := getenv("ETCD_ENDPOINTS"); v != "" {
		cfg.EtcdEndpoints = splitList(v)
	}
	setIf(&cfg.EtcdCACertFile, getenv("ETCD_CA_CERT_FILE"))
	setIf(&cfg.EtcdCertFile, getenv("ETCD_CERT_FILE"))
	setIf(&cfg.EtcdKeyFile, getenv("ETCD_KEY_FILE"))
	return cfg, cfg.validate()
}

func (c Config) validate() error {
	switch c.DatastoreType {
	case "etcdv3":
	case "kubernetes":
		return fmt.Errorf("datastoreType = %q: the Kubernetes datastore is not supported yet; use etcdv3", c.DatastoreType)
	default:
		return fmt.Errorf("datastoreType = %q: must be etcdv3", c.DatastoreType)
	}
	if len(c.EtcdEndpoints) == 0 {
		return fmt.Errorf("etcdEndpoints is empty")
	}
	if (c.EtcdCertFile == "") != (c.EtcdKeyFile == "") {
		return fmt.Errorf("etcdCertFile and etcdKeyFile must be given together (cert %q, key %q)", c.EtcdCertFile, c.EtcdKeyFile)
	}
	return nil
}

// Dialer connects to the etcd a Config names. There are two: etcd.Dial
// (gRPC; for long-lived processes, which watch) and etcdhttp.Dial (etcd's
// JSON gateway over plain HTTP; for the CNI plugin, a process per pod,
// which must start fast and so must not link gRPC). Package client links
// neither: the caller chooses.
type Dialer func(ctx context.Context, cfg Config) (datastore.Store, error)

// Open checks the configuration and connects to the datastore with dial.
func Open(ctx context.Context, cfg Config, dial Dialer) (*Client, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s, err := dial(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return New(s), nil
}

func setIf(dst *string, v string) {
	if v != "" {
		*dst = v
	}
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
