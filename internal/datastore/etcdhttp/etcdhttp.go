package etcdhttp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tortienet/tortie/internal/datastore"
)

// Config says how to reach etcd: the same for both etcd backends.
type Config = datastore.EtcdConfig

// Store is a datastore.Store on an etcd v3 cluster through its JSON
// gateway. Conditional writes are single etcd transactions, so they are
// atomic across the cluster.
type Store struct {
	endpoints []string // scheme://host, no trailing slash
	current   atomic.Int32
	client    *http.Client
	transport *http.Transport
	closed    context.Context // done after Close
	close     context.CancelFunc
}

var _ datastore.Store = (*Store)(nil)

var errClosed = errors.New("etcd store closed")

// New makes the client and checks, within the dial timeout, that the
// cluster answers a linearizable read (of the key "health", one small
// request); otherwise it fails with an error naming the endpoints. It
// tries the endpoints in order and keeps the first that answers.
func New(ctx context.Context, cfg Config) (*Store, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, errors.New("etcd: no endpoints configured")
	}
	tlsCfg, err := cfg.TLSConfig()
	if err != nil {
		return nil, err
	}
	eps, err := endpointURLs(cfg.Endpoints, tlsCfg != nil)
	if err != nil {
		return nil, err
	}
	timeout := cfg.Timeout()
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:     tlsCfg, // with it set, net/http speaks HTTP/1.1 only
		TLSHandshakeTimeout: timeout,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	s := &Store{endpoints: eps, client: &http.Client{Transport: tr}, transport: tr}
	s.closed, s.close = context.WithCancel(context.Background())

	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var resp rangeResponse
	if err := s.call(cctx, pathRange, rangeRequest{Key: []byte("health")}, &resp, callOpts{readOnly: true}); err != nil {
		s.Close()
		return nil, fmt.Errorf("cannot reach etcd at %v: %w%s", cfg.Endpoints, err, gatewayTLSHint(err, tlsCfg != nil))
	}
	return s, nil
}

// gatewayTLSHint explains a quirk of etcd's gateway: it calls etcd's own
// gRPC server presenting the server's certificate as its client
// certificate, so with client certificate auth that certificate must also
// allow client authentication and be signed by the trusted client CA
// (etcd-io/etcd#9785, #16590). Otherwise every gateway request fails with
// Unavailable and a transport error of the gateway's own connection ("bad
// certificate", "broken pipe": it varies), while gRPC clients work. etcd's
// own errors start with "etcdserver:".
func gatewayTLSHint(err error, tlsOn bool) string {
	var gerr *gatewayError
	if tlsOn && errors.As(err, &gerr) && gerr.Code == codeUnavailable && !strings.HasPrefix(gerr.Message, "etcdserver:") {
		return " (etcd's JSON gateway could not connect to etcd itself; with client certificate auth it presents the server's " +
			"own certificate, which then needs the clientAuth extended key usage and a signature by the trusted client CA)"
	}
	return ""
}

// endpointURLs checks the endpoints and returns them as scheme://host.
func endpointURLs(endpoints []string, tlsOn bool) ([]string, error) {
	out := make([]string, len(endpoints))
	for i, ep := range endpoints {
		raw := ep
		if !strings.Contains(raw, "://") {
			if tlsOn {
				raw = "https://" + raw
			} else {
				raw = "http://" + raw
			}
		}
		u, err := url.Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("etcd endpoint %q: %w", ep, err)
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("etcd endpoint %q: want http://host:port or https://host:port", ep)
		}
		out[i] = u.Scheme + "://" + u.Host
	}
	return out, nil
}

// Close implements datastore.Store: open watches end with an EventError,
// idle connections are closed and later calls fail.
func (s *Store) Close() error {
	s.close()
	s.transport.CloseIdleConnections()
	return nil
}

// Get implements datastore.Store.
func (s *Store) Get(ctx context.Context, key string) (datastore.KV, error) {
	var resp rangeResponse
	if err := s.call(ctx, pathRange, rangeRequest{Key: []byte(key)}, &resp, callOpts{readOnly: true}); err != nil {
		return datastore.KV{}, fmt.Errorf("etcd get %s: %w", key, err)
	}
	if len(resp.Kvs) == 0 {
		return datastore.KV{}, datastore.NewKeyError(key, datastore.ErrNotFound)
	}
	return kvOf(resp.Kvs[0]), nil
}

// List implements datastore.Store: one range read, sorted by key.
func (s *Store) List(ctx context.Context, prefix string) ([]datastore.KV, int64, error) {
	kvs, rev, err := s.list(ctx, prefix, false)
	if err != nil {
		return nil, 0, fmt.Errorf("etcd list %s: %w", prefix, err)
	}
	return kvs, rev, nil
}

// ListKeys implements datastore.Store: a keys-only range read.
func (s *Store) ListKeys(ctx context.Context, prefix string) ([]datastore.KV, int64, error) {
	kvs, rev, err := s.list(ctx, prefix, true)
	if err != nil {
		return nil, 0, fmt.Errorf("etcd list keys %s: %w", prefix, err)
	}
	return kvs, rev, nil
}

func (s *Store) list(ctx context.Context, prefix string, keysOnly bool) ([]datastore.KV, int64, error) {
	key, end := prefixRange(prefix)
	var resp rangeResponse
	if err := s.call(ctx, pathRange, rangeRequest{Key: key, RangeEnd: end, KeysOnly: keysOnly}, &resp, callOpts{readOnly: true}); err != nil {
		return nil, 0, err
	}
	kvs := make([]datastore.KV, len(resp.Kvs))
	for i, kv := range resp.Kvs {
		kvs[i] = kvOf(kv)
		if keysOnly {
			kvs[i].Value = nil
		}
	}
	return kvs, resp.Header.Revision, nil
}

// Create implements datastore.Store: put if the key has never been created
// (or was deleted since).
func (s *Store) Create(ctx context.Context, key string, value []byte) (int64, error) {
	resp, err := s.txn(ctx, txnRequest{
		Compare: []compare{createRevisionIs(key, "EQUAL", 0)},
		Success: []requestOp{{Put: &putRequest{Key: []byte(key), Value: value}}},
	}, 0)
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
	resp, err := s.txn(ctx, txnRequest{
		Compare: []compare{revisionIs(key, rev)},
		Success: []requestOp{{Put: &putRequest{Key: []byte(key), Value: value}}},
		Failure: []requestOp{{Range: &rangeRequest{Key: []byte(key), CountOnly: true}}},
	}, 1)
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
	resp, err := s.txn(ctx, txnRequest{
		Compare: []compare{revisionIs(key, rev)},
		Success: []requestOp{{DeleteRange: &deleteRangeRequest{Key: []byte(key), PrevKV: true}}},
		Failure: []requestOp{{Range: &rangeRequest{Key: []byte(key), CountOnly: true}}},
	}, 1)
	if err != nil {
		return datastore.KV{}, fmt.Errorf("etcd delete %s: %w", key, err)
	}
	if !resp.Succeeded {
		return datastore.KV{}, failure(key, resp)
	}
	if dr := resp.Responses[0].DeleteRange; dr != nil && len(dr.PrevKvs) > 0 {
		return kvOf(dr.PrevKvs[0]), nil
	}
	// Cannot happen: the comparison proved the key existed.
	return datastore.KV{}, fmt.Errorf("etcd delete %s: no previous value returned", key)
}

// Txn implements datastore.Store as one etcd transaction. When it fails,
// the failure branch reads every key so the error can name the first op
// whose condition did not hold.
func (s *Store) Txn(ctx context.Context, ops ...datastore.Op) (int64, error) {
	req := txnRequest{
		Compare: make([]compare, 0, len(ops)),
		Success: make([]requestOp, 0, len(ops)),
		Failure: make([]requestOp, 0, len(ops)),
	}
	for _, op := range ops {
		key := []byte(op.Key)
		switch op.Type {
		case datastore.OpCreate:
			req.Compare = append(req.Compare, createRevisionIs(op.Key, "EQUAL", 0))
			req.Success = append(req.Success, requestOp{Put: &putRequest{Key: key, Value: op.Value}})
		case datastore.OpUpdate:
			req.Compare = append(req.Compare, revisionIs(op.Key, op.Rev))
			req.Success = append(req.Success, requestOp{Put: &putRequest{Key: key, Value: op.Value}})
		case datastore.OpDelete:
			req.Compare = append(req.Compare, revisionIs(op.Key, op.Rev))
			req.Success = append(req.Success, requestOp{DeleteRange: &deleteRangeRequest{Key: key}})
		default:
			return 0, fmt.Errorf("etcd txn %s: unknown op type %d", op.Key, op.Type)
		}
		req.Failure = append(req.Failure, requestOp{Range: &rangeRequest{Key: key, KeysOnly: true}})
	}
	resp, err := s.txn(ctx, req, len(ops))
	if err != nil {
		return 0, fmt.Errorf("etcd txn: %w", err)
	}
	if resp.Succeeded {
		return resp.Header.Revision, nil
	}
	for i, op := range ops {
		var kvs []keyValue
		if rr := resp.Responses[i].Range; rr != nil {
			kvs = rr.Kvs
		}
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

// txn runs one transaction. A failed one must answer with failures
// responses (its failure branch), which the callers index.
func (s *Store) txn(ctx context.Context, req txnRequest, failures int) (*txnResponse, error) {
	var resp txnResponse
	if err := s.call(ctx, pathTxn, req, &resp, callOpts{}); err != nil {
		return nil, err
	}
	want := len(req.Success)
	if !resp.Succeeded {
		want = failures
	}
	if len(resp.Responses) != want {
		return nil, fmt.Errorf("transaction answer has %d responses, want %d", len(resp.Responses), want)
	}
	return &resp, nil
}

// Compact compacts etcd's history before revision rev and waits until the
// compaction is applied. A watch from before rev then fails with
// datastore.ErrCompacted; so does Compact at a revision already compacted.
func (s *Store) Compact(ctx context.Context, rev int64) error {
	var resp compactionResponse
	err := s.call(ctx, pathCompact, compactionRequest{Revision: rev, Physical: true}, &resp, callOpts{})
	if isCompacted(err) {
		err = fmt.Errorf("%w (%w)", datastore.ErrCompacted, err)
	}
	if err != nil {
		return fmt.Errorf("etcd compact at revision %d: %w", rev, err)
	}
	return nil
}

// isCompacted reports whether err is etcd's ErrCompacted; over the gateway
// only its message tells it from other OutOfRange errors.
func isCompacted(err error) bool {
	var gerr *gatewayError
	return errors.As(err, &gerr) && strings.Contains(gerr.Message, "required revision has been compacted")
}

// revisionIs is the condition of Update and Delete: the key exists and,
// when rev is not 0, was last modified at rev.
func revisionIs(key string, rev int64) compare {
	if rev == 0 {
		return createRevisionIs(key, "NOT_EQUAL", 0)
	}
	return modRevisionIs(key, rev)
}

// failure tells ErrNotFound from ErrConflict after a failed revisionIs,
// from the count the transaction's failure branch read.
func failure(key string, resp *txnResponse) error {
	if rr := resp.Responses[0].Range; rr == nil || rr.Count == 0 {
		return datastore.NewKeyError(key, datastore.ErrNotFound)
	}
	return datastore.NewKeyError(key, datastore.ErrConflict)
}

func kvOf(kv keyValue) datastore.KV {
	return datastore.KV{Key: string(kv.Key), Value: kv.Value, Revision: kv.ModRevision, CreateRevision: kv.CreateRevision}
}
