package node

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
)

func TestDebugAddr(t *testing.T) {
	for _, c := range []struct {
		port, host, want, err string
	}{
		{"", "", "", ""},
		{"0", "", "", ""},
		{"6060", "", "127.0.0.1:6060", ""},
		{"6060", "localhost", "127.0.0.1:6060", ""},
		{"6060", "::1", "[::1]:6060", ""},
		{"6060", "0.0.0.0", "", "FELIX_DEBUGHOST"},
		{"6060", "10.0.0.1", "", "FELIX_DEBUGHOST"},
		{"http", "", "", "FELIX_DEBUGPORT"},
		{"70000", "", "", "FELIX_DEBUGPORT"},
	} {
		env := map[string]string{"FELIX_DEBUGPORT": c.port, "FELIX_DEBUGHOST": c.host}
		got, err := debugAddr(func(k string) string { return env[k] })
		if got != c.want || (err == nil) != (c.err == "") || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("port %q host %q: got %q, %v; want %q and an error naming %q", c.port, c.host, got, err, c.want, c.err)
		}
	}
}

func freeLoopback(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestObservabilityEndpoints: /metrics carries the Go runtime's, the
// process's and the calculation's metrics; pprof is served only when
// FELIX_DEBUGPORT is set, on its own loopback port, never on the health
// or metrics ports.
func TestObservabilityEndpoints(t *testing.T) {
	for _, debug := range []bool{false, true} {
		env := map[string]string{"NODENAME": "n", "FELIX_HEALTHPORT": "0", "FELIX_PROMETHEUSMETRICSPORT": "0"}
		cfg, err := ConfigFromEnv(func(k string) string { return env[k] })
		if err != nil {
			t.Fatal(err)
		}
		cfg.HealthAddr, cfg.MetricsAddr = freeLoopback(t), freeLoopback(t)
		if debug {
			cfg.DebugAddr = freeLoopback(t)
		}
		a := New(cfg, Kernel{}, slog.New(slog.DiscardHandler))
		stop, err := a.serveHTTP(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		code, body := httpGet(t, "http://"+cfg.MetricsAddr+"/metrics")
		for _, m := range []string{"go_gc_duration_seconds", "go_sched_goroutines_goroutines", "go_memory_classes_heap_objects_bytes",
			"process_resident_memory_bytes", "tortie_calc_seconds_bucket"} {
			if code != http.StatusOK || !strings.Contains(body, m) {
				t.Errorf("/metrics (status %d) does not carry %s", code, m)
			}
		}
		for _, addr := range []string{cfg.HealthAddr, cfg.MetricsAddr} {
			// (the metrics port answers every path with the metrics)
			if _, body := httpGet(t, "http://"+addr+"/debug/pprof/"); strings.Contains(body, "profiles") {
				t.Errorf("pprof served on %s, which is not the debug port", addr)
			}
		}
		if debug {
			if code, body := httpGet(t, "http://"+cfg.DebugAddr+"/debug/pprof/"); code != http.StatusOK || !strings.Contains(body, "profiles") {
				t.Errorf("pprof index on %s: status %d, body %.200q", cfg.DebugAddr, code, body)
			}
			if code, _ := httpGet(t, "http://"+cfg.DebugAddr+"/debug/pprof/heap"); code != http.StatusOK {
				t.Errorf("heap profile on %s: status %d", cfg.DebugAddr, code)
			}
		}
		stop()
	}
}
