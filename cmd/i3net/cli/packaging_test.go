package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// packagedProxyFile is the default proxy configuration the Debian package
// installs as /etc/i3net/proxy.toml (internal/pkgbuild).
const packagedProxyFile = "../../../packaging/etc/proxy.toml"

// TestPackagedProxyFileLoads loads the packaged proxy.toml with the proxy's
// loader, as shipped (every key commented out) and with its commented-out
// examples set: both must load, and the examples must mean what they say.
func TestPackagedProxyFileLoads(t *testing.T) {
	if _, _, err := loadProxyFile(packagedProxyFile); err != nil {
		t.Fatalf("the packaged proxy.toml does not load: %v", err)
	}
	text, err := os.ReadFile(packagedProxyFile)
	if err != nil {
		t.Fatal(err)
	}
	commented := regexp.MustCompile(`(?m)^# ([a-z_]+ = .*|\[\[[a-z_]+\]\])$`)
	all := filepath.Join(t.TempDir(), "proxy-all.toml")
	if err := os.WriteFile(all, []byte(commented.ReplaceAllString(string(text), "$1")), 0o644); err != nil {
		t.Fatal(err)
	}
	f, rs, err := loadProxyFile(all)
	if err != nil {
		t.Fatalf("proxy.toml with its examples set does not load: %v", err)
	}
	if len(f.Servers) != 2 || len(f.Upstreams) != 1 || len(f.Rule) != 2 || rs == nil || f.Middlebox == "" {
		t.Errorf("examples load as %d servers, %d upstreams, %d rules, middlebox %q; want 2, 1, 2 and one",
			len(f.Servers), len(f.Upstreams), len(f.Rule), f.Middlebox)
	}
	if !strings.Contains(string(text), "servers") {
		t.Error("the packaged proxy.toml does not mention servers, which the proxy needs")
	}
}
