package etcd

import (
	"context"

	"github.com/tortienet/tortie/internal/datastore"
)

// Dial is the datastore.Dialer for this backend.
func Dial(ctx context.Context, cfg datastore.Config) (datastore.Store, error) {
	return New(ctx, cfg.Etcd)
}
