package bgp

import (
	"context"
	"log/slog"
	"strings"
	"sync"
)

// reasons keeps, per neighbour, the last reason GoBGP gave for a session
// not coming up. GoBGP reports a failed dial only in its (debug) log, keyed
// by the neighbour's address, so the speaker reads it there: that is what
// node status shows after the state, as BIRD's "Active Socket: Connection
// refused".
type reasons struct {
	mu   sync.Mutex
	last map[string]string
	// silent marks neighbours whose hold timer expired: GoBGP then keeps
	// their routes as for a graceful restart (its reading of RFC 8538),
	// but a peer that went silent is gone, not restarting (BIRD flushes
	// too), so the speaker stops reporting their routes.
	silent map[string]bool
}

func (r *reasons) setSilent(key string, v bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.silent[key] = v
}

func (r *reasons) isSilent(key string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.silent[key]
}

func (r *reasons) set(key, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.last[key] = reason
}

func (r *reasons) get(key string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last[key]
}

// reasonHandler is the slog.Handler given to GoBGP: it passes records on to
// the node's logger at that logger's level, and records connection
// failures whatever the level.
type reasonHandler struct {
	inner slog.Handler
	sink  *reasons
	key   string // the neighbour address GoBGP's per-peer logger carries
}

func (h *reasonHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelDebug
}

func (h *reasonHandler) Handle(ctx context.Context, rec slog.Record) error {
	if h.key != "" && rec.Message == "hold timer expired" {
		h.sink.setSilent(h.key, true)
		h.sink.set(h.key, "Hold timer expired")
	}
	if h.key != "" && rec.Message == "failed to connect" {
		rec.Attrs(func(a slog.Attr) bool {
			if a.Key == "Error" {
				h.sink.set(h.key, "Socket: "+socketError(a.Value.String()))
			}
			return true
		})
	}
	if !h.inner.Enabled(ctx, rec.Level) {
		return nil
	}
	return h.inner.Handle(ctx, rec)
}

func (h *reasonHandler) WithAttrs(as []slog.Attr) slog.Handler {
	n := &reasonHandler{inner: h.inner.WithAttrs(as), sink: h.sink, key: h.key}
	for _, a := range as {
		if a.Key == "Key" {
			n.key = a.Value.String()
		}
	}
	return n
}

func (h *reasonHandler) WithGroup(name string) slog.Handler {
	return &reasonHandler{inner: h.inner.WithGroup(name), sink: h.sink, key: h.key}
}

// socketError turns "dial tcp 10.0.0.2:179: connect: connection refused"
// into "Connection refused".
func socketError(s string) string {
	if i := strings.LastIndex(s, ": "); i >= 0 {
		s = s[i+2:]
	}
	switch s {
	case "":
		return s
	case "i/o timeout":
		return "Connection timed out" // as BIRD says it
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
