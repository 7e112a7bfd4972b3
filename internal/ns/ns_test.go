package ns

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping: network namespaces need root (run the tests as root)")
	}
}

// testName is unique per test process, so parallel runs do not clash.
func testName(t *testing.T, suffix string) string {
	return fmt.Sprintf("tl-nstest%d.%s", os.Getpid(), suffix)
}

func TestCreateDoDelete(t *testing.T) {
	needRoot(t)
	name := testName(t, "a")
	t.Cleanup(func() { _ = Delete(name) })
	host, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()

	if err := Create(name); err != nil {
		t.Fatal(err)
	}
	if err := Create(name); err == nil {
		t.Fatal("creating an existing namespace succeeded")
	}
	if !Exists(name) {
		t.Fatal("namespace does not exist after Create")
	}
	var inside string
	err = Do(name, func() error {
		cur, err := netns.Get()
		if err != nil {
			return err
		}
		defer cur.Close()
		if cur.Equal(host) {
			return fmt.Errorf("still in the host namespace")
		}
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			return err
		}
		inside = lo.Attrs().OperState.String()
		return netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "tltest0"}, PeerName: "tltest1"})
	})
	if err != nil {
		t.Fatal(err)
	}
	if inside == "down" {
		t.Errorf("loopback is %s inside the new namespace", inside)
	}
	if _, err := netlink.LinkByName("tltest0"); err == nil {
		t.Fatal("the veth made inside the namespace is in the host namespace")
	}
	h, err := Handle(name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.LinkByName("tltest0"); err != nil {
		t.Errorf("handle does not see the namespace's link: %v", err)
	}
	h.Close()
	if err := Sysctl(name, "net.ipv4.ip_forward", "1"); err != nil {
		t.Fatal(err)
	}
	names, err := List("tl-nstest")
	if err != nil || !strings.Contains(strings.Join(names, " "), name) {
		t.Errorf("List = %v, %v", names, err)
	}
	if err := Delete(name); err != nil {
		t.Fatal(err)
	}
	if Exists(name) {
		t.Fatal("namespace exists after Delete")
	}
	if err := Delete(name); err != nil {
		t.Fatalf("second Delete: %v", err)
	}
	if err := Do(name, func() error { return nil }); err == nil {
		t.Fatal("Do in a deleted namespace succeeded")
	}
}
