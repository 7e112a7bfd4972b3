package kdd_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os/exec"
	"testing"
	"time"

	"github.com/tortienet/tortie/internal/controllers"
	"github.com/tortienet/tortie/internal/datastore/kdd"
)

// TestComponentRBAC: the roles deploy/tortie.yaml gives each component
// are enough for it: tortie-node runs (start-up writes, its ListWatch of
// everything, its Node's annotations) and a controllers pass and its
// Lease work, each as a user bound to that component's roles only.
func TestComponentRBAC(t *testing.T) {
	open(t)
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("no kubectl on PATH")
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, kubectl, "--kubeconfig", cluster.Kubeconfig, "apply", "-f", "../../../deploy/tortie-components.yaml").CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
	bind := func(user, kind, role, ns string) {
		binding := map[string]any{
			"metadata": map[string]any{"name": "test-" + user + "-" + role},
			"roleRef":  map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": role},
			"subjects": []any{map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}},
		}
		path := "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings"
		if ns != "" {
			path = "/apis/rbac.authorization.k8s.io/v1/namespaces/" + ns + "/rolebindings"
		}
		admin(t, http.MethodPost, path, binding, nil)
	}
	bind("tortie-node-user", "ClusterRole", "tortie-node", "")
	bind("tortie-node-user", "Role", "tortie-keys", "kube-system")
	bind("tortie-controllers-user", "ClusterRole", "tortie-controllers", "")
	bind("tortie-controllers-user", "Role", "tortie-keys", "kube-system")
	bind("tortie-controllers-user", "Role", "tortie-controllers-lease", "kube-system")

	t.Run("tortie-node", func(t *testing.T) {
		kc, err := cluster.KubeconfigFor("tortie-node-user-token")
		if err != nil {
			t.Fatal(err)
		}
		testNodeAgent(t, kc, "rbac", 51)
	})
	t.Run("tortie-controllers", func(t *testing.T) {
		kc, err := cluster.KubeconfigFor("tortie-controllers-user-token")
		if err != nil {
			t.Fatal(err)
		}
		s, err := kdd.Open(kdd.Config{Kubeconfig: kc})
		if err != nil {
			t.Fatal(err)
		}
		c, err := controllers.New(controllers.Config{Identity: "rbac-test"}, s, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Pass(t.Context(), time.Now()); err != nil {
			t.Fatalf("pass: %v", err)
		}
		if held, err := s.Lease("kube-system", "tortie-controllers", "rbac-test", 30*time.Second).TryAcquire(t.Context(), time.Now()); err != nil || !held {
			t.Fatalf("lease: %v %v", held, err)
		}
	})
}
