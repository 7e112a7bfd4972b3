package agentsock

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"

	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"

	"github.com/tortienet/tortie/internal/cni/cniipam"
	"github.com/tortienet/tortie/internal/ipam"
)

// The node agent serves allocations to the plugin on its socket, next to
// its datastore (internal/cni/agentsock/proxy), from its long-lived allocator:
// that allocator's cache answers the reads an allocation starts with, so
// what is left is the one write that records it.
const (
	agentAddPath = "/v1/ipam/add"
	agentDelPath = "/v1/ipam/del"
)

// ErrNoIPAM: the agent's socket does not serve allocations (an older
// agent); the caller allocates itself.
var ErrNoIPAM = errors.New("the node agent does not serve IPAM")

// IPAMHandler serves cniipam.AddWith and DelWith on m. Mount it on the agent's
// socket server under /v1/ipam/.
func IPAMHandler(m *ipam.IPAM) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+agentAddPath, func(w http.ResponseWriter, r *http.Request) {
		var req cniipam.Request
		if !decodeRequest(w, r, &req) {
			return
		}
		res, err := cniipam.AddWith(r.Context(), m, req)
		reply(w, res, err)
	})
	mux.HandleFunc("POST "+agentDelPath, func(w http.ResponseWriter, r *http.Request) {
		var req cniipam.Request
		if !decodeRequest(w, r, &req) {
			return
		}
		reply(w, struct{}{}, cniipam.DelWith(r.Context(), m, req))
	})
	return mux
}

func decodeRequest(w http.ResponseWriter, r *http.Request, req *cniipam.Request) bool {
	if err := json.NewDecoder(r.Body).Decode(req); err != nil {
		reply(w, nil, types.NewError(types.ErrDecodingFailure, "tortie-ipam: node agent: bad request: "+err.Error(), ""))
		return false
	}
	return true
}

// reply writes v, or err as a CNI error (status 500).
func reply(w http.ResponseWriter, v any, err error) {
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		var te *types.Error
		if !errors.As(err, &te) {
			te = types.NewError(types.ErrInternal, "tortie-ipam: "+err.Error(), "")
		}
		w.WriteHeader(http.StatusInternalServerError)
		_ = json.NewEncoder(w).Encode(te)
		return
	}
	_ = json.NewEncoder(w).Encode(v)
}

// IPAMClient asks the node agent for allocations over its socket.
type IPAMClient struct {
	hc *http.Client
}

// NewIPAMClient talks to the agent listening on the unix socket path.
func NewIPAMClient(path string) *IPAMClient {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
		DisableCompression: true,
	}
	return &IPAMClient{hc: &http.Client{Transport: tr}}
}

// Add is cniipam.AddWith on the agent's allocator.
func (a *IPAMClient) Add(ctx context.Context, r cniipam.Request) (*current.Result, error) {
	res := &current.Result{}
	if err := a.call(ctx, agentAddPath, r, res); err != nil {
		return nil, err
	}
	return res, nil
}

// Del is cniipam.DelWith on the agent's allocator.
func (a *IPAMClient) Del(ctx context.Context, r cniipam.Request) error {
	return a.call(ctx, agentDelPath, r, &struct{}{})
}

// Close closes the client's connections.
func (a *IPAMClient) Close() { a.hc.CloseIdleConnections() }

func (a *IPAMClient) call(ctx context.Context, path string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://tortie-node"+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return fmt.Errorf("node agent: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("node agent: %w", err)
	}
	switch resp.StatusCode {
	case http.StatusOK:
		return json.Unmarshal(b, out)
	case http.StatusNotFound, http.StatusMethodNotAllowed:
		return ErrNoIPAM
	}
	te := &types.Error{}
	if json.Unmarshal(b, te) != nil || te.Msg == "" {
		return fmt.Errorf("node agent: %s: %s", resp.Status, bytes.TrimSpace(b))
	}
	return te
}
