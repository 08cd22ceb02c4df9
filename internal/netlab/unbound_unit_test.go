package netlab

import (
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestUnboundConf: StartUnbound's configuration listens on the host's
// addresses, allows the given prefixes, serves the auth zones from their
// files and the stubs at their servers, refuses a config without zones or
// with a stub without servers, and (when unbound is installed)
// unbound-checkconf accepts it. It needs no root.
func TestUnboundConf(t *testing.T) {
	dir := t.TempDir()
	a4, a6 := netip.MustParseAddr("198.18.0.5"), netip.MustParseAddr("2001:db8:1::5")
	zone := ParentZone("Example.NET.", a4, Delegation{Child: "i3.example.net", NSName: "ns1.i3.example.net", Addrs: []netip.Addr{netip.MustParseAddr("198.18.0.9")}})
	cfg := UnboundConfig{
		Dir:   dir,
		Auth:  []UnboundAuthZone{{Name: "example.net", Text: zone}},
		Stubs: []UnboundStub{{Name: "example.org", Servers: []netip.Addr{a4}}},
		Allow: []netip.Prefix{netip.MustParsePrefix("198.18.0.0/15")},
	}
	conf, err := unboundConf(cfg, filepath.Join(dir, "log"), a4, a6)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"interface: 198.18.0.5\n", "interface: 2001:db8:1::5\n", "access-control: 198.18.0.0/15 allow",
		`name: "example.net."`, "zone0.txt", `name: "example.org."`, "stub-addr: 198.18.0.5", `module-config: "iterator"`,
		"cache-min-ttl: 0", `chroot: ""`, `username: ""`, "do-daemonize: no"} {
		if !strings.Contains(conf, want) {
			t.Errorf("unbound.conf lacks %q:\n%s", want, conf)
		}
	}
	for _, want := range []string{"i3.example.net. IN NS ns1.i3.example.net.\n", "ns1.i3.example.net. IN A 198.18.0.9\n", "@ IN SOA ns.example.net."} {
		if !strings.Contains(zone, want) {
			t.Errorf("the parent zone lacks %q:\n%s", want, zone)
		}
	}
	if _, err := unboundConf(UnboundConfig{Dir: dir}, "log", a4, a6); err == nil {
		t.Error("a config without zones was accepted")
	}
	if _, err := unboundConf(UnboundConfig{Dir: dir, Stubs: []UnboundStub{{Name: "example.org"}}}, "log", a4, a6); err == nil {
		t.Error("a stub without servers was accepted")
	}
	if _, err := unboundConf(UnboundConfig{Dir: dir, Stubs: []UnboundStub{{Name: "bad name", Servers: []netip.Addr{a4}}}}, "log", a4, a6); err == nil {
		t.Error("a stub with a bad name was accepted")
	}
	checkconf, err := exec.LookPath("/usr/sbin/unbound-checkconf")
	if err != nil {
		return
	}
	// unbound-checkconf reads the zone file and checks the interfaces exist
	// only when it runs unbound; the addresses here are not this machine's.
	if err := os.WriteFile(zoneFile(dir, 0), []byte(zone), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "unbound.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(checkconf, path).CombinedOutput(); err != nil {
		t.Errorf("unbound-checkconf: %v: %s\n%s", err, out, conf)
	}
}
