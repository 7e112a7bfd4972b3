package client

import (
	"context"
	"errors"
	"fmt"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/datastore"
)

// fixedTiers exist on every cluster (the bootstrap writes them).
var fixedTiers = map[string]bool{v3.DefaultTierName: true, "kube-admin": true, "kube-baseline": true}

// checkTier refuses a policy in a tier that does not exist, as Calico
// does: its rules would never be evaluated.
func (c *Client) checkTier(ctx context.Context, r v3.Resource, tier string) error {
	if tier == "" || fixedTiers[tier] {
		return nil
	}
	kind, _ := v3.LookupKind("Tier")
	_, err := c.Get(ctx, kind, "", tier)
	if errors.Is(err, datastore.ErrNotFound) {
		m := r.GetObjectMeta()
		id := m.Name
		if m.Namespace != "" {
			id = m.Namespace + "/" + m.Name
		}
		return fmt.Errorf("%s %q: spec.tier = %q: no such Tier (create the Tier first)", v3.KindOf(r).Kind, id, tier)
	}
	return err
}
