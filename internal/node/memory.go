package node

import "runtime/debug"

// releaseMemory hands the heap freed since start back to the operating
// system, once the first sync is applied: the initial listing and the
// first calculation leave garbage in proportion to the cluster, which
// the Go runtime would otherwise keep mapped for a long while. It runs
// in a goroutine of its own: the forced collection does not hold up the
// agent's loop.
func releaseMemory() { go debug.FreeOSMemory() }
