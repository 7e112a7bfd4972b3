package client

import (
	"context"
	"time"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/datastore"
)

// CreateOps prepares new resources as Create does (defaults, validation,
// uid, creationTimestamp) and returns the transaction ops that store
// them, for a caller that writes many resources in few transactions
// (datastore.Store.Txn). Nothing is written; an invalid resource fails
// the whole call with Create's error.
func (c *Client) CreateOps(ctx context.Context, rs ...v3.Resource) ([]datastore.Op, error) {
	if err := c.ensureInitialized(ctx); err != nil {
		return nil, err
	}
	ops := make([]datastore.Op, 0, len(rs))
	for _, r := range rs {
		if err := c.prepare(ctx, r, nil); err != nil {
			return nil, err
		}
		m := r.GetObjectMeta()
		m.UID = c.newUID()
		m.CreationTimestamp = c.now().UTC().Format(time.RFC3339)
		val, err := encode(r)
		if err != nil {
			return nil, err
		}
		ops = append(ops, datastore.Op{Type: datastore.OpCreate, Key: Key(r), Value: val})
	}
	return ops, nil
}
