package v3

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Port is a port number, a "min:max" range, or a named port ("http").
//
// In JSON a single port is a number (80); a range or a name is a string
// ("8080:8090", "http"). A numeric string ("80") is accepted on input and
// written back as a number. Decoding checks only the form; Validate checks
// the values (ports 1-65535, min <= max, port-name syntax).
type Port struct {
	MinPort  uint16 // first port of the range; 0 for a named port
	MaxPort  uint16 // last port of the range; equal to MinPort for a single port
	PortName string // set for a named port; MinPort and MaxPort are then 0
}

// SinglePort returns the Port for one port number.
func SinglePort(p uint16) Port { return Port{MinPort: p, MaxPort: p} }

// PortRange returns the Port for the inclusive range min:max.
func PortRange(min, max uint16) Port { return Port{MinPort: min, MaxPort: max} }

// NamedPort returns the Port that refers to a named port.
func NamedPort(name string) Port { return Port{PortName: name} }

// PortFromString parses "80", "80:90" or a port name.
func PortFromString(s string) (Port, error) {
	if s == "" {
		return Port{}, fmt.Errorf("port must not be empty")
	}
	if lo, hi, ok := strings.Cut(s, ":"); ok {
		min, err1 := strconv.ParseUint(lo, 10, 16)
		max, err2 := strconv.ParseUint(hi, 10, 16)
		if err1 != nil || err2 != nil {
			return Port{}, fmt.Errorf("port range %q must be two numbers 0-65535 separated by ':'", s)
		}
		return PortRange(uint16(min), uint16(max)), nil
	}
	if isDigits(s) {
		n, err := strconv.ParseUint(s, 10, 16)
		if err != nil {
			return Port{}, fmt.Errorf("port %q must be 0-65535", s)
		}
		return SinglePort(uint16(n)), nil
	}
	return NamedPort(s), nil
}

// IsRange reports whether p is a range of more than one port.
func (p Port) IsRange() bool { return p.PortName == "" && p.MinPort != p.MaxPort }

// String returns "80", "80:90" or the port name.
func (p Port) String() string {
	switch {
	case p.PortName != "":
		return p.PortName
	case p.MinPort == p.MaxPort:
		return strconv.Itoa(int(p.MinPort))
	default:
		return fmt.Sprintf("%d:%d", p.MinPort, p.MaxPort)
	}
}

// MarshalJSON writes a single port as a number and anything else as a string.
func (p Port) MarshalJSON() ([]byte, error) {
	if p.PortName == "" && p.MinPort == p.MaxPort {
		return []byte(strconv.Itoa(int(p.MinPort))), nil
	}
	return json.Marshal(p.String())
}

// UnmarshalJSON accepts a number or a string (see PortFromString).
func (p *Port) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		v, err := PortFromString(s)
		if err != nil {
			return err
		}
		*p = v
		return nil
	}
	n, err := strconv.ParseUint(string(b), 10, 16)
	if err != nil {
		return fmt.Errorf("port %s must be a number 0-65535 or a string", b)
	}
	*p = SinglePort(uint16(n))
	return nil
}

// Protocol names accepted by Calico, and their IP protocol numbers.
const (
	ProtocolTCP     = "TCP"
	ProtocolUDP     = "UDP"
	ProtocolICMP    = "ICMP"
	ProtocolICMPv6  = "ICMPv6"
	ProtocolSCTP    = "SCTP"
	ProtocolUDPLite = "UDPLite"
)

var protocolNumbers = map[string]int{
	ProtocolTCP: 6, ProtocolUDP: 17, ProtocolICMP: 1, ProtocolICMPv6: 58,
	ProtocolSCTP: 132, ProtocolUDPLite: 136,
}

// Protocol is an IP protocol given by name (TCP, UDP, ICMP, ICMPv6, SCTP,
// UDPLite) or by number (1-255). In JSON it is a string or a number, and it
// is written back in the form it was given. Decoding accepts any string or
// integer; Validate checks the name or range.
type Protocol struct {
	Name string // set when the protocol was given by name
	Num  int    // set when the protocol was given by number (Name is then "")
}

// ProtocolFromString returns the Protocol for a name such as "TCP".
func ProtocolFromString(name string) Protocol { return Protocol{Name: name} }

// ProtocolFromInt returns the Protocol for an IP protocol number.
func ProtocolFromInt(n int) Protocol { return Protocol{Num: n} }

// String returns the name, or the number in decimal.
func (p Protocol) String() string {
	if p.Name != "" {
		return p.Name
	}
	return strconv.Itoa(p.Num)
}

// Number returns the IP protocol number, and false for an unknown name.
func (p Protocol) Number() (int, bool) {
	if p.Name == "" {
		return p.Num, true
	}
	n, ok := protocolNumbers[p.Name]
	return n, ok
}

// valid reports whether p is a known name or a number 1-255.
func (p Protocol) valid() bool {
	n, ok := p.Number()
	return ok && n >= 1 && n <= 255
}

// Is reports whether p denotes the same protocol as the given name,
// comparing numbers so that 6 and "TCP" are the same.
func (p Protocol) Is(name string) bool {
	n, ok := p.Number()
	return ok && n == protocolNumbers[name]
}

// SupportsPorts reports whether rules may match ports with this protocol
// (TCP, UDP or SCTP, by name or number).
func (p Protocol) SupportsPorts() bool {
	return p.Is(ProtocolTCP) || p.Is(ProtocolUDP) || p.Is(ProtocolSCTP)
}

// MarshalJSON writes a name as a string and a number as a number.
func (p Protocol) MarshalJSON() ([]byte, error) {
	if p.Name != "" {
		return json.Marshal(p.Name)
	}
	return []byte(strconv.Itoa(p.Num)), nil
}

// UnmarshalJSON accepts a string or an integer.
func (p *Protocol) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*p = Protocol{Name: s}
		return nil
	}
	n, err := strconv.Atoi(string(b))
	if err != nil {
		return fmt.Errorf("protocol %s must be a name or an integer", b)
	}
	*p = Protocol{Num: n}
	return nil
}

// ASNumber is a BGP autonomous system number. In JSON it is written as a
// number; on input it may also be a numeric string or the asdot form "a.b",
// which means a<<16 + b.
type ASNumber uint32

// ASNumberFromString parses "64512" or the asdot form "1.10".
func ASNumberFromString(s string) (ASNumber, error) {
	if hi, lo, ok := strings.Cut(s, "."); ok {
		h, err1 := strconv.ParseUint(hi, 10, 16)
		l, err2 := strconv.ParseUint(lo, 10, 16)
		if err1 != nil || err2 != nil || !isDigits(hi) || !isDigits(lo) {
			return 0, fmt.Errorf("AS number %q: asdot form must be two numbers 0-65535 separated by '.'", s)
		}
		return ASNumber(h<<16 | l), nil
	}
	if !isDigits(s) {
		return 0, fmt.Errorf("AS number %q must be a number 0-4294967295 or asdot a.b", s)
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("AS number %q must be 0-4294967295", s)
	}
	return ASNumber(n), nil
}

// String returns the AS number in decimal (asplain).
func (a ASNumber) String() string { return strconv.FormatUint(uint64(a), 10) }

// MarshalJSON writes the AS number as a JSON number.
func (a ASNumber) MarshalJSON() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalJSON accepts a number, a numeric string or an asdot string.
func (a *ASNumber) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	s := string(b)
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	} else if !isDigits(s) {
		return fmt.Errorf("AS number %s must be a whole number or a string", b)
	}
	v, err := ASNumberFromString(s)
	if err != nil {
		return err
	}
	*a = v
	return nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// DSCP is a DiffServ code point given as a number (0-63) or a name such as
// "AF11" or "EF"; in JSON a number or a string, written back as given.
type DSCP struct {
	Name string // set when given by name
	Num  int    // set when given by number (Name is then "")
}

// String returns the name, or the number in decimal.
func (d DSCP) String() string {
	if d.Name != "" {
		return d.Name
	}
	return strconv.Itoa(d.Num)
}

// MarshalJSON writes a name as a string and a number as a number.
func (d DSCP) MarshalJSON() ([]byte, error) {
	if d.Name != "" {
		return json.Marshal(d.Name)
	}
	return []byte(strconv.Itoa(d.Num)), nil
}

// UnmarshalJSON accepts a string or an integer.
func (d *DSCP) UnmarshalJSON(b []byte) error {
	var p Protocol // same wire form
	if err := p.UnmarshalJSON(b); err != nil {
		return fmt.Errorf("DSCP %s must be a name or an integer", b)
	}
	*d = DSCP(p)
	return nil
}
