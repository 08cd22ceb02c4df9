package dns

import (
	"bytes"
	"testing"

	mdns "github.com/miekg/dns"
)

// fastSeeds are queries of the shape the fast path takes, and near misses.
func fastSeeds(t testing.TB) [][]byte {
	var seeds [][]byte
	for _, q := range []struct {
		name  string
		qtype uint16
		edns  bool
	}{
		{"home.i3.", mdns.TypeA, false},
		{"home.i3.", mdns.TypeAAAA, true},
		{"Home.I3.", mdns.TypeANY, false},
		{"www.home.i3.", mdns.TypeA, true},
		{"legacy.i3.", mdns.TypeAAAA, false},
		{"home.i3.", mdns.TypeMX, true},
		{"nobody.i3.", mdns.TypeA, false},
		{"i3.", mdns.TypeA, false},
		{"home.i3.example.com.", mdns.TypeA, false},
		{"example.org.", mdns.TypeA, true},
	} {
		seeds = append(seeds, query(t, q.name, q.qtype, q.edns))
	}
	m := new(mdns.Msg)
	m.SetQuestion("home.i3.", mdns.TypeA)
	m.Question[0].Qclass = mdns.ClassCHAOS
	m.SetEdns0(4096, true) // DO set
	m.CheckingDisabled = true
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return append(seeds, b)
}

// FuzzFastAnswer checks the fast path against the general one: whatever
// query it takes, it answers byte for byte as miekg/dns would.
func FuzzFastAnswer(f *testing.F) {
	for _, s := range fastSeeds(f) {
		f.Add(s)
	}
	r, _ := newTestResponder(f, nil)
	f.Fuzz(func(t *testing.T, b []byte) {
		fast, handled := r.answerFast(b, make([]byte, 0, 512))
		if !handled {
			return
		}
		general, forward, err := r.answerGeneral(b, make([]byte, 0, 512))
		if err != nil || forward {
			t.Fatalf("the fast path answered %x, the general one: forward %v, %v", b, forward, err)
		}
		if !bytes.Equal(fast, general) {
			t.Fatalf("query %x:\nfast    %x\ngeneral %x", b, fast, general)
		}
	})
}

// TestAnswerFastPath: the queries glibc and dnsperf send for known names
// take the fast path and cost no allocation.
func TestAnswerFastPath(t *testing.T) {
	r, _ := newTestResponder(t, nil)
	buf := make([]byte, 0, 512)
	for _, q := range [][]byte{
		query(t, "home.i3.", mdns.TypeA, false),
		query(t, "home.i3.", mdns.TypeAAAA, true),
		query(t, "legacy.i3.", mdns.TypeAAAA, true),
	} {
		if _, ok := r.answerFast(q, buf); !ok {
			t.Fatalf("query %x: the fast path did not take it", q)
		}
		allocs := testing.AllocsPerRun(100, func() {
			if _, _, err := r.Answer(q, buf); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("query %x: %v allocations per answer, want 0", q, allocs)
		}
	}
}
