package datastore_test

import (
	"context"
	"fmt"

	"github.com/tortienet/tortie/internal/datastore"
)

// printer is a Handler that prints what it sees.
type printer struct{ events chan struct{} }

func (p printer) OnSync(kvs []datastore.KV, rev int64) {
	for _, kv := range kvs {
		fmt.Printf("sync %s=%s\n", kv.Key, kv.Value)
	}
	p.events <- struct{}{}
}

func (p printer) OnEvent(ev datastore.Event) {
	fmt.Printf("event %s %s=%s\n", ev.Type, ev.KV.Key, ev.KV.Value)
	p.events <- struct{}{}
}

func ExampleListWatch() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := datastore.NewMemory()
	defer s.Close()
	pools := datastore.ResourceListPrefix("ippools", "")
	s.Create(ctx, datastore.ResourceKey("ippools", "", "default"), []byte(`{"kind":"IPPool"}`))

	h := printer{events: make(chan struct{})}
	go datastore.ListWatch(ctx, s, pools, h)
	<-h.events // the snapshot
	s.Create(ctx, datastore.ResourceKey("ippools", "", "extra"), []byte(`{}`))
	<-h.events // the event
	// Output:
	// sync /calico/resources/v3/projectcalico.org/ippools/default={"kind":"IPPool"}
	// event put /calico/resources/v3/projectcalico.org/ippools/extra={}
}
