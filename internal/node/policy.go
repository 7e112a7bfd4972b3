package node

import (
	"fmt"
	"strings"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/calc"
	"github.com/tortienet/tortie/internal/calc/policy"
)

// withPolicy adds to d the policy this node enforces, computed from the
// view. A policy or profile that does not compile is reported in d's
// problems (so in the log and on /readiness, by name); while there is
// one, the program last enforced stays as it is rather than enforcing
// the rest without it. Without in (nothing policy reads changed), the
// program last built stands.
func (a *Agent) withPolicy(d *calc.Desired, felix *v3.FelixConfigurationSpec, in *policy.Input) {
	a.mu.Lock()
	last, problems := a.lastPolicy, a.policyProblems
	a.mu.Unlock()
	if in == nil && last != nil {
		d.Problems = append(d.Problems, problems...)
		d.Policy = last
		return
	}
	if a.policyBuilder == nil {
		a.policyBuilder = policy.NewBuilder()
	}
	m, prog, ok := a.view.compilePolicy(a.policyBuilder, *in)
	if !ok && last != nil { // a full list is coming in: the sync after it builds
		d.Problems = append(d.Problems, problems...)
		d.Policy = last
		return
	}
	if !ok {
		m = a.policyBuilder.Build(policy.Input{})
		prog = policy.Compile(m, a.cfg.NodeName)
	}
	if felix != nil {
		prog.EndpointToHost = felix.DefaultEndpointToHostAction
		prog.Failsafes = policy.FailsafesFrom(felix.FailsafeInboundHostPorts, felix.FailsafeOutboundHostPorts)
	}
	if a.cfg.FailsafeIn != nil {
		prog.Failsafes.In = *a.cfg.FailsafeIn
	}
	if a.cfg.FailsafeOut != nil {
		prog.Failsafes.Out = *a.cfg.FailsafeOut
	}
	d.Problems = append(d.Problems, m.Problems...)
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(m.Problems) == 0 || a.lastPolicy == nil {
		a.lastPolicy = &prog
	}
	a.policyProblems = m.Problems
	a.policyRemote = len(a.lastPolicy.Sets) > 0 || len(a.lastPolicy.NamedPorts) > 0 || len(m.Problems) > 0
	d.Policy = a.lastPolicy
}

// failsafeEnv reads FELIX_FAILSAFEINBOUNDHOSTPORTS and
// FELIX_FAILSAFEOUTBOUNDHOSTPORTS ("none", or [protocol:][net:]port, ...).
func (c *Config) failsafeEnv(getenv func(string) string) error {
	for _, f := range []struct {
		key string
		to  **[]policy.ProtoPort
	}{{"FELIX_FAILSAFEINBOUNDHOSTPORTS", &c.FailsafeIn}, {"FELIX_FAILSAFEOUTBOUNDHOSTPORTS", &c.FailsafeOut}} {
		v := getenv(f.key)
		if strings.TrimSpace(v) == "" {
			continue
		}
		ps, err := policy.ParseFailsafes(v)
		if err != nil {
			return fmt.Errorf("%s = %q: %w", f.key, v, err)
		}
		*f.to = &ps
	}
	return nil
}
