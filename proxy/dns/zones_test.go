package dns

import (
	"net/netip"
	"testing"

	mdns "github.com/miekg/dns"
)

var buildV4 = netip.MustParseAddr("100.96.3.4")

// labResolver is a second overlay's book: it names build, and owns
// 100.96.0.0/12 for reverse names.
type labResolver struct{ fakeResolver }

func (*labResolver) ReverseOverlay(a netip.Addr) (string, bool) {
	if !netip.MustParsePrefix("100.96.0.0/12").Contains(a) {
		return "", false
	}
	if a == buildV4 {
		return "build", true
	}
	return "", true
}

// zonedResponder answers .i3 with revResolver and .lab with labResolver.
func zonedResponder(t *testing.T) (*Responder, *labResolver) {
	t.Helper()
	lab := &labResolver{fakeResolver{names: map[string][2]netip.Addr{"build": {buildV4, {}}}}}
	cfg := DefaultConfig(&revResolver{fakeResolver{names: map[string][2]netip.Addr{"home": {homeV4, {}}}}})
	cfg.Zones = []Zone{{Suffix: ".lab.", Resolver: lab}}
	cfg.SearchDomains = []string{"example.com"}
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r, lab
}

func answer(t *testing.T, r *Responder, name string, qtype uint16) (*mdns.Msg, bool) {
	t.Helper()
	resp, fwd, err := r.Answer(query(t, name, qtype, false), make([]byte, 0, 512))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if fwd {
		return nil, true
	}
	var m mdns.Msg
	if err := m.Unpack(resp); err != nil {
		t.Fatal(err)
	}
	return &m, false
}

func TestZoneNamesGoToTheirResolver(t *testing.T) {
	r, lab := zonedResponder(t)
	m, fwd := answer(t, r, "Build.LAB.", mdns.TypeA)
	if fwd || m.Rcode != mdns.RcodeSuccess || len(m.Answer) != 1 || m.Answer[0].(*mdns.A).A.String() != buildV4.String() {
		t.Fatalf("build.lab: forward=%v answer %v", fwd, m)
	}
	if len(lab.asked) != 1 || lab.asked[0] != "build" {
		t.Errorf("lab resolver asked %q, want [build]", lab.asked)
	}
	if m, _ := answer(t, r, "home.lab.", mdns.TypeA); m.Rcode != mdns.RcodeNameError {
		t.Errorf("home.lab (only in .i3's book): rcode %d, want NXDOMAIN", m.Rcode)
	}
	if m, _ := answer(t, r, "home.i3.", mdns.TypeA); len(m.Answer) != 1 {
		t.Errorf("home.i3 still answered by the primary: %v", m)
	}
	if m, _ := answer(t, r, "lab.", mdns.TypeA); m.Rcode != mdns.RcodeSuccess || !m.Authoritative {
		t.Errorf("the lab apex: rcode %d, want an authoritative empty answer", m.Rcode)
	}
	if m, _ := answer(t, r, "build.lab.example.com.", mdns.TypeA); m.Rcode != mdns.RcodeNameError {
		t.Errorf("build.lab under a search domain: rcode %d, want NXDOMAIN at once", m.Rcode)
	}
	if _, fwd := answer(t, r, "build.other.", mdns.TypeA); !fwd {
		t.Error("a name under no suffix was not forwarded")
	}
}

func TestZonePTRByPool(t *testing.T) {
	r, _ := zonedResponder(t)
	cases := []struct {
		name, ptr string
		rcode     int
	}{
		{"4.3.96.100.in-addr.arpa.", "build.lab.", mdns.RcodeSuccess},
		{"7.0.64.100.in-addr.arpa.", "home.i3.", mdns.RcodeSuccess},
		{"5.3.96.100.in-addr.arpa.", "", mdns.RcodeNameError},
	}
	for _, c := range cases {
		m, fwd := answer(t, r, c.name, mdns.TypePTR)
		if fwd || m.Rcode != c.rcode {
			t.Errorf("%s: forward=%v rcode %v", c.name, fwd, m)
			continue
		}
		if c.ptr != "" && (len(m.Answer) != 1 || m.Answer[0].(*mdns.PTR).Ptr != c.ptr) {
			t.Errorf("%s: answer %v, want %s", c.name, m.Answer, c.ptr)
		}
	}
	if _, fwd := answer(t, r, "1.0.0.10.in-addr.arpa.", mdns.TypePTR); !fwd {
		t.Error("an address no zone owns was not forwarded")
	}
}

func TestZonesRefused(t *testing.T) {
	for name, zones := range map[string][]Zone{
		"same suffix": {{Suffix: "i3", Resolver: &fakeResolver{}}},
		"no resolver": {{Suffix: "lab"}},
		"bad suffix":  {{Suffix: "a..b", Resolver: &fakeResolver{}}},
	} {
		cfg := DefaultConfig(&fakeResolver{})
		cfg.Zones = zones
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New accepted %v", name, zones)
		}
	}
}
