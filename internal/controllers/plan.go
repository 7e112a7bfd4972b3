// Package controllers does what Calico's kube-controllers does for IPAM
// (calico-reference.md §1.5, §4.6): it releases the addresses of pods that
// no longer exist and the block affinities of nodes that are gone, each
// only after it has been seen gone for a grace period (an allocation is
// made before its pod's annotation is written; a node may come back). One
// replica acts at a time, elected through a Kubernetes Lease.
//
// Plan is the pure core: the cluster's state and the suspects seen so far
// in, what to release and the new suspects out.
package controllers

import (
	"sort"
	"strings"
	"time"

	"github.com/tortienet/tortie/internal/ipam"
)

// State is what one pass reads.
type State struct {
	Blocks     []*ipam.Block
	Affinities []ipam.AffinityRecord
	// Pods and Nodes that exist: "namespace/name" and node names.
	Pods, Nodes map[string]bool
}

// Actions is what one pass decides.
type Actions struct {
	// Handles whose addresses belong to pods (or nodes) that are gone.
	Handles []string
	// Hosts whose block affinities belong to nodes that are gone.
	Hosts []string
	// Suspects maps what was seen gone ("handle:<id>", "host:<name>") to
	// when it was first seen so; the next pass gets it back.
	Suspects map[string]time.Time
}

// Plan decides a pass at now: what is gone now and was already gone at
// least grace ago is released; what is gone now is (still) suspected;
// what is back is forgotten.
func Plan(s State, suspects map[string]time.Time, now time.Time, grace time.Duration) Actions {
	a := Actions{Suspects: map[string]time.Time{}}
	gone := map[string]bool{}
	for _, h := range leakedHandles(s) {
		gone["handle:"+h] = true
	}
	for _, af := range s.Affinities {
		if !s.Nodes[af.Host] {
			gone["host:"+af.Host] = true
		}
	}
	keys := make([]string, 0, len(gone))
	for k := range gone {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		first, ok := suspects[k]
		if !ok {
			first = now
		}
		if now.Sub(first) < grace {
			a.Suspects[k] = first
			continue
		}
		if h, ok := strings.CutPrefix(k, "handle:"); ok {
			a.Handles = append(a.Handles, h)
		} else if host, ok := strings.CutPrefix(k, "host:"); ok {
			a.Hosts = append(a.Hosts, host)
		}
	}
	return a
}

// leakedHandles are the handles of allocations whose pod is gone (the
// allocation names its namespace and pod) or, for allocations that name
// only a node (tunnel addresses), whose node is gone. Allocations that
// name neither are left alone: tortie cannot tell whose they are.
func leakedHandles(s State) []string {
	seen := map[string]bool{}
	var out []string
	for _, b := range s.Blocks {
		for ord := range b.Allocations {
			owner, ok := b.Owner(ord)
			if !ok || owner.HandleID == "" || seen[owner.HandleID] {
				continue
			}
			attrs := owner.ActiveOwnerAttrs
			ns, pod, node := attrs[ipam.AttrNamespace], attrs[ipam.AttrPod], attrs[ipam.AttrNode]
			leaked := false
			switch {
			case ns != "" && pod != "":
				leaked = !s.Pods[ns+"/"+pod]
			case node != "":
				leaked = !s.Nodes[node]
			}
			if leaked {
				seen[owner.HandleID] = true
				out = append(out, owner.HandleID)
			}
		}
	}
	return out
}
