package datastore

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// DefaultConfigFile is where tortiectl looks for its CalicoAPIConfig.
const DefaultConfigFile = "/etc/tortie/tortiectl.cfg"

// The datastore types, as calicoctl and calico-node spell them.
const (
	TypeEtcd       = "etcdv3"
	TypeKubernetes = "kubernetes"
)

// DefaultDialTimeout bounds a backend's connectivity check when
// EtcdConfig.DialTimeout is zero.
const DefaultDialTimeout = 5 * time.Second

// Config says which datastore to talk to. It is read from a
// CalicoAPIConfig-style file and/or the environment, as calicoctl does,
// or built from a CNI network configuration.
type Config struct {
	DatastoreType string // TypeEtcd or TypeKubernetes
	Etcd          EtcdConfig
	Kubeconfig    string // for TypeKubernetes; "" means in-cluster
}

// EtcdConfig says how to reach etcd. Both etcd backends (gRPC and the
// JSON gateway) take it.
type EtcdConfig struct {
	// Endpoints are etcd client URLs, e.g. "https://10.0.0.1:2379". (The
	// JSON-gateway backend takes one without a scheme as https when a TLS
	// file is set, http otherwise.)
	Endpoints []string
	// CACertFile verifies the server's certificate; CertFile and KeyFile
	// are this client's certificate and key (both or neither). All PEM.
	// TLS is used when any of them is set.
	CACertFile, CertFile, KeyFile string
	// DialTimeout bounds the connectivity check and connection attempts
	// (DefaultDialTimeout if zero).
	DialTimeout time.Duration
}

// Timeout is DialTimeout, or DefaultDialTimeout when that is zero.
func (c EtcdConfig) Timeout() time.Duration {
	if c.DialTimeout > 0 {
		return c.DialTimeout
	}
	return DefaultDialTimeout
}

// TLSConfig returns the client TLS configuration, or nil when no file is
// set. Each file is read and parsed here so that an error names the file
// at fault.
func (c EtcdConfig) TLSConfig() (*tls.Config, error) {
	if c.CACertFile == "" && c.CertFile == "" && c.KeyFile == "" {
		return nil, nil
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		return nil, fmt.Errorf("etcd TLS: client cert file (%q) and key file (%q) must be given together", c.CertFile, c.KeyFile)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.CACertFile != "" {
		pem, err := os.ReadFile(c.CACertFile)
		if err != nil {
			return nil, fmt.Errorf("etcd CA cert file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("etcd CA cert file %s: no PEM certificate in it", c.CACertFile)
		}
		cfg.RootCAs = pool
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("etcd client cert %s / key %s: %w", c.CertFile, c.KeyFile, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
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
// ETCD_ENDPOINTS, ETCD_CA_CERT_FILE, ETCD_CERT_FILE, ETCD_KEY_FILE,
// KUBECONFIG. The default is etcdv3 at http://127.0.0.1:2379.
func LoadConfig(path string, required bool, getenv func(string) string) (Config, error) {
	cfg := Config{DatastoreType: TypeEtcd, Etcd: EtcdConfig{Endpoints: []string{"http://127.0.0.1:2379"}}}
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
			cfg.Etcd.Endpoints = SplitList(f.Spec.EtcdEndpoints)
		}
		setIf(&cfg.Etcd.CACertFile, f.Spec.EtcdCACertFile)
		setIf(&cfg.Etcd.CertFile, f.Spec.EtcdCertFile)
		setIf(&cfg.Etcd.KeyFile, f.Spec.EtcdKeyFile)
		setIf(&cfg.Kubeconfig, f.Spec.Kubeconfig)
	case required || !os.IsNotExist(err):
		return cfg, fmt.Errorf("config file: %w", err)
	}
	setIf(&cfg.DatastoreType, getenv("DATASTORE_TYPE"))
	if v := getenv("ETCD_ENDPOINTS"); v != "" {
		cfg.Etcd.Endpoints = SplitList(v)
	}
	setIf(&cfg.Etcd.CACertFile, getenv("ETCD_CA_CERT_FILE"))
	setIf(&cfg.Etcd.CertFile, getenv("ETCD_CERT_FILE"))
	setIf(&cfg.Etcd.KeyFile, getenv("ETCD_KEY_FILE"))
	setIf(&cfg.Kubeconfig, getenv("KUBECONFIG"))
	return cfg, cfg.Validate()
}

// Validate checks what can be checked without connecting.
func (c Config) Validate() error {
	switch c.DatastoreType {
	case TypeEtcd:
	case TypeKubernetes:
		return nil
	default:
		return fmt.Errorf("datastoreType = %q: must be %s or %s", c.DatastoreType, TypeEtcd, TypeKubernetes)
	}
	if len(c.Etcd.Endpoints) == 0 {
		return errors.New("etcdEndpoints is empty")
	}
	if (c.Etcd.CertFile == "") != (c.Etcd.KeyFile == "") {
		return fmt.Errorf("etcdCertFile and etcdKeyFile must be given together (cert %q, key %q)", c.Etcd.CertFile, c.Etcd.KeyFile)
	}
	return nil
}

// Dialer connects to one kind of backend.
type Dialer func(ctx context.Context, cfg Config) (Store, error)

// Backends are the dialers a binary links, one per datastore type; nil
// where the binary does not link that backend. The choice is the
// caller's because it decides what the binary links: long-lived processes
// use etcd.Dial (gRPC, which watches best), the CNI plugin — a process per
// pod that must start fast — uses etcdhttp.Dial and links no gRPC.
type Backends struct {
	Etcd       Dialer
	Kubernetes Dialer
}

// Open checks the configuration and connects to the datastore it names,
// with the dialer b has for its type.
func Open(ctx context.Context, cfg Config, b Backends) (Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var dial Dialer
	switch cfg.DatastoreType {
	case TypeEtcd:
		dial = b.Etcd
	case TypeKubernetes:
		dial = b.Kubernetes
	}
	if dial == nil {
		return nil, fmt.Errorf("datastoreType = %q: the %s datastore is not supported yet; use %s", cfg.DatastoreType, cfg.DatastoreType, TypeEtcd)
	}
	return dial(ctx, cfg)
}

func setIf(dst *string, v string) {
	if v != "" {
		*dst = v
	}
}

// SplitList splits a comma-separated list, dropping blanks (etcd
// endpoints in calicoctl's files, CNI configurations and the environment).
func SplitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
