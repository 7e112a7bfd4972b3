package etcdhttp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/tortienet/tortie/internal/datastore"
)

type watchCreateRequest struct {
	Key           []byte `json:"key"`
	RangeEnd      []byte `json:"range_end,omitempty"`
	StartRevision int64  `json:"start_revision,omitempty,string"`
	PrevKV        bool   `json:"prev_kv,omitempty"`
}

type watchRequest struct {
	CreateRequest *watchCreateRequest `json:"create_request"`
}

// watchChunk is one object of the gateway's watch stream: a WatchResponse
// under "result", or an error under "error".
type watchChunk struct {
	errorBody
	Result *watchResponse `json:"result"`
}

type watchResponse struct {
	Created         bool    `json:"created"`
	Canceled        bool    `json:"canceled"`
	CompactRevision int64   `json:"compact_revision,string"`
	CancelReason    string  `json:"cancel_reason"`
	Events          []event `json:"events"`
}

// event is mvccpb.Event: type is absent for PUT (the enum's zero value).
type event struct {
	Type   string    `json:"type"`
	Kv     keyValue  `json:"kv"`
	PrevKv *keyValue `json:"prev_kv"`
}

var errWatchClosed = errors.New("watch stream ended")

// Watch implements datastore.Store with one streaming POST to /v3/watch per
// watch (one HTTP/1.1 connection each), from afterRev+1, that requires a
// leader (so a member cut off from the cluster fails the watch instead of
// going silent). Any failure ends the watch with an EventError: compaction
// (ErrCompacted), an error from etcd, or the connection breaking; it is not
// resumed, since a server restored from a backup has other revisions and a
// resumed watch would silently miss changes. datastore.ListWatch resyncs
// from a fresh List instead. Close ends open watches with an EventError.
func (s *Store) Watch(ctx context.Context, prefix string, afterRev int64, opts ...datastore.WatchOption) (<-chan datastore.Event, error) {
	if s.closed.Err() != nil {
		return nil, fmt.Errorf("etcd watch %s: %w", prefix, errClosed)
	}
	key, end := prefixRange(prefix)
	body, err := json.Marshal(watchRequest{CreateRequest: &watchCreateRequest{
		Key: key, RangeEnd: end, StartRevision: afterRev + 1, PrevKV: datastore.WatchOptionsOf(opts).PrevValues,
	}})
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.closed, cancel)
	out := make(chan datastore.Event)
	go func() {
		defer close(out)
		defer stop()
		defer cancel() // ends the request, and so etcd's watch, on every way out
		err := s.watch(wctx, body, afterRev, out)
		switch {
		case ctx.Err() != nil:
			return // the caller ended the watch: close without an error
		case s.closed.Err() != nil:
			err = errClosed
		}
		select {
		case out <- datastore.Event{Type: datastore.EventError, Err: fmt.Errorf("etcd watch %s: %w", prefix, err)}:
		case <-ctx.Done():
		}
	}()
	return out, nil
}

// watch runs the stream and sends its events to out until it fails or
// ctx ends; it returns why (never nil).
func (s *Store) watch(ctx context.Context, body []byte, afterRev int64, out chan<- datastore.Event) error {
	resp, err := s.post(ctx, pathWatch, body, callOpts{readOnly: true, requireLeader: true})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return statusError(resp.StatusCode, data)
	}
	dec := json.NewDecoder(resp.Body)
	for {
		var c watchChunk
		if err := dec.Decode(&c); err != nil {
			if errors.Is(err, io.EOF) {
				return errWatchClosed
			}
			return err
		}
		if err := c.gatewayErr(http.StatusOK); err != nil {
			return err
		}
		r := c.Result
		switch {
		case r == nil:
			continue
		case r.CompactRevision != 0:
			return fmt.Errorf("after revision %d (compacted at %d): %w", afterRev, r.CompactRevision, datastore.ErrCompacted)
		case r.Canceled && strings.Contains(r.CancelReason, "compacted"):
			return fmt.Errorf("after revision %d: %s: %w", afterRev, r.CancelReason, datastore.ErrCompacted)
		case r.Canceled:
			return fmt.Errorf("canceled by etcd: %s", r.CancelReason)
		}
		for i, e := range r.Events {
			ev := eventOf(e)
			ev.More = i < len(r.Events)-1
			select {
			case out <- ev:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
}

func eventOf(e event) datastore.Event {
	ev := datastore.Event{Type: datastore.EventPut, KV: kvOf(e.Kv)}
	if e.Type == "DELETE" {
		ev = datastore.Event{Type: datastore.EventDelete, KV: datastore.KV{Key: string(e.Kv.Key), Revision: e.Kv.ModRevision}}
	}
	if e.PrevKv != nil {
		ev.PrevValue = e.PrevKv.Value
	}
	return ev
}
