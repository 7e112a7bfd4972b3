package policy

import v3 "github.com/tortienet/tortie/api/v3"

// Kinds are the v3 kinds the model reads.
var Kinds = []string{
	"Tier", "NetworkPolicy", "GlobalNetworkPolicy", "Profile",
	"NetworkSet", "GlobalNetworkSet", "WorkloadEndpoint", "HostEndpoint",
	"StagedNetworkPolicy", "StagedGlobalNetworkPolicy",
}

// FromResources sorts resources of any kinds into an Input; kinds the
// model does not read are ignored. Callers list Kinds from wherever they
// read (tortiectl, the lab) and hand everything here.
func FromResources(rs []v3.Resource) Input {
	var in Input
	for _, r := range rs {
		switch o := r.(type) {
		case *v3.Tier:
			in.Tiers = append(in.Tiers, o)
		case *v3.NetworkPolicy:
			in.NetworkPolicies = append(in.NetworkPolicies, o)
		case *v3.GlobalNetworkPolicy:
			in.GlobalNetworkPolicies = append(in.GlobalNetworkPolicies, o)
		case *v3.Profile:
			in.Profiles = append(in.Profiles, o)
		case *v3.NetworkSet:
			in.NetworkSets = append(in.NetworkSets, o)
		case *v3.GlobalNetworkSet:
			in.GlobalNetworkSets = append(in.GlobalNetworkSets, o)
		case *v3.WorkloadEndpoint:
			in.WorkloadEndpoints = append(in.WorkloadEndpoints, o)
		case *v3.HostEndpoint:
			in.HostEndpoints = append(in.HostEndpoints, o)
		case *v3.StagedNetworkPolicy:
			in.StagedNetworkPolicies = append(in.StagedNetworkPolicies, o)
		case *v3.StagedGlobalNetworkPolicy:
			in.StagedGlobalNetworkPolicies = append(in.StagedGlobalNetworkPolicies, o)
		}
	}
	return in
}
