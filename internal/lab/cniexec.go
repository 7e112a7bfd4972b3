package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"

	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/cni/pkg/version"
)

// nodeExec is libcni's plugin executor for one node: it runs each plugin
// inside the node's namespace (through `ip netns exec`), which is where a
// container runtime on that node would run it.
type nodeExec struct {
	netns string
}

var _ invoke.Exec = nodeExec{}

// ExecPlugin runs the plugin with stdin and the CNI environment and returns
// its stdout. A plugin's own error (a CNI error object on stdout) is
// returned as a *types.Error.
func (e nodeExec) ExecPlugin(ctx context.Context, pluginPath string, stdin []byte, environ []string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", e.netns, pluginPath)
	cmd.Env = environ
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		var perr types.Error
		if json.Unmarshal(stdout.Bytes(), &perr) == nil && perr.Code != 0 {
			return nil, &perr
		}
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = strings.TrimSpace(stdout.String())
		}
		return nil, fmt.Errorf("%s in %s: %w: %s", pluginPath, e.netns, err, msg)
	}
	return stdout.Bytes(), nil
}

// FindInPath finds the plugin binary, as the default executor does.
func (nodeExec) FindInPath(plugin string, paths []string) (string, error) {
	return invoke.FindInPath(plugin, paths)
}

// Decode parses a plugin's VERSION answer.
func (nodeExec) Decode(data []byte) (version.PluginInfo, error) {
	var d version.PluginDecoder
	return d.Decode(data)
}
