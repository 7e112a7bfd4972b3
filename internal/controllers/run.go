package controllers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/tortienet/tortie/internal/client"
	"github.com/tortienet/tortie/internal/datastore"
	"github.com/tortienet/tortie/internal/datastore/kdd"
	"github.com/tortienet/tortie/internal/ipam"
)

// Config configures the controllers. Zero fields take the defaults.
type Config struct {
	// Interval is the time between passes (1m).
	Interval time.Duration
	// Grace is how long a pod or node must have been seen gone before its
	// addresses or affinities are released (15m: Calico's leak grace period).
	Grace time.Duration
	// Identity names this replica in the Lease (required).
	Identity string
	// LeaseNamespace/LeaseName/LeaseDuration: the Lease the replicas
	// compete for (kube-system/tortie-controllers, 30s).
	LeaseNamespace, LeaseName string
	LeaseDuration             time.Duration
}

func (c *Config) defaults() {
	if c.Interval <= 0 {
		c.Interval = time.Minute
	}
	if c.Grace <= 0 {
		c.Grace = 15 * time.Minute
	}
	if c.LeaseNamespace == "" {
		c.LeaseNamespace = "kube-system"
	}
	if c.LeaseName == "" {
		c.LeaseName = "tortie-controllers"
	}
	if c.LeaseDuration <= 0 {
		c.LeaseDuration = 30 * time.Second
	}
}

// Controller runs the passes on the Kubernetes datastore.
type Controller struct {
	cfg      Config
	store    *kdd.Store
	ipam     *ipam.IPAM
	lease    *kdd.Lease
	log      *slog.Logger
	suspects map[string]time.Time
}

// New returns a controller on store.
func New(cfg Config, store *kdd.Store, log *slog.Logger) (*Controller, error) {
	cfg.defaults()
	if cfg.Identity == "" {
		return nil, errors.New("controllers: Identity is required (the pod or host name)")
	}
	return &Controller{
		cfg: cfg, store: store, ipam: ipam.New(client.New(store)), log: log,
		lease:    store.Lease(cfg.LeaseNamespace, cfg.LeaseName, cfg.Identity, cfg.LeaseDuration),
		suspects: map[string]time.Time{},
	}, nil
}

// Run holds or waits for the lease and, while it holds it, runs a pass
// every Interval, until ctx ends. A failed pass is logged and retried at
// the next tick.
func (c *Controller) Run(ctx context.Context) error {
	renew := time.NewTicker(c.cfg.LeaseDuration / 3)
	defer renew.Stop()
	var lastPass time.Time
	for {
		leader, err := c.lease.TryAcquire(ctx, time.Now())
		switch {
		case err != nil:
			c.log.Warn("lease", "error", err)
		case !leader:
			c.suspects = map[string]time.Time{} // another replica decides now
		case time.Since(lastPass) >= c.cfg.Interval:
			lastPass = time.Now()
			if _, err := c.Pass(ctx, lastPass); err != nil {
				c.log.Warn("pass failed", "error", err)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-renew.C:
		}
	}
}

// Pass reads the cluster, plans at now and releases what the plan says.
func (c *Controller) Pass(ctx context.Context, now time.Time) (Actions, error) {
	st, err := c.read(ctx)
	if err != nil {
		return Actions{}, err
	}
	a := Plan(st, c.suspects, now, c.cfg.Grace)
	var errs []error
	for _, h := range a.Handles {
		addrs, err := c.ipam.ReleaseByHandle(ctx, h)
		if err != nil {
			errs = append(errs, fmt.Errorf("release handle %s: %w", h, err))
			continue
		}
		c.log.Info("released the addresses of a pod that is gone", "handle", h, "addrs", addrs)
	}
	for _, host := range a.Hosts {
		if err := c.ipam.ReleaseHostAffinities(ctx, host); err != nil {
			errs = append(errs, fmt.Errorf("release affinities of %s: %w", host, err))
			continue
		}
		c.log.Info("released the block affinities of a node that is gone", "node", host)
	}
	c.suspects = a.Suspects
	return a, errors.Join(errs...)
}

func (c *Controller) read(ctx context.Context) (State, error) {
	var st State
	var err error
	if st.Blocks, err = c.ipam.ListBlocks(ctx); err != nil {
		return st, err
	}
	if st.Affinities, err = c.ipam.ListAffinities(ctx); err != nil {
		return st, err
	}
	if st.Pods, err = c.store.Pods(ctx); err != nil {
		return st, err
	}
	pfx := datastore.ResourceListPrefix("nodes", "")
	nodes, _, err := c.store.ListKeys(ctx, pfx)
	if err != nil {
		return st, err
	}
	st.Nodes = map[string]bool{}
	for _, kv := range nodes {
		st.Nodes[strings.TrimPrefix(kv.Key, pfx)] = true
	}
	return st, nil
}
