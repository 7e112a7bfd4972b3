package node

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"unsafe"

	"github.com/tortienet/tortie/internal/calc"
)

// wepSamples are WorkloadEndpoint texts the decoder must take as
// encoding/json does, or leave to it.
var wepSamples = []string{
	`{"kind":"WorkloadEndpoint","apiVersion":"projectcalico.org/v3","metadata":{"name":"w1","namespace":"ns","uid":"u","creationTimestamp":null,"labels":{"app":"web","projectcalico.org/namespace":"ns"},"annotations":{"a":"b"}},"spec":{"orchestrator":"k8s","node":"node-b","containerID":"c","pod":"p","endpoint":"eth0","serviceAccountName":"default","ipNetworks":["10.244.1.5/32"],"profiles":["kns.ns","ksa.ns.default"],"interfaceName":"cali1","mac":"ee:ee:ee:ee:ee:ee","ports":[{"name":"http","protocol":"TCP","port":80,"hostPort":0,"hostIP":""}]}}`,
	` { "metadata" : { "name" : "w1" , "namespace" : "ns" } , "spec" : { "node" : "node-b" , "ipNetworks" : [ "10.244.1.5/32" , "fd00::5/128", "10.1.0.0/24", "bad", "10.2.0.1" ] } } `,
	`{"metadata":{"name":"w\u00e9","namespace":"n\"s","labels":{"k":"v\n","\u00e9":"x"}},"spec":{"node":"node-\u0062","profiles":["a\\b"],"ipNetworks":["10.0.0.1\/32"]}}`,
	`{"metadata":{"name":"w1","labels":null},"spec":{"node":"node-b","profiles":null,"ports":null,"ipNetworks":null,"serviceAccountName":null}}`,
	`{"metadata":{"name":"w1","labels":{}},"spec":{"node":"node-b","profiles":[],"ports":[],"ipNetworks":[]}}`,
	`{"metadata":{"name":"w1","generation":-1.5e+3,"finalizers":[true,false,null,{"x":[1,2]}]},"spec":{"node":"node-b","x":{}}}`,
	`{"Metadata":{"name":"w1"},"spec":{"node":"node-b"}}`,
	`{"metadata":{"name":"w1","labels":{"a":null}},"spec":{"node":"node-b"}}`,
	`{"metadata":{"name":"w1"},"spec":{"node":"node-b","ports":[{"name":"dns","protocol":17,"port":53}]}}`,
	`{"metadata":{"name":"w1"},"spec":{"node":"node-b"}}x`,
	`{"metadata":{"name":"w1"},"spec":{"node":"node-b","ipNetworks":"10.0.0.1/32"}}`,
	`{"metadata":{"name":"w1"},"spec":{"node":"node-b","ipNetworks":["\xff"]}}`,
	`{"metadata":{"name":"w1"},"spec":{"node":"node-a"}}`,
	`{"metadata":{"name":"w1","name":"w2"},"spec":{"node":"node-b","node":"node-c"}}`,
	`{"metadata":{"name":"w1"},"spec":{"node":"node-b","ipNetworks":["10.0.0.1/32",]}}`,
	`{"metadata":{"name":"w1"},"spec":{"node":"node-b","n":01}}`,
	`[]`, `null`, ``, `{`,
}

// checkDecode compares the decoder with encoding/json on one text: the
// same endpoint, or a fallback to encoding/json.
func checkDecode(t *testing.T, d *epDecoder, key string, text []byte) {
	t.Helper()
	ep, local, ok := d.endpoint(key, text, "node-a")
	w, wok := decodeWEP(text)
	if !ok {
		return // left to encoding/json
	}
	if !wok {
		if !json.Valid(text) {
			t.Errorf("%q: decoded, but it is not JSON", text)
		}
		return // a type encoding/json refuses in a field not read: see epDecoder
	}
	if local != (w.Spec.Node == "node-a") {
		t.Errorf("%q: local %v, node %q", text, local, w.Spec.Node)
	}
	if local {
		return
	}
	if want := d.compactOf(w); !ep.Equal(want) {
		t.Errorf("%q:\n got %+v %+v\nwant %+v %+v", text, ep, ep.Attrs, want, want.Attrs)
	}
}

func TestEPDecoder(t *testing.T) {
	d := newEPDecoder()
	key := "ns/w1"
	for _, s := range wepSamples {
		checkDecode(t, d, key, []byte(s))
	}
	// Fast where it matters: a plain endpoint is not left to encoding/json.
	if _, _, ok := d.endpoint(key, []byte(wepSamples[0]), "node-a"); !ok {
		t.Error("the plain endpoint was left to encoding/json")
	}
	a, _, _ := d.endpoint(key, []byte(wepSamples[0]), "node-a")
	b, _, _ := d.endpoint("ns/w2", []byte(wepSamples[0]), "node-a")
	if a.Attrs != b.Attrs || a.ID != key || unsafe.StringData(a.ID) != unsafe.StringData(key) {
		t.Errorf("two endpoints alike do not share their attributes (%p, %p), or the id %q is a copy of %q", a.Attrs, b.Attrs, a.ID, key)
	}
}

func FuzzEPDecoder(f *testing.F) {
	for _, s := range wepSamples {
		f.Add([]byte(s))
	}
	d := newEPDecoder()
	key := "ns/w1"
	f.Fuzz(func(t *testing.T, text []byte) { checkDecode(t, d, key, text) })
}

// BenchmarkDecodeEndpoint: one remote endpoint of the simulated cluster,
// by the decoder and by encoding/json (whole, and into a struct of only
// the fields read), each to a calc.Endpoint.
//
//	go test -run '^$' -bench DecodeEndpoint ./internal/node/
func BenchmarkDecodeEndpoint(b *testing.B) {
	text, _ := json.Marshal(benchEndpoint(1, 3, "a"))
	key := "ns/node-1-pod-3"
	d := newEPDecoder()
	b.Run("scanner", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, ok := d.endpoint(key, text, "node-0"); !ok {
				b.Fatal("not decoded")
			}
		}
	})
	b.Run("encoding-json-whole", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			w, _ := decodeWEP(text)
			_ = d.compactOf(w)
		}
	})
	b.Run("encoding-json-minimal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var m minimalWEP
			if err := json.Unmarshal(text, &m); err != nil {
				b.Fatal(err)
			}
			_ = m.endpoint(d)
		}
	})
}

// minimalWEP is what the agent reads of an endpoint, for encoding/json:
// the alternative BenchmarkDecodeEndpoint measures.
type minimalWEP struct {
	Metadata struct {
		Name, Namespace string
		Labels          map[string]string
	}
	Spec struct {
		Node, Orchestrator, ServiceAccountName string
		IPNetworks, Profiles                   []string
	}
}

func (m *minimalWEP) endpoint(d *epDecoder) calc.Endpoint {
	ep := calc.Endpoint{Node: d.strs.get(m.Spec.Node), ID: m.Metadata.Namespace + "/" + m.Metadata.Name, Attrs: &calc.EndpointAttrs{Labels: m.Metadata.Labels}}
	for _, n := range m.Spec.IPNetworks {
		ep.AddNet(n)
	}
	return ep
}

// TestDecodeBlock: the scanner reads a block as encoding/json does.
func TestDecodeBlock(t *testing.T) {
	for _, text := range []string{
		`{"cidr":"10.0.0.0/26","affinity":"host:n1","allocations":[0,null,1],"unallocated":[2,3],"attributes":[{"handle_id":"h","secondary":{"a":"b"}}],"strictAffinity":false,"sequenceNumber":3}`,
		`{"cidr":"10.0.0.5/26","affinity":null}`,
		`{"cidr":"10.0.0.0/26"}`,
		`{"CIDR":"10.0.0.0/26","affinity":"host:n1"}`,
		`{"cidr":"10.0.0.0/26","affinity":"host:n\u0031"}`,
		`{"cidr":"bad","affinity":"host:n1"}`,
		`{"cidr":"10.0.0.0/26","affinity":5}`,
		`{"cidr":"10.0.0.0/26"`,
	} {
		got, gok := decodeBlock([]byte(text))
		var b struct {
			CIDR     string  `json:"cidr"`
			Affinity *string `json:"affinity"`
		}
		wok := json.Unmarshal([]byte(text), &b) == nil
		if wok {
			p, err := netip.ParsePrefix(b.CIDR)
			wok = err == nil
			host := ""
			if b.Affinity != nil {
				host = strings.TrimPrefix(*b.Affinity, "host:")
			}
			if wok && got != (calc.Block{CIDR: p.Masked(), Host: host}) {
				t.Errorf("%s: %+v", text, got)
			}
		}
		if gok != wok {
			t.Errorf("%s: decoded %v, encoding/json %v", text, gok, wok)
		}
	}
}
