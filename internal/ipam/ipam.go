// Package ipam is Calico's block-affinity IP address management on the
// datastore: pools are cut into blocks (/26 by default), each block has at
// most one affine host, and a host allocates from its own blocks first,
// claims new ones when they are full and borrows from other hosts' blocks
// only when strict affinity is off. It stores blocks, affinities, handles
// and the IPAM configuration in Calico's keys and JSON, so Calico's tools
// read tortie's allocations.
//
// Every write is compare-and-swap on the datastore revision. Where Calico
// writes a block, then a handle, in two steps, tortie writes them in one
// transaction: an allocation is either fully recorded or not at all, and it
// costs one round trip to etcd.
//
// txnOrder: the Kubernetes datastore has no multi-object transaction; its
// Txn checks every condition, applies the ops one by one in the order
// given and undoes them if one fails (see package kdd). So the ops of
// every transaction here are ordered so that each prefix of them is safe
// to be seen, or left behind by a crash: an allocation writes the handle
// before the block that references it (a handle that counts an address
// its block does not hold is harmless and corrected on release; the
// reverse would be an address no release finds), and a release writes the
// block before the handle. No address is ever given twice either way: the
// block alone says which addresses are taken, and it is written by
// compare-and-swap on its revision.
package ipam

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/datastore"
)

// maxRetries bounds every compare-and-swap loop (Calico's datastoreRetries).
const maxRetries = 100

// DefaultReclaimAge is how long an empty block must have been claimed by
// another host before it may be taken over (Calico's EmptyBlockMinReclaimAge).
const DefaultReclaimAge = time.Minute

// Resources is the typed access to v3 resources that IPAM reads (pools,
// reservations, nodes, endpoints) on top of the Store it writes blocks,
// affinities and handles to. internal/client's *Client is one; IPAM names
// only what it calls, so the allocator does not depend on the client.
type Resources interface {
	Get(ctx context.Context, kind v3.KindInfo, namespace, name string) (v3.Resource, error)
	List(ctx context.Context, kind v3.KindInfo, namespace string) ([]v3.Resource, int64, error)
	Store() datastore.Store
}

// IPAM allocates addresses. It is safe for concurrent use, from one or
// many processes.
type IPAM struct {
	c          Resources
	s          datastore.Store
	now        func() time.Time
	log        *slog.Logger
	reclaimAge time.Duration
	cache      *cache // nil: read everything fresh
}

// Option configures an IPAM.
type Option func(*IPAM)

// WithClock replaces the clock (tests).
func WithClock(now func() time.Time) Option { return func(m *IPAM) { m.now = now } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(m *IPAM) { m.log = l } }

// WithReclaimAge sets the minimum age of another host's empty block before
// it may be reclaimed.
func WithReclaimAge(d time.Duration) Option { return func(m *IPAM) { m.reclaimAge = d } }

// New returns an IPAM on the resources' datastore.
func New(c Resources, opts ...Option) *IPAM {
	m := &IPAM{c: c, s: c.Store(), now: time.Now, log: slog.New(slog.DiscardHandler), reclaimAge: DefaultReclaimAge}
	for _, o := range opts {
		o(m)
	}
	return m
}

// GetConfig reads the IPAM configuration, writing Calico's default when
// there is none (as Calico's first IPAM read does).
func (m *IPAM) GetConfig(ctx context.Context) (Config, error) {
	cfg, _, err := m.getConfig(ctx)
	return cfg, err
}

func (m *IPAM) getConfig(ctx context.Context) (Config, int64, error) {
	for attempt := 0; attempt < maxRetries; attempt++ {
		kv, err := m.s.Get(ctx, ConfigKey)
		if errors.Is(err, datastore.ErrNotFound) {
			cfg := DefaultConfig()
			rev, err := m.s.Create(ctx, ConfigKey, mustJSON(cfg))
			if errors.Is(err, datastore.ErrAlreadyExists) {
				continue
			}
			return cfg, rev, err
		}
		if err != nil {
			return Config{}, 0, fmt.Errorf("read IPAM configuration: %w", err)
		}
		var cfg Config
		if err := json.Unmarshal(kv.Value, &cfg); err != nil {
			return Config{}, 0, fmt.Errorf("decode IPAM configuration %s: %w", kv.Value, err)
		}
		return cfg, kv.Revision, nil
	}
	return Config{}, 0, fmt.Errorf("read IPAM configuration: %w", datastore.ErrConflict)
}

// SetConfig changes the IPAM configuration with a compare-and-swap
// read-modify-write, validating the result.
func (m *IPAM) SetConfig(ctx context.Context, change func(*Config)) (Config, error) {
	for attempt := 0; attempt < maxRetries; attempt++ {
		cfg, rev, err := m.getConfig(ctx)
		if err != nil {
			return Config{}, err
		}
		change(&cfg)
		if err := cfg.Validate(); err != nil {
			return Config{}, err
		}
		_, err = m.s.Update(ctx, ConfigKey, mustJSON(cfg), rev)
		if errors.Is(err, datastore.ErrConflict) {
			continue
		}
		return cfg, err
	}
	return Config{}, fmt.Errorf("update IPAM configuration: %w", datastore.ErrConflict)
}

// Validate applies Calico's IPAMConfiguration rules.
func (c Config) Validate() error {
	switch {
	case c.MaxBlocksPerHost < 0 || c.MaxBlocksPerHost > 1_000_000:
		return fmt.Errorf("IPAM configuration: maxBlocksPerHost = %d: must be between 0 and 1000000", c.MaxBlocksPerHost)
	case !c.AutoAllocateBlocks && !c.StrictAffinity:
		return errors.New("IPAM configuration: autoAllocateBlocks = false needs strictAffinity = true")
	}
	return nil
}

// snapshot is what an assignment reads before it touches blocks.
type snapshot struct {
	cfg        Config
	pools      []*v3.IPPool
	reserved   func(netip.Addr) bool
	nodeLabels map[string]string
}

// readSnapshot reads the configuration, pools, reservations and the node's
// labels concurrently: one round trip of latency instead of four.
func (m *IPAM) readSnapshot(ctx context.Context, host string) (*snapshot, error) {
	if s := m.cache.snapshot(host, m.now()); s != nil {
		return s, nil
	}
	var (
		wg                      sync.WaitGroup
		snap                    snapshot
		cfgErr, poolErr, resErr error
		nodeErr                 error
		resv                    []*v3.IPReservation
	)
	wg.Add(4)
	go func() { defer wg.Done(); snap.cfg, cfgErr = m.GetConfig(ctx) }()
	go func() { defer wg.Done(); snap.pools, poolErr = listAs[*v3.IPPool](ctx, m.c, "IPPool") }()
	go func() { defer wg.Done(); resv, resErr = listAs[*v3.IPReservation](ctx, m.c, "IPReservation") }()
	go func() {
		defer wg.Done()
		ki, _ := v3.LookupKind("Node")
		r, err := m.c.Get(ctx, ki, "", host)
		switch {
		case errors.Is(err, datastore.ErrNotFound):
		case err != nil:
			nodeErr = err
		default:
			snap.nodeLabels = r.GetObjectMeta().Labels
		}
	}()
	wg.Wait()
	if err := errors.Join(cfgErr, poolErr, resErr, nodeErr); err != nil {
		return nil, err
	}
	snap.reserved = parseReservations(resv).reservedFunc()
	m.cache.putSnapshot(host, &snap, m.now())
	return &snap, nil
}

// listAs lists a kind and converts the items to their concrete type.
func listAs[T v3.Resource](ctx context.Context, c Resources, kind string) ([]T, error) {
	ki, _ := v3.LookupKind(kind)
	rs, _, err := c.List(ctx, ki, "")
	if err != nil {
		return nil, err
	}
	out := make([]T, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.(T))
	}
	return out, nil
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("marshal %T: %v", v, err))
	}
	return b
}
