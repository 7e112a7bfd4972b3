package embedded

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync/atomic"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// newZapLogger returns the zap logger etcd logs through: errors (and worse)
// go to l as slog records with component=etcd; everything else is dropped.
// While quiet is set (the server is closing), etcd's shutdown noise is
// demoted to debug. A nil l discards everything.
func newZapLogger(l *slog.Logger, quiet *atomic.Bool) *zap.Logger {
	if l == nil {
		return zap.NewNop()
	}
	return zap.New(&slogCore{log: l.With("component", "etcd"), quiet: quiet})
}

// slogCore is a zapcore.Core writing to a *slog.Logger.
type slogCore struct {
	log    *slog.Logger
	quiet  *atomic.Bool
	fields []zapcore.Field
}

func (c *slogCore) Enabled(l zapcore.Level) bool { return l >= zapcore.ErrorLevel }

func (c *slogCore) With(fields []zapcore.Field) zapcore.Core {
	return &slogCore{log: c.log, quiet: c.quiet, fields: append(slices.Clip(c.fields), fields...)}
}

func (c *slogCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *slogCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range append(slices.Clip(c.fields), fields...) {
		f.AddTo(enc)
	}
	level := slog.LevelError
	if c.quiet.Load() || clientWentAway(e.Message, enc.Fields) {
		level = slog.LevelDebug
	}
	attrs := make([]slog.Attr, 0, len(enc.Fields))
	for _, k := range slices.Sorted(maps.Keys(enc.Fields)) {
		attrs = append(attrs, slog.Any(k, enc.Fields[k]))
	}
	c.log.LogAttrs(context.Background(), level, e.Message, attrs...)
	return nil
}

func (c *slogCore) Sync() error { return nil }

// clientGoneMarkers are what etcd's errors say when the client, not the
// server, ended a request: it was cancelled, timed out on its side, or its
// connection was closed (a killed process, a CNI plugin that exited).
var clientGoneMarkers = []string{
	"context canceled",
	"code = Canceled",
	"connection reset by peer",
	"broken pipe",
	"use of closed network connection",
	"client disconnected",
	"transport is closing",
	"RST_STREAM",
}

// clientWentAway tells an error record about a client that went away
// mid-request: not a fault of the server, so not worth an ERROR line.
func clientWentAway(msg string, fields map[string]any) bool {
	texts := []string{msg}
	for _, v := range fields {
		if s, ok := v.(string); ok {
			texts = append(texts, s)
		}
	}
	for _, t := range texts {
		if strings.HasSuffix(t, ": EOF") || t == "EOF" || strings.HasSuffix(t, "unexpected EOF") {
			return true
		}
		for _, m := range clientGoneMarkers {
			if strings.Contains(t, m) {
				return true
			}
		}
	}
	return false
}
