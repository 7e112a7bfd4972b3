// Package embedded runs an etcd server inside the tortie process: the
// single-machine default datastore, and the backend of integration tests.
// Clients reach it over its client URL like any etcd (see package etcd).
package embedded

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	"go.etcd.io/etcd/server/v3/embed"
)

// Defaults for Config.
const (
	DefaultClientAddr   = "127.0.0.1:2379"
	DefaultPeerAddr     = "127.0.0.1:2380"
	DefaultName         = "tortie"
	DefaultReadyTimeout = 30 * time.Second
)

// Config configures the embedded server. Only DataDir is required.
type Config struct {
	// DataDir holds etcd's data; it survives restarts: Start on the same
	// directory finds what was stored before.
	DataDir string
	// ClientAddr is the host:port clients connect to (DefaultClientAddr).
	ClientAddr string
	// PeerAddr is the host:port of the raft peer listener (DefaultPeerAddr).
	// There is one member, so nothing else connects here, but etcd listens
	// anyway: keep it on a loopback address. It is never TLS.
	PeerAddr string
	// Name is the member name (DefaultName). It must stay the same across
	// restarts on one DataDir.
	Name string
	// Logger receives etcd's own error logs; nil discards them.
	Logger *slog.Logger
	// ServerCertFile and ServerKeyFile (PEM) make the client listener TLS
	// (https). With ClientCAFile set too, clients must present a certificate
	// signed by that CA.
	ServerCertFile, ServerKeyFile, ClientCAFile string
	// ReadyTimeout bounds how long Start waits for the server to serve
	// (DefaultReadyTimeout).
	ReadyTimeout time.Duration
}

// Server is a running embedded etcd.
type Server struct {
	etcd      *embed.Etcd
	endpoints []string
	closing   atomic.Bool // set by Close; quiets shutdown logs and errors
	errc      chan error
	done      chan struct{} // closed when watchErrors has returned
	closeOnce sync.Once
}

// Start starts the server and waits until it serves clients, ctx ends, or
// the ready timeout passes. ctx bounds only the start: the server runs
// until Close. Automatic compaction is off.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	ec, err := cfg.etcdConfig()
	if err != nil {
		return nil, err
	}
	s := &Server{errc: make(chan error, 1), done: make(chan struct{})}
	ec.ZapLoggerBuilder = embed.NewZapLoggerBuilder(newZapLogger(cfg.Logger, &s.closing))
	where := fmt.Sprintf("data dir %s, client %s, peer %s", ec.Dir, ec.ListenClientUrls[0].Host, ec.ListenPeerUrls[0].Host)

	e, err := embed.StartEtcd(ec)
	if err != nil {
		return nil, fmt.Errorf("start embedded etcd (%s): %w", where, err)
	}
	timeout := cfg.ReadyTimeout
	if timeout <= 0 {
		timeout = DefaultReadyTimeout
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-e.Server.ReadyNotify():
	case err = <-e.Err():
	case <-ctx.Done():
		err = ctx.Err()
	case <-timer.C:
		err = fmt.Errorf("not ready after %v", timeout)
	}
	if err != nil {
		s.closing.Store(true)
		e.Close()
		return nil, fmt.Errorf("start embedded etcd (%s): %w", where, err)
	}
	s.etcd = e
	for _, u := range ec.AdvertiseClientUrls {
		s.endpoints = append(s.endpoints, u.String())
	}
	go s.watchErrors()
	return s, nil
}

// watchErrors passes the first error of the running server to errc, and
// closes errc when the server has stopped.
func (s *Server) watchErrors() {
	defer close(s.done)
	defer close(s.errc)
	report := func(err error) {
		if err != nil && !s.closing.Load() {
			select {
			case s.errc <- err:
			default: // an error is already waiting; the first one tells
			}
		}
	}
	stopped := s.etcd.Server.StopNotify()
	for {
		select {
		case err, ok := <-s.etcd.Err():
			if !ok {
				return // Close is done
			}
			report(err)
		case <-stopped:
			report(errors.New("embedded etcd server stopped"))
			stopped = nil
		}
	}
}

// Endpoints returns the client URLs, e.g. ["http://127.0.0.1:2379"].
func (s *Server) Endpoints() []string { return append([]string(nil), s.endpoints...) }

// Err reports a failure of the running server (the first one); it is
// closed once the server has stopped after Close.
func (s *Server) Err() <-chan error { return s.errc }

// Close stops the server and waits until it has stopped. Open client
// connections are cut (etcd gives in-flight requests a few seconds). Calling
// Close again does nothing.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.closing.Store(true)
		s.etcd.Close()
		<-s.done
	})
	return nil
}

// etcdConfig validates cfg and turns it into etcd's configuration.
func (cfg Config) etcdConfig() (*embed.Config, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("embedded etcd: no data dir configured")
	}
	if (cfg.ServerCertFile == "") != (cfg.ServerKeyFile == "") {
		return nil, fmt.Errorf("embedded etcd: server cert file (%q) and key file (%q) must be given together", cfg.ServerCertFile, cfg.ServerKeyFile)
	}
	if cfg.ClientCAFile != "" && cfg.ServerCertFile == "" {
		return nil, fmt.Errorf("embedded etcd: client CA file %s needs a server cert and key", cfg.ClientCAFile)
	}
	ec := embed.NewConfig()
	ec.Name = withDefault(cfg.Name, DefaultName)
	ec.Dir = cfg.DataDir
	ec.LogLevel = "error"
	ec.AutoCompactionMode = embed.CompactorModePeriodic
	ec.AutoCompactionRetention = "0" // off: callers compact explicitly

	scheme := "http"
	if cfg.ServerCertFile != "" {
		scheme = "https"
		ec.ClientTLSInfo = transport.TLSInfo{
			CertFile:       cfg.ServerCertFile,
			KeyFile:        cfg.ServerKeyFile,
			TrustedCAFile:  cfg.ClientCAFile,
			ClientCertAuth: cfg.ClientCAFile != "",
		}
	}
	client := url.URL{Scheme: scheme, Host: withDefault(cfg.ClientAddr, DefaultClientAddr)}
	peer := url.URL{Scheme: "http", Host: withDefault(cfg.PeerAddr, DefaultPeerAddr)}
	ec.ListenClientUrls, ec.AdvertiseClientUrls = []url.URL{client}, []url.URL{client}
	ec.ListenPeerUrls, ec.AdvertisePeerUrls = []url.URL{peer}, []url.URL{peer}
	ec.InitialCluster = ec.InitialClusterFromName(ec.Name)
	return ec, nil
}

func withDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// FreeAddr returns a 127.0.0.1:port that was free a moment ago, for tests.
// (Another process may take it before it is used.)
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}
