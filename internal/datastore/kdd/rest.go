package kdd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tortienet/tortie/internal/datastore"
)

// resource names one Kubernetes API resource (a collection).
type resource struct {
	group, version, plural, kind string
	namespaced                   bool
}

// String is the resource as kubectl names it ("ippools.crd.projectcalico.org", "pods").
func (r resource) String() string {
	if r.group == "" {
		return r.plural
	}
	return r.plural + "." + r.group
}

func (r resource) apiVersion() string {
	if r.group == "" {
		return r.version
	}
	return r.group + "/" + r.version
}

// path is the URL path of the collection (name "") or of one object.
func (r resource) path(ns, name string) string {
	p := "/apis/" + r.group + "/" + r.version
	if r.group == "" {
		p = "/api/" + r.version
	}
	if r.namespaced && ns != "" {
		p += "/namespaces/" + url.PathEscape(ns)
	}
	p += "/" + r.plural
	if name != "" {
		p += "/" + url.PathEscape(name)
	}
	return p
}

// meta is the Kubernetes ObjectMeta fields tortie reads and writes.
type meta struct {
	Name              string            `json:"name,omitempty"`
	GenerateName      string            `json:"generateName,omitempty"`
	Namespace         string            `json:"namespace,omitempty"`
	UID               string            `json:"uid,omitempty"`
	ResourceVersion   string            `json:"resourceVersion,omitempty"`
	Generation        int64             `json:"generation,omitempty"`
	CreationTimestamp string            `json:"creationTimestamp,omitempty"`
	DeletionTimestamp string            `json:"deletionTimestamp,omitempty"`
	Labels            map[string]string `json:"labels,omitempty"`
	Annotations       map[string]string `json:"annotations,omitempty"`
	Finalizers        []string          `json:"finalizers,omitempty"`
	OwnerReferences   json.RawMessage   `json:"ownerReferences,omitempty"`
}

// object is a Kubernetes object as tortie handles it: metadata plus the
// raw parts a mapping reads (a CRD's spec, a ConfigMap's data, a Pod's).
type object struct {
	APIVersion string            `json:"apiVersion,omitempty"`
	Kind       string            `json:"kind,omitempty"`
	Metadata   meta              `json:"metadata"`
	Spec       json.RawMessage   `json:"spec,omitempty"`
	Status     json.RawMessage   `json:"status,omitempty"`
	Data       map[string]string `json:"data,omitempty"`
	BinaryData map[string][]byte `json:"binaryData,omitempty"`
}

// rev is the object's resourceVersion as a revision. kube-apiserver's
// resourceVersions are etcd revisions: decimal, increasing across all
// resources of one cluster. tortie relies on that (as the watch cache and
// every consistent-read feature of Kubernetes do).
func (o *object) rev() int64 { return parseRV(o.Metadata.ResourceVersion) }

func parseRV(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// status is a Kubernetes Status (the body of every error).
type status struct {
	Kind    string `json:"kind"`
	Code    int    `json:"code"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
	Details *struct {
		Name string `json:"name"`
		Kind string `json:"kind"`
	} `json:"details"`
}

// ErrForbidden wraps the apiserver's refusal: its message names the user,
// the verb and the resource (RBAC).
var ErrForbidden = errors.New("forbidden by the apiserver (RBAC)")

// ErrNotServed means the apiserver does not serve a resource: its CRD is
// not installed.
var ErrNotServed = errors.New("resource not served by the apiserver (CRD not installed?)")

// client is a minimal Kubernetes REST client: JSON over net/http.
type client struct {
	conn Conn
	http *http.Client
	base *url.URL
	// The first request opens the connection; requests made meanwhile
	// wait for it (closed) and share it (HTTP/2) rather than each opening
	// one (a TLS handshake each, which a CNI plugin's concurrent first
	// requests would pay).
	first  atomic.Bool
	opened chan struct{}
}

func newClient(c Conn) (*client, error) {
	u, err := url.Parse(c.Server)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("%s: bad server URL %q", c.Source, c.Server)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = c.TLS
	tr.MaxIdleConnsPerHost = 64
	tr.ForceAttemptHTTP2 = true
	if c.Dial != nil {
		tr.DialContext = c.Dial
	}
	return &client{conn: c, http: &http.Client{Transport: tr}, base: u, opened: make(chan struct{})}, nil
}

func (c *client) authorize(req *http.Request) error {
	token := c.conn.Token
	if c.conn.TokenFile != "" {
		b, err := os.ReadFile(c.conn.TokenFile)
		if err != nil {
			return fmt.Errorf("%s: token: %w", c.conn.Source, err)
		}
		token = strings.TrimSpace(string(b))
	}
	switch {
	case token != "":
		req.Header.Set("Authorization", "Bearer "+token)
	case c.conn.Username != "":
		req.SetBasicAuth(c.conn.Username, c.conn.Password)
	}
	return nil
}

// do sends one request; a non-2xx answer becomes an error (see apiError),
// after retries of a 429 (see retryAfter). The caller closes the returned
// body.
func (c *client) do(ctx context.Context, method, path string, q url.Values, body any, contentType string) (*http.Response, error) {
	u := *c.base
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	u.RawQuery = q.Encode()
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			return nil, err
		}
	}
	if c.first.CompareAndSwap(false, true) {
		defer close(c.opened) // once the answer (or the failure) is in
	} else {
		select {
		case <-c.opened:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	for attempt := 1; ; attempt++ {
		resp, err := c.send(ctx, method, u.String(), b, contentType)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode/100 == 2 {
			return resp, nil
		}
		wait, retry := retryAfter(resp, attempt)
		eb, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if !retry {
			return nil, c.apiError(method, path, resp.StatusCode, eb)
		}
		select {
		case <-ctx.Done():
			return nil, c.apiError(method, path, resp.StatusCode, eb)
		case <-time.After(wait):
		}
	}
}

// send sends one request.
func (c *client) send(ctx context.Context, method, u string, body []byte, contentType string) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	if err := c.authorize(req); err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("kube-apiserver %s unreachable (%s): %w", c.conn.Server, c.conn.Source, err)
	}
	return resp, nil
}

// retryAfter says whether an answer is one to send the request again
// after, and when: 429 Too Many Requests, which an apiserver answers
// while its storage (re)initializes after a restart and under flow
// control, with a Retry-After of its own (capped at 2s), a few times.
func retryAfter(resp *http.Response, attempt int) (time.Duration, bool) {
	if resp.StatusCode != http.StatusTooManyRequests || attempt >= maxAttempts {
		return 0, false
	}
	wait := 200 * time.Millisecond
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		wait = min(time.Duration(s)*time.Second, 2*time.Second)
	}
	return wait, true
}

// maxAttempts bounds the sends of one request answered 429.
const maxAttempts = 10

// apiError turns an error answer into an error wrapping the datastore
// sentinel it means, with the apiserver's own message.
func (c *client) apiError(method, path string, code int, body []byte) error {
	var st status
	_ = json.Unmarshal(body, &st)
	msg := st.Message
	if msg == "" {
		msg = strings.TrimSpace(string(body))
	}
	where := method + " " + path
	switch {
	case code == http.StatusNotFound && (st.Kind != "Status" || st.Details == nil || st.Details.Name == ""):
		// Not about an object: the resource itself is not there.
		return fmt.Errorf("%s: %w: %s", where, ErrNotServed, msg)
	case code == http.StatusNotFound:
		return fmt.Errorf("%s: %w", where, datastore.ErrNotFound)
	case code == http.StatusConflict && st.Reason == "AlreadyExists":
		return fmt.Errorf("%s: %w", where, datastore.ErrAlreadyExists)
	case code == http.StatusConflict:
		return fmt.Errorf("%s: %w: %s", where, datastore.ErrConflict, msg)
	case code == http.StatusGone:
		return fmt.Errorf("%s: %w: %s", where, datastore.ErrCompacted, msg)
	case code == http.StatusForbidden:
		return fmt.Errorf("%w: %s", ErrForbidden, msg)
	case code == http.StatusUnauthorized:
		return fmt.Errorf("kube-apiserver %s refused the credentials of %s (401 Unauthorized): %s", c.conn.Server, c.conn.Source, msg)
	}
	return fmt.Errorf("%s: kube-apiserver answered %d %s: %s", where, code, st.Reason, msg)
}

// call sends a request and decodes a JSON answer into out (if not nil).
func (c *client) call(ctx context.Context, method, path string, q url.Values, body, out any) error {
	ct := "application/json"
	if method == http.MethodPatch {
		ct = "application/merge-patch+json"
	}
	resp, err := c.do(ctx, method, path, q, body, ct)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

func (c *client) get(ctx context.Context, r resource, ns, name string) (*object, []byte, error) {
	var raw json.RawMessage
	if err := c.call(ctx, http.MethodGet, r.path(ns, name), nil, nil, &raw); err != nil {
		return nil, nil, err
	}
	var o object
	if err := json.Unmarshal(raw, &o); err != nil {
		return nil, nil, err
	}
	return &o, raw, nil
}

// listOpts are the list/watch query parameters tortie uses.
type listOpts struct {
	labelSelector string
	fieldSelector string
	rv            string // resourceVersion
	exact         bool   // resourceVersionMatch=Exact
}

func (o listOpts) query() url.Values {
	q := url.Values{}
	if o.labelSelector != "" {
		q.Set("labelSelector", o.labelSelector)
	}
	if o.fieldSelector != "" {
		q.Set("fieldSelector", o.fieldSelector)
	}
	if o.rv != "" {
		q.Set("resourceVersion", o.rv)
		if o.exact {
			q.Set("resourceVersionMatch", "Exact")
		}
	}
	return q
}

// list returns the raw items and the list's resourceVersion.
func (c *client) list(ctx context.Context, r resource, ns string, o listOpts) ([]json.RawMessage, string, error) {
	var l struct {
		Metadata struct {
			ResourceVersion string `json:"resourceVersion"`
		} `json:"metadata"`
		Items []json.RawMessage `json:"items"`
	}
	if err := c.call(ctx, http.MethodGet, r.path(ns, ""), o.query(), nil, &l); err != nil {
		return nil, "", err
	}
	return l.Items, l.Metadata.ResourceVersion, nil
}

// watchEvent is one line of a watch stream.
type watchEvent struct {
	Type   string          `json:"type"` // ADDED, MODIFIED, DELETED, BOOKMARK, ERROR
	Object json.RawMessage `json:"object"`
}

// watch opens a watch stream from rv, with bookmarks. The caller reads
// events with a json.Decoder and closes the body.
func (c *client) watch(ctx context.Context, r resource, ns string, o listOpts) (io.ReadCloser, error) {
	q := o.query()
	q.Set("watch", "true")
	q.Set("allowWatchBookmarks", "true")
	q.Set("timeoutSeconds", strconv.Itoa(int(watchTimeout/time.Second)))
	resp, err := c.do(ctx, http.MethodGet, r.path(ns, ""), q, nil, "")
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// watchTimeout is how long the apiserver keeps one watch open before it
// ends it; tortie then resumes from the last resourceVersion it saw.
const watchTimeout = 5 * time.Minute
