package kdd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/tortienet/tortie/internal/datastore"
)

var leases = resource{group: "coordination.k8s.io", version: "v1", plural: "leases", kind: "Lease", namespaced: true}

// Lease is leader election through a coordination.k8s.io/v1 Lease, as
// Kubernetes' own controllers do it: the holder renews the lease; another
// candidate takes it over only once it has not been renewed for its
// duration. Every write is compare-and-swap on the resourceVersion, so two
// candidates never both win.
type Lease struct {
	s               *Store
	namespace, name string
	identity        string
	duration        time.Duration
}

// Lease returns the lease namespace/name for the candidate identity.
func (s *Store) Lease(namespace, name, identity string, duration time.Duration) *Lease {
	return &Lease{s: s, namespace: namespace, name: name, identity: identity, duration: duration}
}

type leaseSpec struct {
	HolderIdentity       string `json:"holderIdentity,omitempty"`
	LeaseDurationSeconds int    `json:"leaseDurationSeconds,omitempty"`
	AcquireTime          string `json:"acquireTime,omitempty"`
	RenewTime            string `json:"renewTime,omitempty"`
	LeaseTransitions     int    `json:"leaseTransitions,omitempty"`
}

// microTime is Kubernetes' MicroTime format.
const microTime = "2006-01-02T15:04:05.000000Z07:00"

// TryAcquire acquires or renews the lease at now and reports whether the
// candidate holds it.
func (l *Lease) TryAcquire(ctx context.Context, now time.Time) (bool, error) {
	var cur struct {
		Metadata meta      `json:"metadata"`
		Spec     leaseSpec `json:"spec"`
	}
	err := l.s.c.call(ctx, http.MethodGet, leases.path(l.namespace, l.name), nil, nil, &cur)
	stamp := now.UTC().Format(microTime)
	spec := leaseSpec{HolderIdentity: l.identity, LeaseDurationSeconds: int(l.duration / time.Second),
		AcquireTime: stamp, RenewTime: stamp}
	obj := map[string]any{"apiVersion": "coordination.k8s.io/v1", "kind": "Lease"}
	switch {
	case errors.Is(err, datastore.ErrNotFound):
		obj["metadata"] = meta{Name: l.name, Namespace: l.namespace}
		obj["spec"] = spec
		err = l.s.c.call(ctx, http.MethodPost, leases.path(l.namespace, ""), nil, obj, nil)
		return l.won(err)
	case err != nil:
		return false, fmt.Errorf("lease %s/%s: %w", l.namespace, l.name, err)
	}
	renewed, _ := time.Parse(microTime, cur.Spec.RenewTime)
	switch {
	case cur.Spec.HolderIdentity == l.identity:
		spec.AcquireTime, spec.LeaseTransitions = cur.Spec.AcquireTime, cur.Spec.LeaseTransitions
	case cur.Spec.HolderIdentity == "" || now.After(renewed.Add(time.Duration(cur.Spec.LeaseDurationSeconds)*time.Second)):
		spec.LeaseTransitions = cur.Spec.LeaseTransitions + 1
	default:
		return false, nil // held by another, and renewed in time
	}
	obj["metadata"] = cur.Metadata
	obj["spec"] = spec
	err = l.s.c.call(ctx, http.MethodPut, leases.path(l.namespace, l.name), nil, obj, nil)
	return l.won(err)
}

// won turns the write's outcome into "holds the lease": losing a race is
// not an error.
func (l *Lease) won(err error) (bool, error) {
	if errors.Is(err, datastore.ErrConflict) || errors.Is(err, datastore.ErrAlreadyExists) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("lease %s/%s: %w", l.namespace, l.name, err)
	}
	return true, nil
}

// Holder returns the lease's current holder ("" when there is none).
func (l *Lease) Holder(ctx context.Context) (string, error) {
	var cur struct {
		Spec leaseSpec `json:"spec"`
	}
	err := l.s.c.call(ctx, http.MethodGet, leases.path(l.namespace, l.name), nil, nil, &cur)
	if errors.Is(err, datastore.ErrNotFound) {
		return "", nil
	}
	return cur.Spec.HolderIdentity, err
}

// Pods returns the namespace/name of every Pod in the cluster (the IPAM
// garbage collector's notion of which pods exist).
func (s *Store) Pods(ctx context.Context) (map[string]bool, error) {
	items, _, err := s.c.list(ctx, pods, "", listOpts{})
	if err != nil {
		return nil, fmt.Errorf("list pods: %w", err)
	}
	out := make(map[string]bool, len(items))
	for _, raw := range items {
		var o struct {
			Metadata meta `json:"metadata"`
		}
		if err := json.Unmarshal(raw, &o); err != nil {
			return nil, err
		}
		out[o.Metadata.Namespace+"/"+o.Metadata.Name] = true
	}
	return out, nil
}
