package gateway

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/i3net/i3net/proxy"
)

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gateway.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadConfig(t *testing.T) {
	path := writeConfig(t, `servers = ["198.18.0.1:5610"]
serve_names = ["*.corp.example", "re:^wiki[0-9]+\\.lab\\.example$"]
serve_cidrs = ["10.1.0.0/24"]
resolvers = ["10.1.0.53:53"]
anycast = "gw-a"
resolver_timeout = "1500ms"
`)
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.names) != 2 || cfg.Anycast != "gw-a" || cfg.ResolverTimeout.Milliseconds() != 1500 ||
		cfg.Tun != "i3gw0" || cfg.MTU != 1360 || cfg.ServeCIDRs[0] != netip.MustParsePrefix("10.1.0.0/24") {
		t.Fatalf("config %+v", cfg)
	}
	if !cfg.names[1].Match("wiki7.lab.example") || cfg.names[0].Match("corp.example") {
		t.Fatal("served names do not match as written")
	}
}

// Every mistake names the file, its line and the key, and says what to write.
func TestConfigErrors(t *testing.T) {
	tests := []struct{ text, want string }{
		{"serve_names = [\"*.corp.example\"]\n", ":0: serve_cidrs"},
		{"serve_cidrs = [\"10.1.0.0/24\"]\n", "serve_names"},
		{"serve_names = [\"*.x\"]\nserve_cidrs = [\"10.1.0.1/24\"]\n", ":2: serve_cidrs: element 0, 10.1.0.1/24, has host bits set: write 10.1.0.0/24"},
		{"serve_names = [\"*.x\"]\nserve_cidrs = [\"10.1.0.0/33\"]\n", ":2: serve_cidrs[0]"},
		{"serve_names = [\"re:(\"]\nserve_cidrs = [\"10.1.0.0/24\"]\n", ":1: serve_names: element 0"},
		{"serve_names = [\"*.x\"]\nserve_cidrs = [\"10.1.0.0/24\"]\nresolver_timeout = 2\n", ":3: resolver_timeout = 2: a duration needs a unit"},
		{"serve_names = [\"*.x\"]\nserve_cidrs = [\"10.1.0.0/24\"]\nanycats = \"a\"\n", ":3: unknown key \"anycats\" (did you mean \"anycast\"?)"},
		{"serve_names = [\"*.x\"]\nserve_cidrs = [\"10.1.0.0/24\"]\nmtu = 100\n", ":3: mtu: 100 is out of range"},
	}
	for _, tt := range tests {
		path := writeConfig(t, tt.text)
		_, err := LoadConfig(path)
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), strings.TrimPrefix(tt.want, ":0")) {
			t.Errorf("%q: error %v, want it to name %s and say %q", tt.text, err, path, tt.want)
		}
	}
	if _, err := LoadConfig(filepath.Join(t.TempDir(), "none.toml")); err == nil || !strings.Contains(err.Error(), "none.toml") {
		t.Errorf("a missing file: %v", err)
	}
}

func TestResolversDefault(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Resolvers = []netip.AddrPort{netip.MustParseAddrPort("10.1.0.53:53")}
	if ups, err := cfg.resolvers(); err != nil || len(ups) != 1 {
		t.Fatalf("configured resolvers: %v %v", ups, err)
	}
}

// allow_anonymous is off unless set, and reaches the proxy's configuration.
func TestAllowAnonymous(t *testing.T) {
	base := "servers = [\"198.18.0.1:5610\"]\nserve_names = [\"*.example\"]\nserve_cidrs = [\"10.1.0.0/24\"]\nresolvers = [\"10.1.0.53:53\"]\n"
	for _, tt := range []struct {
		extra string
		want  bool
	}{{"", false}, {"allow_anonymous = true\n", true}, {"allow_anonymous = false\n", false}} {
		cfg, err := LoadConfig(writeConfig(t, base+tt.extra))
		if err != nil {
			t.Fatal(err)
		}
		g := &Gateway{cfg: cfg}
		pcfg := proxy.DefaultConfig()
		if cfg.AllowAnonymous != tt.want || g.proxyConfig(pcfg).AcceptAnonymous != tt.want {
			t.Errorf("%q: AllowAnonymous %v, proxy's AcceptAnonymous %v; want %v", tt.extra, cfg.AllowAnonymous,
				g.proxyConfig(pcfg).AcceptAnonymous, tt.want)
		}
	}
	if _, err := LoadConfig(writeConfig(t, base+"allow_anonymous = \"yes\"\n")); err == nil || !strings.Contains(err.Error(), "allow_anonymous") {
		t.Errorf("allow_anonymous = \"yes\": %v, want an error naming the key", err)
	}
}
