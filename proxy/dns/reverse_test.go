package dns

import (
	"net/netip"
	"testing"

	mdns "github.com/miekg/dns"
)

type revResolver struct{ fakeResolver }

func (*revResolver) ReverseOverlay(a netip.Addr) (string, bool) {
	switch a {
	case netip.MustParseAddr("100.64.0.7"), netip.MustParseAddr("fd69:3369:3300::7"):
		return "home", true
	case netip.MustParseAddr("100.64.0.8"):
		return "", true
	}
	return "", false
}

func TestPTR(t *testing.T) {
	r, err := New(DefaultConfig(&revResolver{}))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		rcode   int
		ptr     string
		forward bool
	}{
		{"7.0.64.100.in-addr.arpa.", mdns.RcodeSuccess, "home.i3.", false},
		{"8.0.64.100.in-addr.arpa.", mdns.RcodeNameError, "", false},
		{"1.0.0.10.in-addr.arpa.", 0, "", true},
		{"7.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.3.3.9.6.3.3.9.6.d.f.ip6.arpa.", mdns.RcodeSuccess, "home.i3.", false},
		{"x.0.64.100.in-addr.arpa.", 0, "", true},
	}
	for _, tt := range tests {
		q := new(mdns.Msg)
		q.SetQuestion(tt.name, mdns.TypePTR)
		b, _ := q.Pack()
		resp, fwd, err := r.Answer(b, make([]byte, 0, 512))
		if err != nil || fwd != tt.forward {
			t.Fatalf("%s: forward=%v err=%v", tt.name, fwd, err)
		}
		if fwd {
			continue
		}
		var m mdns.Msg
		if err := m.Unpack(resp); err != nil {
			t.Fatal(err)
		}
		if m.Rcode != tt.rcode {
			t.Errorf("%s: rcode %d, want %d", tt.name, m.Rcode, tt.rcode)
		}
		if tt.ptr != "" && (len(m.Answer) != 1 || m.Answer[0].(*mdns.PTR).Ptr != tt.ptr) {
			t.Errorf("%s: answer %v", tt.name, m.Answer)
		}
	}
}

func TestFail(t *testing.T) {
	r, _ := New(DefaultConfig(&fakeResolver{}))
	q := new(mdns.Msg)
	q.SetQuestion("example.org.", mdns.TypeA)
	b, _ := q.Pack()
	resp, err := r.Fail(b, nil, mdns.RcodeServerFailure)
	if err != nil {
		t.Fatal(err)
	}
	var m mdns.Msg
	if err := m.Unpack(resp); err != nil || m.Rcode != mdns.RcodeServerFailure || m.Id != q.Id {
		t.Fatalf("%v %v", m, err)
	}
}
