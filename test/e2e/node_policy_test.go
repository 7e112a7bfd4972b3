package e2e

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const policyTopology = `subnets:
  - {name: s1, cidr: 172.31.1.0/24}
pool: {vxlanMode: Always}
nodes:
  - {name: node1, interfaces: [{name: eth0, subnet: s1}]}
  - {name: node2, interfaces: [{name: eth0, subnet: s1}]}
pods:
  - {name: web, namespace: prod, node: node1, labels: {app: web}}
  - {name: db, namespace: prod, node: node2, labels: {app: db}}
  - {name: client, namespace: dev, node: node1, labels: {app: client}}
  - {name: other, namespace: dev, node: node2, labels: {app: other}}
`

// A tier that quarantines app=other (and passes the rest), and a
// namespaced policy that lets only prod's web ping prod's db.
const policyYAML = `apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: security}
spec: {order: 10}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: security.quarantine}
spec:
  tier: security
  selector: all()
  types: [Ingress]
  ingress:
  - {action: Deny, source: {selector: app == 'other'}}
  - {action: Pass}
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: db-in, namespace: prod}
spec:
  selector: app == 'db'
  ingress:
  - {action: Allow, protocol: ICMP, source: {selector: app == 'web'}}
`

// Scenario §5: policy changes reachability as Calico's model says, the
// lab's matrix expects exactly that, explain names what decided, and
// deleting the policies gives full connectivity back.
func TestNodePolicy(t *testing.T) {
	nodeLabNeeds(t, "nft")
	t.Parallel()
	l := upNodeLab(t, "npol", policyTopology)
	c := l.cluster()
	env := []string{"ETCD_ENDPOINTS=" + l.state().Datastore}
	file := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(file, []byte(policyYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	ctl := func(args ...string) (string, int) {
		out, errOut, code := l.inCode(l.nodeNS("node1"), env, append([]string{bin("tortiectl")}, args...)...)
		return out + errOut, code
	}
	if out, code := ctl("apply", "-f", file); code != 0 {
		t.Fatalf("apply: exit %d: %s", code, out)
	}
	truth := []struct {
		from, to string
		allowed  bool
	}{
		{"prod/web", "prod/db", true},
		{"dev/client", "prod/db", false}, // db-in's rule selector is scoped to prod
		{"dev/other", "prod/web", false}, // quarantined in the security tier
		{"dev/other", "dev/client", false},
		{"dev/client", "prod/web", true}, // passed by security, no default-tier policy: the profile
		{"prod/db", "dev/client", true},
	}
	for _, tc := range truth {
		from, to := c.pods[tc.from], c.pods[tc.to]
		waitFor(t, tc.from+" -> "+tc.to, func() error {
			err := pingFromPod(from.netns, to.ip)
			if tc.allowed {
				return err
			}
			if err == nil {
				return errReached
			}
			return nil
		})
	}
	// 8 pairs policy allows, all connected; the legend alone says FAIL and ok!.
	if out := l.mustRun("ping"); !strings.Contains(out, "8 of 8 expected pairs connected") || strings.Count(out, "FAIL") != 1 || strings.Count(out, "ok!") != 1 {
		t.Errorf("lab ping with policy: the matrix should expect the blocked pairs:\n%s", out)
	}
	out, code := ctl("policy", "explain", "dev/client", "prod/db")
	if code != 1 || !strings.Contains(out, "denied") || !strings.Contains(out, "tier default: no rule matched: end of tier: Deny") {
		t.Errorf("explain client -> db: exit %d:\n%s", code, out)
	}

	if out, code := ctl("delete", "-f", file); code != 0 {
		t.Fatalf("delete: exit %d: %s", code, out)
	}
	for _, tc := range truth {
		from, to := c.pods[tc.from], c.pods[tc.to]
		waitFor(t, tc.from+" -> "+tc.to+" without policy", func() error { return pingFromPod(from.netns, to.ip) })
	}
}

var errReached = errors.New("reached, though policy denies it")

// inCode runs argv inside netns with extra environment, and returns its
// output, error output and exit code.
func (l *nodeLab) inCode(netns string, env []string, argv ...string) (string, string, int) {
	cmd := exec.Command("ip", append([]string{"netns", "exec", netns}, argv...)...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		code = -1
	}
	return out.String(), errb.String(), code
}
