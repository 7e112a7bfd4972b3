package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/tortienet/tortie/internal/datastore"
)

// Handler serves s at the protocol's endpoints (see the package doc). The
// caller owns the listener (see Listen) and the http.Server, and s: the
// handler never closes it.
//
// Each call runs s's method under the request's context, bounded by the
// client's deadline, so a client that gives up cancels the call. The ping
// endpoint answers without touching s: it proves that the server is up, not
// that the store is reachable.
//
// A watch holds its connection open until the client's context ends or the
// watch fails; the handler clears the connection's read and write
// deadlines for it, so the server's ReadTimeout and WriteTimeout do not
// cut watches. Server.Shutdown waits for open watches: cancel their
// context (Server.BaseContext) or use Server.Close to end them.
func Handler(s datastore.Store) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST "+pathPing, unary(func(context.Context, *struct{}) (struct{}, error) {
		return struct{}{}, nil
	}))
	mux.Handle("POST "+pathGet, unary(func(ctx context.Context, r *keyRequest) (kvResponse, error) {
		kv, err := s.Get(ctx, r.Key)
		return kvResponse{KV: kvToWire(kv)}, err
	}))
	mux.Handle("POST "+pathList, unary(func(ctx context.Context, r *prefixRequest) (listResponse, error) {
		kvs, rev, err := s.List(ctx, r.Prefix)
		return listResponse{KVs: kvsToWire(kvs), Rev: rev}, err
	}))
	mux.Handle("POST "+pathListKeys, unary(func(ctx context.Context, r *prefixRequest) (listResponse, error) {
		kvs, rev, err := s.ListKeys(ctx, r.Prefix)
		return listResponse{KVs: kvsToWire(kvs), Rev: rev}, err
	}))
	mux.Handle("POST "+pathCreate, unary(func(ctx context.Context, r *writeRequest) (revResponse, error) {
		rev, err := s.Create(ctx, r.Key, r.Value)
		return revResponse{Rev: rev}, err
	}))
	mux.Handle("POST "+pathUpdate, unary(func(ctx context.Context, r *writeRequest) (revResponse, error) {
		rev, err := s.Update(ctx, r.Key, r.Value, r.Rev)
		return revResponse{Rev: rev}, err
	}))
	mux.Handle("POST "+pathDelete, unary(func(ctx context.Context, r *keyRequest) (kvResponse, error) {
		kv, err := s.Delete(ctx, r.Key, r.Rev)
		return kvResponse{KV: kvToWire(kv)}, err
	}))
	mux.Handle("POST "+pathTxn, unary(func(ctx context.Context, r *txnRequest) (revResponse, error) {
		ops, err := opsOf(r.Ops)
		if err != nil {
			return revResponse{}, err
		}
		rev, err := s.Txn(ctx, ops...)
		return revResponse{Rev: rev}, err
	}))
	mux.HandleFunc("POST "+pathWatch, func(w http.ResponseWriter, r *http.Request) {
		serveWatch(w, r, s)
	})
	return mux
}

// unary serves one request/response call: it decodes a Req, runs f under
// the request's context and the client's deadline, and writes f's result,
// or its error.
func unary[Req, Resp any](f func(context.Context, *Req) (Resp, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req Req
		ctx, cancel, err := decodeRequest(w, r, &req)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, errorToWire(err))
			return
		}
		defer cancel()
		resp, err := f(ctx, &req)
		if err != nil {
			e := errorToWire(err)
			writeJSON(w, e.status(), e)
			return
		}
		writeJSON(w, http.StatusOK, resp)
	})
}

// decodeRequest reads r's JSON body into req and returns the context to
// run the call under: r's, bounded by the client's deadline if it sent one.
func decodeRequest(w http.ResponseWriter, r *http.Request, req any) (context.Context, context.CancelFunc, error) {
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequestBytes)).Decode(req); err != nil {
		return nil, nil, fmt.Errorf("%s: bad request body: %w", r.URL.Path, err)
	}
	ctx := r.Context()
	if h := r.Header.Get(headerTimeout); h != "" {
		d, err := time.ParseDuration(h)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: bad %s header: %w", r.URL.Path, headerTimeout, err)
		}
		c, cancel := context.WithTimeout(ctx, d)
		return c, cancel, nil
	}
	return ctx, func() {}, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil { // not with the types of this package
		status, body = http.StatusInternalServerError, []byte(`{"message":"proxy: cannot encode the response"}`)
	}
	h := w.Header()
	h["Content-Type"] = []string{"application/json"}
	w.WriteHeader(status)
	w.Write(body) //nolint:errcheck // the client sees a broken response
}

// serveWatch streams s's watch to the client, one event per line, until
// the watch ends or the client goes away.
func serveWatch(w http.ResponseWriter, r *http.Request, s datastore.Store) {
	var req prefixRequest
	ctx, cancel, err := decodeRequest(w, r, &req)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, errorToWire(err))
		return
	}
	defer cancel() // ends s's watch on every way out
	var opts []datastore.WatchOption
	if req.PrevValues {
		opts = append(opts, datastore.WithPrevValues())
	}
	events, err := s.Watch(ctx, req.Prefix, req.AfterRev, opts...)
	if err != nil {
		e := errorToWire(err)
		writeJSON(w, e.status(), e)
		return
	}
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(time.Time{})  //nolint:errcheck // best effort: see Handler
	rc.SetWriteDeadline(time.Time{}) //nolint:errcheck
	w.Header()["Content-Type"] = []string{"application/x-ndjson"}
	w.WriteHeader(http.StatusOK)
	if rc.Flush() != nil { // the client waits for the header: without Flush it would hang
		return
	}
	enc := json.NewEncoder(w)
	for ev := range events {
		if enc.Encode(eventToWire(ev)) != nil || rc.Flush() != nil {
			return // the client is gone
		}
		if ev.Type == datastore.EventError {
			return
		}
	}
	// The watch closed without an error: the client's context ended (then
	// nobody reads this), or the store ended it, which the client must hear
	// as a failure.
	enc.Encode(eventToWire(datastore.Event{ //nolint:errcheck // the client may be gone
		Type: datastore.EventError,
		Err:  fmt.Errorf("watch %s: the node agent ended the watch", req.Prefix),
	}))
}

// Listen listens on a unix socket at path for Handler, with the socket file
// made readable and writable by its owner only (0600): any process that can
// connect can read and write the whole datastore.
//
// A socket file left at path by a process that is gone is removed first;
// Listen fails if path is something other than a socket, or a socket that a
// live process listens on. Closing the listener removes the socket file.
//
// There is a short window between the socket's creation and its chmod in
// which it has the process's umask permissions: put it in a directory only
// root can enter (the agent's state directory is 0700).
func Listen(path string) (net.Listener, error) {
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	case fi.Mode().Type() != fs.ModeSocket:
		return nil, fmt.Errorf("listen on %s: the file exists and is not a socket", path)
	default:
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("listen on %s: another process is listening on it", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("listen on %s: remove stale socket: %w", path, err)
		}
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	return l, nil
}
