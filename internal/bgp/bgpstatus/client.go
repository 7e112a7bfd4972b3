package bgpstatus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"syscall"
	"time"
)

// Read asks the agent listening on sock (<state dir>/status.sock) for its
// status. Its errors are meant for the user: no agent, or no permission.
func Read(ctx context.Context, sock string) (Status, error) {
	var st Status
	// One request per client: no connection is kept (a caller polling
	// Read would otherwise leave one open per call, in both processes).
	c := http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		}}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://tortie-node"+Path, nil)
	if err != nil {
		return st, err
	}
	resp, err := c.Do(req)
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ECONNREFUSED):
		return st, fmt.Errorf("Calico process is not running (no tortie-node answers on %s)", sock)
	case errors.Is(err, fs.ErrPermission):
		return st, fmt.Errorf("node status needs root (to read %s)", sock)
	case err != nil:
		return st, fmt.Errorf("node status: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("node status: tortie-node answered %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return st, fmt.Errorf("node status: %w", err)
	}
	return st, nil
}
