package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/i3net/i3net/internal/netlab/netlabtest"
)

// TestGatewayIntranets checks the intranets the gateway's tests use, without
// any gateway: from each router's namespace, the intranet's dnsmasq answers
// its names, nginx, sshd and vsftpd in active mode answer on 10.1.0.10 with
// that intranet's content; the two intranets, both 10.1.0.0/24, are
// isolated; a host on the internet has no route to either, and the
// intranets' hosts none to the laptops' virtual pool.
func TestGatewayIntranets(t *testing.T) {
	needProgram(t, "curl", "dig", "inetutils-ftp")
	t.Parallel()
	lab := netlabtest.New(t)
	laptop := lab.Host("laptop")
	office := newIntranet(t, lab, "gwoffice", "office", "corp.example", true)
	other := newIntranet(t, lab, "gwlab", "lab", "lab.example", false)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	gw := office.gw.Host

	t.Run("dns", func(t *testing.T) {
		at := "@" + intraDNSAddr.String()
		for name, want := range map[string]string{
			"wiki.corp.example": serverAddr.String(), "outside.corp.example": outsideAddr.String(),
			"also.elsewhere.example": serverAddr.String(), "nope.corp.example": "",
		} {
			out, status, _ := digIn(t, gw, name, at)
			switch got := digAddrs(out); {
			case want == "" && status != "NXDOMAIN":
				t.Errorf("dig %s: status %s, want NXDOMAIN:\n%s", name, status, out)
			case want != "" && (status != "NOERROR" || !slices.Equal(got, []string{want})):
				t.Errorf("dig %s: %s %v, want NOERROR [%s]:\n%s", name, status, got, want, out)
			}
		}
		out, _, _ := digIn(t, other.gw.Host, "wiki.lab.example", at)
		if got := digAddrs(out); !slices.Equal(got, []string{serverAddr.String()}) {
			t.Errorf("dig wiki.lab.example in the lab intranet: %v, want [%v]", got, serverAddr)
		}
	})

	t.Run("http", func(t *testing.T) {
		url := "http://" + serverAddr.String() + "/"
		for _, in := range []*intranet{office, other} {
			got, err := curlGet(t, ctx, in.gw.Host, url)
			if err != nil || !bytes.Equal(got, in.content) {
				t.Errorf("curl %s from %s: %q, %v; want %q", url, in.gw.Name(), got, err, in.content)
			}
		}
		file := filepath.Join(t.TempDir(), "big.bin")
		if _, err := curlGet(t, ctx, gw, url+"big.bin", "-o", file); err != nil {
			t.Fatal(err)
		}
		if got := fileSHA256(t, file); got != office.web.bigSum {
			t.Errorf("big.bin's sha256 is %s, want %s", got, office.web.bigSum)
		}
		if c := office.web.clients(); len(c) != 2 || c[0] != office.gw.LAN().Gateway4().String() {
			t.Errorf("office's nginx saw clients %v, want the router's LAN address %v twice", c, office.gw.LAN().Gateway4())
		}
	})

	t.Run("ssh", func(t *testing.T) {
		s := startSSHD(t, office.server)
		out := mustRun(t, ctx, gw, "ssh", s.args(serverAddr.String(), "echo hello from $(hostname -I)")...)
		if !strings.HasPrefix(string(out), "hello from "+serverAddr.String()) {
			t.Errorf("ssh: %q", out)
		}
	})

	t.Run("ftp-active", func(t *testing.T) {
		s := startVsftpd(t, office.server)
		data := []byte(rand.Text())
		writeFile(t, filepath.Join(s.root, "pub.txt"), data, 0o644)
		dir := t.TempDir()
		out := ftpClient(t, ctx, gw, dir, serverAddr.String(), "user anonymous\nbinary\nls\nget pub.txt got.txt\nquit\n")
		if got, err := os.ReadFile(filepath.Join(dir, "got.txt")); err != nil || !bytes.Equal(got, data) {
			t.Errorf("ftp get: %q, %v; want %q\n%s", got, err, data, out)
		}
		if !strings.Contains(s.protocolLog(), "PORT 10,1,0,1,") {
			t.Errorf("vsftpd's log shows no PORT from 10.1.0.1 (active mode):\n%s", tail([]byte(s.protocolLog()), 2048))
		}
	})

	t.Run("isolated", func(t *testing.T) {
		c, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if out, err := run(t, c, laptop, "ip", "route", "get", serverAddr.String()); err == nil {
			t.Errorf("the laptop has a route to the intranets:\n%s", out)
		}
		pool := netip.MustParseAddr("100.64.1.2")
		if out, err := run(t, c, office.server, "ip", "route", "get", pool.String()); err == nil {
			t.Errorf("the intranet's server has a route to the virtual pool:\n%s", out)
		}
	})
}
