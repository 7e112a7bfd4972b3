package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/tortienet/tortie/internal/datastore"
)

// baseURL prefixes every request's path; the host is not used.
const baseURL = "http://tortie"

// errClosed is returned by a Client's calls after Close.
var errClosed = errors.New("node agent client is closed")

// Client is a datastore.Store that forwards every call to a Handler on a
// unix socket. Errors from the server's Store come back with the same
// message, and with errors.Is (the datastore sentinels,
// context.DeadlineExceeded, context.Canceled) and errors.As
// (*datastore.KeyError) answering as on the server. Errors of the socket
// itself name it: "node agent socket <path>: ...".
//
// It is safe for concurrent use; each call in flight, and each open watch,
// holds one connection, kept open for reuse afterwards.
type Client struct {
	path      string
	http      *http.Client
	transport *http.Transport
	closed    context.Context // done after Close
	close     context.CancelFunc
}

var _ datastore.Store = (*Client)(nil)

// Dial returns a Client for the Handler listening on the unix socket at
// path, after one round trip to its ping endpoint, which the server answers
// without touching its Store: Dial proves that the node agent answers, not
// that etcd is reachable. The error of a missing socket, or of one nobody
// listens on, names the path and wraps the system's error (fs.ErrNotExist,
// syscall.ECONNREFUSED), e.g.
// "node agent socket /var/lib/tortie/tortie.sock: connection refused".
func Dial(ctx context.Context, path string) (*Client, error) {
	c := newClient(path)
	if err := c.call(ctx, pathPing, struct{}{}, &struct{}{}, true); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func newClient(path string) *Client {
	var d net.Dialer
	t := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			conn, err := d.DialContext(ctx, "unix", path)
			if err != nil {
				return nil, &socketError{path: path, err: dialCause(err)}
			}
			return conn, nil
		},
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	c := &Client{path: path, http: &http.Client{Transport: t}, transport: t}
	c.closed, c.close = context.WithCancel(context.Background())
	return c
}

// dialCause strips a dial error down to its cause ("connection refused"
// rather than "dial unix /x.sock: connect: connection refused"); the
// socketError around it names the path.
func dialCause(err error) error {
	var se *os.SyscallError
	if errors.As(err, &se) {
		return se.Err
	}
	return err
}

// socketError is a failure to talk to the server, as opposed to an error
// returned by the server's Store.
type socketError struct {
	path string
	err  error
}

func (e *socketError) Error() string { return "node agent socket " + e.path + ": " + e.err.Error() }
func (e *socketError) Unwrap() error { return e.err }

// transportErr turns an error of the HTTP client into a socketError.
func (c *Client) transportErr(err error) error {
	var se *socketError
	if errors.As(err, &se) {
		return se
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = fmt.Errorf("%s: %w", strings.TrimPrefix(ue.URL, baseURL), ue.Err)
	}
	return &socketError{path: c.path, err: err}
}

// post sends in to the endpoint at path and returns the response if it is
// a success; otherwise the error the server sent, or why it could not be
// reached. Idempotent requests are retried by the transport when a kept
// connection turns out to have been closed by the server.
func (c *Client) post(ctx context.Context, path string, in any, idempotent bool) (*http.Response, error) {
	if c.closed.Err() != nil {
		return nil, errClosed
	}
	body, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header["Content-Type"] = []string{"application/json"}
	if dl, ok := ctx.Deadline(); ok {
		req.Header[headerTimeout] = []string{time.Until(dl).String()}
	}
	if idempotent {
		req.Header["Idempotency-Key"] = nil // marks the request as retryable; not sent
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.transportErr(err)
	}
	if resp.StatusCode == http.StatusOK {
		return resp, nil
	}
	defer drainClose(resp.Body)
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, c.transportErr(fmt.Errorf("%s: %w", path, err))
	}
	var e wireError
	if err := json.Unmarshal(data, &e); err != nil || e.Message == "" {
		return nil, &socketError{path: c.path, err: fmt.Errorf("%s: HTTP %s: %.200q", path, resp.Status, data)}
	}
	return nil, e.err()
}

// call is post for a one-response call: it decodes the response into out.
func (c *Client) call(ctx context.Context, path string, in, out any, idempotent bool) error {
	resp, err := c.post(ctx, path, in, idempotent)
	if err != nil {
		return err
	}
	defer drainClose(resp.Body)
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return c.transportErr(fmt.Errorf("%s: bad response: %w", path, err))
	}
	return nil
}

// drainClose reads what is left of body, so that its connection can be
// reused, and closes it.
func drainClose(body io.ReadCloser) {
	io.Copy(io.Discard, body) //nolint:errcheck // only for reuse
	body.Close()
}

// Get implements datastore.Store.
func (c *Client) Get(ctx context.Context, key string) (datastore.KV, error) {
	var resp kvResponse
	if err := c.call(ctx, pathGet, keyRequest{Key: key}, &resp, true); err != nil {
		return datastore.KV{}, err
	}
	return resp.KV.kv(), nil
}

// List implements datastore.Store.
func (c *Client) List(ctx context.Context, prefix string) ([]datastore.KV, int64, error) {
	return c.list(ctx, pathList, prefix)
}

// ListKeys implements datastore.Store.
func (c *Client) ListKeys(ctx context.Context, prefix string) ([]datastore.KV, int64, error) {
	return c.list(ctx, pathListKeys, prefix)
}

func (c *Client) list(ctx context.Context, path, prefix string) ([]datastore.KV, int64, error) {
	var resp listResponse
	if err := c.call(ctx, path, prefixRequest{Prefix: prefix}, &resp, true); err != nil {
		return nil, 0, err
	}
	return kvsOf(resp.KVs), resp.Rev, nil
}

// Create implements datastore.Store.
func (c *Client) Create(ctx context.Context, key string, value []byte) (int64, error) {
	var resp revResponse
	err := c.call(ctx, pathCreate, writeRequest{Key: key, Value: value}, &resp, false)
	return resp.Rev, err
}

// Update implements datastore.Store.
func (c *Client) Update(ctx context.Context, key string, value []byte, rev int64) (int64, error) {
	var resp revResponse
	err := c.call(ctx, pathUpdate, writeRequest{Key: key, Value: value, Rev: rev}, &resp, false)
	return resp.Rev, err
}

// Delete implements datastore.Store.
func (c *Client) Delete(ctx context.Context, key string, rev int64) (datastore.KV, error) {
	var resp kvResponse
	if err := c.call(ctx, pathDelete, keyRequest{Key: key, Rev: rev}, &resp, false); err != nil {
		return datastore.KV{}, err
	}
	return resp.KV.kv(), nil
}

// Txn implements datastore.Store.
func (c *Client) Txn(ctx context.Context, ops ...datastore.Op) (int64, error) {
	wops, err := opsToWire(ops)
	if err != nil {
		return 0, err
	}
	var resp revResponse
	err = c.call(ctx, pathTxn, txnRequest{Ops: wops}, &resp, false)
	return resp.Rev, err
}

// Watch implements datastore.Store. It returns once the server's Watch has
// started (its error, if it fails to, is Watch's). The channel then carries
// the server's events; it ends with an EventError when the server's watch
// fails (ErrCompacted, the store's error), ends on its own, or the
// connection breaks, or when the Client is closed; it closes without one
// only when ctx ends. A broken watch is not resumed: datastore.ListWatch
// resyncs from a fresh List instead.
func (c *Client) Watch(ctx context.Context, prefix string, afterRev int64, opts ...datastore.WatchOption) (<-chan datastore.Event, error) {
	wctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(c.closed, cancel)
	req := prefixRequest{Prefix: prefix, AfterRev: afterRev, PrevValues: datastore.WatchOptionsOf(opts).PrevValues}
	resp, err := c.post(wctx, pathWatch, req, false)
	if err != nil {
		stop()
		cancel()
		return nil, err
	}
	out := make(chan datastore.Event)
	go func() {
		defer close(out)
		defer stop()
		defer cancel()
		defer resp.Body.Close()
		err := readEvents(wctx, resp.Body, out)
		switch {
		case err == nil || ctx.Err() != nil:
			return // the server's EventError was delivered, or the caller ended the watch
		case c.closed.Err() != nil:
			err = errClosed
		default:
			err = &socketError{path: c.path, err: fmt.Errorf("watch %s: %w", prefix, err)}
		}
		select {
		case out <- datastore.Event{Type: datastore.EventError, Err: err}:
		case <-ctx.Done():
		}
	}()
	return out, nil
}

// readEvents sends the events of a watch stream to out. It returns nil
// after delivering the stream's terminal EventError, otherwise why it
// stopped.
func readEvents(ctx context.Context, body io.Reader, out chan<- datastore.Event) error {
	dec := json.NewDecoder(body)
	for {
		var w wireEvent
		if err := dec.Decode(&w); err != nil {
			if errors.Is(err, io.EOF) {
				return errors.New("the stream ended without an error event")
			}
			return err
		}
		ev, err := w.event()
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil { // send nothing once the caller has left
			return err
		}
		select {
		case out <- ev:
		case <-ctx.Done():
			return ctx.Err()
		}
		if ev.Type == datastore.EventError {
			return nil
		}
	}
}

// Close implements datastore.Store: it closes idle connections and ends open
// watches (with an EventError); later calls fail. Calls in flight finish.
func (c *Client) Close() error {
	c.close()
	c.transport.CloseIdleConnections()
	return nil
}
