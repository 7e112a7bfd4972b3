package etcd

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"os"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
)

// tlsConfig returns the client TLS configuration, or nil when no file is
// set. Each file is read and parsed here first so that an error names the
// file at fault.
func (c Config) tlsConfig() (*tls.Config, error) {
	if c.CACertFile == "" && c.CertFile == "" && c.KeyFile == "" {
		return nil, nil
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		return nil, fmt.Errorf("etcd TLS: client cert file (%q) and key file (%q) must be given together", c.CertFile, c.KeyFile)
	}
	if c.CACertFile != "" {
		pem, err := os.ReadFile(c.CACertFile)
		if err != nil {
			return nil, fmt.Errorf("etcd CA cert file: %w", err)
		}
		if !x509.NewCertPool().AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("etcd CA cert file %s: no PEM certificate in it", c.CACertFile)
		}
	}
	if c.CertFile != "" {
		if _, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile); err != nil {
			return nil, fmt.Errorf("etcd client cert %s / key %s: %w", c.CertFile, c.KeyFile, err)
		}
	}
	info := transport.TLSInfo{CertFile: c.CertFile, KeyFile: c.KeyFile, TrustedCAFile: c.CACertFile}
	cfg, err := info.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("etcd TLS (CA %q, cert %q, key %q): %w", c.CACertFile, c.CertFile, c.KeyFile, err)
	}
	return cfg, nil
}

// tlsHint explains, when it can, why TLS endpoints did not answer: it makes
// one TLS connection to each https endpoint and reports the first handshake
// failure or alert (an unknown CA, a missing client certificate) as
// " (TLS to host: ...)". It returns "" when it finds nothing.
func tlsHint(ctx context.Context, endpoints []string, cfg *tls.Config) string {
	if cfg == nil {
		return ""
	}
	for _, ep := range endpoints {
		u, err := url.Parse(ep)
		if err != nil || u.Scheme != "https" {
			continue
		}
		if msg := tlsProbe(ctx, u.Host, cfg); msg != "" {
			return fmt.Sprintf(" (TLS to %s: %s)", u.Host, msg)
		}
	}
	return ""
}

func tlsProbe(ctx context.Context, host string, cfg *tls.Config) string {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	d := tls.Dialer{Config: cfg.Clone()}
	conn, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return err.Error()
	}
	defer conn.Close()
	// With TLS 1.3 the server judges the client's certificate after the
	// client's handshake is done; its verdict arrives with the first read.
	// A server that accepted us just waits for HTTP/2: that times out.
	deadline, _ := ctx.Deadline()
	conn.SetReadDeadline(deadline)
	var buf [1]byte
	if _, err := conn.Read(buf[:]); err != nil {
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			return ""
		}
		return err.Error()
	}
	return ""
}
