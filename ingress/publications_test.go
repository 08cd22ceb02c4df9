package ingress

import (
	"testing"
	"time"

	"github.com/i3net/i3net/identity"
	"github.com/i3net/i3net/internal/clock"
	"github.com/i3net/i3net/proxy"
	"github.com/i3net/i3net/proxy/publish"
)

func newPubs(t *testing.T) (*publications, *clock.Fake, *int) {
	clk := clock.NewFake()
	changes := 0
	return &publications{clk: clk, life: 100 * time.Second, zone: "i3.example.net", changed: func() { changes++ }}, clk, &changes
}

func key(t *testing.T) identity.PublicKey {
	id, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	return id.Public()
}

// A host publishes its own book name and names under it, nothing else; a
// host not in the book publishes nothing.
func TestOfferTakesOnlyTheHostsOwnNames(t *testing.T) {
	ps, _, changes := newPubs(t)
	home := proxy.Publisher{Key: key(t), Name: "home"}
	r := ps.offer(home, []publish.Service{
		{Name: "home", Port: 443}, {Name: "www.home", Port: 80}, {Name: "bank", Port: 443},
		{Name: "xhome", Port: 80}, {Name: "Bad_Name", Port: 80}, {Name: "home", Port: 0},
	})
	want := []publish.Code{publish.Accepted, publish.Accepted, publish.NotYours, publish.NotYours, publish.BadName, publish.BadName}
	for i, c := range want {
		if r.Results[i].Code != c {
			t.Errorf("service %d (%s): %v, want %v", i, r.Results[i].Name, r.Results[i].Code, c)
		}
	}
	if r.Zone != "i3.example.net" || *changes != 1 {
		t.Fatalf("zone %q, changes %d", r.Zone, *changes)
	}
	if _, ok := ps.lookup("home", 443); !ok {
		t.Fatal("home:443 not published")
	}
	if _, ok := ps.lookup("home", 22); ok {
		t.Fatal("home:22 published without an offer")
	}
	stranger := proxy.Publisher{Key: key(t)}
	if r := ps.offer(stranger, []publish.Service{{Name: "home", Port: 22}}); r.Results[0].Code != publish.NotYours {
		t.Fatalf("a host not in the book: %v", r.Results[0].Code)
	}
}

// An offer replaces the last one (a service left out is withdrawn), and
// publications not offered again expire.
func TestOfferReplacesAndExpires(t *testing.T) {
	ps, clk, _ := newPubs(t)
	home := proxy.Publisher{Key: key(t), Name: "home"}
	ps.offer(home, []publish.Service{{Name: "home", Port: 443}, {Name: "home", Port: 22}})
	ps.offer(home, []publish.Service{{Name: "home", Port: 443}})
	if ps.serves("home", 22) || !ps.serves("home", 443) {
		t.Fatal("the second offer did not replace the first")
	}
	clk.Advance(101 * time.Second)
	if ps.published("home") {
		t.Fatal("a publication outlived its life without a new offer")
	}
	if gone := ps.expire(); len(gone) != 1 || gone[0] != "home" {
		t.Fatalf("expire = %v", gone)
	}
	ps.offer(home, nil)
	if len(ps.all()) != 0 {
		t.Fatal("an empty offer left services")
	}
}

// Saved publications come back with their age, and expire as they would have.
func TestPublicationsSurviveARestart(t *testing.T) {
	ps, clk, _ := newPubs(t)
	home := proxy.Publisher{Key: key(t), Name: "home"}
	ps.offer(home, []publish.Service{{Name: "home", Port: 443, ProxyProtocol: true}})
	path := t.TempDir() + "/pubs.json"
	if err := ps.save(path); err != nil {
		t.Fatal(err)
	}
	again, _, _ := newPubs(t)
	again.clk = clk
	if err := again.load(path); err != nil {
		t.Fatal(err)
	}
	if s, ok := again.lookup("home", 443); !ok || !s.ProxyProtocol || s.key != home.Key {
		t.Fatalf("after a restart: %+v %v", s, ok)
	}
	clk.Advance(101 * time.Second)
	if again.published("home") {
		t.Fatal("a loaded publication outlived its life")
	}
}
