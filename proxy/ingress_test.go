package proxy_test

import (
	"net/netip"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/i3net/i3net/internal/testwait"
	"github.com/i3net/i3net/proxy"
	"github.com/i3net/i3net/proxy/packet"
	"github.com/i3net/i3net/proxy/proxytest"
	"github.com/i3net/i3net/proxy/publish"
)

// offers records what an ingress was offered, by publisher name.
type offers struct {
	mu sync.Mutex
	m  map[string][]publish.Service
}

// offer stands for package ingress: it takes names equal to the publisher's
// book name and refuses the rest.
func (o *offers) offer(from proxy.Publisher, s []publish.Service) publish.Reply {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.m == nil {
		o.m = make(map[string][]publish.Service)
	}
	o.m[from.Name] = s
	r := publish.Reply{Zone: "i3.example.net"}
	for _, x := range s {
		c := publish.Accepted
		if x.Name != from.Name {
			c = publish.NotYours
		}
		r.Results = append(r.Results, publish.Result{Name: x.Name, Port: x.Port, Code: c})
	}
	return r
}

func (o *offers) of(name string) ([]publish.Service, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	s, ok := o.m[name]
	return s, ok
}

// A host offers the services of its file to the ingress it names, shows the
// ingress's answer, withdraws what leaves the file, and learns each flow's
// client from the ingress.
func TestPublishOfferReplyWithdrawAndFlow(t *testing.T) {
	o := newOverlay(t)
	home, ing := o.host("home"), o.host("ing")
	names(t, home, map[string]*host{"ing": ing})
	names(t, ing, map[string]*host{"home": home})
	var got offers
	o.start(ing, func(c *proxy.Config) {
		c.AcceptUnknown = false
		c.Ingress = &proxy.IngressMode{Offer: got.offer}
	})
	file := filepath.Join(home.Dir, publish.FileName)
	if err := publish.Save(file, []publish.Service{
		{Ingress: "ing", Name: "home", Port: 443}, {Ingress: "ing", Name: "other", Port: 80, ProxyProtocol: true},
	}); err != nil {
		t.Fatal(err)
	}
	o.start(home, func(c *proxy.Config) { c.PublishPath = file })

	testwait.Within(t, 10*time.Second, "home's two services offered and answered", func() bool {
		s, ok := got.of("home")
		st := home.PX.Status().Published
		return ok && len(s) == 2 && len(st) == 2 && st[0].State == "accepted" && st[1].State != "offered" && st[1].State != "accepted"
	})
	if st := home.PX.Status().Published[0]; st.FQDN != "home.i3.example.net" || st.Port != 443 {
		t.Fatalf("publication status %+v", st)
	}

	if err := publish.Save(file, []publish.Service{{Ingress: "ing", Name: "home", Port: 443}}); err != nil {
		t.Fatal(err)
	}
	testwait.Within(t, 10*time.Second, "the withdrawn service gone from the offer", func() bool {
		s, _ := got.of("home")
		return len(s) == 1 && s[0].Port == 443
	})

	v, err := ing.PX.AddressOf(home.Ident.Public())
	if err != nil || !netip.MustParsePrefix("100.64.0.0/10").Contains(v) {
		t.Fatalf("AddressOf(home) = %v, %v; want a virtual address", v, err)
	}
	client := netip.MustParseAddrPort("198.51.100.7:51234")
	ing.PX.TellFlow(home.Ident.Public(), publish.Flow{From: 40001, Port: 443, Client: client,
		Waypoint: netip.MustParseAddrPort("203.0.113.10:443"), Name: "home"})
	testwait.Within(t, 10*time.Second, "home shows the flow's real client", func() bool {
		return slices.ContainsFunc(home.PX.Status().IngressFlows, func(f proxy.IngressFlowStatus) bool {
			return f.Client == client.String() && f.Ingress == "ing" && f.From == 40001
		})
	})
}

// An ingress reaches only the ports a host publishes through it: a SYN to
// another port is dropped by the host's proxy, one to a published port
// passes.
func TestIngressReachesOnlyPublishedPorts(t *testing.T) {
	o := newOverlay(t)
	home, ing := o.host("home"), o.host("ing")
	names(t, home, map[string]*host{"ing": ing})
	names(t, ing, map[string]*host{"home": home})
	var got offers
	o.start(ing, func(c *proxy.Config) { c.Ingress = &proxy.IngressMode{Offer: got.offer} })
	file := filepath.Join(home.Dir, publish.FileName)
	if err := publish.Save(file, []publish.Service{{Ingress: "ing", Name: "home", Port: 443}}); err != nil {
		t.Fatal(err)
	}
	o.start(home, func(c *proxy.Config) { c.PublishPath = file })
	testwait.Within(t, 10*time.Second, "home's service offered", func() bool {
		_, ok := got.of("home")
		return ok
	})
	dst, err := ing.PX.AddressOf(home.Ident.Public())
	if err != nil {
		t.Fatal(err)
	}
	src, _ := ing.Self()
	syn := func(port uint16) []byte {
		b, err := packet.Build(packet.Header{Src: netip.AddrPortFrom(src, 40000), Dst: netip.AddrPortFrom(dst, port),
			Proto: packet.ProtoTCP, TCPFlags: packet.TCPSyn, TCPSeq: 1}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	ing.Tun.Send(syn(22))
	testwait.Within(t, 10*time.Second, "the SYN to port 22 dropped and counted", func() bool {
		return home.Counter("drop_not_published") == 1
	})
	ing.Tun.Send(syn(443))
	if p := proxytest.Decode(t, home.Tun.Next(t)); p.Dst.Port() != 443 {
		t.Fatalf("home's tun got %v, want the SYN to 443", p.String())
	}
}
