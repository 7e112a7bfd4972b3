package cni

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// parseLevel accepts Calico's log levels and the spellings people use for
// them; "" is info. Calico itself only knew debug, info and error and
// quietly logged everything else at info (calico-anchor.md §4).
func parseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug", "trace":
		return slog.LevelDebug, nil
	case "", "info":
		return slog.LevelInfo, nil
	case "warning", "warn":
		return slog.LevelWarn, nil
	case "error", "fatal", "panic":
		return slog.LevelError, nil
	case "none", "off":
		return slog.LevelError + 100, nil
	}
	return 0, fmt.Errorf("log_level = %q: must be debug, info, warning or error", s)
}

// newLogger logs at the configured level to log_file_path (when set) and
// at error level to stderr, which the runtime keeps. The returned closer
// closes the file.
func newLogger(c *NetConf, stderr io.Writer) (*slog.Logger, io.Closer) {
	level, _ := parseLevel(c.LogLevel) // checked by ParseConf
	handlers := []slog.Handler{slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError})}
	var closer io.Closer = nopCloser{}
	if c.LogFilePath != "" {
		f, err := openLogFile(c.LogFilePath)
		if err != nil {
			fmt.Fprintf(stderr, "tortie: log file: %v\n", err)
		} else {
			handlers = append(handlers, slog.NewTextHandler(f, &slog.HandlerOptions{Level: level}))
			closer = f
		}
	}
	var h slog.Handler = fanout(handlers)
	if len(handlers) == 1 {
		h = handlers[0]
	}
	return slog.New(h), closer
}

func openLogFile(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	return os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }

// fanout sends each record to every handler that wants its level.
type fanout []slog.Handler

func (f fanout) Enabled(ctx context.Context, l slog.Level) bool {
	for _, h := range f {
		if h.Enabled(ctx, l) {
			return true
		}
	}
	return false
}

func (f fanout) Handle(ctx context.Context, r slog.Record) error {
	var errs []error
	for _, h := range f {
		if h.Enabled(ctx, r.Level) {
			errs = append(errs, h.Handle(ctx, r.Clone()))
		}
	}
	return errors.Join(errs...)
}

func (f fanout) WithAttrs(as []slog.Attr) slog.Handler {
	out := make(fanout, len(f))
	for i, h := range f {
		out[i] = h.WithAttrs(as)
	}
	return out
}

func (f fanout) WithGroup(name string) slog.Handler {
	out := make(fanout, len(f))
	for i, h := range f {
		out[i] = h.WithGroup(name)
	}
	return out
}
