package v3

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestASNumberJSON(t *testing.T) {
	tests := []struct {
		in   string
		want ASNumber
		out  string
	}{
		{`65000`, 65000, `65000`},
		{`"64512"`, 64512, `64512`},
		{`"1.10"`, 65546, `65546`},
		{`"0.0"`, 0, `0`},
		{`4294967295`, 4294967295, `4294967295`},
	}
	for _, tt := range tests {
		var a ASNumber
		if err := json.Unmarshal([]byte(tt.in), &a); err != nil {
			t.Fatalf("%s: %v", tt.in, err)
		}
		if a != tt.want || a.String() != tt.out {
			t.Errorf("%s: got %d (%s), want %d", tt.in, a, a, tt.want)
		}
		if b, _ := json.Marshal(a); string(b) != tt.out {
			t.Errorf("%s: marshal %s, want %s", tt.in, b, tt.out)
		}
	}
	for _, bad := range []string{`"1.65536"`, `4294967296`, `"abc"`, `-1`, `"1.2.3"`, `1.5`, `""`, `".1"`} {
		var a ASNumber
		if err := json.Unmarshal([]byte(bad), &a); err == nil {
			t.Errorf("%s: expected an error, got %d", bad, a)
		}
	}
}

func TestPortJSON(t *testing.T) {
	tests := []struct {
		in   string
		want Port
		out  string
	}{
		{`80`, SinglePort(80), `80`},
		{`"80"`, SinglePort(80), `80`},
		{`"8000:8080"`, PortRange(8000, 8080), `"8000:8080"`},
		{`"http"`, NamedPort("http"), `"http"`},
		{`"80:80"`, SinglePort(80), `80`},
	}
	for _, tt := range tests {
		var p Port
		if err := json.Unmarshal([]byte(tt.in), &p); err != nil {
			t.Fatalf("%s: %v", tt.in, err)
		}
		if p != tt.want {
			t.Errorf("%s: got %+v, want %+v", tt.in, p, tt.want)
		}
		if b, _ := json.Marshal(p); string(b) != tt.out {
			t.Errorf("%s: marshal %s, want %s", tt.in, b, tt.out)
		}
	}
	for _, bad := range []string{`70000`, `"1:70000"`, `"a:b"`, `""`, `-1`, `true`} {
		var p Port
		if err := json.Unmarshal([]byte(bad), &p); err == nil {
			t.Errorf("%s: expected an error, got %+v", bad, p)
		}
	}
}

func TestProtocolJSON(t *testing.T) {
	tests := []struct {
		in    string
		want  Protocol
		ports bool
	}{
		{`"TCP"`, ProtocolFromString("TCP"), true},
		{`6`, ProtocolFromInt(6), true},
		{`17`, ProtocolFromInt(17), true},
		{`132`, ProtocolFromInt(132), true},
		{`"SCTP"`, ProtocolFromString("SCTP"), true},
		{`"ICMPv6"`, ProtocolFromString("ICMPv6"), false},
		{`1`, ProtocolFromInt(1), false},
	}
	for _, tt := range tests {
		var p Protocol
		if err := json.Unmarshal([]byte(tt.in), &p); err != nil {
			t.Fatalf("%s: %v", tt.in, err)
		}
		if p != tt.want || p.SupportsPorts() != tt.ports {
			t.Errorf("%s: got %+v ports=%v", tt.in, p, p.SupportsPorts())
		}
		if b, _ := json.Marshal(p); string(b) != tt.in {
			t.Errorf("%s: marshal gives %s", tt.in, b)
		}
	}
	if !ProtocolFromInt(1).Is(ProtocolICMP) || ProtocolFromString("TCP").Is(ProtocolUDP) {
		t.Error("Is compares protocol numbers")
	}
	var p Protocol
	if err := json.Unmarshal([]byte(`1.5`), &p); err == nil {
		t.Error("1.5: expected an error")
	}
}

func TestDurationJSON(t *testing.T) {
	var d Duration
	if err := json.Unmarshal([]byte(`"90s"`), &d); err != nil || d.Duration != 90*time.Second {
		t.Fatalf("got %v, %v", d, err)
	}
	if b, _ := json.Marshal(d); string(b) != `"1m30s"` {
		t.Errorf("marshal %s", b)
	}
	if b, _ := json.Marshal(Duration{}); string(b) != `"0s"` {
		t.Errorf("marshal zero %s", b)
	}
	for _, bad := range []string{`90`, `"ninety"`, `""`} {
		if err := json.Unmarshal([]byte(bad), &d); err == nil {
			t.Errorf("%s: expected an error", bad)
		}
	}
}

func TestDSCPJSON(t *testing.T) {
	for _, in := range []string{`"AF11"`, `46`} {
		var d DSCP
		if err := json.Unmarshal([]byte(in), &d); err != nil {
			t.Fatal(err)
		}
		if b, _ := json.Marshal(d); string(b) != in {
			t.Errorf("%s: marshal %s", in, b)
		}
	}
	var d DSCP
	if err := json.Unmarshal([]byte(`true`), &d); err == nil || !strings.Contains(err.Error(), "DSCP") {
		t.Errorf("true: got %v", err)
	}
}

func TestPortAndDSCPString(t *testing.T) {
	if !PortRange(1, 2).IsRange() || SinglePort(1).IsRange() || NamedPort("x").IsRange() {
		t.Error("IsRange")
	}
	if s := (DSCP{Num: 46}).String() + (DSCP{Name: "EF"}).String(); s != "46EF" {
		t.Errorf("DSCP String: %s", s)
	}
}
