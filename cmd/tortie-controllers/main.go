// Command tortie-controllers is tortie's kube-controllers: it releases
// the IPAM allocations of pods that no longer exist and the block
// affinities of deleted nodes, one replica at a time (a Lease). It uses
// the Kubernetes datastore: KUBECONFIG, or the pod's service account.
//
// LEAK_GRACE_PERIOD (default 15m) is how long a pod or node must have been
// seen gone before its addresses or affinities are released;
// RECONCILER_PERIOD (default 1m) the time between passes.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/tortienet/tortie/internal/buildinfo"
	"github.com/tortienet/tortie/internal/controllers"
	"github.com/tortienet/tortie/internal/datastore/kdd"
)

func main() {
	if len(os.Args) > 1 && (os.Args[1] == "version" || os.Args[1] == "--version") {
		fmt.Println(buildinfo.Version)
		return
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(log); err != nil {
		log.Error("tortie-controllers stopped", "error", err)
		os.Exit(1)
	}
}

func run(log *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	store, err := kdd.Open(kdd.Config{Kubeconfig: os.Getenv("KUBECONFIG")})
	if err != nil {
		return err
	}
	defer store.Close()
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := store.Check(cctx); err != nil {
		return err
	}
	id := os.Getenv("POD_NAME")
	if id == "" {
		id, _ = os.Hostname()
	}
	cfg := controllers.Config{Identity: id, LeaseNamespace: os.Getenv("POD_NAMESPACE")}
	for _, e := range []struct {
		name string
		to   *time.Duration
	}{{"LEAK_GRACE_PERIOD", &cfg.Grace}, {"RECONCILER_PERIOD", &cfg.Interval}} {
		if v := os.Getenv(e.name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return fmt.Errorf("%s=%q: want a positive duration such as 5m", e.name, v)
			}
			*e.to = d
		}
	}
	c, err := controllers.New(cfg, store, log)
	if err != nil {
		return err
	}
	return c.Run(ctx)
}
