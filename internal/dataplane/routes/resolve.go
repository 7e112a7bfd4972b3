package routes

import (
	"fmt"

	"github.com/tortienet/tortie/internal/calc"
)

// resolve turns the calculation's routes into kernel routes, naming
// interfaces by index. A workload route whose interface is missing or down
// is skipped (it is programmed once the interface is up); any other route
// whose interface is missing is an error.
func (r *Reconciler) resolve(want []calc.Route, links map[string]Link) ([]Route, int, []error) {
	out := make([]Route, 0, len(want))
	skipped := 0
	var errs []error
	for _, w := range want {
		if !w.Dst.Addr().Is4() {
			continue
		}
		kr := Route{Dst: w.Dst.Masked(), Type: TypeUnicast, Protocol: ProtocolTortie, Scope: ScopeUniverse}
		if w.Type == calc.Blackhole {
			kr.Type = TypeBlackhole
			out = append(out, kr)
			continue
		}
		if w.Dev != "" {
			l, ok := links[w.Dev]
			if w.Workload && (!ok || !l.Up) {
				skipped++
				continue
			}
			if !ok {
				errs = append(errs, fmt.Errorf("route %s: interface %s does not exist", w.Dst, w.Dev))
				continue
			}
			kr.LinkIndex = l.Index
		}
		kr.Gw = w.Gw
		kr.OnLink = w.OnLink && w.Gw.IsValid()
		if !w.Gw.IsValid() {
			kr.Scope = ScopeLink
		}
		out = append(out, kr)
	}
	return out, skipped, errs
}
