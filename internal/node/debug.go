package node

import (
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"strconv"
	"strings"
)

// observability reads the metrics and profiling settings.
func (c *Config) observability(getenv func(string) string) error {
	var err error
	if c.GoMetrics, err = envBool(getenv, "FELIX_PROMETHEUSGOMETRICSENABLED", true); err != nil {
		return err
	}
	if c.ProcessMetrics, err = envBool(getenv, "FELIX_PROMETHEUSPROCESSMETRICSENABLED", true); err != nil {
		return err
	}
	c.DebugAddr, err = debugAddr(getenv)
	return err
}

// debugAddr is where pprof listens: FELIX_DEBUGPORT (Felix's setting;
// unset or 0: off) on FELIX_DEBUGHOST, which tortie accepts only as a
// loopback address (default localhost, 127.0.0.1): profiles expose the
// process's memory and the server has no authentication.
func debugAddr(getenv func(string) string) (string, error) {
	p := strings.TrimSpace(getenv("FELIX_DEBUGPORT"))
	if p == "" || p == "0" {
		return "", nil
	}
	port, err := strconv.ParseUint(p, 10, 16)
	if err != nil {
		return "", fmt.Errorf("FELIX_DEBUGPORT = %q: must be a port number (1-65535), or 0 for off", p)
	}
	host := strings.TrimSpace(getenv("FELIX_DEBUGHOST"))
	switch host {
	case "", "localhost":
		host = "127.0.0.1"
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return "", fmt.Errorf("FELIX_DEBUGHOST = %q: the profiling server listens on loopback only (localhost, 127.0.0.1 or ::1)", host)
	}
	return net.JoinHostPort(host, strconv.Itoa(int(port))), nil
}

// debugHandler serves net/http/pprof's pages under /debug/pprof/ on a
// mux of its own (http.DefaultServeMux is never served).
func debugHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
