package storetest

import (
	"maps"
	"testing"
	"time"

	"github.com/tortienet/tortie/internal/datastore"
)

// Timeout guards every wait in the suite. It is a failure guard only: no
// test relies on time passing.
const Timeout = 15 * time.Second

// Call is one call a Recorder received: an OnSync (Sync true, KVs and Rev
// set) or an OnEvent (Event set); for a StreamRecorder also one of
// OnSyncBegin, OnSyncPage (KVs set) or OnSyncEnd (Rev set), as Stream
// says.
type Call struct {
	Sync   bool
	KVs    []datastore.KV
	Rev    int64
	Event  datastore.Event
	Stream StreamCall
}

// Recorder is a datastore.Handler that queues every call for a test to
// inspect in order.
type Recorder struct {
	calls chan Call
}

// NewRecorder returns a Recorder that buffers up to 1024 calls before it
// makes the caller wait.
func NewRecorder() *Recorder { return &Recorder{calls: make(chan Call, 1024)} }

// OnSync implements datastore.Handler.
func (r *Recorder) OnSync(kvs []datastore.KV, rev int64) {
	r.calls <- Call{Sync: true, KVs: kvs, Rev: rev}
}

// OnEvent implements datastore.Handler.
func (r *Recorder) OnEvent(ev datastore.Event) { r.calls <- Call{Event: ev} }

// Next returns the next call, failing the test if none comes within Timeout.
func (r *Recorder) Next(t testing.TB) Call {
	t.Helper()
	select {
	case c := <-r.calls:
		return c
	case <-time.After(Timeout):
		t.Fatalf("no handler call within %v", Timeout)
		return Call{}
	}
}

// View applies calls to a view of key -> value, as a handler would.
type View map[string]string

// Apply updates the view with c.
func (v View) Apply(c Call) {
	if c.Sync {
		clear(v)
		for _, kv := range c.KVs {
			v[kv.Key] = string(kv.Value)
		}
		return
	}
	switch c.Event.Type {
	case datastore.EventPut:
		v[c.Event.KV.Key] = string(c.Event.KV.Value)
	case datastore.EventDelete:
		delete(v, c.Event.KV.Key)
	}
}

// WaitFor applies calls to v until it equals want and returns the calls it
// applied; it fails the test if that does not happen within Timeout.
func (r *Recorder) WaitFor(t testing.TB, v View, want map[string]string) []Call {
	t.Helper()
	var seen []Call
	deadline := time.After(Timeout)
	for !maps.Equal(v, want) {
		select {
		case c := <-r.calls:
			v.Apply(c)
			seen = append(seen, c)
		case <-deadline:
			t.Fatalf("handler view did not reach %v within %v; it is %v after %d calls", want, Timeout, v, len(seen))
		}
	}
	return seen
}
