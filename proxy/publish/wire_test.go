package publish

import (
	"errors"
	"net/netip"
	"reflect"
	"testing"
)

func TestOfferRoundTrip(t *testing.T) {
	in := []Service{{Name: "home", Port: 443}, {Name: "www.home", Port: 80, ProxyProtocol: true}}
	out, err := ParseOffer(AppendOffer(nil, in))
	if err != nil || !reflect.DeepEqual(out, in) {
		t.Fatalf("ParseOffer = %v, %v; want %v", out, err, in)
	}
	if s, err := ParseOffer(AppendOffer(nil, nil)); err != nil || len(s) != 0 {
		t.Fatalf("empty offer = %v, %v", s, err)
	}
}

func TestReplyAndFlowRoundTrip(t *testing.T) {
	rep := Reply{Zone: "i3.example.net", Results: []Result{{"home", 22, Accepted}, {"other", 80, NotYours}}}
	got, err := ParseReply(AppendReply(nil, rep))
	if err != nil || !reflect.DeepEqual(got, rep) {
		t.Fatalf("ParseReply = %v, %v", got, err)
	}
	for _, c := range []string{"198.51.100.7:51234", "[2001:db8::7]:40000"} {
		f := Flow{From: 40001, Port: 22, Client: netip.MustParseAddrPort(c),
			Waypoint: netip.MustParseAddrPort("198.51.100.10:22"), Name: "home"}
		g, err := ParseFlow(AppendFlow(nil, f))
		if err != nil || g != f {
			t.Fatalf("ParseFlow = %v, %v; want %v", g, err, f)
		}
	}
}

func TestParseRefusesMalformed(t *testing.T) {
	good := AppendOffer(nil, []Service{{Name: "home", Port: 443}})
	for name, b := range map[string][]byte{
		"empty": nil, "version": {2, 0}, "short": good[:len(good)-1],
		"trailing": append(append([]byte(nil), good...), 0), "count": {1, MaxServices + 1},
	} {
		if _, err := ParseOffer(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
	if _, err := ParseFlow([]byte{1, 0, 1, 0, 2, 5, 1, 2, 3, 4}); !errors.Is(err, ErrMalformed) {
		t.Errorf("flow with family 5: err = %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(AppendOffer(nil, []Service{{Name: "home", Port: 443, ProxyProtocol: true}}))
	f.Add(AppendReply(nil, Reply{Zone: "z", Results: []Result{{"a", 1, TooMany}}}))
	f.Add(AppendFlow(nil, Flow{Client: netip.MustParseAddrPort("[::1]:1"), Waypoint: netip.MustParseAddrPort("1.2.3.4:5")}))
	f.Fuzz(func(t *testing.T, b []byte) {
		if s, err := ParseOffer(b); err == nil {
			if again, err := ParseOffer(AppendOffer(nil, s)); err != nil || len(again) != len(s) {
				t.Fatalf("offer does not round-trip: %v", err)
			}
		}
		if r, err := ParseReply(b); err == nil {
			if _, err := ParseReply(AppendReply(nil, r)); err != nil {
				t.Fatalf("reply does not round-trip: %v", err)
			}
		}
		if fl, err := ParseFlow(b); err == nil {
			if g, err := ParseFlow(AppendFlow(nil, fl)); err != nil || g != fl {
				t.Fatalf("flow does not round-trip: %v %v %v", g, fl, err)
			}
		}
	})
}
