package v3_test

import (
	"encoding/json"
	"fmt"

	v3 "github.com/tortienet/tortie/api/v3"
)

// A resource is decoded, defaulted, validated and then stored as JSON.
func Example() {
	pool := &v3.IPPool{
		ObjectMeta: v3.ObjectMeta{Name: "ca-pool-1"},
		Spec:       v3.IPPoolSpec{CIDR: "10.244.0.0/16", NATOutgoing: true},
	}
	v3.Default(pool)
	if err := v3.Validate(pool); err != nil {
		fmt.Println(err)
		return
	}
	b, _ := json.Marshal(pool)
	fmt.Println(string(b))

	pool.Spec.CIDR = "10.244.0.1/16"
	fmt.Println(v3.Validate(pool))
	// Output:
	// {"kind":"IPPool","apiVersion":"projectcalico.org/v3","metadata":{"name":"ca-pool-1"},"spec":{"cidr":"10.244.0.0/16","vxlanMode":"Never","ipipMode":"Never","natOutgoing":true,"blockSize":26,"nodeSelector":"all()","allowedUses":["Workload","Tunnel"],"assignmentMode":"Automatic"}}
	// IPPool "ca-pool-1": spec.cidr = "10.244.0.1/16": must be a masked CIDR (did you mean 10.244.0.0/16?)
}

// LookupKind accepts what users type after "tortiectl get".
func ExampleLookupKind() {
	for _, name := range []string{"pools", "GNP", "felixconfig"} {
		k, _ := v3.LookupKind(name)
		fmt.Println(k.Kind, k.Plural, k.Namespaced)
	}
	// Output:
	// IPPool ippools false
	// GlobalNetworkPolicy globalnetworkpolicies false
	// FelixConfiguration felixconfigurations false
}
