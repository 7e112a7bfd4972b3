// Package agentsock is the socket between tortie-node and the CNI plugin,
// whole: where it is, what the agent serves on it, and how the plugin
// reaches it.
//
// Why it exists: the plugin is a process exec'd once per pod. Dialing etcd
// from each one costs milliseconds, and an allocation from a cold
// allocator starts with reads; the node agent holds a warm connection and
// a cached, group-committed allocator. So the agent serves both on
// <state dir>/tortie.sock (root only):
//
//   - the datastore, as a datastore.Store over HTTP (package proxy, under
//     this one), at /v1/<method>;
//   - allocations and releases from its allocator, at /v1/ipam/add and
//     /v1/ipam/del (IPAMHandler, IPAMClient).
//
// The plugin uses the socket when it answers; when it is missing, or there
// but dead (an agent killed with SIGKILL leaves it), the plugin connects to
// the datastore itself (package cni decides).
package agentsock

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/tortienet/tortie/internal/cni/agentsock/proxy"
	"github.com/tortienet/tortie/internal/conventions"
	"github.com/tortienet/tortie/internal/datastore"
	"github.com/tortienet/tortie/internal/ipam"
)

// Path is the socket in the state directory stateDir.
func Path(stateDir string) string {
	return filepath.Join(stateDir, conventions.AgentSocket)
}

// Serve serves s and the allocator m on the socket at path, in the
// background, until the returned func is called; that func also removes
// the socket. Errors of the server after it started are logged.
func Serve(path string, s datastore.Store, m *ipam.IPAM, log *slog.Logger) (stop func(), err error) {
	ln, err := proxy.Listen(path)
	if err != nil {
		return nil, fmt.Errorf("serve the datastore to the CNI plugin: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/v1/ipam/", IPAMHandler(m))
	mux.Handle("/", proxy.Handler(s))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("CNI plugin socket", "path", path, "error", err)
		}
	}()
	return func() {
		srv.Close()
		os.Remove(path)
	}, nil
}

// DialStore connects to the datastore served on the socket at path. An
// error wraps fs.ErrNotExist when there is no socket.
func DialStore(ctx context.Context, path string) (datastore.Store, error) {
	return proxy.Dial(ctx, path)
}
