package dataplane_test

import (
	"context"
	"log/slog"
	"time"

	"github.com/tortienet/tortie/internal/calc"
	"github.com/tortienet/tortie/internal/dataplane"
)

// The agent applies every new desired state as it comes, and resyncs on a
// timer to repair drift. It must not apply anything before its view of the
// datastore is in sync: an empty Desired means "tortie owns nothing here"
// and would remove tortie's routes, devices and NAT.
func Example() {
	run := func(ctx context.Context, log *slog.Logger, updates <-chan calc.Desired) error {
		dp, err := dataplane.New(dataplane.Config{Log: log})
		if err != nil {
			return err
		}
		defer dp.Close()
		resync := time.NewTicker(90 * time.Second)
		defer resync.Stop()
		var want *calc.Desired // nil until the first in-sync state arrives
		for {
			var st dataplane.Stats
			select {
			case <-ctx.Done():
				return nil
			case d := <-updates:
				want = &d
				st, err = dp.Apply(ctx, *want)
			case <-resync.C:
				if want == nil {
					continue
				}
				st, err = dp.Resync(ctx, *want)
			}
			if err != nil {
				log.Error("dataplane", "err", err, "errors", st.Errors) // retried on the next update or resync
			}
		}
	}
	_ = run
}
