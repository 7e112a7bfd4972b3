package proxy_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"

	"github.com/tortienet/tortie/internal/cni/agentsock/proxy"
	"github.com/tortienet/tortie/internal/datastore"
)

// The node agent serves its Store on a socket in its state directory; the
// CNI plugin dials it and uses it as any other Store.
func Example() {
	dir, err := os.MkdirTemp("", "tortie")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "tortie.sock")

	// Agent side.
	store := datastore.NewMemory() // the agent's etcd Store
	defer store.Close()
	l, err := proxy.Listen(sock)
	if err != nil {
		panic(err)
	}
	srv := &http.Server{Handler: proxy.Handler(store)}
	go srv.Serve(l) //nolint:errcheck
	defer srv.Close()

	// Plugin side.
	ctx := context.Background()
	c, err := proxy.Dial(ctx, sock)
	if err != nil {
		panic(err)
	}
	defer c.Close()
	if _, err := c.Create(ctx, "/calico/v1/host/node-1/config/x", []byte("1")); err != nil {
		panic(err)
	}
	kv, err := c.Get(ctx, "/calico/v1/host/node-1/config/x")
	fmt.Printf("%s=%s %v\n", kv.Key, kv.Value, err)
	_, err = c.Create(ctx, "/calico/v1/host/node-1/config/x", []byte("2"))
	fmt.Println(err)
	// Output:
	// /calico/v1/host/node-1/config/x=1 <nil>
	// /calico/v1/host/node-1/config/x: resource already exists
}
