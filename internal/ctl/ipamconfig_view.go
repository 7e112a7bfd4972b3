package ctl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/client"
	"github.com/tortienet/tortie/internal/datastore"
	"github.com/tortienet/tortie/internal/ipam"
)

// ipamConfigKind is calicoctl's ipamconfiguration kind, which tortiectl
// get shows from the IPAM configuration (see v3.IPAMConfiguration).
var ipamConfigKind = v3.KindInfo{
	Kind: "IPAMConfiguration", ListKind: "IPAMConfigurationList", Plural: "ipamconfigurations",
	Aliases: []string{"ipamconfig", "ipamconfigs"},
	New: func() v3.Resource {
		return &v3.IPAMConfiguration{TypeMeta: v3.TypeMeta{Kind: "IPAMConfiguration", APIVersion: v3.APIVersion}}
	},
}

// lookupGetKind is v3.LookupKind plus the kinds get can only show.
func lookupGetKind(name string) (v3.KindInfo, bool) {
	if ki, ok := v3.LookupKind(name); ok {
		return ki, true
	}
	n := strings.ToLower(name)
	if n == strings.ToLower(ipamConfigKind.Kind) || n == ipamConfigKind.Plural || contains(ipamConfigKind.Aliases, n) {
		return ipamConfigKind, true
	}
	return v3.KindInfo{}, false
}

// fetchIPAMConfig reads the IPAM configuration without writing the
// default when there is none (a get changes nothing): then the listing is
// empty and "default" does not exist.
func fetchIPAMConfig(ctx context.Context, c *client.Client, names []string) ([]v3.Resource, int64, error) {
	kv, err := c.Store().Get(ctx, ipam.ConfigKey)
	found := err == nil
	if err != nil && !errors.Is(err, datastore.ErrNotFound) {
		return nil, 0, err
	}
	var out []v3.Resource
	if found {
		var cfg ipam.Config
		if err := json.Unmarshal(kv.Value, &cfg); err != nil {
			return nil, 0, fmt.Errorf("decode %s: %w", ipam.ConfigKey, err)
		}
		r := ipamConfigKind.New().(*v3.IPAMConfiguration)
		r.Name, r.ResourceVersion = v3.SingletonName, strconv.FormatInt(kv.Revision, 10)
		r.Spec = v3.IPAMConfigurationSpec{StrictAffinity: cfg.StrictAffinity, AutoAllocateBlocks: cfg.AutoAllocateBlocks, MaxBlocksPerHost: int32(cfg.MaxBlocksPerHost)}
		if cfg.KubeVirtPersist != "" {
			r.Spec.KubeVirtVMAddressPersistence = &cfg.KubeVirtPersist
		}
		out = append(out, r)
	}
	if len(names) == 0 {
		return out, kv.Revision, nil
	}
	for _, n := range names {
		if n != v3.SingletonName || !found {
			return nil, 0, fmt.Errorf("resource does not exist: IPAMConfiguration(%s)", n)
		}
	}
	res := make([]v3.Resource, len(names))
	for i := range names {
		res[i] = out[0]
	}
	return res, 0, nil
}
