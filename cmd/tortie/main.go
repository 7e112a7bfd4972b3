// Command tortie is the CNI plugin; installed (or linked) as tortie-ipam it
// is the IPAM plugin. The name it is run under chooses, as Calico's does.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/tortienet/tortie/internal/cni"
	"github.com/tortienet/tortie/internal/cni/ipamplugin"
)

func main() {
	switch name := strings.TrimSuffix(filepath.Base(os.Args[0]), ".exe"); name {
	case "tortie":
		os.Exit(cni.Main())
	case "tortie-ipam":
		os.Exit(ipamplugin.Main())
	default:
		fmt.Fprintf(os.Stderr, "unknown binary name %q: run this program as tortie (the CNI plugin) or tortie-ipam (the IPAM plugin)\n", name)
		os.Exit(2)
	}
}
