package etcd

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"time"
)

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
