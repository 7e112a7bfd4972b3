package routes

import (
	"fmt"

	"github.com/tortienet/tortie/internal/calc"
	"github.com/tortienet/tortie/internal/conventions"
)

// resolve turns the calculation's routes into kernel routes, naming
// interfaces by index as the links table knows them. A workload route whose
// interface is missing or down is skipped (it is programmed once the
// interface is up); any other route whose interface is missing is an error.
// waiting names the interfaces of both kinds, to look up again next time.
func (r *Reconciler) resolve(want []calc.Route) (out []Route, skipped int, waiting []string, errs []error) {
	out = r.buf[:0]
	defer func() { r.buf = out }()
	for _, w := range want {
		v6 := w.Dst.Addr().Is6()
		if v6 && !r.v6 {
			continue // the first Apply with IPv6 routes turns r.v6 on
		}
		kr := Route{Dst: w.Dst.Masked(), Type: TypeUnicast, Protocol: conventions.ProtocolAgent, Scope: ScopeUniverse}
		if v6 {
			kr.Priority = MetricIPv6
		}
		if w.Type == calc.Blackhole {
			kr.Type = TypeBlackhole
			out = append(out, kr)
			continue
		}
		if w.Dev != "" {
			l, ok := r.links.Get(w.Dev)
			if w.Workload && (!ok || !l.Up) {
				skipped++
				waiting = append(waiting, w.Dev)
				continue
			}
			if !ok {
				waiting = append(waiting, w.Dev)
				errs = append(errs, fmt.Errorf("route %s: interface %s does not exist", w.Dst, w.Dev))
				continue
			}
			kr.LinkIndex = l.Index
		}
		kr.Gw = w.Gw
		kr.OnLink = w.OnLink && w.Gw.IsValid()
		if !w.Gw.IsValid() && !v6 { // IPv6 routes have no scope
			kr.Scope = ScopeLink
		}
		out = append(out, kr)
	}
	return out, skipped, waiting, errs
}
