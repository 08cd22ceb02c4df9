package middlebox

import (
	"bytes"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/i3net/i3net/internal/testwait"
	"github.com/i3net/i3net/proxy"
	"github.com/i3net/i3net/proxy/book"
	"github.com/i3net/i3net/proxy/packet"
	"github.com/i3net/i3net/proxy/proxytest"
)

// With the real proxies: home imposes this middlebox; the laptop's pings and
// home's answers pass it (the IDS reads both, with the hosts' preserved
// virtual addresses), and an alert in eve.json for their pair shows in
// home's status.
func TestWithProxies(t *testing.T) {
	servers := startServer(t)
	laptop, home := proxytest.NewHost(t, "laptop"), proxytest.NewHost(t, "home")
	mbIdent := newIdent(t)
	eve := filepath.Join(t.TempDir(), "eve.json")
	cfg := DefaultConfig()
	cfg.Servers, cfg.EveJSON, cfg.EvePoll = servers, eve, 20*time.Millisecond
	cfg.Hosts = []HostConfig{{Name: "home", Key: home.Ident.Public()}}
	mb, ids := startMiddlebox(t, cfg, mbIdent)

	laptop.WriteEntries(t, book.NewEntry("home", home.Ident.Public()))
	home.WriteEntries(t, book.NewEntry("laptop", laptop.Ident.Public()), book.NewEntry("ids-mb", mbIdent.Public()))
	home.Start(t, servers, func(c *proxy.Config) { c.Middlebox = "ids-mb" })
	laptop.Start(t, servers, nil)
	l4, _ := laptop.Self()
	h4, _ := home.Self()
	v4, _, ok := laptop.PX.ResolveOverlay("home")
	if !ok || v4 != h4 {
		t.Fatalf("home is %v at the laptop, %v at home: want preserved", v4, h4)
	}
	ping := func(src, dst netip.Addr, seq uint16) []byte {
		b, err := packet.Build(packet.Header{Src: netip.AddrPortFrom(src, 0), Dst: netip.AddrPortFrom(dst, 0),
			Proto: packet.ProtoICMPv4, ICMPType: uint8(packet.ICMPv4EchoRequest), ICMPID: 7, ICMPSeq: seq}, []byte("x"))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	out := ping(l4, v4, 1)
	laptop.Tun.Send(out)
	if got := home.Tun.Next(t); !bytes.Equal(got, out) {
		t.Fatalf("home got %x, want %x", got, out)
	}
	back := ping(h4, l4, 2)
	home.Tun.Send(back)
	laptop.Tun.Next(t)
	var seen [][]byte
	testwait.For(t, "both pings at the IDS", func() bool {
		for p, ok := ids.TryNext(); ok; p, ok = ids.TryNext() {
			seen = append(seen, p)
		}
		n := 0
		for _, p := range seen {
			if bytes.Equal(p, out) || bytes.Equal(p, back) {
				n++
			}
		}
		return n == 2
	})
	if home.Counter("drop_bypassed") != 0 {
		t.Fatalf("home dropped %d frames as bypassing", home.Counter("drop_bypassed"))
	}
	appendFile(t, eve, alertLine(l4.String(), h4.String(), "ET FTP eggdrop upload")+"\n")
	testwait.For(t, "the alert in home's status", func() bool {
		as := home.PX.Status().Alerts
		return len(as) == 1 && as[0].Signature == "ET FTP eggdrop upload" && as[0].Middlebox == "ids-mb"
	})
	// The middlebox counts an alert once its send returned, which can be
	// after home already shows it.
	testwait.For(t, "the alert counted at the middlebox", func() bool {
		return mb.Status().Counters["alerts_sent"] == 1
	})
	if c := mb.Status().Counters; c["alerts_sent"] != 1 || c["drop_unknown_host"] != 0 || c["forwarded"] < 3 {
		t.Fatalf("middlebox counters %v", c)
	}
}
