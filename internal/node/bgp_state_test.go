package node

import (
	"context"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/tortienet/tortie/internal/bgp"
	"github.com/tortienet/tortie/internal/calc"
)

// TestSpeakerStateConsumesChange: a reading of the speaker covers what it
// signalled before, so the agent's loop is not woken again for a learned
// route the sync that read it has already installed; a change after the
// reading wakes it.
func TestSpeakerStateConsumesChange(t *testing.T) {
	fake := bgp.NewFake()
	r := &speakerRunner{log: slog.New(slog.DiscardHandler),
		start: func(context.Context, bgp.Global, *slog.Logger) (bgp.Speaker, error) { return fake, nil }}
	defer r.close()
	if err := r.apply(t.Context(), calc.BGPDesired{Enabled: true, ASN: 64512, RouterID: netip.MustParseAddr("172.31.1.20")}); err != nil {
		t.Fatal(err)
	}
	learn := func(p string) {
		t.Helper()
		fake.Learn(bgp.Learned{Prefix: netip.MustParsePrefix(p), NextHop: netip.MustParseAddr("172.31.1.11")})
		deadline := time.Now().Add(5 * time.Second)
		for len(r.changed()) == 0 {
			if time.Now().After(deadline) {
				t.Fatal("the speaker's change was not signalled")
			}
			time.Sleep(time.Millisecond)
		}
	}
	learn("10.244.9.0/26")
	st := r.state()
	if len(st.learned) != 1 || st.learned[0].Prefix != netip.MustParsePrefix("10.244.9.0/26") {
		t.Fatalf("learned %v, want 10.244.9.0/26", st.learned)
	}
	if n := len(r.changed()); n != 0 {
		t.Fatal("the change read is still signalled")
	}
	learn("10.244.20.0/26") // fails unless signalled again
	if st := r.state(); len(st.learned) != 2 {
		t.Fatalf("learned %v, want two routes", st.learned)
	}
}
