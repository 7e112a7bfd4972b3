package node

import (
	"os"
	"runtime/debug"
	"time"
)

// startGCPercent is the collector's target until the first sync is
// applied, unless GOGC says otherwise: the initial list is mostly
// garbage (the datastore's pages, decoded and dropped), returned to the
// system right after (releaseMemory), so collecting it less often saves
// start-up CPU for a higher peak.
const startGCPercent = 200

// startMemory sets the start-up collector target (see startGCPercent).
func startMemory() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(startGCPercent)
	}
}

// steadyGCPercent is the collector's target once the agent is in sync,
// unless GOGC says otherwise: the heap may grow to 1.3 times what is live
// before a collection, not twice (Go's default). After the start, the
// agent's garbage comes from single events, so the extra collections
// cost little CPU, and most of the heap is the cluster's compact state,
// whose headroom is what GOGC multiplies. With BGP at 30 nodes (a live
// heap of ~11 MB, 6.7 MB of it GoBGP's per-peer tables) an agent was 40.5
// MiB resident at 50, 39.8 at 40 and 39.0 at 30 (docs/benchmarks-bgp.md).
const steadyGCPercent = 30

// releaseDelay is how long after the first apply releaseMemory waits:
// until the sync that applied has returned, and what it held (its policy
// input and model, the desired state: about 15% of the heap at 100,000
// endpoints) is garbage too.
const releaseDelay = 250 * time.Millisecond

// releaseMemory hands the heap freed since start back to the operating
// system, once the first sync is applied: the initial listing and the
// first calculation leave garbage in proportion to the cluster, which
// the Go runtime would otherwise keep mapped for a long while. It runs
// in a goroutine of its own, releaseDelay later: the forced collection
// does not hold up the agent's loop. It also sets the steady collector
// target (see steadyGCPercent); GOGC, and GOMEMLIMIT for a soft limit,
// are the Go runtime's own settings and are honoured as they are.
func releaseMemory() {
	go func() {
		time.Sleep(releaseDelay)
		if os.Getenv("GOGC") == "" {
			debug.SetGCPercent(steadyGCPercent)
		}
		debug.FreeOSMemory()
	}()
}
