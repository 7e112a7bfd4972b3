// Package install is what the tortie-node DaemonSet's init container does
// on each node (Calico's install-cni): copy the CNI binaries into the
// host's CNI bin directory, write a kubeconfig carrying the pod's service
// account token for the plugin, and write the network configuration from
// its template. Every file is written to a temporary name and renamed, so
// the container runtime never reads half a file.
package install

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Config says what to install where. ConfigFromEnv reads it as Calico's
// install-cni does.
type Config struct {
	// Binaries maps each name in BinDir (the host's /opt/cni/bin) to the
	// file in BinSrc it is copied from (tortie-ipam is the tortie binary).
	Binaries       map[string]string
	BinSrc, BinDir string
	// NetDir is the host's CNI configuration directory; ConfName the
	// conflist's name there; NetworkConfig its template, in which
	// __KUBECONFIG_FILEPATH__, __CNI_MTU__ and __KUBERNETES_NODE_NAME__
	// are replaced.
	NetDir, ConfName, NetworkConfig string
	MTU, NodeName                   string
	// KubeconfigName is the plugin's kubeconfig in NetDir, written from
	// Server, the CA file and the token file (the pod's service account).
	KubeconfigName            string
	Server, CAFile, TokenFile string
	// HostNetDir is NetDir as the host sees it (the path the conflist
	// names), when the container mounts it elsewhere.
	HostNetDir string
}

// ConfigFromEnv reads CNI_NET_DIR, CNI_CONF_NAME, CNI_NETWORK_CONFIG,
// CNI_MTU, KUBERNETES_NODE_NAME, KUBERNETES_SERVICE_HOST/PORT with the
// defaults of Calico's manifests.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	or := func(k, def string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return def
	}
	c := Config{
		Binaries: map[string]string{"tortie": "tortie", "tortie-ipam": "tortie"}, BinSrc: or("TORTIE_BIN_DIR", "/opt/tortie/bin"),
		BinDir: or("CNI_BIN_DIR", "/host/opt/cni/bin"), NetDir: or("CNI_NET_DIR", "/host/etc/cni/net.d"),
		HostNetDir: or("CNI_HOST_NET_DIR", "/etc/cni/net.d"), ConfName: or("CNI_CONF_NAME", "10-tortie.conflist"),
		NetworkConfig: getenv("CNI_NETWORK_CONFIG"), MTU: or("CNI_MTU", "0"), NodeName: getenv("KUBERNETES_NODE_NAME"),
		KubeconfigName: "tortie-kubeconfig",
		CAFile:         "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt",
		TokenFile:      "/var/run/secrets/kubernetes.io/serviceaccount/token",
	}
	host, port := getenv("KUBERNETES_SERVICE_HOST"), getenv("KUBERNETES_SERVICE_PORT")
	if host == "" || port == "" {
		return c, errors.New("install-cni: KUBERNETES_SERVICE_HOST/PORT are unset: run it in a pod")
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	c.Server = "https://" + host + ":" + port
	if c.NetworkConfig == "" {
		return c, errors.New("install-cni: CNI_NETWORK_CONFIG (the conflist template) is unset")
	}
	return c, nil
}

// Run installs: binaries, kubeconfig, then the conflist (last, so the
// runtime sees a network only once the plugin can run).
func Run(c Config) error {
	for dst, src := range c.Binaries {
		if err := copyFile(filepath.Join(c.BinSrc, src), filepath.Join(c.BinDir, dst), 0o755); err != nil {
			return fmt.Errorf("install-cni: %w", err)
		}
	}
	kc, err := c.kubeconfig()
	if err != nil {
		return fmt.Errorf("install-cni: %w", err)
	}
	if err := writeFile(filepath.Join(c.NetDir, c.KubeconfigName), kc, 0o600); err != nil {
		return fmt.Errorf("install-cni: %w", err)
	}
	conf := strings.NewReplacer(
		"__KUBECONFIG_FILEPATH__", filepath.Join(c.HostNetDir, c.KubeconfigName),
		"__CNI_MTU__", c.MTU, "__KUBERNETES_NODE_NAME__", c.NodeName,
	).Replace(c.NetworkConfig)
	if err := writeFile(filepath.Join(c.NetDir, c.ConfName), []byte(conf), 0o644); err != nil {
		return fmt.Errorf("install-cni: %w", err)
	}
	return nil
}

// kubeconfig is the plugin's kubeconfig: the apiserver, its CA and the
// service account's token (which the kubelet rotates; Calico's
// install-cni rewrites the file when it does, tortie-node does the same
// while it runs).
func (c Config) kubeconfig() ([]byte, error) {
	ca, err := os.ReadFile(c.CAFile)
	if err != nil {
		return nil, fmt.Errorf("service account CA: %w", err)
	}
	token, err := os.ReadFile(c.TokenFile)
	if err != nil {
		return nil, fmt.Errorf("service account token: %w", err)
	}
	return fmt.Appendf(nil, `apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: tortie
  user:
    token: %s
contexts:
- name: tortie
  context:
    cluster: local
    user: tortie
current-context: tortie
`, c.Server, base64.StdEncoding.EncodeToString(ca), strings.TrimSpace(string(token))), nil
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	b, err := io.ReadAll(in)
	if err != nil {
		return err
	}
	return writeFile(dst, b, mode)
}

// writeFile writes to a temporary file next to path and renames it.
func writeFile(path string, b []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tortie-tmp"
	if err := os.WriteFile(tmp, b, mode); err != nil {
		return err
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
