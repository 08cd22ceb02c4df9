package proxy

import (
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/identity"
	"github.com/i3net/i3net/proxy/vaddr"
)

func newTestRegistry(t *testing.T, to time.Duration) *registry {
	t.Helper()
	alloc, err := vaddr.New(vaddr.DefaultConfig(id.FromName("self")))
	if err != nil {
		t.Fatal(err)
	}
	return newRegistry(alloc, to)
}

func newKey(t *testing.T) identity.PublicKey {
	t.Helper()
	x, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	return x.Public()
}

// The per-packet calls take no lock (see index) and allocate nothing.
func TestPerPacketLookupsAllocateNothing(t *testing.T) {
	r := newTestRegistry(t, time.Hour)
	for range 300 { // other peers in the shards
		if _, err := r.get(newKey(t), "", 0, nil); err != nil {
			t.Fatal(err)
		}
	}
	p, err := r.get(newKey(t), "home", 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	miss := netip.MustParseAddr("100.64.0.7")
	now := int64(0)
	for name, f := range map[string]func(){
		"byAddress v4":   func() { _ = r.byAddress(p.local4) },
		"byAddress v6":   func() { _ = r.byAddress(p.local6) },
		"byAddress miss": func() { _ = r.byAddress(miss) },
		"byLocalPriv":    func() { _ = r.byLocalPriv(p.local()) },
		"touch":          func() { now += int64(time.Second); p.touch(now) },
	} {
		if n := testing.AllocsPerRun(1000, f); n != 0 {
			t.Errorf("%s allocates %v times per call", name, n)
		}
	}
	if r.byAddress(p.local4) != p || r.byAddress(p.local6) != p || r.byLocalPriv(p.local()) != p {
		t.Fatal("lookups do not find the peer")
	}
}

// Bug 1: a mapping is forgotten after TO without use, and only then: a
// packet (touch) keeps it.
func TestRegistryForgetsOnlyUnused(t *testing.T) {
	const to = 1500 * time.Millisecond
	r := newTestRegistry(t, to)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	used, err := r.get(newKey(t), "used", t0.UnixNano(), nil)
	if err != nil {
		t.Fatal(err)
	}
	idle, err := r.get(newKey(t), "idle", t0.UnixNano(), nil)
	if err != nil {
		t.Fatal(err)
	}
	remote := id.Random()
	r.setRemote(used, remote)
	for step := time.Duration(0); step <= 3*time.Second; step += 250 * time.Millisecond {
		now := t0.Add(step)
		used.touch(now.UnixNano())
		gone := r.expire(now)
		if r.byPeerKey(used.key) != used {
			t.Fatalf("at %v: the mapping in use expired", step)
		}
		if step < to && len(gone) != 0 || step >= to && r.byPeerKey(idle.key) != nil {
			t.Fatalf("at %v: the unused mapping: expired %d, registered %v", step, len(gone), r.byPeerKey(idle.key) != nil)
		}
	}
	if r.byAddress(idle.local4) != nil || r.byLocalPriv(idle.local()) != nil {
		t.Fatal("an expired peer is still found by address or private id")
	}
	r.expire(t0.Add(10 * time.Second))
	if r.len() != 0 || r.byRemotePriv(remote) != nil || r.byAddress(used.local6) != nil {
		t.Fatal("a mapping unused for TO is still registered")
	}
}

// The indexes grow, forget and reuse slots while readers look up without a
// lock (run with -race).
func TestIndexChurnWithReaders(t *testing.T) {
	r := newTestRegistry(t, time.Hour)
	var ps []*peer
	for range 400 {
		p, err := r.get(newKey(t), "", 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	done := make(chan struct{})
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			p := ps[i%len(ps)]
			if q := r.byLocalPriv(p.local()); q != nil && q != p {
				t.Errorf("byLocalPriv found another peer")
				return
			}
			if q := r.byAddress(p.local6); q != nil && q != p {
				t.Errorf("byAddress found another peer")
				return
			}
		}
	}()
	for round := range 3 {
		for i, p := range ps {
			if i%2 == round%2 {
				r.remove(p)
			}
		}
		for i, p := range ps {
			if i%2 == round%2 {
				r.mu.Lock()
				r.addLocked(p)
				r.mu.Unlock()
			}
		}
	}
	close(done)
	<-readerDone
	for _, p := range ps {
		if r.byAddress(p.local4) != p || r.byAddress(p.local6) != p || r.byLocalPriv(p.local()) != p {
			t.Fatal("a peer put back is not found")
		}
	}
	for _, p := range ps {
		r.remove(p)
	}
	if r.len() != 0 || r.byAddress(ps[0].local4) != nil || r.byLocalPriv(ps[1].local()) != nil {
		t.Fatal("removed peers are still found")
	}
}

// BenchmarkPeerLookup is the registry's share of the per-packet cost: one
// lookup by address (outbound) or private id (inbound) and the touch, among
// 10,000 peers. "rwmutex-map" is the scheme it replaced (a map under a read
// lock), measured in the same run for the ratio.
func BenchmarkPeerLookup(b *testing.B) {
	alloc, _ := vaddr.New(vaddr.DefaultConfig(id.FromName("self")))
	r := newRegistry(alloc, time.Hour)
	var ps []*peer
	var mu sync.RWMutex
	old := map[netip.Addr]*peer{}
	for range 10000 {
		x, _ := identity.Generate()
		p, err := r.get(x.Public(), "", 0, nil)
		if err != nil {
			b.Fatal(err)
		}
		ps = append(ps, p)
		old[p.local4] = p
	}
	b.Run("byAddress", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			p := r.byAddress(ps[i%len(ps)].local4)
			p.touch(int64(i))
		}
	})
	b.Run("byLocalPriv", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			p := r.byLocalPriv(ps[i%len(ps)].local())
			p.touch(int64(i))
		}
	})
	b.Run("rwmutex-map", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			mu.RLock()
			p := old[ps[i%len(ps)].local4]
			mu.RUnlock()
			p.touch(int64(i))
		}
	})
}
