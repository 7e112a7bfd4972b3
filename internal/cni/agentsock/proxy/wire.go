package proxy

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/tortienet/tortie/internal/datastore"
)

// Paths of the protocol's endpoints.
const (
	pathPing     = "/v1/ping"
	pathGet      = "/v1/get"
	pathList     = "/v1/list"
	pathListKeys = "/v1/listkeys"
	pathCreate   = "/v1/create"
	pathUpdate   = "/v1/update"
	pathDelete   = "/v1/delete"
	pathTxn      = "/v1/txn"
	pathWatch    = "/v1/watch"
)

// headerTimeout carries the time left before the client's deadline.
const headerTimeout = "Tortie-Timeout"

// maxRequestBytes bounds a request body (etcd's own limit is 1.5 MiB).
const maxRequestBytes = 16 << 20

type keyRequest struct {
	Key string `json:"key"`
	Rev int64  `json:"rev,omitempty"`
}

type prefixRequest struct {
	Prefix   string `json:"prefix"`
	AfterRev int64  `json:"after_rev,omitempty"`
	// PrevValues: a watch's events carry previous values (WithPrevValues)
	PrevValues bool `json:"prev_values,omitempty"`
}

type writeRequest struct {
	Key   string `json:"key"`
	Value []byte `json:"value"`
	Rev   int64  `json:"rev,omitempty"`
}

type txnRequest struct {
	Ops []wireOp `json:"ops"`
}

type wireOp struct {
	Type  string `json:"type"`
	Key   string `json:"key"`
	Value []byte `json:"value,omitempty"`
	Rev   int64  `json:"rev,omitempty"`
}

type kvResponse struct {
	KV wireKV `json:"kv"`
}

type listResponse struct {
	KVs []wireKV `json:"kvs"`
	Rev int64    `json:"rev"`
}

type revResponse struct {
	Rev int64 `json:"rev"`
}

// wireKV is a datastore.KV. Value is not omitempty: nil (ListKeys) and
// empty stay apart.
type wireKV struct {
	Key       string `json:"key"`
	Value     []byte `json:"value"`
	Rev       int64  `json:"rev"`
	CreateRev int64  `json:"create_rev,omitempty"`
}

// wireEvent is one line of a watch stream.
type wireEvent struct {
	Type  string     `json:"type"`
	KV    *wireKV    `json:"kv,omitempty"`
	Prev  []byte     `json:"prev,omitempty"`
	Error *wireError `json:"error,omitempty"`
}

// wireError is the body of a failed call, and the error of an error event.
type wireError struct {
	Message string `json:"message"`
	Key     string `json:"key,omitempty"`
	Kind    string `json:"kind,omitempty"`
}

func kvToWire(kv datastore.KV) wireKV {
	return wireKV{Key: kv.Key, Value: kv.Value, Rev: kv.Revision, CreateRev: kv.CreateRevision}
}

func (w wireKV) kv() datastore.KV {
	return datastore.KV{Key: w.Key, Value: w.Value, Revision: w.Rev, CreateRevision: w.CreateRev}
}

func kvsToWire(kvs []datastore.KV) []wireKV {
	out := make([]wireKV, len(kvs))
	for i, kv := range kvs {
		out[i] = kvToWire(kv)
	}
	return out
}

func kvsOf(ws []wireKV) []datastore.KV {
	if len(ws) == 0 {
		return nil
	}
	out := make([]datastore.KV, len(ws))
	for i, w := range ws {
		out[i] = w.kv()
	}
	return out
}

var opNames = map[datastore.OpType]string{
	datastore.OpCreate: "create",
	datastore.OpUpdate: "update",
	datastore.OpDelete: "delete",
}

func opsToWire(ops []datastore.Op) ([]wireOp, error) {
	out := make([]wireOp, len(ops))
	for i, op := range ops {
		name, ok := opNames[op.Type]
		if !ok {
			return nil, fmt.Errorf("txn %s: unknown op type %d", op.Key, op.Type)
		}
		out[i] = wireOp{Type: name, Key: op.Key, Value: op.Value, Rev: op.Rev}
	}
	return out, nil
}

func opsOf(ws []wireOp) ([]datastore.Op, error) {
	out := make([]datastore.Op, len(ws))
	for i, w := range ws {
		var t datastore.OpType
		for typ, name := range opNames {
			if name == w.Type {
				t = typ
			}
		}
		if t == 0 {
			return nil, fmt.Errorf("txn %s: unknown op type %q", w.Key, w.Type)
		}
		out[i] = datastore.Op{Type: t, Key: w.Key, Value: w.Value, Rev: w.Rev}
	}
	return out, nil
}

func eventToWire(ev datastore.Event) wireEvent {
	w := wireEvent{Type: ev.Type.String(), Prev: ev.PrevValue}
	switch ev.Type {
	case datastore.EventPut, datastore.EventDelete:
		kv := kvToWire(ev.KV)
		w.KV = &kv
	case datastore.EventError:
		err := ev.Err
		if err == nil {
			err = errors.New("watch failed")
		}
		e := errorToWire(err)
		w.Error = &e
	}
	return w
}

func (w wireEvent) event() (datastore.Event, error) {
	var ev datastore.Event
	switch w.Type {
	case "put":
		ev.Type = datastore.EventPut
	case "delete":
		ev.Type = datastore.EventDelete
	case "error":
		if w.Error == nil {
			return ev, errors.New("error event without an error")
		}
		return datastore.Event{Type: datastore.EventError, Err: w.Error.err()}, nil
	default:
		return ev, fmt.Errorf("unknown event type %q", w.Type)
	}
	if w.KV == nil {
		return ev, fmt.Errorf("%s event without a key", w.Type)
	}
	ev.KV, ev.PrevValue = w.KV.kv(), w.Prev
	return ev, nil
}

// errorKinds are the errors that cross the socket recognizably, in the
// order they are tested, with the HTTP status the server answers with.
var errorKinds = []struct {
	name   string
	err    error
	status int
}{
	{"not_found", datastore.ErrNotFound, http.StatusNotFound},
	{"already_exists", datastore.ErrAlreadyExists, http.StatusConflict},
	{"conflict", datastore.ErrConflict, http.StatusPreconditionFailed},
	{"compacted", datastore.ErrCompacted, http.StatusGone},
	{"deadline_exceeded", context.DeadlineExceeded, http.StatusGatewayTimeout},
	{"canceled", context.Canceled, 499}, // nginx's "client closed request"
}

// errorToWire describes err for the client.
func errorToWire(err error) wireError {
	w := wireError{Message: err.Error()}
	var ke *datastore.KeyError
	if errors.As(err, &ke) {
		w.Key = ke.Key
	}
	for _, k := range errorKinds {
		if errors.Is(err, k.err) {
			w.Kind = k.name
			break
		}
	}
	return w
}

// status is the HTTP status of a failed call with this error.
func (w wireError) status() int {
	for _, k := range errorKinds {
		if k.name == w.Kind {
			return k.status
		}
	}
	return http.StatusInternalServerError
}

// err rebuilds the server's error: a *datastore.KeyError when the server's
// error was exactly one (same message), otherwise an error with the
// server's message that wraps the KeyError, or the sentinel, it wrapped.
// An unknown kind (from a newer server) wraps nothing.
func (w wireError) err() error {
	var sentinel error
	for _, k := range errorKinds {
		if k.name == w.Kind {
			sentinel = k.err
			break
		}
	}
	if sentinel != nil && w.Key != "" {
		ke := datastore.NewKeyError(w.Key, sentinel)
		if ke.Error() == w.Message {
			return ke
		}
		sentinel = ke
	}
	return &remoteError{msg: w.Message, err: sentinel}
}

// remoteError is an error returned by the server's Store: its message is the
// server's, and it wraps what errorKinds could recognize.
type remoteError struct {
	msg string
	err error
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.err }
