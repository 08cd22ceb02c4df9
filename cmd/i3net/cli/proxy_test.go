package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/i3net/i3net/proxy/dns"
)

// Bug 2: a start-up failure of "i3net proxy" panicked (Close on a nil
// Proxy). Here the address book is damaged, which New finds before it
// touches the network: the command must say so and exit non-zero.
func TestProxyStartFailureIsAMessage(t *testing.T) {
	var out bytes.Buffer
	captureOutput(t, &out)
	dir := t.TempDir()
	if code := Run([]string{"id", "--state-dir", dir}); code != 0 {
		t.Fatalf("i3net id: exit %d: %s", code, out.String())
	}
	if err := os.WriteFile(filepath.Join(dir, bookFile), []byte("[[peer]\nname = "), 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	code := Run([]string{"proxy", "--state-dir", dir, "--server", "127.0.0.1:9", "--no-resolv-conf", "--tun", "i3nettest0"})
	if code == 0 {
		t.Fatalf("i3net proxy with a damaged book: exit 0: %s", out.String())
	}
	if msg := out.String(); !strings.Contains(msg, "book") || strings.Contains(msg, "panic") {
		t.Fatalf("i3net proxy with a damaged book: %q; want a message naming the book", msg)
	}
}

// TestProxyNoExtensions: --no-extensions reaches the overlay client, which
// then refuses the proxy's signed public trigger with a message saying why.
func TestProxyNoExtensions(t *testing.T) {
	var out bytes.Buffer
	captureOutput(t, &out)
	dir := t.TempDir()
	if code := Run([]string{"id", "--state-dir", dir}); code != 0 {
		t.Fatalf("i3net id: exit %d: %s", code, out.String())
	}
	out.Reset()
	code := Run([]string{"proxy", "--state-dir", dir, "--server", pingServer(t).String(), "--no-extensions",
		"--userspace", "--front", "127.0.0.1:0", "--no-resolv-conf"})
	if code == 0 || !strings.Contains(out.String(), "NoExtensions") {
		t.Fatalf("i3net proxy --no-extensions: exit %d: %q; want a failure naming NoExtensions", code, out.String())
	}
}

// A bad --dns-mode, or one that contradicts --no-resolv-conf, is refused
// with the choices named, before anything is touched.
func TestProxyDNSModeFlag(t *testing.T) {
	var out bytes.Buffer
	captureOutput(t, &out)
	dir := t.TempDir()
	if code := Run([]string{"id", "--state-dir", dir}); code != 0 {
		t.Fatalf("i3net id: exit %d: %s", code, out.String())
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--dns-mode", "systemd"}, `--dns-mode "systemd": choose auto, resolvconf, resolved or off`},
		{[]string{"--dns-mode", "resolved", "--no-resolv-conf"}, "--no-resolv-conf leaves the resolver alone, but --dns-mode resolved hooks it"},
	} {
		out.Reset()
		args := append([]string{"proxy", "--state-dir", dir, "--server", "127.0.0.1:9", "--tun", "i3nettest0"}, c.args...)
		if code := Run(args); code == 0 || !strings.Contains(out.String(), c.want) {
			t.Errorf("i3net %v: exit %d, %q; want a failure saying %q", c.args, code, out.String(), c.want)
		}
	}
	for _, c := range []struct {
		flag     string
		noResolv bool
		want     dns.Mode
	}{
		{"auto", false, dns.ModeAuto}, {" Resolved", false, dns.ModeResolved}, {"resolvconf", false, dns.ModeResolvConf},
		{"off", false, dns.ModeOff}, {"auto", true, dns.ModeOff}, {"off", true, dns.ModeOff},
	} {
		if got, err := parseDNSMode(c.flag, c.noResolv); err != nil || got != c.want {
			t.Errorf("parseDNSMode(%q, %v) = %v, %v; want %v", c.flag, c.noResolv, got, err, c.want)
		}
	}
}
