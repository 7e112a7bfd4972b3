package v3

import (
	"encoding/json"
	"testing"
)

// FuzzScalars checks that the scalar decoders never panic and that what
// they accept re-encodes to something they accept again, unchanged.
func FuzzScalars(f *testing.F) {
	for _, s := range []string{`80`, `"80:90"`, `"http"`, `"1.10"`, `65000`, `"TCP"`, `6`, `"x:y"`, `""`, `-1`, `1e3`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var p Port
		if p.UnmarshalJSON(b) == nil {
			roundTrip(t, p, &Port{})
		}
		var a ASNumber
		if a.UnmarshalJSON(b) == nil {
			roundTrip(t, a, new(ASNumber))
		}
		var pr Protocol
		if pr.UnmarshalJSON(b) == nil {
			roundTrip(t, pr, &Protocol{})
		}
	})
}

func roundTrip[T comparable](t *testing.T, v T, into *T) {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal %v: %v", v, err)
	}
	if err := json.Unmarshal(b, into); err != nil || *into != v {
		t.Fatalf("%v -> %s -> %v, %v", v, b, *into, err)
	}
}

// FuzzValidatePolicy checks that defaulting and validating any decodable
// policy never panics.
func FuzzValidatePolicy(f *testing.F) {
	f.Add([]byte(`{"metadata":{"name":"a","namespace":"b"},"spec":{"ingress":[{"action":"Allow","protocol":"TCP","icmp":{"code":1},"source":{"nets":["10.0.0.0/8","fd00::/8"],"services":{"name":"x"}},"destination":{"ports":["1:2","http",0]},"http":{"paths":[{}]}}]}}`))
	f.Add([]byte(`{"metadata":{"name":"p"},"spec":{"cidr":"fe80::/8","ipipMode":"Always","allowedUses":["LoadBalancer"]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, r := range []Resource{&NetworkPolicy{}, &IPPool{}, &BGPPeer{}} {
			if json.Unmarshal(b, r) == nil {
				Default(r)
				_ = Validate(r)
			}
		}
	})
}
