package autodetect_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"

	"github.com/tortienet/tortie/internal/autodetect"
)

// The node agent decides its IPv4 address from the environment; on a real
// node the Host is autodetect.NewNetlinkHost(nil).
func ExampleDetector_Resolve() {
	host := &autodetect.FakeHost{Links: []autodetect.Interface{
		{Name: "lo", Up: true, Addrs: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/8")}},
		{Name: "ens32", Up: true, Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.1.5/24")}},
		{Name: "ens33", Up: true, Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.2.5/24")}},
	}}
	env := map[string]string{"IP": "autodetect", "IP_AUTODETECTION_METHOD": "interface=ens32"}
	cfg := autodetect.ConfigFromEnv(func(k string) string { return env[k] }, autodetect.IPv4, netip.Prefix{})

	res, err := autodetect.Detector{Host: host}.Resolve(context.Background(), cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Address, res.Interface)
	_ = res.WriteText(os.Stdout)
	// Output:
	// 10.0.1.5/24 ens32
	// IPv4 autodetection method: interface=ens32
	// rule: walk the interfaces from the highest index down (the reverse of the kernel's order), keep those whose name matches one of "ens32" (unanchored regular expressions; their order does not matter), and take the first global unicast IPv4 address
	//   ens33                          rejected: name matches none of "ens32"
	//   ens32                          passed: name matches interface pattern "ens32"
	//     10.0.1.5/24                  chosen: first global unicast IPv4 address on this interface
	//   lo                             rejected: name matches none of "ens32"
	// IPv4 address: 10.0.1.5/24 on ens32 (autodetected)
	// why: ens32 is the first interface, walking from the highest index down, whose name matches one of "ens32" and that holds a global unicast IPv4 address; 10.0.1.5/24 is its first such address
}
