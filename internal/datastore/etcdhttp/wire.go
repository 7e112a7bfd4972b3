package etcdhttp

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
)

// The gateway's paths (etcd's api/etcdserverpb/rpc.proto).
const (
	pathRange   = "/v3/kv/range"
	pathTxn     = "/v3/kv/txn"
	pathCompact = "/v3/kv/compaction"
	pathWatch   = "/v3/watch"
)

// keyValue is mvccpb.KeyValue.
type keyValue struct {
	Key            []byte `json:"key"`
	Value          []byte `json:"value"`
	CreateRevision int64  `json:"create_revision,string"`
	ModRevision    int64  `json:"mod_revision,string"`
}

// responseHeader is etcdserverpb.ResponseHeader (the part we use).
type responseHeader struct {
	Revision int64 `json:"revision,string"`
}

type rangeRequest struct {
	Key       []byte `json:"key,omitempty"`
	RangeEnd  []byte `json:"range_end,omitempty"`
	KeysOnly  bool   `json:"keys_only,omitempty"`
	CountOnly bool   `json:"count_only,omitempty"`
}

type rangeResponse struct {
	errorBody
	Header responseHeader `json:"header"`
	Kvs    []keyValue     `json:"kvs"`
	Count  int64          `json:"count,string"`
}

type putRequest struct {
	Key   []byte `json:"key,omitempty"`
	Value []byte `json:"value,omitempty"`
}

type deleteRangeRequest struct {
	Key    []byte `json:"key,omitempty"`
	PrevKV bool   `json:"prev_kv,omitempty"`
}

type deleteRangeResponse struct {
	PrevKvs []keyValue `json:"prev_kvs"`
}

// compare is etcdserverpb.Compare; of its target_union oneof only the
// revisions are used, and exactly one of them is set.
type compare struct {
	Result         string `json:"result"` // "EQUAL", "NOT_EQUAL", ...
	Target         string `json:"target"` // "CREATE", "MOD", ...
	Key            []byte `json:"key"`
	CreateRevision *int64 `json:"create_revision,omitempty,string"`
	ModRevision    *int64 `json:"mod_revision,omitempty,string"`
}

// requestOp is etcdserverpb.RequestOp: a oneof, so exactly one field is set.
type requestOp struct {
	Range       *rangeRequest       `json:"request_range,omitempty"`
	Put         *putRequest         `json:"request_put,omitempty"`
	DeleteRange *deleteRangeRequest `json:"request_delete_range,omitempty"`
}

type txnRequest struct {
	Compare []compare   `json:"compare"`
	Success []requestOp `json:"success"`
	Failure []requestOp `json:"failure,omitempty"`
}

// responseOp is etcdserverpb.ResponseOp; response_put is not read.
type responseOp struct {
	Range       *rangeResponse       `json:"response_range"`
	DeleteRange *deleteRangeResponse `json:"response_delete_range"`
}

type txnResponse struct {
	errorBody
	Header    responseHeader `json:"header"`
	Succeeded bool           `json:"succeeded"`
	Responses []responseOp   `json:"responses"`
}

type compactionRequest struct {
	Revision int64 `json:"revision,string"`
	Physical bool  `json:"physical,omitempty"`
}

type compactionResponse struct {
	errorBody
}

// The comparisons of Create, Update and Delete.
func createRevisionIs(key string, result string, rev int64) compare {
	return compare{Result: result, Target: "CREATE", Key: []byte(key), CreateRevision: &rev}
}

func modRevisionIs(key string, rev int64) compare {
	return compare{Result: "EQUAL", Target: "MOD", Key: []byte(key), ModRevision: &rev}
}

// prefixRange returns the key range of prefix, as clientv3.WithPrefix does.
func prefixRange(prefix string) (key, end []byte) {
	if prefix == "" {
		return []byte{0}, []byte{0}
	}
	end = []byte(prefix)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return []byte(prefix), end[:i+1]
		}
	}
	// Only 0xff bytes: no key after the prefix, so range to the end.
	return []byte(prefix), []byte{0}
}

// codeUnavailable is gRPC's code Unavailable.
const codeUnavailable = 14

// gatewayError is an error answer of etcd through the gateway: a gRPC status
// code and etcd's message (e.g. "etcdserver: mvcc: required revision has
// been compacted").
type gatewayError struct {
	HTTPStatus int // 200 when the error came inside a 200 answer or stream
	Code       int
	Message    string
}

// Transient: Unavailable and DeadlineExceeded clear up by themselves
// (datastore.Transient).
func (e *gatewayError) Transient() bool {
	return e.Code == codeUnavailable || e.Code == codeDeadlineExceeded
}

// codeDeadlineExceeded is gRPC's code DeadlineExceeded.
const codeDeadlineExceeded = 4

func (e *gatewayError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = "error without a message"
	}
	if e.HTTPStatus != http.StatusOK && e.HTTPStatus != 0 {
		return fmt.Sprintf("%s (gRPC code %d, HTTP %d)", msg, e.Code, e.HTTPStatus)
	}
	return fmt.Sprintf("%s (gRPC code %d)", msg, e.Code)
}

// errorBody is the gateway's error shape: {"code":N,"message":"..."} for
// unary calls; older gateways add "error":"..." and may send it with HTTP
// 200; in a stream it is {"error":{"code":N,"message":"..."}}.
type errorBody struct {
	Error   json.RawMessage `json:"error"`
	Code    int             `json:"code"`
	Message string          `json:"message"`
}

// answer is a decoded answer: each embeds errorBody, so that one decoding
// finds both the answer and an error that came with HTTP 200.
type answer interface {
	gatewayErr(httpStatus int) error
}

// gatewayErr returns the error the body carries, or nil.
func (b *errorBody) gatewayErr(httpStatus int) error {
	e := &gatewayError{HTTPStatus: httpStatus, Code: b.Code, Message: b.Message}
	raw := bytes.TrimSpace(b.Error)
	switch {
	case len(raw) == 0 || string(raw) == "null":
	case raw[0] == '{':
		var inner errorBody
		if json.Unmarshal(raw, &inner) == nil {
			e.Code, e.Message = inner.Code, inner.Message
		}
	case raw[0] == '"':
		var s string
		if json.Unmarshal(raw, &s) == nil && e.Message == "" {
			e.Message = s
		}
	}
	if len(raw) == 0 && e.Code == 0 && e.Message == "" {
		return nil
	}
	return e
}

// statusError makes the error of a non-200 answer from its body.
func statusError(status int, body []byte) error {
	var b errorBody
	if json.Unmarshal(body, &b) == nil {
		if err := b.gatewayErr(status); err != nil {
			return err
		}
	}
	text := strings.TrimSpace(string(body))
	if len(text) > 200 {
		text = text[:200] + "..."
	}
	return &gatewayError{HTTPStatus: status, Message: fmt.Sprintf("HTTP %s: %s", http.StatusText(status), text)}
}

// callOpts says how post may retry and what it asks of the server.
type callOpts struct {
	// readOnly: the request changes nothing, so it may be sent again
	// after any connection error (to the same or the next endpoint).
	readOnly bool
	// requireLeader: etcd fails the request (a watch: ends it) when the
	// member has no leader, instead of serving it from a cut-off member.
	requireLeader bool
}

// call posts req as JSON to path and decodes the answer into resp.
func (s *Store) call(ctx context.Context, path string, req any, resp answer, opts callOpts) error {
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	hresp, err := s.post(ctx, path, body, opts)
	if err != nil {
		return err
	}
	defer hresp.Body.Close()
	data, err := io.ReadAll(hresp.Body)
	if err != nil {
		return fmt.Errorf("read etcd answer: %w", err)
	}
	if hresp.StatusCode != http.StatusOK {
		return statusError(hresp.StatusCode, data)
	}
	if err := json.Unmarshal(data, resp); err != nil {
		return fmt.Errorf("decode etcd answer: %w", err)
	}
	return resp.gatewayErr(hresp.StatusCode)
}

// post sends body to path on the current endpoint and returns the answer
// (any HTTP status). On a connection error it fails over to the next
// endpoints, in order, and sticks to the first that answers; a write is
// sent again only if the error proves it never left (a failed dial or TLS
// handshake), so it cannot be applied twice.
func (s *Store) post(ctx context.Context, path string, body []byte, opts callOpts) (*http.Response, error) {
	if s.closed.Err() != nil {
		return nil, errClosed
	}
	n := len(s.endpoints)
	first := int(s.current.Load())
	var errs endpointErrors
	for i := range n {
		ep := (first + i) % n
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.endpoints[ep]+path, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		if opts.readOnly {
			// Lets net/http resend the POST on a kept-alive connection the
			// server had closed; a nil value is not sent.
			req.Header["Idempotency-Key"] = nil
		}
		if opts.requireLeader {
			// The gateway passes Grpc-Metadata-* headers on as gRPC
			// metadata: this is clientv3.WithRequireLeader.
			req.Header.Set("Grpc-Metadata-Hasleader", "true")
		}
		resp, err := s.client.Do(req)
		if err == nil {
			if ep != first {
				s.current.CompareAndSwap(int32(first), int32(ep))
			}
			return resp, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil || !(opts.readOnly || neverSent(err)) {
			break
		}
	}
	if len(errs) == 1 {
		return nil, errs[0]
	}
	return nil, errs
}

// neverSent reports whether err proves the request was not sent: the
// connection could not be made.
func neverSent(err error) bool {
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		return true
	}
	var certErr *tls.CertificateVerificationError
	return errors.As(err, &certErr)
}

// endpointErrors are the errors of one request tried on several endpoints.
type endpointErrors []error

func (e endpointErrors) Error() string {
	msgs := make([]string, len(e))
	for i, err := range e {
		msgs[i] = err.Error()
	}
	return strings.Join(msgs, "; ")
}

func (e endpointErrors) Unwrap() []error { return e }
