package node

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/tortienet/tortie/internal/conventions"
	"github.com/tortienet/tortie/internal/datastore"
	"github.com/tortienet/tortie/internal/datastore/proxy"
	"github.com/tortienet/tortie/internal/ipam/cniipam"
)

// serveStore serves the agent's datastore connection and its allocator to
// the CNI plugin on <state dir>/tortie.sock (root only): a plugin process
// then needs no connection of its own, which costs more than the rest of a
// pod's ADD, and its allocations skip their reads (the allocator's cache
// has them).
// The returned func stops serving and removes the socket.
func (a *Agent) serveStore(s datastore.Store) (func(), error) {
	path := filepath.Join(a.cfg.StateDir, conventions.AgentSocket)
	ln, err := proxy.Listen(path)
	if err != nil {
		return nil, fmt.Errorf("serve the datastore to the CNI plugin: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/v1/ipam/", cniipam.AgentHandler(a.ipam))
	mux.Handle("/", proxy.Handler(s))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("CNI plugin socket", "path", path, "error", err)
		}
	}()
	a.log.Info("serving the datastore to the CNI plugin", "socket", path)
	return func() {
		srv.Close()
		os.Remove(path)
	}, nil
}
