// Command noopcni is the CNI benchmark's floor: a plugin built like tortie
// (Go, static, the CNI library's skel) that does no work but answer.
// cnitool running it is what any Go plugin costs on this machine before it
// does anything.
package main

import (
	"encoding/json"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/version"
)

func main() {
	skel.PluginMainFuncs(skel.CNIFuncs{
		Add: func(args *skel.CmdArgs) error {
			var conf types.PluginConf
			if err := json.Unmarshal(args.StdinData, &conf); err != nil {
				return err
			}
			return types.PrintResult(&current.Result{CNIVersion: current.ImplementedSpecVersion}, conf.CNIVersion)
		},
		Del:   func(*skel.CmdArgs) error { return nil },
		Check: func(*skel.CmdArgs) error { return nil },
	}, version.All, "noopcni: the CNI benchmark's floor")
}
