// Package etcd is the etcd v3 backend of datastore.Store. Keys and values
// are stored as given (Calico's key layout and JSON), so a real calicoctl
// pointed at the same etcd reads what tortie wrote, and the reverse.
package etcd

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/tortienet/tortie/internal/datastore"
)

// Config says how to reach etcd: the same for both etcd backends.
type Config = datastore.EtcdConfig

// Store is a datastore.Store on an etcd v3 cluster. Conditional writes are
// single etcd transactions, so they are atomic across the cluster.
type Store struct {
	cli *clientv3.Client
	// noStream: the server has no RangeStream (etcd before 3.7), or a
	// test wants the paged fallback (see ListPages).
	noStream atomic.Bool
	chunk    int64 // keys per range read of the fallback; 0: rangeChunk
}

var _ datastore.Store = (*Store)(nil)

// New connects to etcd and checks, within the dial timeout, that the
// cluster answers a linearizable read; otherwise it fails with an error
// naming the endpoints. The client's own logging is discarded: errors are
// returned instead.
func New(ctx context.Context, cfg Config) (*Store, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, errors.New("etcd: no endpoints configured")
	}
	tlsCfg, err := cfg.TLSConfig()
	if err != nil {
		return nil, err
	}
	timeout := cfg.Timeout()
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   cfg.Endpoints,
		DialTimeout: timeout,
		TLS:         tlsCfg,
		Logger:      zap.NewNop(),
	})
	if err != nil {
		return nil, fmt.Errorf("etcd client for %v: %w", cfg.Endpoints, err)
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// The key etcdctl's health check reads; its absence is fine.
	if _, err := cli.Get(cctx, "health"); err != nil {
		cli.Close()
		return nil, fmt.Errorf("cannot reach etcd at %v: %w%s", cfg.Endpoints, err, tlsHint(ctx, cfg.Endpoints, tlsCfg))
	}
	return &Store{cli: cli}, nil
}

// Client returns the underlying etcd client, for tests and tools.
func (s *Store) Client() *clientv3.Client { return s.cli }

// Close implements datastore.Store. Open watches end with an EventError.
func (s *Store) Close() error { return s.cli.Close() }

// Get implements datastore.Store.
func (s *Store) Get(ctx context.Context, key string) (datastore.KV, error) {
	resp, err := s.cli.Get(ctx, key)
	if err != nil {
		return datastore.KV{}, fmt.Errorf("etcd get %s: %w", key, err)
	}
	if len(resp.Kvs) == 0 {
		return datastore.KV{}, datastore.NewKeyError(key, datastore.ErrNotFound)
	}
	return kvOf(resp.Kvs[0]), nil
}

// List implements datastore.Store: one range read, sorted by key.
func (s *Store) List(ctx context.Context, prefix string) ([]datastore.KV, int64, error) {
	resp, err := s.cli.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, 0, fmt.Errorf("etcd list %s: %w", prefix, err)
	}
	kvs := make([]datastore.KV, len(resp.Kvs))
	for i, kv := range resp.Kvs {
		kvs[i] = kvOf(kv)
	}
	return kvs, resp.Header.Revision, nil
}

// ListKeys implements datastore.Store: a keys-only range read.
func (s *Store) ListKeys(ctx context.Context, prefix string) ([]datastore.KV, int64, error) {
	resp, err := s.cli.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return nil, 0, fmt.Errorf("etcd list keys %s: %w", prefix, err)
	}
	kvs := make([]datastore.KV, len(resp.Kvs))
	for i, kv := range resp.Kvs {
		kvs[i] = kvOf(kv)
		kvs[i].Value = nil
	}
	return kvs, resp.Header.Revision, nil
}

// Create implements datastore.Store: put if the key has never been created
// (or was deleted since).
func (s *Store) Create(ctx context.Context, key string, value []byte) (int64, error) {
	resp, err := s.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, string(value))).
		Commit()
	if err != nil {
		return 0, fmt.Errorf("etcd create %s: %w", key, err)
	}
	if !resp.Succeeded {
		return 0, datastore.NewKeyError(key, datastore.ErrAlreadyExists)
	}
	return resp.Header.Revision, nil
}

// Update implements datastore.Store.
func (s *Store) Update(ctx context.Context, key string, value []byte, rev int64) (int64, error) {
	resp, err := s.cli.Txn(ctx).
		If(revisionIs(key, rev)).
		Then(clientv3.OpPut(key, string(value))).
		Else(clientv3.OpGet(key, clientv3.WithCountOnly())).
		Commit()
	if err != nil {
		return 0, fmt.Errorf("etcd update %s: %w", key, err)
	}
	if !resp.Succeeded {
		return 0, failure(key, resp)
	}
	return resp.Header.Revision, nil
}

// Delete implements datastore.Store.
func (s *Store) Delete(ctx context.Context, key string, rev int64) (datastore.KV, error) {
	resp, err := s.cli.Txn(ctx).
		If(revisionIs(key, rev)).
		Then(clientv3.OpDelete(key, clientv3.WithPrevKV())).
		Else(clientv3.OpGet(key, clientv3.WithCountOnly())).
		Commit()
	if err != nil {
		return datastore.KV{}, fmt.Errorf("etcd delete %s: %w", key, err)
	}
	if !resp.Succeeded {
		return datastore.KV{}, failure(key, resp)
	}
	prev := resp.Responses[0].GetResponseDeleteRange().GetPrevKvs()
	if len(prev) == 0 {
		// Cannot happen: the comparison proved the key existed.
		return datastore.KV{}, fmt.Errorf("etcd delete %s: no previous value returned", key)
	}
	return kvOf(prev[0]), nil
}

// Txn implements datastore.Store as one etcd transaction. When it fails,
// the Else branch reads every key so the error can name the first op whose
// condition did not hold.
func (s *Store) Txn(ctx context.Context, ops ...datastore.Op) (int64, error) {
	cmps := make([]clientv3.Cmp, 0, len(ops))
	thens := make([]clientv3.Op, 0, len(ops))
	elses := make([]clientv3.Op, 0, len(ops))
	for _, op := range ops {
		switch op.Type {
		case datastore.OpCreate:
			cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(op.Key), "=", 0))
			thens = append(thens, clientv3.OpPut(op.Key, string(op.Value)))
		case datastore.OpUpdate:
			cmps = append(cmps, revisionIs(op.Key, op.Rev))
			thens = append(thens, clientv3.OpPut(op.Key, string(op.Value)))
		case datastore.OpDelete:
			cmps = append(cmps, revisionIs(op.Key, op.Rev))
			thens = append(thens, clientv3.OpDelete(op.Key))
		default:
			return 0, fmt.Errorf("etcd txn %s: unknown op type %d", op.Key, op.Type)
		}
		elses = append(elses, clientv3.OpGet(op.Key, clientv3.WithKeysOnly()))
	}
	resp, err := s.cli.Txn(ctx).If(cmps...).Then(thens...).Else(elses...).Commit()
	if err != nil {
		return 0, fmt.Errorf("etcd txn: %w", err)
	}
	if resp.Succeeded {
		return resp.Header.Revision, nil
	}
	for i, op := range ops {
		kvs := resp.Responses[i].GetResponseRange().GetKvs()
		switch {
		case op.Type == datastore.OpCreate && len(kvs) > 0:
			return 0, datastore.NewKeyError(op.Key, datastore.ErrAlreadyExists)
		case op.Type != datastore.OpCreate && len(kvs) == 0:
			return 0, datastore.NewKeyError(op.Key, datastore.ErrNotFound)
		case op.Type != datastore.OpCreate && op.Rev != 0 && kvs[0].ModRevision != op.Rev:
			return 0, datastore.NewKeyError(op.Key, datastore.ErrConflict)
		}
	}
	return 0, fmt.Errorf("etcd txn: conditions failed but every key now matches: %w", datastore.ErrConflict)
}

// Compact compacts etcd's history before revision rev and waits until the
// compaction is applied. A watch from before rev then fails with
// datastore.ErrCompacted.
func (s *Store) Compact(ctx context.Context, rev int64) error {
	_, err := s.cli.Compact(ctx, rev, clientv3.WithCompactPhysical())
	if errors.Is(err, rpctypes.ErrCompacted) {
		err = fmt.Errorf("%w (%w)", datastore.ErrCompacted, err)
	}
	if err != nil {
		return fmt.Errorf("etcd compact at revision %d: %w", rev, err)
	}
	return nil
}

// revisionIs is the condition of Update and Delete: the key exists and,
// when rev is not 0, was last modified at rev.
func revisionIs(key string, rev int64) clientv3.Cmp {
	if rev == 0 {
		return clientv3.Compare(clientv3.CreateRevision(key), "!=", 0)
	}
	return clientv3.Compare(clientv3.ModRevision(key), "=", rev)
}

// failure tells ErrNotFound from ErrConflict after a failed revisionIs,
// from the count the transaction's Else branch read.
func failure(key string, resp *clientv3.TxnResponse) error {
	if resp.Responses[0].GetResponseRange().GetCount() == 0 {
		return datastore.NewKeyError(key, datastore.ErrNotFound)
	}
	return datastore.NewKeyError(key, datastore.ErrConflict)
}

// Wrap is a Store on an etcd client the caller made (one that dials
// through a network namespace, say). Close closes the client.
func Wrap(cli *clientv3.Client) *Store { return &Store{cli: cli} }
