package e2e

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/i3net/i3net/internal/netlab"
	"github.com/i3net/i3net/internal/netlab/netlabtest"
	"github.com/i3net/i3net/proxy/vaddr"
)

// With systemd-resolved managing the resolver, a proxy serving two
// overlays registers both suffixes (~i3 and ~lab) with its primary's DNS
// address on its one tun link: "resolvectl query build.lab" gets lab's
// answer, in lab's pool. After the proxy stops, resolved is as before.
func TestOverlaysWithResolved(t *testing.T) {
	t.Parallel()
	rd := newResolvedDesk(t)
	w, desk, res, resolvectl, ctx, lab := rd.w, rd.desk, rd.res, rd.resolvectl, rd.ctx, rd.w.lab
	w.startServer()
	labSrv := lab.Host("srv2")
	labAddr := netip.AddrPortFrom(labSrv.Addr4(), serverPort)
	netlabtest.Start(t, labSrv, i3netBin, "server", "--listen", labAddr.String())
	if err := netlab.WaitUDP(ctx, labSrv, serverPort); err != nil {
		t.Fatal(err)
	}

	build := &node{w: w, dir: filepath.Join(t.TempDir(), "build")}
	build.makeIdentity()
	desk.dir = filepath.Join(t.TempDir(), "desk")
	desk.makeIdentity()
	if _, err := w.i3net(ctx, "book", "--book", filepath.Join(desk.dir, "book.lab"), "add", "build", build.key); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(desk.dir, "proxy.toml")
	writeFile(t, conf, []byte(fmt.Sprintf("[[overlay]]\nsuffix = \"lab\"\nservers = [\"%s\"]\npool4 = \"%s\"\n", labAddr, labPool4)), 0o600)

	before, err := resolvectl("status")
	if err != nil {
		t.Fatalf("resolvectl status: %v: %s", err, before)
	}
	desk.runAs = []string{"env", "DBUS_SYSTEM_BUS_ADDRESS=" + res.Address}
	desk.proxyArgs = []string{"--config", conf, "--pool4", i3Pool4.String()}
	desk.startProxy(t)
	desk.waitProxy(t)
	checkResolvedLink(t, desk, resolvectl)
	if out, err := resolvectl("domain", "i3net0"); err != nil || !strings.Contains(out, "~lab") {
		t.Errorf("resolvectl domain i3net0: %v: %q; want ~lab too", err, out)
	}
	want := vaddr.Derive(labPool4, build.pubID)
	if out, err := resolvectl("query", "build.lab"); err != nil || !strings.Contains(out, want.String()) {
		t.Errorf("resolvectl query build.lab: %v: %s; want %v, the lab overlay's answer", err, out, want)
	}
	desk.stopProxy(t)
	waitStatus(t, ctx, "after the proxy stopped", before, resolvectl)
}
