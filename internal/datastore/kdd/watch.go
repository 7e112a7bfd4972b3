package kdd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tortienet/tortie/internal/datastore"
)

// Watch implements datastore.Store with one Kubernetes watch per resource
// under prefix, from resourceVersion afterRev. It first lists those
// resources exactly at afterRev (or takes the objects of the List it
// follows, when that was of the same prefix at afterRev): Kubernetes
// events carry no previous value, so a watch WithPrevValues keeps each
// key's last value to report it.
//
// Within one resource, events come in revision order; across resources
// they are merged as they arrive. A watch the apiserver ends (its timeout,
// a restart) is resumed from the last resourceVersion seen, bookmarks
// included, without a new list; only a resourceVersion that is too old
// (410 Gone) ends it, with ErrCompacted.
func (s *Store) Watch(ctx context.Context, prefix string, afterRev int64, opts ...datastore.WatchOption) (<-chan datastore.Event, error) {
	prevValues := datastore.WatchOptionsOf(opts).PrevValues
	ctx, cancel := context.WithCancel(ctx)
	w := &watcher{s: s, prefix: prefix, out: make(chan datastore.Event), cancel: cancel}
	var starts []*resWatch
	rv := afterRev
	snap := s.takeSnapshot(prefix, afterRev)
	for _, m := range s.mappingsFor(prefix) {
		if m.fixed != nil {
			continue
		}
		o := listOpts{}
		if rv != 0 {
			o = listOpts{rv: strconv.FormatInt(rv, 10), exact: true}
		}
		objs, listRV, err := snap[m], "", error(nil)
		if _, ok := snap[m]; !ok {
			objs, listRV, err = s.listObjects(ctx, m, prefix, o)
		}
		if errors.Is(err, datastore.ErrCompacted) {
			go w.failOnly(ctx, fmt.Errorf("watch %s from revision %d: %w", prefix, afterRev, datastore.ErrCompacted))
			return w.out, nil
		}
		if err != nil {
			cancel()
			return nil, err
		}
		if rv == 0 {
			rv = parseRV(listRV)
		}
		rw := &resWatch{m: m, keys: map[string]string{}}
		if prevValues {
			rw.vals = map[string][]byte{}
		}
		for _, lo := range objs {
			rw.remember(lo.kv.Key, lo.kv.Value)
			rw.keys[lo.id] = lo.kv.Key
		}
		starts = append(starts, rw)
	}
	var wg sync.WaitGroup
	for _, rw := range starts {
		rw.rv = rv
		wg.Go(func() { w.run(ctx, rw) })
	}
	go func() {
		wg.Wait()
		cancel()
		close(w.out)
	}()
	return w.out, nil
}

type watcher struct {
	s      *Store
	prefix string
	out    chan datastore.Event
	cancel context.CancelFunc
	mu     sync.Mutex // serializes sends; failed stops them
	failed bool
}

// resWatch is the state of the watch of one mapping's resource.
type resWatch struct {
	m    *mapping
	rv   int64             // last resourceVersion seen
	vals map[string][]byte // key -> last value; nil unless the watch reports previous values
	keys map[string]string // object namespace/name -> its key
}

// remember keeps key's value, when the watch reports previous values.
func (rw *resWatch) remember(key string, value []byte) {
	if rw.vals != nil {
		rw.vals[key] = value
	}
}

// send delivers ev unless the watch has failed or ended.
func (w *watcher) send(ctx context.Context, ev datastore.Event) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.failed {
		return false
	}
	select {
	case w.out <- ev:
		return true
	case <-ctx.Done():
		return false
	}
}

// fail sends one EventError and ends every resource's watch.
func (w *watcher) fail(ctx context.Context, err error) {
	w.send(ctx, datastore.Event{Type: datastore.EventError, Err: err})
	w.mu.Lock()
	w.failed = true
	w.mu.Unlock()
	w.cancel()
}

// failOnly sends one EventError on a watch that never started, then
// closes it (or just closes it when ctx ends first).
func (w *watcher) failOnly(ctx context.Context, err error) {
	defer close(w.out)
	defer w.cancel()
	select {
	case w.out <- datastore.Event{Type: datastore.EventError, Err: err}:
	case <-ctx.Done():
	}
}

// Reconnect policy after a watch stream broke without an answer.
const (
	retryMin   = 100 * time.Millisecond
	retryMax   = 5 * time.Second
	retryTimes = 8
)

// run watches one resource until ctx ends or the watch fails.
func (w *watcher) run(ctx context.Context, rw *resWatch) {
	delay, tries := retryMin, 0
	for ctx.Err() == nil {
		err := w.stream(ctx, rw)
		var apiErr *streamError
		switch {
		case ctx.Err() != nil:
			return
		case err == nil: // the apiserver ended the watch: resume
			delay, tries = retryMin, 0
			continue
		case errors.As(err, &apiErr), tries >= retryTimes:
			w.fail(ctx, fmt.Errorf("watch %s (%s) from revision %d: %w", w.prefix, rw.m.res, rw.rv, err))
			return
		}
		tries++
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return
		}
		delay = min(2*delay, retryMax)
	}
}

// streamError is an answer of the apiserver that resuming cannot fix.
type streamError struct{ err error }

func (e *streamError) Error() string { return e.err.Error() }
func (e *streamError) Unwrap() error { return e.err }

// stream runs one watch request from rw.rv; it returns nil when the
// apiserver ends it cleanly.
func (w *watcher) stream(ctx context.Context, rw *resWatch) error {
	o := listOpts{rv: strconv.FormatInt(rw.rv, 10), labelSelector: rw.m.selector}
	if rw.m.fieldSelector != nil {
		o.fieldSelector = rw.m.fieldSelector(w.prefix)
	}
	body, err := w.s.c.watch(ctx, rw.m.res, rw.m.listNamespace(), o)
	if err != nil {
		if isAPIError(err) {
			return &streamError{err}
		}
		return err
	}
	defer body.Close()
	dec := json.NewDecoder(body)
	for {
		var ev watchEvent
		if err := dec.Decode(&ev); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if err := w.handle(ctx, rw, ev); err != nil {
			return &streamError{err}
		}
	}
}

func isAPIError(err error) bool {
	for _, e := range []error{datastore.ErrCompacted, ErrForbidden, ErrNotServed, datastore.ErrNotFound} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// handle applies one watch event to rw and sends what it means.
func (w *watcher) handle(ctx context.Context, rw *resWatch, ev watchEvent) error {
	switch ev.Type {
	case "ERROR":
		var st status
		_ = json.Unmarshal(ev.Object, &st)
		if st.Code == 410 {
			return fmt.Errorf("%w: %s", datastore.ErrCompacted, st.Message)
		}
		return fmt.Errorf("kube-apiserver watch error %d %s: %s", st.Code, st.Reason, st.Message)
	case "ADDED", "MODIFIED", "DELETED", "BOOKMARK":
	default:
		return fmt.Errorf("unknown watch event type %q", ev.Type)
	}
	var o object
	if err := json.Unmarshal(ev.Object, &o); err != nil {
		return err
	}
	rw.rv = o.rev()
	if ev.Type == "BOOKMARK" {
		return nil
	}
	id := o.Metadata.Namespace + "/" + o.Metadata.Name
	var kv datastore.KV
	ok := false
	if ev.Type != "DELETED" {
		var err error
		if kv, ok, err = rw.m.kvOf(&o, ev.Object); err != nil {
			return err
		}
		ok = ok && strings.HasPrefix(kv.Key, w.prefix)
	}
	if old, had := rw.keys[id]; had && (!ok || kv.Key != old) {
		prev := rw.vals[old]
		delete(rw.vals, old)
		delete(rw.keys, id)
		del := datastore.Event{Type: datastore.EventDelete, KV: datastore.KV{Key: old, Revision: o.rev()}, PrevValue: prev}
		if !w.send(ctx, del) {
			return nil
		}
	}
	if ok {
		prev := rw.vals[kv.Key]
		rw.remember(kv.Key, kv.Value)
		rw.keys[id] = kv.Key
		w.send(ctx, datastore.Event{Type: datastore.EventPut, KV: kv, PrevValue: prev})
	}
	return nil
}
