package ctl

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// progressHandler renders the lab's log records for a person: one short
// line each, prefixed by the time since the command started, the step
// records ("lab step done") as "<step> done in <took>", other records as
// their message and attributes. Attributes bound with With (the lab's
// name) are left out: every line is about the same lab. Structured logs
// are there with --log-format text|json.
type progressHandler struct {
	w     io.Writer
	start time.Time
	level slog.Leveler
	mu    *sync.Mutex
}

func newProgressHandler(w io.Writer, level slog.Leveler) *progressHandler {
	return &progressHandler{w: w, start: time.Now(), level: level, mu: &sync.Mutex{}}
}

func (h *progressHandler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.level.Level()
}

func (h *progressHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *progressHandler) WithGroup(string) slog.Handler      { return h }

func (h *progressHandler) Handle(_ context.Context, r slog.Record) error {
	line := progressLine(r)
	elapsed := r.Time.Sub(h.start).Seconds()
	if r.Time.IsZero() || elapsed < 0 {
		elapsed = 0
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := fmt.Fprintf(h.w, "[%5.1fs] %s\n", elapsed, line)
	return err
}

// progressLine is one record as a person reads it.
func progressLine(r slog.Record) string {
	attrs := map[string]string{}
	var order []string
	r.Attrs(func(a slog.Attr) bool {
		attrs[a.Key] = a.Value.Resolve().String()
		order = append(order, a.Key)
		return true
	})
	if r.Message == "lab step done" && attrs["step"] != "" {
		return fmt.Sprintf("%-10s done in %s", attrs["step"], attrs["took"])
	}
	var b strings.Builder
	switch {
	case r.Level >= slog.LevelError:
		b.WriteString("error: ")
	case r.Level >= slog.LevelWarn:
		b.WriteString("warning: ")
	default:
		b.WriteString("  ")
	}
	b.WriteString(r.Message)
	for i, k := range order {
		if i == 0 {
			b.WriteString(":")
		}
		fmt.Fprintf(&b, " %s=%s", k, attrs[k])
	}
	return b.String()
}

// labLogger builds the lab's logger for the --log-format and --verbose
// flags: human progress lines by default, slog's text or JSON otherwise.
func labLogger(w io.Writer, format string, verbose bool) (*slog.Logger, error) {
	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: level}
	switch format {
	case "", "human":
		return slog.New(newProgressHandler(w, level)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: must be human, text or json", format)
}
