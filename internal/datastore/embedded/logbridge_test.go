package embedded

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	"go.uber.org/zap"
)

// A client that goes away mid-request is not an error of the server: its
// records are demoted to debug; real errors stay errors.
func TestLogBridgeDemotesClientsGoingAway(t *testing.T) {
	var b bytes.Buffer
	var quiet atomic.Bool
	z := newZapLogger(slog.New(slog.NewTextHandler(&b, &slog.HandlerOptions{Level: slog.LevelInfo})), &quiet)
	z.Error("failed to receive watch request from gRPC stream", zap.Error(errors.New("rpc error: code = Canceled desc = context canceled")))
	z.Error("failed to write response", zap.Error(errors.New("write tcp 127.0.0.1:2379->127.0.0.1:5555: write: broken pipe")))
	z.Error("failed to read request", zap.Error(errors.New("unexpected EOF")))
	z.Error("failed to apply request", zap.Error(errors.New("mvcc: database space exceeded")))
	out := b.String()
	if n := strings.Count(out, "level=ERROR"); n != 1 || !strings.Contains(out, "database space exceeded") {
		t.Errorf("want exactly the real error logged, got:\n%s", out)
	}
}
