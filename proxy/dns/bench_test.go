package dns

import (
	"net/netip"
	"testing"

	mdns "github.com/miekg/dns"
)

// BenchmarkAnswer answers A for a known overlay name, as glibc asks it (EDNS),
// into a reused buffer: the proxy's per-query cost.
func BenchmarkAnswer(b *testing.B) {
	r, _ := newTestResponder(b, nil)
	r.zones[0].res = staticResolver{}
	q := query(b, "home.i3.", mdns.TypeA, true)
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		resp, _, err := r.Answer(q, buf)
		if err != nil || len(resp) == 0 {
			b.Fatal(err)
		}
	}
}

// BenchmarkAnswerForward is the decision for a name that goes upstream.
func BenchmarkAnswerForward(b *testing.B) {
	r, _ := newTestResponder(b, nil)
	q := query(b, "www.example.org.", mdns.TypeAAAA, true)
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		if _, fwd, _ := r.Answer(q, buf); !fwd {
			b.Fatal("not forwarded")
		}
	}
}

// staticResolver answers every name without locking or recording, so that the
// benchmark measures the responder only.
type staticResolver struct{}

func (staticResolver) ResolveOverlay(string) (v4, v6 netip.Addr, ok bool) {
	return homeV4, homeV6, true
}
