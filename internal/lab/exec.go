package lab

import (
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/tortienet/tortie/internal/lab/topo"
)

// Command returns a command that runs argv inside the named member's
// namespace, with the environment a program there expects: the lab's bin
// dir first in PATH, the datastore (ETCD_ENDPOINTS) everywhere, and on
// nodes the node name, CNI_PATH and the node's CNI configuration
// directory. The caller wires stdio and runs it.
func (l *Lab) Command(member string, argv []string) (*exec.Cmd, error) {
	m, err := l.Find(member)
	if err != nil {
		return nil, err
	}
	st := l.rec.snapshot()
	cmd := nsCommand(m.Netns, argv...)
	cmd.Env = append(append(l.procEnv(), l.datastoreEnv()...), "TORTIE_LAB="+l.top.Name)
	if m.Kind == topo.KindNode {
		d := l.dirsOf(m.Name)
		cmd.Env = append(cmd.Env, "NODENAME="+m.Name, "CNI_PATH="+strings.Join(st.CNIPath, string(filepath.ListSeparator)), "NETCONFPATH="+d.netd,
			"TORTIE_STATE_DIR="+d.lib, "TORTIE_RUN_DIR="+d.run)
	}
	return cmd, nil
}
