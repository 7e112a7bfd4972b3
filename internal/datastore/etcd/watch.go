package etcd

import (
	"context"
	"errors"
	"fmt"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"

	"github.com/tortienet/tortie/internal/datastore"
)

// Watch implements datastore.Store with an etcd watch from afterRev+1 (with
// etcd's previous values only WithPrevValues) that
// requires a leader (so a member cut off from the cluster fails the watch
// instead of going silent). Errors end the watch with an EventError:
// compaction (ErrCompacted), and also the loss of the client's connection
// to every endpoint. etcd's client would resume such a watch by itself, but
// a server that comes back restored from a backup or with a fresh data
// directory has other revisions, and the resumed watch would silently miss
// changes; ending it makes datastore.ListWatch resync from a fresh List.
func (s *Store) Watch(ctx context.Context, prefix string, afterRev int64, opts ...datastore.WatchOption) (<-chan datastore.Event, error) {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	lost := make(chan struct{})
	go watchConnection(wctx, s.cli.ActiveConnection(), lost)
	eopts := []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithRev(afterRev + 1)}
	if datastore.WatchOptionsOf(opts).PrevValues {
		// etcd then reads each event's previous revision, per watcher
		eopts = append(eopts, clientv3.WithPrevKV())
	}
	wch := s.cli.Watch(wctx, prefix, eopts...)
	out := make(chan datastore.Event)
	go func() {
		defer close(out)
		defer cancel() // releases etcd's watcher and watchConnection on every way out
		forward(wctx, prefix, afterRev, wch, lost, out)
	}()
	return out, nil
}

// watchConnection closes lost when conn, having been ready, is not ready
// any more; it returns when ctx ends.
func watchConnection(ctx context.Context, conn *grpc.ClientConn, lost chan<- struct{}) {
	wasReady := false
	for state := conn.GetState(); ; state = conn.GetState() {
		if state == connectivity.Ready {
			wasReady = true
		} else if wasReady {
			close(lost)
			return
		}
		if !conn.WaitForStateChange(ctx, state) {
			return
		}
	}
}

// forward translates etcd watch responses into events until ctx ends or
// the watch fails.
func forward(ctx context.Context, prefix string, afterRev int64, wch clientv3.WatchChan, lost <-chan struct{}, out chan<- datastore.Event) {
	send := func(ev datastore.Event) bool {
		select {
		case out <- ev:
			return true
		case <-ctx.Done():
			return false
		}
	}
	fail := func(err error) {
		if ctx.Err() == nil {
			send(datastore.Event{Type: datastore.EventError, Err: err})
		}
	}
	for {
		var resp clientv3.WatchResponse
		var ok bool
		select {
		case <-ctx.Done():
			return
		case <-lost:
			fail(fmt.Errorf("etcd watch %s: %w", prefix, errConnectionLost))
			return
		case resp, ok = <-wch:
		}
		switch {
		case !ok:
			fail(fmt.Errorf("etcd watch %s: %w", prefix, errWatchClosed))
			return
		case resp.CompactRevision != 0:
			fail(fmt.Errorf("etcd watch %s after revision %d (compacted at %d): %w",
				prefix, afterRev, resp.CompactRevision, datastore.ErrCompacted))
			return
		case resp.Err() != nil:
			fail(fmt.Errorf("etcd watch %s: %w", prefix, resp.Err()))
			return
		}
		for i, e := range resp.Events {
			ev := eventOf(e)
			ev.More = i < len(resp.Events)-1
			if !send(ev) {
				return
			}
		}
	}
}

var (
	errWatchClosed    = errors.New("watch channel closed")
	errConnectionLost = errors.New("connection to etcd lost")
)

func eventOf(e *clientv3.Event) datastore.Event {
	ev := datastore.Event{Type: datastore.EventPut, KV: kvOf(e.Kv)}
	if e.Type == clientv3.EventTypeDelete {
		ev = datastore.Event{Type: datastore.EventDelete, KV: datastore.KV{Key: string(e.Kv.Key), Revision: e.Kv.ModRevision}}
	}
	if e.PrevKv != nil {
		ev.PrevValue = e.PrevKv.Value
	}
	return ev
}

func kvOf(kv *mvccpb.KeyValue) datastore.KV {
	return datastore.KV{Key: string(kv.Key), Value: kv.Value, Revision: kv.ModRevision, CreateRevision: kv.CreateRevision}
}
