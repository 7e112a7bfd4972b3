package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
)

// digests are the digests of a policy's ingress and egress rules, indexed
// by Direction.
func digests(in, out []Rule) [2]string { return [2]string{rulesDigest(in), rulesDigest(out)} }

// rulesDigest is a digest of everything a rule list matches and does.
func rulesDigest(rs []Rule) string {
	h := sha256.New()
	for _, r := range rs {
		fmt.Fprintf(h, "%s|%d|%d|%d|%v|%v|", r.Action, r.IPVersion, r.Protocol, r.NotProtocol, icmpText(r.ICMP), icmpText(r.NotICMP))
		sideDigest(h, r.Src)
		sideDigest(h, r.Dst)
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

func icmpText(m *ICMPMatch) string {
	if m == nil {
		return "-"
	}
	return fmt.Sprintf("%d/%d", m.Type, m.Code)
}

func sideDigest(h hash.Hash, s Side) {
	fmt.Fprintf(h, "%v|%v|%s|%s|%v|%v|", s.Nets, s.NotNets, selKey(s.Sel), selKey(s.NotSel), s.Ports, s.NotPorts)
}

func selKey(s *EntitySelector) string {
	if s == nil {
		return "-"
	}
	return s.Key
}
