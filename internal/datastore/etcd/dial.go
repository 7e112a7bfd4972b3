package etcd

import (
	"context"

	"github.com/tortienet/tortie/internal/client"
	"github.com/tortienet/tortie/internal/datastore"
)

// Dial is the client.Dialer for this backend.
func Dial(ctx context.Context, cfg client.Config) (datastore.Store, error) {
	return New(ctx, Config{
		Endpoints:   cfg.EtcdEndpoints,
		CACertFile:  cfg.EtcdCACertFile,
		CertFile:    cfg.EtcdCertFile,
		KeyFile:     cfg.EtcdKeyFile,
		DialTimeout: cfg.DialTimeout,
	})
}
