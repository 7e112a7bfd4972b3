// Command tortiectl is tortie's calicoctl.
package main

import (
	"context"
	"os"
	"path/filepath"

	"github.com/tortienet/tortie/internal/ctl"
)

// Installed as kubectl-tortie, it is the kubectl plugin `kubectl tortie`.
func main() {
	if filepath.Base(os.Args[0]) == ctl.PluginName {
		os.Exit(ctl.PluginMain(context.Background(), os.Args[1:]))
	}
	os.Exit(ctl.Main(context.Background(), os.Args[1:]))
}
