package node

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"

	"github.com/tortienet/tortie/internal/datastore"
	"github.com/tortienet/tortie/internal/ipam"
)

// BenchmarkAgentRemoteChange is the agent's cost of one remote change from
// the watch event to the dataplane call (the view, the Engine, the sync's
// decision, and the delta handed over), with a dataplane that takes
// deltas and writes nothing, at 2k, 20k and 100k endpoints: what of a
// change's CPU is the agent's own, beside etcd's client and the kernel.
//
//	go test -run '^$' -bench AgentRemoteChange -benchtime 2000x -benchmem ./internal/node/
func BenchmarkAgentRemoteChange(b *testing.B) {
	for _, nodes := range []int{100, 1000, 5000} {
		f := &deltaDataplane{}
		a := New(Config{NodeName: "bench", Backend: "vxlan", StateDir: b.TempDir()}, Kernel{Dataplane: f}, slog.New(slog.DiscardHandler))
		a.view.OnSync(simulated(b, nodes), 1)
		ctx := context.Background()
		sync := func(want string) {
			if err := a.syncOnce(ctx, false); err != nil {
				b.Fatal(err)
			}
			if fmt.Sprint(f.calls) != want {
				b.Fatalf("dataplane calls %v, want %s", f.calls, want)
			}
			f.calls, f.routes = f.calls[:0], f.routes[:0]
		}
		sync("[apply]")
		b.Run(fmt.Sprintf("endpoints=%d/endpoint-label", nodes*20), func(b *testing.B) {
			evs := labelFlips()
			for i := 0; b.Loop(); i++ {
				a.view.OnEvent(evs[i%2])
				sync("[]") // no route changes
			}
		})
		b.Run(fmt.Sprintf("endpoints=%d/block-added", nodes*20), func(b *testing.B) {
			// A block of node-1 claimed, and released.
			blk := benchBlock(nodes + 1)
			key := ipam.BlockKey(blk)
			v, _ := json.Marshal(map[string]any{"cidr": blk.String(), "affinity": "host:node-1"})
			for i := 0; b.Loop(); i++ {
				ev := datastore.Event{Type: datastore.EventPut, KV: datastore.KV{Key: key, Value: v}}
				if i%2 == 1 {
					ev = datastore.Event{Type: datastore.EventDelete, KV: datastore.KV{Key: key}}
				}
				a.view.OnEvent(ev)
				sync("[delta]")
			}
		})
	}
}
