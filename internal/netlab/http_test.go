package netlab_test

import (
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/i3net/i3net/internal/netlab"
	"github.com/i3net/i3net/internal/netlab/netlabtest"
)

// TestHTTPClient: a client from one host reaches an HTTP server listening in
// another, and sees the request come from its host's address; a name in the
// URL is refused (no lookups inside a lab).
func TestHTTPClient(t *testing.T) {
	l := netlabtest.New(t)
	laptop, web := l.Host("laptop"), l.Host("web")
	ln, err := web.Listen("tcp4", netip.AddrPortFrom(web.Addr4(), 8080))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, r.RemoteAddr)
	}), ReadHeaderTimeout: time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	c := laptop.HTTPClient(5 * time.Second)
	resp, err := c.Get("http://" + netip.AddrPortFrom(web.Addr4(), 8080).String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.HasPrefix(string(body), laptop.Addr4().String()+":") {
		t.Errorf("web saw the request from %q, want laptop's %v", body, laptop.Addr4())
	}
	if _, err := c.Get("http://web:8080/"); err == nil || !strings.Contains(err.Error(), "literal IP:PORT") {
		t.Errorf("a name in the URL: %v, want a refusal", err)
	}
}

func TestParseMetrics(t *testing.T) {
	m, err := netlab.ParseMetrics(strings.NewReader("# HELP x y\n# TYPE x counter\nx 3\n" +
		"i3net_server_drops_total{reason=\"family\"} 2\n\ny 1.5e+06\n"))
	if err != nil || m["x"] != 3 || m[`i3net_server_drops_total{reason="family"}`] != 2 || m["y"] != 1.5e6 || len(m) != 3 {
		t.Errorf("%v, %v", m, err)
	}
	for _, bad := range []string{"novalue\n", "x notanumber\n"} {
		if _, err := netlab.ParseMetrics(strings.NewReader(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
