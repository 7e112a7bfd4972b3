package install

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	src, bin, net, sa := filepath.Join(dir, "src"), filepath.Join(dir, "bin"), filepath.Join(dir, "net"), filepath.Join(dir, "sa")
	for _, d := range []string{src, sa} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for n, body := range map[string]string{"src/tortie": "plugin", "sa/ca.crt": "CA", "sa/token": "tok\n"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{
		"TORTIE_BIN_DIR": src, "CNI_BIN_DIR": bin, "CNI_NET_DIR": net, "CNI_MTU": "1440", "KUBERNETES_NODE_NAME": "n1",
		"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443",
		"CNI_NETWORK_CONFIG": `{"kubernetes":{"kubeconfig":"__KUBECONFIG_FILEPATH__"},"mtu":__CNI_MTU__,"nodename":"__KUBERNETES_NODE_NAME__"}`,
	}
	c, err := ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	c.CAFile, c.TokenFile = filepath.Join(sa, "ca.crt"), filepath.Join(sa, "token")
	if err := Run(c); err != nil {
		t.Fatal(err)
	}
	conf := read(t, filepath.Join(net, "10-tortie.conflist"))
	if conf != `{"kubernetes":{"kubeconfig":"/etc/cni/net.d/tortie-kubeconfig"},"mtu":1440,"nodename":"n1"}` {
		t.Errorf("conflist %s", conf)
	}
	kc := read(t, filepath.Join(net, "tortie-kubeconfig"))
	if !strings.Contains(kc, "server: https://10.96.0.1:443") || !strings.Contains(kc, "token: tok\n") ||
		!strings.Contains(kc, "certificate-authority-data: Q0E=") {
		t.Errorf("kubeconfig %s", kc)
	}
	if st, err := os.Stat(filepath.Join(bin, "tortie-ipam")); err != nil || st.Mode().Perm() != 0o755 || read(t, filepath.Join(bin, "tortie-ipam")) != "plugin" {
		t.Errorf("tortie-ipam: %v %v", st, err)
	}
	delete(env, "CNI_NETWORK_CONFIG")
	if _, err := ConfigFromEnv(func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), "CNI_NETWORK_CONFIG") {
		t.Errorf("without a template: %v", err)
	}
}

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
