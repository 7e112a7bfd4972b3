package node

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/calc"
)

// In etcd mode a BGPPeer's secretKeyRef {name, key} is the file
// <secrets dir>/<name>/<key>, as a Secret volume lays it out.
func TestBGPPassword(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "bgp-secrets"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bgp-secrets", "rr"), []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := &speakerRunner{secretsDir: dir, log: slog.New(slog.DiscardHandler)}
	peer := func(name, key string) calc.BGPPeer {
		return calc.BGPPeer{Name: "Global_10_0_0_9", Password: &v3.SecretKeySelector{Name: name, Key: key}}
	}
	if p, err := r.peer(peer("bgp-secrets", "rr")); err != nil || p.Password != "s3cret" {
		t.Errorf("password = %q, %v; want s3cret", p.Password, err)
	}
	for _, tc := range []struct{ name, key, want string }{
		{"bgp-secrets", "missing", "secret bgp-secrets key missing"},
		{"../etc", "passwd", "a name with a slash"},
	} {
		p, err := r.peer(peer(tc.name, tc.key))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "Global_10_0_0_9") {
			t.Errorf("%s/%s: err = %v, want it to name the peer and say %q", tc.name, tc.key, err, tc.want)
		}
		if p.Password == "" || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s/%s: an unreadable password must still hold the session closed (got %q) and never be shown", tc.name, tc.key, p.Password)
		}
	}
	r.secretsDir = ""
	if _, err := r.peer(peer("bgp-secrets", "rr")); err == nil || !strings.Contains(err.Error(), "TORTIE_BGP_SECRETS_DIR") {
		t.Errorf("no secrets dir: err = %v", err)
	}
}
