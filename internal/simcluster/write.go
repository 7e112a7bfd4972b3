package simcluster

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/client"
	"github.com/tortienet/tortie/internal/datastore"
	"github.com/tortienet/tortie/internal/ipam"
)

// Transaction limits: etcd refuses a transaction of more than 128 ops
// (--max-txn-ops) or a request over 1.5 MiB (--max-request-bytes) by
// default.
const (
	maxTxnOps   = 128
	maxTxnBytes = 1 << 20
	workers     = 8
)

// Result says what Write wrote.
type Result struct {
	Nodes, Endpoints int
	Keys, Txns       int
	Took             time.Duration
}

// Write writes the cluster s describes through c: the pool first (with
// Create's checks: it must not exist nor overlap another pool), then each
// node's Node, block, affinity, handles and endpoints in transactions of
// up to 128 keys from several goroutines. Every key is created, never
// overwritten. If the pool cannot be created nothing is written; a later
// failure (the datastore going away) leaves the nodes written so far.
func Write(ctx context.Context, c *client.Client, s Spec) (Result, error) {
	start := time.Now()
	s.Defaults()
	if err := s.Validate(); err != nil {
		return Result{}, err
	}
	if _, err := c.Create(ctx, s.Pool()); err != nil {
		return Result{}, fmt.Errorf("create the simulated cluster's pool: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	res := Result{Nodes: s.Nodes, Endpoints: s.Nodes * s.EndpointsPerNode}
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			keys, txns, err := s.writeNodes(ctx, c, w)
			mu.Lock()
			defer mu.Unlock()
			res.Keys, res.Txns = res.Keys+keys, res.Txns+txns
			if err != nil && firstErr == nil {
				firstErr = err
				cancel()
			}
		})
	}
	wg.Wait()
	res.Keys++ // the pool
	res.Took = time.Since(start)
	return res, firstErr
}

// writeNodes writes nodes w, w+workers, ... in batched transactions.
func (s *Spec) writeNodes(ctx context.Context, c *client.Client, w int) (keys, txns int, err error) {
	var batch []datastore.Op
	size := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if _, err := c.Store().Txn(ctx, batch...); err != nil {
			return fmt.Errorf("write %d keys from %s: %w", len(batch), batch[0].Key, err)
		}
		keys, txns, batch, size = keys+len(batch), txns+1, batch[:0], 0
		return nil
	}
	now := time.Now()
	for i := w; i < s.Nodes; i += workers {
		ops, err := s.NodeOps(ctx, c, i, now)
		if err != nil {
			return keys, txns, err
		}
		for _, op := range ops {
			if len(batch) == maxTxnOps || size+len(op.Key)+len(op.Value) > maxTxnBytes {
				if err := flush(); err != nil {
					return keys, txns, err
				}
			}
			batch = append(batch, op)
			size += len(op.Key) + len(op.Value)
		}
	}
	return keys, txns, flush()
}

// NodeOps are the create ops of node i: its Node, block, affinity, the
// handles of its tunnel address and endpoints, and the endpoints.
func (s *Spec) NodeOps(ctx context.Context, c *client.Client, i int, now time.Time) ([]datastore.Op, error) {
	name := s.NodeName(i)
	b, err := s.NodeBlock(i, now)
	if err != nil {
		return nil, err
	}
	rs := make([]v3.Resource, 0, 1+s.EndpointsPerNode)
	rs = append(rs, s.Node(i))
	for j := range s.EndpointsPerNode {
		rs = append(rs, s.Endpoint(i, j, s.EndpointAddr(i, j)))
	}
	res, err := c.CreateOps(ctx, rs...)
	if err != nil {
		return nil, err
	}
	blockKey := s.Block(i).String()
	raw := []struct {
		key string
		v   any
	}{
		{ipam.BlockKey(s.Block(i)), b},
		{ipam.AffinityKey(name, s.Block(i)), ipam.Affinity{State: ipam.StateConfirmed}},
		{ipam.HandleKey(ipam.TunnelHandle(ipam.TypeVXLANTunnel, name)), ipam.Handle{Block: map[string]int{blockKey: 1}}},
	}
	for j := range s.EndpointsPerNode {
		raw = append(raw, struct {
			key string
			v   any
		}{ipam.HandleKey(s.Handle(i, j)), ipam.Handle{Block: map[string]int{blockKey: 1}}})
	}
	ops := make([]datastore.Op, 0, len(raw)+len(res))
	for _, r := range raw {
		v, err := json.Marshal(r.v)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", r.key, err)
		}
		ops = append(ops, datastore.Op{Type: datastore.OpCreate, Key: r.key, Value: v})
	}
	return append(ops, res...), nil
}
