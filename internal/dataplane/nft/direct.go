package nft

import (
	"context"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"sigs.k8s.io/knftables"
)

// Direct element writes. The commonest change, an endpoint coming or
// going, is a few set and map elements; through nft it costs a process
// start, nft's parse and its fetch of the table's cache, 13 ms or more on
// a loaded machine, against well under a millisecond for the kernel's own
// work. When a change touches only elements, and only of the kinds below,
// the Owner sends it to nf_tables itself: one netlink batch, which the
// kernel applies as one transaction, as it does nft's. Anything else
// (rules, chains, sets declared anew, concatenated interval sets) still
// goes through nft.
//
// Encodable keys: ifname, ipv4_addr (plain, or as intervals),
// concatenations of ifname, ipv4_addr, inet_proto and inet_service; map
// values: jump and goto verdicts.

// nf_tables netlink constants (linux/netfilter/nf_tables.h, nfnetlink.h).
const (
	nfnlSubsysNFTables = 10
	nfnlMsgBatchBegin  = 0x10
	nfnlMsgBatchEnd    = 0x11
	nftMsgNewSetElem   = 12
	nftMsgDelSetElem   = 14

	nftaSetElemListTable    = 1
	nftaSetElemListSet      = 2
	nftaSetElemListElements = 3
	nftaListElem            = 1
	nftaSetElemKey          = 1
	nftaSetElemData         = 2
	nftaSetElemFlags        = 3
	nftaDataValue           = 1
	nftaDataVerdict         = 2
	nftaVerdictCode         = 1
	nftaVerdictChain        = 2
	nftSetElemIntervalEnd   = 1
	nftJump                 = -3
	nftGoto                 = -4
	ifnamsiz                = 16
)

// elementChange is one set's or map's element additions or deletions.
type elementChange struct {
	set      string
	typ      string
	interval bool
	del      bool
	elements []string
}

// directChanges turns the element differences of have and want into
// element changes, deletions first; ok is false when some element cannot
// be written directly.
func directChanges(have, want content) (changes []elementChange, ok bool) {
	oldSets, oldMaps := byName(have.sets, setName), byName(have.maps, mapName)
	var dels, adds []elementChange
	for _, s := range want.sets {
		add, del := diff(oldSets[s.name].elements, s.elements)
		interval := len(s.flags) > 0
		if (len(add) > 0 || len(del) > 0) && (strings.Contains(s.typ, " . ") && interval || !plainFlags(s.flags)) {
			return nil, false
		}
		dels = appendChange(dels, elementChange{set: s.name, typ: s.typ, interval: interval, del: true, elements: del})
		adds = appendChange(adds, elementChange{set: s.name, typ: s.typ, interval: interval, elements: add})
	}
	for _, m := range want.maps {
		add, del := diff(oldMaps[m.name].elements, m.elements)
		dels = appendChange(dels, elementChange{set: m.name, typ: m.typ, del: true, elements: del})
		adds = appendChange(adds, elementChange{set: m.name, typ: m.typ, elements: add})
	}
	changes = append(dels, adds...)
	for _, c := range changes {
		if _, err := c.encode(); err != nil {
			return nil, false
		}
	}
	return changes, true
}

func plainFlags(fs []knftables.SetFlag) bool {
	return len(fs) == 0 || (len(fs) == 1 && fs[0] == knftables.IntervalFlag)
}

func appendChange(cs []elementChange, c elementChange) []elementChange {
	if len(c.elements) == 0 {
		return cs
	}
	return append(cs, c)
}

// encode is the change's list of netlink elements (NFTA_LIST_ELEM each).
func (c elementChange) encode() ([]byte, error) {
	keyType, valueType, isMap := strings.Cut(c.typ, " : ")
	var out []byte
	for _, e := range c.elements {
		keyText, value := e, ""
		if isMap {
			keyText, value, _ = strings.Cut(e, " : ")
		}
		if c.interval {
			start, end, err := intervalKeys(keyText)
			if err != nil {
				return nil, err
			}
			out = append(out, attr(nftaListElem|unix.NLA_F_NESTED, attr(nftaSetElemKey|unix.NLA_F_NESTED, attr(nftaDataValue, start)))...)
			endElem := append(attr(nftaSetElemKey|unix.NLA_F_NESTED, attr(nftaDataValue, end)), attr(nftaSetElemFlags, be32(nftSetElemIntervalEnd))...)
			out = append(out, attr(nftaListElem|unix.NLA_F_NESTED, endElem)...)
			continue
		}
		key, err := encodeKey(keyType, keyText)
		if err != nil {
			return nil, err
		}
		elem := attr(nftaSetElemKey|unix.NLA_F_NESTED, attr(nftaDataValue, key))
		if isMap {
			v, err := encodeVerdict(valueType, value)
			if err != nil {
				return nil, err
			}
			elem = append(elem, attr(nftaSetElemData|unix.NLA_F_NESTED, v)...)
		}
		out = append(out, attr(nftaListElem|unix.NLA_F_NESTED, elem)...)
	}
	return out, nil
}

// encodeKey encodes a key of a type tortie declares, each part of a
// concatenation padded to 4 bytes as nf_tables registers are.
func encodeKey(typ, text string) ([]byte, error) {
	types, parts := strings.Split(typ, " . "), strings.Split(text, " . ")
	if len(types) != len(parts) {
		return nil, fmt.Errorf("element %q does not fit type %q", text, typ)
	}
	var out []byte
	for i, t := range types {
		var b []byte
		switch t {
		case "ifname":
			if len(parts[i]) >= ifnamsiz {
				return nil, fmt.Errorf("interface name %q too long", parts[i])
			}
			b = make([]byte, ifnamsiz)
			copy(b, parts[i])
		case "ipv4_addr":
			p, ok := parseKey(parts[i])
			if !ok || p.Bits() != 32 {
				return nil, fmt.Errorf("not an IPv4 address: %q", parts[i])
			}
			a := p.Addr().As4()
			b = a[:]
		case "inet_proto":
			n, ok := protoNumberOf(parts[i])
			if !ok {
				return nil, fmt.Errorf("not a protocol: %q", parts[i])
			}
			b = []byte{n, 0, 0, 0}
		case "inet_service":
			n, err := strconv.ParseUint(parts[i], 10, 16)
			if err != nil {
				return nil, fmt.Errorf("not a port: %q", parts[i])
			}
			b = []byte{byte(n >> 8), byte(n), 0, 0}
		default:
			return nil, fmt.Errorf("type %s is not written directly", t)
		}
		out = append(out, b...)
	}
	return out, nil
}

func protoNumberOf(s string) (uint8, bool) {
	switch s {
	case "tcp":
		return 6, true
	case "udp":
		return 17, true
	case "sctp":
		return 132, true
	}
	n, err := strconv.ParseUint(s, 10, 8)
	return uint8(n), err == nil
}

// intervalKeys are the start and (exclusive) end keys of an ipv4_addr
// prefix; a prefix reaching the top of the address space, which nft
// writes without an end, is left to nft.
func intervalKeys(text string) (start, end []byte, err error) {
	p, ok := parseKey(text)
	if !ok {
		return nil, nil, fmt.Errorf("not an IPv4 prefix: %q", text)
	}
	first := binary.BigEndian.Uint32(p.Masked().Addr().AsSlice())
	size := uint64(1) << (32 - p.Bits())
	if uint64(first)+size > 1<<32-1 {
		return nil, nil, fmt.Errorf("prefix %s reaches the end of the address space", p)
	}
	return be32(int32(first)), be32(int32(uint32(uint64(first) + size))), nil
}

func encodeVerdict(typ, v string) ([]byte, error) {
	verb, chain, ok := strings.Cut(v, " ")
	if typ != "verdict" || !ok || (verb != "jump" && verb != "goto") {
		return nil, fmt.Errorf("map value %q is not written directly", v)
	}
	code := int32(nftJump)
	if verb == "goto" {
		code = nftGoto
	}
	inner := append(attr(nftaVerdictCode, be32(code)), attr(nftaVerdictChain, cstring(chain))...)
	return attr(nftaDataVerdict|unix.NLA_F_NESTED, inner), nil
}

// writeDirect sends changes to table Table of family Family in one
// batch, over a netlink socket opened in the calling thread's network
// namespace, and waits for the kernel's answer.
func writeDirect(ctx context.Context, changes []elementChange) error {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
	if err != nil {
		return fmt.Errorf("nf_tables netlink socket: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("nf_tables netlink bind: %w", err)
	}
	// The kernel answers at once; never wait on it longer than the
	// context allows, nor than a few seconds.
	wait := 5 * time.Second
	if d, ok := ctx.Deadline(); ok {
		wait = min(wait, max(time.Millisecond, time.Until(d)))
	}
	tv := unix.NsecToTimeval(wait.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return fmt.Errorf("nf_tables netlink timeout: %w", err)
	}
	batch, acks, err := buildBatch(changes)
	if err != nil {
		return err
	}
	if err := unix.Sendto(fd, batch, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("nf_tables netlink send: %w", err)
	}
	return readAcks(fd, acks)
}

// buildBatch frames changes between batch begin and end; acks is how
// many answers the kernel owes (one per change, which asks for it).
func buildBatch(changes []elementChange) (batch []byte, acks int, err error) {
	seq := uint32(1)
	msg := func(typ uint16, flags uint16, family uint8, resID uint16, body []byte) {
		batch = append(batch, nlmsg(typ, flags, seq, family, resID, body)...)
		seq++
	}
	msg(nfnlMsgBatchBegin, unix.NLM_F_REQUEST, unix.AF_UNSPEC, nfnlSubsysNFTables, nil)
	for _, c := range changes {
		elems, err := c.encode()
		if err != nil {
			return nil, 0, err
		}
		body := append(attr(nftaSetElemListTable, cstring(Table)), attr(nftaSetElemListSet, cstring(c.set))...)
		body = append(body, attr(nftaSetElemListElements|unix.NLA_F_NESTED, elems)...)
		typ, flags := uint16(nftMsgNewSetElem), uint16(unix.NLM_F_REQUEST|unix.NLM_F_ACK|unix.NLM_F_CREATE)
		if c.del {
			typ, flags = nftMsgDelSetElem, unix.NLM_F_REQUEST|unix.NLM_F_ACK
		}
		msg(nfnlSubsysNFTables<<8|typ, flags, unix.AF_INET, 0, body)
		acks++
	}
	msg(nfnlMsgBatchEnd, unix.NLM_F_REQUEST, unix.AF_UNSPEC, nfnlSubsysNFTables, nil)
	return batch, acks, nil
}

// readAcks reads answers until every change is acknowledged or one
// failed (the kernel then aborts the whole batch).
func readAcks(fd, acks int) error {
	buf := make([]byte, 1<<16)
	for acks > 0 {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return fmt.Errorf("nf_tables netlink receive: %w", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return fmt.Errorf("nf_tables netlink answer: %w", err)
		}
		for _, m := range msgs {
			if m.Header.Type != unix.NLMSG_ERROR || len(m.Data) < 4 {
				continue
			}
			if errno := -int32(binary.NativeEndian.Uint32(m.Data[:4])); errno != 0 {
				return fmt.Errorf("nf_tables element write: %w", unix.Errno(errno))
			}
			acks--
		}
	}
	return nil
}

func nlmsg(typ, flags uint16, seq uint32, family uint8, resID uint16, body []byte) []byte {
	const hdr = unix.NLMSG_HDRLEN + 4 // nlmsghdr and nfgenmsg
	b := make([]byte, hdr, hdr+len(body))
	binary.NativeEndian.PutUint32(b[0:], uint32(hdr+len(body)))
	binary.NativeEndian.PutUint16(b[4:], typ)
	binary.NativeEndian.PutUint16(b[6:], flags)
	binary.NativeEndian.PutUint32(b[8:], seq)
	b[16], b[17] = family, 0 // nfgen_family, version NFNETLINK_V0
	binary.BigEndian.PutUint16(b[18:], resID)
	return append(b, body...)
}

// attr is a netlink attribute, padded to 4 bytes.
func attr(typ uint16, payload []byte) []byte {
	n := unix.SizeofNlAttr + len(payload)
	b := make([]byte, (n+3)&^3)
	binary.NativeEndian.PutUint16(b[0:], uint16(n))
	binary.NativeEndian.PutUint16(b[2:], typ)
	copy(b[unix.SizeofNlAttr:], payload)
	return b
}

func be32(v int32) []byte { return binary.BigEndian.AppendUint32(nil, uint32(v)) }

func cstring(s string) []byte { return append([]byte(s), 0) }
