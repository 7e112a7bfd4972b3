package storetest

import (
	"github.com/tortienet/tortie/internal/datastore"
)

// StreamRecorder is a Recorder that is also a datastore.SyncStreamer: it
// records OnSyncBegin, each OnSyncPage and OnSyncEnd as calls of their
// own (Begin, Page, End), and events as Recorder does. Hook, when set, is
// called from OnSyncPage before the page is recorded.
type StreamRecorder struct {
	Recorder
	Hook func(page []datastore.KV)
}

// StreamCall marks what a StreamRecorder call was; see Call.Stream.
type StreamCall int

// What a StreamRecorder records.
const (
	StreamNone StreamCall = iota
	StreamBegin
	StreamPage
	StreamEnd
)

// NewStreamRecorder returns a StreamRecorder that buffers up to 1024
// calls.
func NewStreamRecorder() *StreamRecorder {
	return &StreamRecorder{Recorder: *NewRecorder()}
}

// OnSyncBegin implements datastore.SyncStreamer.
func (r *StreamRecorder) OnSyncBegin() { r.calls <- Call{Stream: StreamBegin} }

// OnSyncPage implements datastore.SyncStreamer.
func (r *StreamRecorder) OnSyncPage(kvs []datastore.KV) {
	if r.Hook != nil {
		r.Hook(kvs)
	}
	r.calls <- Call{Stream: StreamPage, KVs: kvs}
}

// OnSyncEnd implements datastore.SyncStreamer.
func (r *StreamRecorder) OnSyncEnd(rev int64) { r.calls <- Call{Stream: StreamEnd, Rev: rev} }

var _ datastore.SyncStreamer = (*StreamRecorder)(nil)
