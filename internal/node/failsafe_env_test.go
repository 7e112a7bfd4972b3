package node

import (
	"fmt"
	"strings"
	"testing"
)

// FELIX_FAILSAFE*HOSTPORTS override FelixConfiguration's failsafe ports:
// unset keeps the resource's (nil), "none" is no port, a bad entry is
// refused with the variable and value named.
func TestFailsafeEnv(t *testing.T) {
	env := map[string]string{"NODENAME": "n", "FELIX_FAILSAFEINBOUNDHOSTPORTS": "none"}
	cfg, err := ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil || cfg.FailsafeIn == nil || len(*cfg.FailsafeIn) != 0 || cfg.FailsafeOut != nil {
		t.Fatalf("none: %v, in %v, out %v", err, cfg.FailsafeIn, cfg.FailsafeOut)
	}
	env["FELIX_FAILSAFEOUTBOUNDHOSTPORTS"] = "udp:53, tcp:10.0.0.0/8:2379"
	if cfg, err = ConfigFromEnv(func(k string) string { return env[k] }); err != nil || fmt.Sprint(*cfg.FailsafeOut) != "[{udp 53 invalid Prefix} {tcp 2379 10.0.0.0/8}]" {
		t.Errorf("out: %v, %v", err, cfg.FailsafeOut)
	}
	env["FELIX_FAILSAFEINBOUNDHOSTPORTS"] = "tcp:ssh"
	if _, err := ConfigFromEnv(func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), `FELIX_FAILSAFEINBOUNDHOSTPORTS = "tcp:ssh"`) {
		t.Errorf("a bad entry: err = %v", err)
	}
}
