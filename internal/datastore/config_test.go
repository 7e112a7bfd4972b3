package datastore

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "tortiectl.cfg")
	os.WriteFile(file, []byte(`apiVersion: projectcalico.org/v3
kind: CalicoAPIConfig
metadata:
spec:
  datastoreType: etcdv3
  etcdEndpoints: https://10.0.0.1:2379, https://10.0.0.2:2379
  etcdCACertFile: /ca.pem
  etcdCertFile: /cert.pem
  etcdKeyFile: /key.pem
`), 0o644)
	noEnv := func(string) string { return "" }
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

	cases := []struct {
		name     string
		path     string
		required bool
		getenv   func(string) string
		want     Config
		err      string
	}{
		{name: "defaults without file or env", path: filepath.Join(dir, "missing"), getenv: noEnv,
			want: Config{DatastoreType: "etcdv3", Etcd: EtcdConfig{Endpoints: []string{"http://127.0.0.1:2379"}}}},
		{name: "file", path: file, getenv: noEnv,
			want: Config{DatastoreType: "etcdv3", Etcd: EtcdConfig{Endpoints: []string{"https://10.0.0.1:2379", "https://10.0.0.2:2379"},
				CACertFile: "/ca.pem", CertFile: "/cert.pem", KeyFile: "/key.pem"}}},
		{name: "environment overrides the file", path: file, getenv: env(map[string]string{"ETCD_ENDPOINTS": "http://127.0.0.1:1234", "ETCD_CA_CERT_FILE": "/other.pem"}),
			want: Config{DatastoreType: "etcdv3", Etcd: EtcdConfig{Endpoints: []string{"http://127.0.0.1:1234"},
				CACertFile: "/other.pem", CertFile: "/cert.pem", KeyFile: "/key.pem"}}},
		{name: "explicit file must exist", path: filepath.Join(dir, "missing"), required: true, getenv: noEnv, err: "no such file"},
		{name: "unknown type", path: filepath.Join(dir, "missing"), getenv: env(map[string]string{"DATASTORE_TYPE": "consul"}), err: `datastoreType = "consul"`},
		{name: "cert without key", path: filepath.Join(dir, "missing"), getenv: env(map[string]string{"ETCD_CERT_FILE": "/c.pem"}), err: "etcdKeyFile"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := LoadConfig(c.path, c.required, c.getenv)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want one containing %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %+v\nwant %+v", got, c.want)
			}
		})
	}
	// A type that no backend serves yet is named when opening.
	kube, err := LoadConfig(filepath.Join(dir, "missing"), false, env(map[string]string{"DATASTORE_TYPE": "kubernetes"}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(t.Context(), kube, Backends{Etcd: func(context.Context, Config) (Store, error) { return nil, nil }}); err == nil || !strings.Contains(err.Error(), `datastoreType = "kubernetes"`) {
		t.Errorf("kubernetes without its backend: err = %v", err)
	}
	bad := filepath.Join(dir, "bad.cfg")
	os.WriteFile(bad, []byte("kind: CalicoAPIConfig\nspec:\n  etcdEndpoint: x\n"), 0o644)
	if _, err := LoadConfig(bad, true, noEnv); err == nil || !strings.Contains(err.Error(), "etcdEndpoint") {
		t.Errorf("misspelt field: err = %v, want it named", err)
	}
}
