package cni_test

import (
	"fmt"

	"github.com/tortienet/tortie/internal/cni"
)

// A Calico conflist entry works with the type changed; the names the
// plugin gives a cnitool container and a Kubernetes pod.
func Example() {
	conf, err := cni.ParseConf([]byte(`{"cniVersion":"1.0.0","name":"ca-net","type":"tortie",
		"datastore_type":"etcdv3","etcd_endpoints":"http://127.0.0.1:2379","nodename_file_optional":true,
		"mtu":1500,"ipam":{"type":"tortie-ipam"},"log_level":"warning","ipam_lock_file":"/var/run/calico/ipam.lock"}`))
	if err != nil {
		panic(err)
	}
	w := cni.NewWorkload(conf.Name, "cnitool-3dac2234a9cb9032b2c9", "eth0", "")
	fmt.Println(w.HostIfName(), w.Namespace+"/"+w.WEPName("ca-node1"))
	pod := cni.NewWorkload(conf.Name, "abc123", "eth0", "K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-1")
	fmt.Println(pod.HostIfName(), pod.Namespace+"/"+pod.WEPName("ca-node1"))
	// Output:
	// calic437d2ca0be default/ca--node1-cni-cnitool--3dac2234a9cb9032b2c9-eth0
	// cali751425ce827 shop/ca--node1-k8s-web--1-eth0
}
