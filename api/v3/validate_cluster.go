package v3

func validateKubeControllers(e *errs, s *KubeControllersConfigurationSpec) {
	e.oneOf("spec.logSeverityScreen", s.LogSeverityScreen, bgpLogLevels...)
	e.oneOf("spec.healthChecks", s.HealthChecks, "Enabled", "Disabled")
	e.duration("spec.etcdV3CompactionPeriod", s.EtcdV3CompactionPeriod)
	e.intRange("spec.prometheusMetricsPort", s.PrometheusMetricsPort, 0, 65535)
	if p := s.DebugProfilePort; p != nil && (*p < 0 || *p > 65535) {
		e.add("spec.debugProfilePort", *p, "must be between 0 and 65535")
	}
	c := &s.Controllers
	if n := c.Node; n != nil {
		e.duration("spec.controllers.node.reconcilerPeriod", n.ReconcilerPeriod)
		e.duration("spec.controllers.node.leakGracePeriod", n.LeakGracePeriod)
		e.oneOf("spec.controllers.node.syncLabels", n.SyncLabels, "Enabled", "Disabled")
		if h := n.HostEndpoint; h != nil {
			e.oneOf("spec.controllers.node.hostEndpoint.autoCreate", h.AutoCreate, "Enabled", "Disabled")
			e.oneOf("spec.controllers.node.hostEndpoint.createDefaultHostEndpoint", h.CreateDefaultHostEndpoint, "Enabled", "Disabled")
		}
	}
	if p := c.Policy; p != nil {
		e.duration("spec.controllers.policy.reconcilerPeriod", p.ReconcilerPeriod)
	}
	if w := c.WorkloadEndpoint; w != nil {
		e.duration("spec.controllers.workloadEndpoint.reconcilerPeriod", w.ReconcilerPeriod)
	}
	if sa := c.ServiceAccount; sa != nil {
		e.duration("spec.controllers.serviceAccount.reconcilerPeriod", sa.ReconcilerPeriod)
	}
	if ns := c.Namespace; ns != nil {
		e.duration("spec.controllers.namespace.reconcilerPeriod", ns.ReconcilerPeriod)
	}
	if lb := c.LoadBalancer; lb != nil {
		e.oneOf("spec.controllers.loadBalancer.assignIPs", lb.AssignIPs, "AllServices", "RequestedServicesOnly")
	}
}

// validateNetworkSetLabels rejects the namespace label Calico reserves for
// its own use on network sets.
func validateNetworkSetLabels(e *errs, labels map[string]string) {
	if _, ok := labels["projectcalico.org/namespace"]; ok {
		e.add("metadata.labels", "projectcalico.org/namespace", "is reserved and cannot be set on a network set")
	}
}
