package nft

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"slices"
	"strconv"
	"strings"

	"sigs.k8s.io/knftables"
)

// knftables cannot read back the elements of a concatenated interval set:
// nft gives such an element's fields as prefixes and ranges inside the
// concatenation, which knftables does not parse. And it reads protocols
// by name where tortie writes numbers for the unnamed ones (icmp: 1). So
// the Owner reads the sets that hold protocols or intervals in
// concatenations itself, from nft's JSON with numeric output, and
// normalises each field to the text the renderer writes (see jsonField).

// kernelNFT is the real nftables access (NewNFTables): knftables, plus
// listSetJSON.
type kernelNFT struct {
	knftables.Interface
	path string
}

// setJSONLister lists one of tortie's sets as `nft -j -n list set` prints
// it; errors.ErrUnsupported when it cannot (a fake), errSetMissing when
// the set does not exist.
type setJSONLister interface {
	listSetJSON(ctx context.Context, name string) ([]byte, error)
}

// tableJSONLister lists tortie's whole table as `nft -j -n list table`
// prints it; errors.ErrUnsupported when it cannot (a fake), errSetMissing
// when the table does not exist.
type tableJSONLister interface {
	listTableJSON(ctx context.Context) ([]byte, error)
}

// errSetMissing: the set, or the table, does not exist.
var errSetMissing = errors.New("no such set or table")

func (k *kernelNFT) listSetJSON(ctx context.Context, name string) ([]byte, error) {
	return k.listJSON(ctx, "set", string(Family), Table, name)
}

func (k *kernelNFT) listTableJSON(ctx context.Context) ([]byte, error) {
	return k.listJSON(ctx, "table", string(Family), Table)
}

// listJSON runs `nft -j -n list what...`.
func (k *kernelNFT) listJSON(ctx context.Context, what ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, k.path, append([]string{"-j", "-n", "list"}, what...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if strings.Contains(msg, "No such file or directory") {
			return nil, errSetMissing
		}
		return nil, fmt.Errorf("nft list %s: %w: %s", strings.Join(what, " "), err, msg)
	}
	return out, nil
}

// readsJSON reports whether the Owner reads s through listSetJSON: a
// concatenation holding protocols or intervals.
func readsJSON(s setDef) bool {
	return strings.Contains(s.typ, " . ") &&
		(strings.Contains(s.typ, "inet_proto") || slices.Contains(s.flags, knftables.IntervalFlag))
}

// jsonSet is a set in nft's JSON output.
type jsonSet struct {
	Name string `json:"name"`
	Elem []any  `json:"elem"`
}

// jsonElements reads set s's elements from nft's JSON output, in the
// renderer's form, sorted; ok is false when an element is not one tortie
// would have written.
func jsonElements(s setDef, data []byte) (els []string, ok bool, err error) {
	var doc struct {
		Nftables []struct {
			Set *jsonSet `json:"set"`
		} `json:"nftables"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, false, fmt.Errorf("read nftables set %s: %w", s.name, err)
	}
	var set *jsonSet
	for _, o := range doc.Nftables {
		if o.Set != nil && o.Set.Name == s.name {
			set = o.Set
		}
	}
	if set == nil {
		return nil, false, fmt.Errorf("read nftables set %s: not in nft's output", s.name)
	}
	els, ok = jsonSetElements(s, set.Elem)
	return els, ok, nil
}

// jsonSetElements reads set s's elements (elem of nft's JSON) in the
// renderer's form, sorted; ok is false when one is not one tortie would
// have written.
func jsonSetElements(s setDef, elem []any) (els []string, ok bool) {
	types := strings.Split(s.typ, " . ")
	interval := slices.Contains(s.flags, knftables.IntervalFlag)
	els = make([]string, 0, len(elem))
	for _, e := range elem {
		k, ok := jsonKey(e, types, interval)
		if !ok {
			return nil, false
		}
		els = append(els, k)
	}
	slices.Sort(els)
	return els, true
}

// jsonKey is one element's key in the renderer's form.
func jsonKey(e any, types []string, interval bool) (string, bool) {
	if w, ok := e.(map[string]any); ok {
		if inner, ok := w["elem"].(map[string]any); ok {
			e = inner["val"] // an element with a comment or timeout
		}
	}
	parts := []any{e}
	if c, ok := e.(map[string]any); ok && c["concat"] != nil {
		if parts, ok = c["concat"].([]any); !ok {
			return "", false
		}
	}
	if len(parts) != len(types) {
		return "", false
	}
	out := make([]string, len(parts))
	for i, p := range parts {
		f, ok := jsonField(p, types[i], interval)
		if !ok {
			return "", false
		}
		out[i] = f
	}
	return strings.Join(out, " . "), true
}

// jsonField is one field of a key as the renderer writes it: in interval
// sets, addresses as prefixes ("10.0.0.5/32"), ports as ranges ("80-80"),
// protocols as "0-255" or one protocol; in hash sets, bare addresses and
// numbers; protocols always by protoName.
func jsonField(v any, typ string, interval bool) (string, bool) {
	switch typ {
	case "ifname":
		s, ok := v.(string)
		return s, ok && !interval
	case "ipv4_addr":
		p, ok := jsonPrefix(v)
		switch {
		case !ok:
			return "", false
		case interval:
			return p.String(), true
		case p.IsSingleIP():
			return p.Addr().String(), true
		}
		return "", false
	case "inet_proto", "inet_service":
		lo, hi, ok := jsonRange(v)
		switch {
		case !ok || lo > hi || (typ == "inet_proto" && hi > 255):
			return "", false
		case typ == "inet_proto" && lo == hi:
			return protoName(uint8(lo)), true
		case interval:
			return fmt.Sprintf("%d-%d", lo, hi), true
		case lo == hi:
			return strconv.Itoa(lo), true
		}
	}
	return "", false
}

// jsonPrefix reads an IPv4 address or prefix ({"prefix": {"addr", "len"}}).
func jsonPrefix(v any) (netip.Prefix, bool) {
	if s, ok := v.(string); ok {
		a, err := netip.ParseAddr(s)
		return netip.PrefixFrom(a, 32), err == nil && a.Is4()
	}
	o, _ := v.(map[string]any)
	pre, _ := o["prefix"].(map[string]any)
	s, _ := pre["addr"].(string)
	l, isNum := pre["len"].(float64)
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() || !isNum || l < 0 || l > 32 || l != float64(int(l)) {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a, int(l)).Masked(), true
}

// jsonRange reads a number, or a range ({"range": [lo, hi]}) of numbers.
func jsonRange(v any) (lo, hi int, ok bool) {
	if n, ok := jsonNumber(v); ok {
		return n, n, true
	}
	o, _ := v.(map[string]any)
	r, _ := o["range"].([]any)
	if len(r) != 2 {
		return 0, 0, false
	}
	lo, okLo := jsonNumber(r[0])
	hi, okHi := jsonNumber(r[1])
	return lo, hi, okLo && okHi
}

func jsonNumber(v any) (int, bool) {
	f, ok := v.(float64)
	if !ok || f < 0 || f > 65535 || f != float64(int(f)) {
		return 0, false
	}
	return int(f), true
}
