package datastore

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// Handler receives what ListWatch sees under its prefix. ListWatch calls it
// from a single goroutine, one call at a time, in order.
type Handler interface {
	// OnSync hands over the complete current contents of the prefix, taken
	// at revision rev. The handler replaces its whole view with kvs: it is
	// called first, and again after every resync (anything seen before may
	// have changed or vanished meanwhile). The handler owns kvs.
	OnSync(kvs []KV, rev int64)
	// OnEvent reports one change after the last OnSync (EventPut or
	// EventDelete; never EventError).
	OnEvent(ev Event)
}

// SyncStreamer is a Handler that takes the snapshot as it is read, page
// by page, instead of whole in one OnSync: it can decode each page and
// drop it, so a large initial listing is never held twice. ListWatch
// uses these methods instead of OnSync when its handler implements them.
//
// One snapshot is OnSyncBegin, any number of OnSyncPage, then OnSyncEnd:
// the handler replaces its whole view with the pages' keys, taken at
// revision rev (what OnSync(all pages, rev) would mean). Until OnSyncEnd
// the view is incomplete and must not be acted on. A listing that fails
// part-way ends without OnSyncEnd (and, with WithOnInterrupt, its
// callback is called); the next attempt starts again with OnSyncBegin,
// so the handler either builds the new view aside and swaps it in at
// OnSyncEnd, or resets at OnSyncBegin and waits. OnEvent follows
// OnSyncEnd as it follows OnSync.
type SyncStreamer interface {
	Handler
	// OnSyncBegin starts a new snapshot.
	OnSyncBegin()
	// OnSyncPage hands over the next keys of the snapshot, in key order;
	// the handler owns kvs. Never called with an empty page.
	OnSyncPage(kvs []KV)
	// OnSyncEnd completes the snapshot, taken at revision rev; events
	// after rev follow.
	OnSyncEnd(rev int64)
}

// ListWatchOption configures ListWatch.
type ListWatchOption func(*listWatch)

// WithLogger sets the logger ListWatch reports failures and resyncs to.
// The default (and nil) discards them.
func WithLogger(l *slog.Logger) ListWatchOption {
	return func(lw *listWatch) {
		if l != nil {
			lw.log = l
		}
	}
}

// WithBackoff sets the delay before a resync after a failure: it starts at
// minDelay and doubles on each consecutive failure up to maxDelay. The
// default is 50ms to 5s; a minDelay that is not positive keeps the default.
func WithBackoff(minDelay, maxDelay time.Duration) ListWatchOption {
	return func(lw *listWatch) {
		if minDelay > 0 {
			lw.minDelay, lw.maxDelay = minDelay, max(minDelay, maxDelay)
		}
	}
}

// WithPageSize sets how many keys each page of the initial listing holds
// (default DefaultPageSize; see Pager).
func WithPageSize(n int) ListWatchOption {
	return func(lw *listWatch) {
		if n > 0 {
			lw.pageSize = n
		}
	}
}

// WithWatchOptions passes opts to every Watch ListWatch makes (e.g.
// WithPrevValues for events with previous values; without it they carry
// none).
func WithWatchOptions(opts ...WatchOption) ListWatchOption {
	return func(lw *listWatch) { lw.watchOpts = append(lw.watchOpts, opts...) }
}

// WithOnInterrupt calls f, from ListWatch's goroutine, each time the
// watch fails and a resync is pending; the next OnSync means it is over.
// Callers use it to report that their view may be stale.
func WithOnInterrupt(f func(err error)) ListWatchOption {
	return func(lw *listWatch) { lw.onInterrupt = f }
}

type listWatch struct {
	store       Store
	prefix      string
	h           Handler
	log         *slog.Logger
	minDelay    time.Duration
	maxDelay    time.Duration
	onInterrupt func(error)
	pageSize    int
	watchOpts   []WatchOption
}

// ListWatch keeps h in step with the keys under prefix until ctx ends: it
// lists the prefix and calls h.OnSync with the snapshot (or, when h is a
// SyncStreamer, hands it over page by page as it is read), then watches from
// the snapshot's revision and calls h.OnEvent for each change. When the
// watch fails (EventError, e.g. ErrCompacted), its channel closes, or List
// or Watch fail, it waits (bounded exponential backoff) and starts over with
// a fresh List and OnSync, so the handler never misses a change: it either
// sees it as an event or finds its result in the next snapshot.
//
// The listing is paginated at one revision when the store is a Pager
// (see ListPages): the watch resumes from that revision.
//
// ListWatch returns only when ctx ends; no handler call is made after it
// returns.
func ListWatch(ctx context.Context, s Store, prefix string, h Handler, opts ...ListWatchOption) {
	lw := &listWatch{
		store:    s,
		prefix:   prefix,
		h:        h,
		log:      slog.New(slog.DiscardHandler),
		minDelay: 50 * time.Millisecond,
		maxDelay: 5 * time.Second,
		pageSize: DefaultPageSize,
	}
	for _, o := range opts {
		o(lw)
	}
	lw.run(ctx)
}

func (lw *listWatch) run(ctx context.Context) {
	delay := lw.minDelay
	for {
		healthy, err := lw.cycle(ctx)
		if ctx.Err() != nil {
			return
		}
		if healthy {
			delay = lw.minDelay
		}
		level := slog.LevelWarn
		if errors.Is(err, ErrCompacted) {
			level = slog.LevelInfo
		}
		lw.log.Log(ctx, level, "datastore watch interrupted; resyncing",
			"prefix", lw.prefix, "err", err, "retryIn", delay)
		if lw.onInterrupt != nil {
			lw.onInterrupt(err)
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if !healthy {
			delay = min(2*delay, lw.maxDelay)
		}
	}
}

// cycle does one List, OnSync, Watch and event loop. It returns why it
// ended, and whether List and Watch both succeeded (the store is reachable,
// so the next attempt need not back off further).
func (lw *listWatch) cycle(ctx context.Context) (healthy bool, err error) {
	deliver, rev, err := lw.list(ctx)
	if err != nil {
		return false, err
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the store's watch when this cycle ends
	events, err := lw.store.Watch(wctx, lw.prefix, rev, lw.watchOpts...)
	if err != nil {
		return false, err
	}
	deliver()
	for {
		select {
		case <-ctx.Done():
			return true, ctx.Err()
		case ev, ok := <-events:
			switch {
			case !ok:
				return true, errors.New("watch channel closed")
			case ev.Type == EventError:
				return true, ev.Err
			}
			lw.h.OnEvent(ev)
		}
	}
}

// list reads the snapshot in pages. A SyncStreamer gets each page as it
// arrives and deliver ends the snapshot; any other handler gets every
// page at once from deliver. deliver is called once the watch is open.
func (lw *listWatch) list(ctx context.Context) (deliver func(), rev int64, err error) {
	if ss, ok := lw.h.(SyncStreamer); ok {
		begun := false
		begin := func() {
			if !begun {
				ss.OnSyncBegin()
				begun = true
			}
		}
		rev, err := ListPages(ctx, lw.store, lw.prefix, lw.pageSize, func(page []KV) error {
			begin()
			ss.OnSyncPage(page)
			return nil
		})
		if err != nil {
			return nil, 0, err
		}
		return func() { begin(); ss.OnSyncEnd(rev) }, rev, nil
	}
	var all []KV
	rev, err = ListPages(ctx, lw.store, lw.prefix, lw.pageSize, func(page []KV) error {
		all = append(all, page...)
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return func() { lw.h.OnSync(all, rev) }, rev, nil
}
