package node

import (
	"github.com/tortienet/tortie/internal/cni/agentsock"
	"github.com/tortienet/tortie/internal/datastore"
)

// serveStore serves the agent's datastore connection and its allocator to
// the CNI plugin on <state dir>/tortie.sock (package agentsock): a plugin
// process then needs no connection of its own, which costs more than the
// rest of a pod's ADD, and its allocations skip their reads (the
// allocator's cache has them).
// The returned func stops serving and removes the socket.
func (a *Agent) serveStore(s datastore.Store) (func(), error) {
	path := agentsock.Path(a.cfg.StateDir)
	stop, err := agentsock.Serve(path, s, a.ipam, a.log)
	if err != nil {
		return nil, err
	}
	a.log.Info("serving the datastore to the CNI plugin", "socket", path)
	return stop, nil
}
