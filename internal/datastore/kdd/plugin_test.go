package kdd_test

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tortienet/tortie/internal/ctl"
)

// TestKubectlPlugin: tortiectl installed as kubectl-tortie is `kubectl
// tortie`, on kubectl's kubeconfig ($KUBECONFIG) and context.
func TestKubectlPlugin(t *testing.T) {
	open(t)
	var out, errb bytes.Buffer
	app := &ctl.App{Out: &out, Err: &errb, In: strings.NewReader(""), KubectlPlugin: true,
		Getenv: func(k string) string {
			if k == "KUBECONFIG" {
				return cluster.Kubeconfig + string(os.PathListSeparator) + "/nonexistent"
			}
			return ""
		}}
	pool := "apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: plugin-pool\nspec:\n  cidr: 10.50.0.0/16\n"
	app.In = strings.NewReader(pool)
	if code := app.Run(t.Context(), []string{"apply", "-f", "-"}); code != 0 {
		t.Fatalf("kubectl tortie apply: exit %d: %s", code, errb.String())
	}
	out.Reset()
	if code := app.Run(t.Context(), []string{"get", "ippools"}); code != 0 || !strings.Contains(out.String(), "plugin-pool") ||
		!strings.Contains(out.String(), "10.50.0.0/16") {
		t.Fatalf("kubectl tortie get ippools: exit %d: %s%s", code, out.String(), errb.String())
	}
	errb.Reset()
	if code := app.Run(t.Context(), []string{"get", "ippools", "--context", "nope"}); code == 0 || !strings.Contains(errb.String(), `no context "nope"`) {
		t.Fatalf("unknown context: exit %d: %s", code, errb.String())
	}
}

// TestRealKubectlPlugin: the real kubectl finds kubectl-tortie on PATH and
// runs it with its own kubeconfig flag.
func TestRealKubectlPlugin(t *testing.T) {
	open(t)
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("no kubectl on PATH")
	}
	dir := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(dir, ctl.PluginName), "github.com/tortienet/tortie/cmd/tortiectl")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v: %s", err, out)
	}
	ctx, cancel := context.WithTimeout(t.Context(), timeoutPlugin)
	defer cancel()
	cmd := exec.CommandContext(ctx, kubectl, "tortie", "--kubeconfig", cluster.Kubeconfig, "get", "ippools", "-o", "wide")
	cmd.Env = append(os.Environ(), "PATH="+dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "CIDR") {
		t.Fatalf("kubectl tortie get ippools: %v: %s", err, out)
	}
}

const timeoutPlugin = 30 * time.Second

// TestManifestsApply: deploy/tortie.yaml (and deploy/crds.yaml alone)
// pass the real apiserver's validation: kubectl apply --dry-run=server.
func TestManifestsApply(t *testing.T) {
	open(t)
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("no kubectl on PATH")
	}
	for _, f := range []string{"../../../deploy/crds.yaml", "../../../deploy/tortie.yaml"} {
		ctx, cancel := context.WithTimeout(t.Context(), timeoutPlugin)
		out, err := exec.CommandContext(ctx, kubectl, "--kubeconfig", cluster.Kubeconfig, "apply", "--dry-run=server", "-f", f).CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("kubectl apply --dry-run=server -f %s: %v\n%s", f, err, out)
		}
		if f == "../../../deploy/tortie.yaml" && !strings.Contains(string(out), "daemonset.apps/tortie-node created (server dry run)") {
			t.Errorf("dry run of %s:\n%s", f, out)
		}
	}
}

// TestGetProfiles: `get profiles` on the Kubernetes datastore lists what
// calicoctl lists there: kns.<ns> for every namespace and
// projectcalico-default-allow, not the ksa.<ns>.<sa> profiles of service
// accounts (which still read by name).
func TestGetProfiles(t *testing.T) {
	open(t)
	admin(t, http.MethodPost, "/api/v1/namespaces", map[string]any{"metadata": map[string]any{"name": "prof-ns"}}, nil)
	admin(t, http.MethodPost, "/api/v1/namespaces/prof-ns/serviceaccounts", map[string]any{"metadata": map[string]any{"name": "robot"}}, nil)
	t.Cleanup(func() {
		_ = cluster.Admin(context.Background(), http.MethodDelete, "/api/v1/namespaces/prof-ns", nil, nil)
	})
	var nsList struct {
		Items []struct{ Metadata struct{ Name string } }
	}
	admin(t, http.MethodGet, "/api/v1/namespaces", nil, &nsList)
	want := []string{"NAME"}
	for _, n := range nsList.Items {
		want = append(want, "kns."+n.Metadata.Name)
	}
	want = append(want, "projectcalico-default-allow")
	var out, errb bytes.Buffer
	app := &ctl.App{Out: &out, Err: &errb, In: strings.NewReader(""), KubectlPlugin: true,
		Getenv: func(k string) string {
			if k == "KUBECONFIG" {
				return cluster.Kubeconfig
			}
			return ""
		}}
	if code := app.Run(t.Context(), []string{"get", "profiles"}); code != 0 {
		t.Fatalf("get profiles: exit %d: %s", code, errb.String())
	}
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		got = append(got, strings.Fields(l)[0])
	}
	if !slices.Equal(got, want) {
		t.Errorf("get profiles lists %v, want %v", got, want)
	}
	out.Reset()
	if code := app.Run(t.Context(), []string{"get", "profile", "ksa.prof-ns.robot", "-o", "wide"}); code != 0 ||
		!strings.Contains(out.String(), "pcsa.projectcalico.org/name=robot") {
		t.Errorf("get profile ksa.prof-ns.robot: exit %d: %s%s", code, out.String(), errb.String())
	}
}
