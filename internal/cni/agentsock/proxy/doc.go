// Package proxy serves a datastore.Store over HTTP/1.1 on a unix socket, and
// provides a client that is itself a datastore.Store.
//
// Why: the CNI plugin is a short-lived process exec'd once per pod. Dialing
// etcd from each one costs a few milliseconds (TLS, gRPC setup, package
// init); the node agent already holds a warm etcd connection. The agent
// serves its Store with Handler on <state dir>/tortie.sock (see Listen) and
// the plugin talks to etcd through it with Dial, at a fraction of a
// millisecond per request.
//
// The package links only the standard library and internal/datastore: it
// must never import go.etcd.io/*, gRPC, protobuf or Prometheus (its tests
// check this), so that the plugin binary stays small and starts at once.
//
// # Protocol
//
// Every call is a POST of a small JSON body to /v1/<method> (ping, get,
// list, listkeys, create, update, delete, txn, watch). A success is a 200
// with a JSON body. A failure is a non-200 with an error body
//
//	{"message": "...", "key": "...", "kind": "not_found"}
//
// where message is the server's err.Error(), key is set when the error is or
// wraps a *datastore.KeyError, and kind names the sentinel the error wraps:
// not_found, already_exists, conflict, compacted, deadline_exceeded,
// canceled, or nothing. The client rebuilds an error with the same message
// for which errors.Is and errors.As (*datastore.KeyError) answer as they did
// on the server.
//
// The client sends the time left before its context's deadline in the
// Tortie-Timeout header (a Go duration), and the server runs the call under
// that deadline; a client that gives up closes its connection, which cancels
// the server's call.
//
// A watch is one streaming response: one JSON object per line per event,
// flushed as it is written. The stream ends with an error event when the
// server's watch fails or ends on its own, so that, on the client, the event
// channel closes without an EventError only when the caller's context ends.
//
// Values are base64 (encoding/json's []byte); op and event types are names,
// not numbers, so that a plugin and an agent of different versions agree.
package proxy
