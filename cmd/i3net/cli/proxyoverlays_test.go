package cli

import (
	"bytes"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/i3net/i3net/client"
	"github.com/i3net/i3net/identity"
	"github.com/i3net/i3net/proxy"
)

// overlayArgs parses the proxy's flags with a state directory holding the
// host's identity and a second one, lab.pem (i3net id --file).
func overlayArgs(t *testing.T, config string, args ...string) (*proxyArgs, string) {
	t.Helper()
	var out bytes.Buffer
	captureOutput(t, &out)
	dir := t.TempDir()
	for _, c := range [][]string{{"id", "--state-dir", dir}, {"id", "--state-dir", dir, "--file", "lab.pem"}} {
		if code := Run(c); code != 0 {
			t.Fatalf("i3net %v: exit %d: %s", c, code, out.String())
		}
	}
	path := filepath.Join(dir, "proxy.toml")
	writeFile(t, path, config)
	a := &proxyArgs{}
	fs := flag.NewFlagSet("proxy", flag.ContinueOnError)
	a.addFlags(fs)
	if err := fs.Parse(append([]string{"--state-dir", dir, "--config", path, "--server", "127.0.0.1:9"}, args...)); err != nil {
		t.Fatal(err)
	}
	return a, dir
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

const labOverlay = `
[[overlay]]
suffix = "lab"
servers = ["198.19.0.1:5610"]
pool4 = "100.96.0.0/12"
pool6 = "fd7a:1ab::/64"
identity = "lab.pem"
`

func TestProxyOverlayConfig(t *testing.T) {
	a, dir := overlayArgs(t, labOverlay, "--pool4", "100.64.0.0/12")
	cfgs, err := a.configs()
	if err != nil {
		t.Fatal(err)
	}
	if len(cfgs) != 2 {
		t.Fatalf("%d overlays, want 2", len(cfgs))
	}
	lab := cfgs[1]
	labIdent, err := identity.Load(filepath.Join(dir, "lab.pem"))
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case lab.Suffix != "lab" || lab.Servers[0].String() != "198.19.0.1:5610":
		t.Errorf("suffix %q servers %v", lab.Suffix, lab.Servers)
	case lab.Pool4.String() != "100.96.0.0/12" || lab.Pool6.String() != "fd7a:1ab::/64":
		t.Errorf("pools %v %v", lab.Pool4, lab.Pool6)
	case lab.Identity.Public() != labIdent.Public() || cfgs[0].Identity.Public() == labIdent.Public():
		t.Error("lab does not have the identity of lab.pem")
	case lab.BookPath != filepath.Join(dir, "book.lab") || lab.StatePath != filepath.Join(dir, "proxy-state.lab.json"):
		t.Errorf("book %s state %s", lab.BookPath, lab.StatePath)
	case lab.Rules != nil || lab.PublishPath != "":
		t.Error("lab took the primary's rules or publications")
	}
}

func TestProxyOverlayConfigErrors(t *testing.T) {
	for _, c := range []struct {
		name, text string
		args       []string
		want       string
	}{
		{"overlapping pool", labOverlay, nil,
			`proxy.toml:5: overlay[0].pool4 = "100.96.0.0/12": overlaps overlay "i3" pool 100.64.0.0/10: choose another`},
		{"overlapping pool with a hint", labOverlay, []string{"--pool4", "100.96.0.0/11"},
			`overlaps overlay "i3" pool 100.96.0.0/11: choose another, e.g. 100.64.0.0/12`},
		{"same suffix", strings.Replace(labOverlay, `"lab"`, `"i3"`, 1), []string{"--pool4", "100.64.0.0/12"},
			`proxy.toml:3: overlay[0].suffix = "i3": the overlay before has it too`},
		{"no servers", strings.Replace(labOverlay, `servers = ["198.19.0.1:5610"]`, "", 1), nil,
			`proxy.toml:2: overlay[0].servers: overlay "lab" has no servers`},
		{"no pool4", strings.Replace(labOverlay, `pool4 = "100.96.0.0/12"`, "", 1), nil,
			`overlay[0].pool4: overlay "lab" needs an IPv4 pool of its own`},
		{"bad pool6", strings.Replace(labOverlay, `"fd7a:1ab::/64"`, `"fd7a:1ab::"`, 1), nil,
			`proxy.toml:6: overlay[0].pool6 = "fd7a:1ab::": want an IPv6 range`},
		{"missing identity", strings.Replace(labOverlay, "lab.pem", "nope.pem", 1), []string{"--pool4", "100.64.0.0/12"},
			`proxy.toml:7: overlay[0].identity = "nope.pem"`},
		{"unknown key", labOverlay + "mtu = 1400\n", nil, `overlay[0].mtu`},
		{"userspace", labOverlay, []string{"--pool4", "100.64.0.0/12", "--userspace"}, "userspace mode serves one overlay"},
	} {
		a, _ := overlayArgs(t, c.text, c.args...)
		_, err := a.configs()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v\nwant %q", c.name, err, c.want)
		}
	}
}

// Each overlay of a proxy serving several is printed under its header.
func TestStatusPrintsOverlays(t *testing.T) {
	var out bytes.Buffer
	captureOutput(t, &out)
	lab := proxy.Status{Self: proxy.SelfStatus{ID: "bbbbbbbbbbbb", Suffix: "lab", Addr4: netip.MustParseAddr("100.96.1.2")},
		Servers:  []netip.AddrPort{netip.MustParseAddrPort("198.19.0.1:5610")},
		FirstHop: netip.MustParseAddrPort("198.19.0.1:5610"), NAT: client.NATInfo{Known: true},
		Peers: []proxy.PeerStatus{{Name: "build", Key: "i3pk1aaaaaaaaaaaaaaaaaaaa", ID: "cccccccccc", State: "active"}}}
	st := proxy.Status{Self: proxy.SelfStatus{ID: "aaaaaaaaaaaa", Suffix: "i3"}, Servers: []netip.AddrPort{netip.MustParseAddrPort("198.18.0.1:5610")},
		Overlays: []proxy.Status{lab}}
	printStatus(st)
	text := out.String()
	for _, want := range []string{
		"# overlay i3 (.i3): servers [198.18.0.1:5610], no first hop (no server answers), NAT unknown yet",
		"# overlay lab (.lab): servers [198.19.0.1:5610], first hop 198.19.0.1:5610, no NAT",
		"build", "100.96.1.2",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("status lacks %q:\n%s", want, text)
		}
	}
	if strings.Index(text, "(.lab)") > strings.Index(text, "build") {
		t.Errorf("lab's peer printed before lab's header:\n%s", text)
	}
}

// i3net id --file makes a second identity next to the host's.
func TestIDFile(t *testing.T) {
	var out bytes.Buffer
	captureOutput(t, &out)
	dir := t.TempDir()
	for _, c := range [][]string{{"id", "--state-dir", dir}, {"id", "--state-dir", dir, "--file", "lab.pem"}} {
		if code := Run(c); code != 0 {
			t.Fatalf("i3net %v: exit %d: %s", c, code, out.String())
		}
	}
	host, err1 := identity.Load(filepath.Join(dir, identityFile))
	lab, err2 := identity.Load(filepath.Join(dir, "lab.pem"))
	if err1 != nil || err2 != nil || host.Public() == lab.Public() {
		t.Fatalf("two identities wanted: %v %v", err1, err2)
	}
}

// Bug: a host without IPv6 (--pool6 off, the default of an [[overlay]])
// printed "invalid IP" for its IPv6 address.
func TestStatusWithoutIPv6(t *testing.T) {
	var out bytes.Buffer
	captureOutput(t, &out)
	printStatus(proxy.Status{Self: proxy.SelfStatus{ID: "aaaaaaaaaaaa", Suffix: "lab", Addr4: netip.MustParseAddr("100.96.1.2"),
		DNS: netip.MustParseAddr("100.111.255.254")}, Local: netip.MustParseAddrPort("198.18.0.7:40000")})
	if strings.Contains(out.String(), "invalid IP") {
		t.Errorf("status of a host without IPv6:\n%s", out.String())
	}
}
