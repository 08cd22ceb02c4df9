package pkgbuild

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestUnitsKeepThePromisedHardening reads the packaged units and checks the
// settings the README promises: restart on failure, no new privileges, only
// the capabilities named, the sandbox, and the address families the services
// use (netlink for the tun device and the interface list, unix for the
// journal and D-Bus).
func TestUnitsKeepThePromisedHardening(t *testing.T) {
	common := []string{
		"Restart=on-failure", "NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes",
		"PrivateTmp=yes", "ProtectKernelModules=yes", "ProtectControlGroups=yes",
		"RestrictAddressFamilies=AF_INET AF_INET6 AF_NETLINK AF_UNIX",
	}
	units := map[string][]string{
		unitServer: {"DynamicUser=yes", "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
			"ExecStart=/usr/bin/i3net server --config /etc/i3net/server.toml"},
		unitProxy: {"CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_BIND_SERVICE",
			"AmbientCapabilities=CAP_NET_ADMIN CAP_NET_BIND_SERVICE",
			"ReadWritePaths=/etc /var/lib/i3net", "StateDirectory=i3net", "DeviceAllow=/dev/net/tun rw",
			"ExecStart=/usr/bin/i3net proxy --config /etc/i3net/proxy.toml"},
	}
	for unit, want := range units {
		text, err := os.ReadFile(filepath.Join("../../packaging/systemd", unit))
		if err != nil {
			t.Fatal(err)
		}
		lines := map[string]bool{}
		for _, l := range strings.Split(string(text), "\n") {
			lines[strings.TrimSpace(l)] = true
		}
		for _, w := range append(want, common...) {
			if !lines[w] {
				t.Errorf("%s lacks the line %q", unit, w)
			}
		}
	}
}
