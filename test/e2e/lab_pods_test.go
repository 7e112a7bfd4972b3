package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tortienet/tortie/internal/lab"
)

// Two pods on one node reach each other, `path` shows the way through both
// veths, and `exec` runs inside a pod.
func TestLabTwoPodsOnOneNode(t *testing.T) {
	labNeeds(t)
	t.Parallel()
	l := newTestLab(t, "e2epods")
	file := filepath.Join(t.TempDir(), "lab.yaml")
	doc := "cni: " + labCNI() + `
nodes:
  - name: node1
    interfaces: [{name: ens32}]
pods:
  - {name: web, node: node1, labels: {app: web}}
  - {name: db, namespace: prod, node: node1, labels: {app: db}}
`
	if err := os.WriteFile(file, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	l.mustRun("up", "--file", file)

	var st lab.Status
	if err := json.Unmarshal([]byte(l.mustRun("status", "-o", "json")), &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Pods) != 2 || len(st.Pods[0].IPs) == 0 || len(st.Pods[1].IPs) == 0 || st.Pods[0].HostIf == "" || st.Pods[1].HostIf == "" {
		t.Fatalf("pods in status: %+v", st.Pods)
	}
	if ifc := st.Nodes[0].Interfaces[0]; ifc.Name != "ens32" || len(ifc.Addrs) == 0 || !ifc.Up {
		t.Errorf("node interface %+v", ifc)
	}

	out := l.mustRun("ping")
	t.Log("\n" + out)
	if !strings.Contains(out, "2 of 2 expected pairs connected") {
		t.Errorf("ping matrix:\n%s", out)
	}

	out = l.mustRun("path", "web", "prod/db")
	t.Log("\n" + out)
	web, db := st.Pods[0], st.Pods[1]
	dbIP, _, _ := strings.Cut(db.IPs[0], "/")
	for _, want := range []string{"default/web", "node1", web.HostIf, db.HostIf, "prod/db", "delivered: " + dbIP + " is on eth0", "delivered in 3 hops"} {
		if !strings.Contains(out, want) {
			t.Errorf("path lacks %q", want)
		}
	}

	out = l.mustRun("exec", "web", "--", "ip", "-o", "-4", "addr", "show", "dev", "eth0")
	if webIP, _, _ := strings.Cut(web.IPs[0], "/"); !strings.Contains(out, webIP) {
		t.Errorf("exec in web: %s, want %s", out, webIP)
	}
	if _, _, code := l.run("exec", "web", "--", "false"); code != 1 {
		t.Errorf("exec of false: exit %d, want 1", code)
	}
	if dot := l.mustRun("status", "-o", "dot"); !strings.HasPrefix(dot, "graph ") || !strings.Contains(dot, "prod/db") {
		t.Errorf("dot output:\n%s", dot)
	}
}
