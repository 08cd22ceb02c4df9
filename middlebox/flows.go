package middlebox

import (
	"net/netip"
	"sync"
)

// maxFlows bounds the address pairs the middlebox remembers the host of.
const maxFlows = 1 << 16

// pairKey is an address pair, the lower address first, so that both
// directions of a flow are one key.
type pairKey struct{ lo, hi netip.Addr }

func makePair(a, b netip.Addr) pairKey {
	if b.Less(a) {
		a, b = b, a
	}
	return pairKey{a, b}
}

// flowTable remembers, per address pair seen in plaintext frames, the host
// whose trigger carried it: the receive goroutine notes, the event-log
// goroutine looks up. Bounded: when full, the pair noted first goes.
type flowTable struct {
	mu    sync.Mutex
	hosts map[pairKey]*host
	order []pairKey // a ring of the keys in the order they came
	next  int       // where the next key goes in order
}

func newFlowTable(max int) *flowTable {
	return &flowTable{hosts: make(map[pairKey]*host, max), order: make([]pairKey, max)}
}

// note remembers that the pair a, b belongs to h.
func (t *flowTable) note(a, b netip.Addr, h *host) {
	k := makePair(a, b)
	t.mu.Lock()
	defer t.mu.Unlock()
	if old, ok := t.hosts[k]; ok {
		if old != h {
			t.hosts[k] = h
		}
		return
	}
	if len(t.hosts) == len(t.order) {
		delete(t.hosts, t.order[t.next])
	}
	t.hosts[k] = h
	t.order[t.next] = k
	t.next = (t.next + 1) % len(t.order)
}

// lookup returns the host of the pair a, b (either way round), or nil.
func (t *flowTable) lookup(a, b netip.Addr) *host {
	k := makePair(a, b)
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.hosts[k]
}

// size returns how many pairs are remembered.
func (t *flowTable) size() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.hosts)
}

// addrPair returns the source and destination addresses of IP packet pkt.
func addrPair(pkt []byte) (src, dst netip.Addr, ok bool) {
	if len(pkt) == 0 {
		return src, dst, false
	}
	switch pkt[0] >> 4 {
	case 4:
		if len(pkt) < 20 {
			return src, dst, false
		}
		return netip.AddrFrom4([4]byte(pkt[12:16])), netip.AddrFrom4([4]byte(pkt[16:20])), true
	case 6:
		if len(pkt) < 40 {
			return src, dst, false
		}
		return netip.AddrFrom16([16]byte(pkt[8:24])), netip.AddrFrom16([16]byte(pkt[24:40])), true
	}
	return src, dst, false
}
