package client

import (
	"context"
	"errors"
	"strings"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/datastore"
)

// The tiers Calico creates on the first write, with their fixed orders.
var defaultTiers = []struct {
	name   string
	order  float64
	action string
}{
	{"default", 1_000_000, "Deny"},
	{"kube-admin", 1_000, "Pass"},
	{"kube-baseline", 10_000_000, "Pass"},
}

// DefaultAllowProfile is the profile Calico synthesises (it has no key in etcd).
const DefaultAllowProfile = "projectcalico-default-allow"

// Init does now what the first write does (see ensureInitialized), for a
// caller with time to spare before it writes (the CNI plugin, while it
// sets up the interfaces).
func (c *Client) Init(ctx context.Context) error { return c.ensureInitialized(ctx) }

// ensureInitialized creates, once per process and only if missing, the
// objects Calico's first write creates: the default tiers and
// ClusterInformation "default" with a random clusterGUID and
// datastoreReady true. ClusterInformation is written last, so its presence
// means the rest was made: in the common case (an initialised cluster) this
// costs one read. When it is missing, each object is created, an existing
// one left as it is.
func (c *Client) ensureInitialized(ctx context.Context) error {
	c.initMu.Lock()
	defer c.initMu.Unlock()
	if c.inited {
		return nil
	}
	ready := true
	ci := &v3.ClusterInformation{ObjectMeta: v3.ObjectMeta{Name: "default"}}
	switch _, err := c.store.Get(ctx, Key(ci)); {
	case err == nil:
		c.inited = true
		return nil
	case !errors.Is(err, datastore.ErrNotFound):
		return err
	}
	ci.Spec.ClusterGUID = strings.ReplaceAll(c.newUID(), "-", "")
	ci.Spec.DatastoreReady = &ready
	var objs []v3.Resource
	for _, t := range defaultTiers {
		order := t.order
		tier := &v3.Tier{ObjectMeta: v3.ObjectMeta{Name: t.name}}
		tier.Spec.Order = &order
		action := v3.Action(t.action)
		tier.Spec.DefaultAction = &action
		objs = append(objs, tier)
	}
	for _, r := range append(objs, ci) {
		v3.Default(r)
		if _, err := c.create(ctx, r); err != nil && !errors.Is(err, datastore.ErrAlreadyExists) {
			return err
		}
	}
	c.inited = true
	return nil
}

// synthesized returns the resources Calico reports without storing them.
func synthesized(kind v3.KindInfo, name string) (v3.Resource, bool) {
	if kind.Kind != "Profile" || name != DefaultAllowProfile {
		return nil, false
	}
	return defaultAllowProfile(), true
}

func appendSynthesized(kind v3.KindInfo, namespace string, rs []v3.Resource) []v3.Resource {
	if kind.Kind != "Profile" {
		return rs
	}
	for _, r := range rs {
		if r.GetObjectMeta().Name == DefaultAllowProfile {
			return rs
		}
	}
	return append(rs, defaultAllowProfile())
}

func defaultAllowProfile() v3.Resource {
	p := &v3.Profile{ObjectMeta: v3.ObjectMeta{Name: DefaultAllowProfile}}
	p.Spec.Ingress = []v3.Rule{{Action: "Allow"}}
	p.Spec.Egress = []v3.Rule{{Action: "Allow"}}
	v3.Default(p)
	return p
}
