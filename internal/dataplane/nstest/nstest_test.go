package nstest

import (
	"os"
	"strings"
	"testing"
)

func TestDoEntersAndLeaves(t *testing.T) {
	ns := New(t)
	if !strings.HasPrefix(ns.Name, "tdp-doentersandleave-") {
		t.Errorf("name %q", ns.Name)
	}
	self := func() string {
		s, err := os.Readlink("/proc/thread-self/ns/net")
		if err != nil {
			t.Error(err)
		}
		return s
	}
	outside := self()
	var inside string
	if err := ns.Do(func() error { inside = self(); return nil }); err != nil {
		t.Fatal(err)
	}
	if inside == outside {
		t.Fatalf("Do ran in the caller's namespace %s", inside)
	}
	if self() != outside {
		t.Fatal("the caller's namespace changed")
	}
}
