package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tortienet/tortie/internal/dataplane"
)

// health is what /liveness and /readiness report.
type health struct {
	mu       sync.Mutex
	live     bool
	beatAt   time.Time
	ready    bool
	problems []string
	err      error
}

func newHealth() *health { return &health{} }

func (h *health) setLive(v bool) {
	h.mu.Lock()
	h.live, h.beatAt = v, time.Now()
	h.mu.Unlock()
}

func (h *health) beat() {
	h.mu.Lock()
	h.beatAt = time.Now()
	h.mu.Unlock()
}

func (h *health) setReady(ok bool, problems []string, err error) {
	h.mu.Lock()
	h.ready, h.problems, h.err = ok, problems, err
	h.mu.Unlock()
}

// report is the JSON body of both endpoints.
type report struct {
	Live     bool     `json:"live"`
	Ready    bool     `json:"ready"`
	Problems []string `json:"problems,omitempty"`
	Error    string   `json:"error,omitempty"`
}

func (h *health) report() report {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := report{Live: h.live, Ready: h.ready, Problems: h.problems}
	if h.err != nil {
		r.Error = h.err.Error()
	}
	return r
}

func (h *health) handler(which func(report) bool) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		r := h.report()
		w.Header().Set("Content-Type", "application/json")
		if !which(r) {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		json.NewEncoder(w).Encode(r)
	}
}

// metrics are the agent's Prometheus metrics.
type metrics struct {
	reg          *prometheus.Registry
	inSync       prometheus.Gauge
	routes       prometheus.Gauge
	applySeconds prometheus.Histogram
	errors       *prometheus.CounterVec
	devices      prometheus.Gauge
	changes      prometheus.Counter
	calcSeconds  prometheus.Histogram
}

// observeCalc records the time one calculation of the desired state took
// (per event, or per burst of coalesced events).
func (m *metrics) observeCalc(d time.Duration) { m.calcSeconds.Observe(d.Seconds()) }

// record publishes one dataplane application's figures.
func (m *metrics) record(s dataplane.Stats) {
	m.routes.Set(float64(s.Routes))
	m.devices.Set(float64(s.Devices))
	m.changes.Add(float64(s.Changes))
}

// newMetrics makes the agent's metrics; goRuntime and process add the Go
// runtime's (memory, GC, scheduler, from runtime/metrics) and the
// process's (CPU, RSS, file descriptors) collectors.
func newMetrics(goRuntime, process bool) *metrics {
	m := &metrics{
		reg:    prometheus.NewRegistry(),
		inSync: prometheus.NewGauge(prometheus.GaugeOpts{Name: "tortie_dataplane_in_sync", Help: "1 once the dataplane matches the datastore."}),
		routes: prometheus.NewGauge(prometheus.GaugeOpts{Name: "tortie_dataplane_routes", Help: "Routes the node wants programmed."}),
		applySeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "tortie_dataplane_apply_seconds",
			Help: "Time to compute and apply the desired state.", Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}),
		errors:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tortie_errors_total", Help: "Errors by subsystem."}, []string{"subsystem"}),
		devices: prometheus.NewGauge(prometheus.GaugeOpts{Name: "tortie_dataplane_devices", Help: "Tunnel devices programmed."}),
		changes: prometheus.NewCounter(prometheus.CounterOpts{Name: "tortie_dataplane_changes_total", Help: "Kernel writes made by the reconcilers."}),
		calcSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "tortie_calc_seconds",
			Help: "Time to calculate the desired state after a change.", Buckets: prometheus.ExponentialBuckets(0.00001, 2, 20)}),
	}
	m.reg.MustRegister(m.inSync, m.routes, m.applySeconds, m.errors, m.devices, m.changes, m.calcSeconds)
	if goRuntime {
		m.reg.MustRegister(collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(
			collectors.MetricsGC, collectors.MetricsMemory, collectors.MetricsScheduler)))
	}
	if process {
		m.reg.MustRegister(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	return m
}

// serveHTTP starts the health and metrics servers; the returned func stops them.
func (a *Agent) serveHTTP(ctx context.Context) (func(), error) {
	var servers []*http.Server
	start := func(addr string, h http.Handler) error {
		if addr == "" {
			return nil
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("listen on %s: %w", addr, err)
		}
		s := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
		servers = append(servers, s)
		go func() {
			if err := s.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				a.log.Error("http server", "address", addr, "error", err)
			}
		}()
		return nil
	}
	hm := http.NewServeMux()
	hm.Handle("/liveness", a.health.handler(func(r report) bool { return r.Live }))
	hm.Handle("/readiness", a.health.handler(func(r report) bool { return r.Ready }))
	stop := func() {
		for _, s := range servers {
			s.Close()
		}
	}
	if err := start(a.cfg.HealthAddr, hm); err != nil {
		return stop, err
	}
	if err := start(a.cfg.MetricsAddr, promhttp.HandlerFor(a.m.reg, promhttp.HandlerOpts{})); err != nil {
		stop()
		return stop, err
	}
	if err := start(a.cfg.DebugAddr, debugHandler()); err != nil {
		stop()
		return stop, err
	}
	return stop, nil
}
