package datastore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"
)

type flagged bool

func (f flagged) Error() string   { return "flagged" }
func (f flagged) Transient() bool { return bool(f) }

func TestTransient(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{fmt.Errorf("get x: %w", context.DeadlineExceeded), true},
		{&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, true},
		{fmt.Errorf("put: %w", syscall.ECONNRESET), true},
		{errors.New("rpc error: code = Unavailable desc = connection error"), true},
		{errors.New("etcdserver: leader changed"), true},
		{errors.New("agent: etcdserver: request timed out"), true},
		{fmt.Errorf("wrapped: %w", flagged(true)), true},
		{fmt.Errorf("wrapped: %w", flagged(false)), false},
		{NewKeyError("/calico/x", ErrConflict), false},
		{fmt.Errorf("%w: connection refused", ErrNotFound), false},
		{errors.New("invalid character 'x' looking for beginning of value"), false},
	} {
		if got := Transient(tt.err); got != tt.want {
			t.Errorf("Transient(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
