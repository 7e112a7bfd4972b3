package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/tortienet/tortie/internal/bgp/bgpstatus"
	"github.com/tortienet/tortie/internal/conventions"
)

// serveStatus serves the BGP status to `tortiectl node status` on
// <state dir>/status.sock (root only, as calicoctl needs root to read
// BIRD's socket). The returned func stops serving and removes the socket.
func (a *Agent) serveStatus() (func(), error) {
	path := filepath.Join(a.cfg.StateDir, conventions.StatusSocket)
	_ = os.Remove(path) // a previous agent's
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("status socket %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("status socket %s: %w", path, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc(bgpstatus.Path, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(a.bgp.status())
	})
	s := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := s.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("status socket", "error", err)
		}
	}()
	return func() {
		s.Close()
		_ = os.Remove(path)
	}, nil
}
