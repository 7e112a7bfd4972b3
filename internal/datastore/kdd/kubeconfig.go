package kdd

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"sigs.k8s.io/yaml"
)

// Conn is how to reach one kube-apiserver: its URL, the TLS settings and
// the credentials, resolved from a kubeconfig or from the pod's service
// account (in-cluster).
type Conn struct {
	// Server is the apiserver's base URL, e.g. https://127.0.0.1:6443.
	Server string
	// TLS verifies the server and carries the client certificate, if any.
	TLS *tls.Config
	// Token is sent as a bearer token when set (TokenFile is re-read on
	// each connection when set instead, as projected tokens rotate).
	Token, TokenFile string
	// Username and Password are basic-auth credentials (rarely used).
	Username, Password string
	// Namespace is the context's namespace ("default" when unset).
	Namespace string
	// Source says where the settings came from, for error messages.
	Source string
	// Dial, when set, makes the connections (e.g. from inside another
	// network namespace); net.Dialer's otherwise.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// kubeconfig is the subset of a kubeconfig file tortie reads.
type kubeconfig struct {
	CurrentContext string `json:"current-context"`
	Clusters       []struct {
		Name    string `json:"name"`
		Cluster struct {
			Server                   string `json:"server"`
			CertificateAuthority     string `json:"certificate-authority"`
			CertificateAuthorityData string `json:"certificate-authority-data"`
			InsecureSkipTLSVerify    bool   `json:"insecure-skip-tls-verify"`
			TLSServerName            string `json:"tls-server-name"`
		} `json:"cluster"`
	} `json:"clusters"`
	Users []struct {
		Name string `json:"name"`
		User struct {
			Token                 string `json:"token"`
			TokenFile             string `json:"tokenFile"`
			ClientCertificate     string `json:"client-certificate"`
			ClientCertificateData string `json:"client-certificate-data"`
			ClientKey             string `json:"client-key"`
			ClientKeyData         string `json:"client-key-data"`
			Username              string `json:"username"`
			Password              string `json:"password"`
			Exec                  any    `json:"exec"`
		} `json:"user"`
	} `json:"users"`
	Contexts []struct {
		Name    string `json:"name"`
		Context struct {
			Cluster   string `json:"cluster"`
			User      string `json:"user"`
			Namespace string `json:"namespace"`
		} `json:"context"`
	} `json:"contexts"`
}

// LoadKubeconfig reads a kubeconfig file and resolves context (the file's
// current-context when empty). Relative file paths in it are relative to
// the file, as kubectl has it.
func LoadKubeconfig(path, context string) (Conn, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Conn{}, fmt.Errorf("kubeconfig: %w", err)
	}
	var kc kubeconfig
	if err := yaml.Unmarshal(data, &kc); err != nil {
		return Conn{}, fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	c, err := kc.resolve(context, filepath.Dir(path))
	if err != nil {
		return Conn{}, fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	c.Source = "kubeconfig " + path
	return c, nil
}

func (kc *kubeconfig) resolve(context, dir string) (Conn, error) {
	if context == "" {
		context = kc.CurrentContext
	}
	var clusterName, userName, ns string
	found := false
	for _, c := range kc.Contexts {
		if c.Name == context || (context == "" && len(kc.Contexts) == 1) {
			clusterName, userName, ns, found = c.Context.Cluster, c.Context.User, c.Context.Namespace, true
		}
	}
	if !found {
		return Conn{}, fmt.Errorf("no context %q", context)
	}
	if ns == "" {
		ns = "default"
	}
	c := Conn{Namespace: ns}
	rel := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	found = false
	for _, cl := range kc.Clusters {
		if cl.Name != clusterName {
			continue
		}
		found = true
		c.Server = cl.Cluster.Server
		tc, err := serverTLS(rel(cl.Cluster.CertificateAuthority), cl.Cluster.CertificateAuthorityData,
			cl.Cluster.InsecureSkipTLSVerify, cl.Cluster.TLSServerName)
		if err != nil {
			return Conn{}, fmt.Errorf("cluster %q: %w", clusterName, err)
		}
		c.TLS = tc
	}
	if !found || c.Server == "" {
		return Conn{}, fmt.Errorf("context %q: no cluster %q with a server", context, clusterName)
	}
	for _, u := range kc.Users {
		if u.Name != userName {
			continue
		}
		if u.User.Exec != nil {
			return Conn{}, fmt.Errorf("user %q: exec credential plugins are not supported; use a token or a client certificate", userName)
		}
		c.Token, c.TokenFile = u.User.Token, rel(u.User.TokenFile)
		c.Username, c.Password = u.User.Username, u.User.Password
		cert, err := clientCert(rel(u.User.ClientCertificate), u.User.ClientCertificateData,
			rel(u.User.ClientKey), u.User.ClientKeyData)
		if err != nil {
			return Conn{}, fmt.Errorf("user %q: %w", userName, err)
		}
		if cert != nil {
			c.TLS.Certificates = []tls.Certificate{*cert}
		}
	}
	return c, nil
}

// pemData returns the inline base64 data or the file's content.
func pemData(file, b64 string) ([]byte, error) {
	if b64 != "" {
		return base64.StdEncoding.DecodeString(b64)
	}
	if file == "" {
		return nil, nil
	}
	return os.ReadFile(file)
}

func serverTLS(caFile, caData string, insecure bool, serverName string) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: insecure, ServerName: serverName}
	ca, err := pemData(caFile, caData)
	if err != nil {
		return nil, fmt.Errorf("certificate authority: %w", err)
	}
	if len(ca) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(ca) {
			return nil, errors.New("certificate authority: no PEM certificate found")
		}
		tc.RootCAs = pool
	}
	return tc, nil
}

func clientCert(certFile, certData, keyFile, keyData string) (*tls.Certificate, error) {
	certPEM, err := pemData(certFile, certData)
	if err != nil {
		return nil, fmt.Errorf("client certificate: %w", err)
	}
	keyPEM, err := pemData(keyFile, keyData)
	if err != nil {
		return nil, fmt.Errorf("client key: %w", err)
	}
	if len(certPEM) == 0 && len(keyPEM) == 0 {
		return nil, nil
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("client certificate and key: %w", err)
	}
	return &cert, nil
}

// In-cluster locations, as every Kubernetes client reads them.
const saDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// InCluster resolves the connection of a pod from its service account and
// the KUBERNETES_SERVICE_HOST/PORT environment.
func InCluster() (Conn, error) {
	host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
	if host == "" || port == "" {
		return Conn{}, errors.New("not running in a Kubernetes pod: KUBERNETES_SERVICE_HOST/PORT are unset; set KUBECONFIG")
	}
	tc, err := serverTLS(saDir+"/ca.crt", "", false, "")
	if err != nil {
		return Conn{}, fmt.Errorf("in-cluster config: %w", err)
	}
	ns := "default"
	if b, err := os.ReadFile(saDir + "/namespace"); err == nil {
		ns = strings.TrimSpace(string(b))
	}
	return Conn{
		Server: "https://" + net.JoinHostPort(host, port), TLS: tc,
		TokenFile: saDir + "/token", Namespace: ns, Source: "in-cluster service account",
	}, nil
}
