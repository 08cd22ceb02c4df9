package proxy_test

import (
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/i3net/i3net/identity"
	"github.com/i3net/i3net/proxy"
	"github.com/i3net/i3net/proxy/proxytest"
)

// newConfig is a configuration that New accepts without root: an in-memory
// tun device, no resolver, files in a temporary directory.
func newConfig(t *testing.T) (proxy.Config, *proxytest.Tun) {
	ident, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := proxy.DefaultConfig()
	cfg.Identity = ident
	cfg.BookPath = filepath.Join(dir, "book.toml")
	cfg.StatePath = filepath.Join(dir, "state.json")
	cfg.ControlPath = filepath.Join(dir, "proxy.sock")
	cfg.Servers = []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:9")}
	cfg.ListenAddr = netip.MustParseAddrPort("127.0.0.1:0")
	cfg.ResolvConf = ""
	cfg.Logger = slog.New(slog.DiscardHandler)
	tun := proxytest.NewTun()
	cfg.Tun = tun
	return cfg, tun
}

// Bug 2: a start-up failure after New had begun to build the proxy panicked
// (Close on a nil Proxy) instead of returning its error.
func TestNewFailsCleanly(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(t *testing.T, cfg *proxy.Config)
		want string
	}{
		{"damaged address book", func(t *testing.T, cfg *proxy.Config) {
			if err := os.WriteFile(cfg.BookPath, []byte("[[peer]\nname = "), 0o600); err != nil {
				t.Fatal(err)
			}
		}, "book"},
		{"control socket in use", func(t *testing.T, cfg *proxy.Config) {
			ln, err := net.Listen("unix", cfg.ControlPath)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
			// The other proxy's saved state must survive this failed start.
			if err := os.WriteFile(cfg.StatePath, []byte("the other proxy's state"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, "another i3net proxy runs with this state directory"},
		{"client address not of this host", func(t *testing.T, cfg *proxy.Config) {
			cfg.ListenAddr = netip.MustParseAddrPort("192.0.2.1:0") // TEST-NET-1: never local
		}, "open the overlay client"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, tun := newConfig(t)
			c.edit(t, &cfg)
			px, err := proxy.New(cfg)
			if err == nil {
				px.Close()
				t.Fatal("New succeeded")
			}
			if px != nil {
				t.Errorf("New returned a Proxy with its error")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("New: %v; want a message with %q", err, c.want)
			}
			if b, err := os.ReadFile(cfg.StatePath); err == nil && c.name == "control socket in use" && string(b) != "the other proxy's state" {
				t.Errorf("a failed start wrote over the saved state: %q", b)
			}
			if c.want == "open the overlay client" && !tun.IsClosed() {
				t.Errorf("the tun device New had taken was not closed")
			}
		})
	}
}
