package kdd

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// TestRetryTooManyRequests: a 429 (an apiserver whose storage is
// initializing after a restart) is sent again, body and all, until it
// is answered.
func TestRetryTooManyRequests(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) < 3 {
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(`{"kind":"Status","code":429,"reason":"TooManyRequests","message":"storage is (re)initializing"}`))
			return
		}
		var body map[string]any
		_ = jsonDecode(r, &body)
		_, _ = w.Write([]byte(`{"got":"` + body["v"].(string) + `"}`))
	}))
	defer srv.Close()
	c, err := newClient(Conn{Server: srv.URL, TLS: srv.Client().Transport.(*http.Transport).TLSClientConfig, Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	var out struct{ Got string }
	if err := c.call(t.Context(), http.MethodPost, "/x", nil, map[string]string{"v": "body"}, &out); err != nil || out.Got != "body" {
		t.Fatalf("after two 429s: %+v %v", out, err)
	}
	if calls.Load() != 3 {
		t.Errorf("%d sends, want 3", calls.Load())
	}
}

func jsonDecode(r *http.Request, v any) error { return json.NewDecoder(r.Body).Decode(v) }
