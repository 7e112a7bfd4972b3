package nft

import (
	"slices"
	"testing"

	"sigs.k8s.io/knftables"
)

// What nft 1.0.6 prints (`nft -j -n list set`) for a concatenated interval
// set: prefixes and ranges inside the concatenation, exact ports and /32s
// bare, protocols as numbers.
const intervalJSON = `{"nftables": [{"metainfo": {"version": "1.0.6", "json_schema_version": 1}},
{"set": {"family": "ip", "name": "s", "table": "tortie",
 "type": ["inet_proto", "ipv4_addr", "ipv4_addr", "inet_service", "inet_service"], "handle": 1, "flags": ["interval"],
 "elem": [
  {"concat": [6, {"prefix": {"addr": "0.0.0.0", "len": 0}}, "10.0.0.5", {"range": [0, 65535]}, 80]},
  {"concat": [{"range": [0, 255]}, {"prefix": {"addr": "10.1.0.0", "len": 16}}, "10.0.2.1", {"range": [0, 65535]}, {"range": [9000, 9050]}]},
  {"concat": [1, {"prefix": {"addr": "10.1.0.0", "len": 16}}, {"prefix": {"addr": "0.0.0.0", "len": 0}}, {"range": [0, 65535]}, {"range": [0, 65535]}]},
  {"elem": {"val": {"concat": [17, {"prefix": {"addr": "10.0.0.0", "len": 8}}, {"prefix": {"addr": "10.2.3.4", "len": 31}}, 53, {"range": [1, 1024]}]}, "comment": "c"}}]}}]}`

func TestJSONElements(t *testing.T) {
	s := setDef{name: "s", typ: mergedType, flags: []knftables.SetFlag{knftables.IntervalFlag}}
	got, ok, err := jsonElements(s, []byte(intervalJSON))
	want := []string{
		"0-255 . 10.1.0.0/16 . 10.0.2.1/32 . 0-65535 . 9000-9050",
		"1 . 10.1.0.0/16 . 0.0.0.0/0 . 0-65535 . 0-65535",
		"tcp . 0.0.0.0/0 . 10.0.0.5/32 . 0-65535 . 80-80",
		"udp . 10.0.0.0/8 . 10.2.3.4/31 . 53-53 . 1-1024",
	}
	if err != nil || !ok || !slices.Equal(got, want) {
		t.Errorf("interval set: %q %v %v, want %q", got, ok, err, want)
	}
	hash := setDef{name: "h", typ: "inet_proto . ipv4_addr . inet_service"}
	doc := `{"nftables": [{"set": {"name": "h", "elem": [{"concat": [1, "10.0.1.1", 0]}, {"concat": [6, "10.0.1.1", 443]}]}}]}`
	if got, ok, err := jsonElements(hash, []byte(doc)); err != nil || !ok || !slices.Equal(got, []string{"1 . 10.0.1.1 . 0", "tcp . 10.0.1.1 . 443"}) {
		t.Errorf("hash set: %q %v %v", got, ok, err)
	}
	empty := `{"nftables": [{"set": {"name": "h", "type": ["inet_proto", "ipv4_addr", "inet_service"]}}]}`
	if got, ok, err := jsonElements(hash, []byte(empty)); err != nil || !ok || len(got) != 0 {
		t.Errorf("empty set: %q %v %v", got, ok, err)
	}

	// Elements tortie would not have written: the table is rebuilt.
	for _, bad := range []string{
		`{"concat": [6, "10.0.1.1"]}`,                                     // too few fields
		`{"concat": [6, {"prefix": {"addr": "10.0.0.0", "len": 8}}, 80]}`, // a prefix in a hash set
		`{"concat": [6, "fd00::1", 80]}`,                                  // not IPv4
		`{"concat": [6, "10.0.1.1", {"range": [80, 90]}]}`,                // a range in a hash set
		`{"concat": [300, "10.0.1.1", 80]}`,                               // no such protocol
	} {
		doc := `{"nftables": [{"set": {"name": "h", "elem": [` + bad + `]}}]}`
		if got, ok, err := jsonElements(hash, []byte(doc)); err != nil || ok {
			t.Errorf("%s: %q %v %v, want not ok", bad, got, ok, err)
		}
	}
	if _, _, err := jsonElements(hash, []byte(`{"nftables": []}`)); err == nil {
		t.Error("output without the set: no error")
	}
}
