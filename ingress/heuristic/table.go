package heuristic

import (
	"net/netip"
	"time"
)

// Hand returns the waypoint of the family v6 to answer a DNS query for name
// with, and records name pending on it; false when there is no waypoint of
// that family. It prefers a waypoint on which only name is pending (nothing
// new to tell apart), then an idle one (round robin), then the one whose
// newest hand-out is the oldest.
func (t *Table) Hand(name string, v6 bool) (netip.Addr, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := family(v6)
	if len(t.families[f]) == 0 {
		return netip.Addr{}, false
	}
	now := t.clk.Now()
	for _, w := range t.families[f] {
		t.expirePending(w, now)
	}
	w := t.choose(f, name)
	w.pending = append(w.pending, pending{name: name, at: now})
	if len(w.pending) > t.maxPending {
		w.pending = append(w.pending[:0], w.pending[1:]...)
		t.stats.Displaced++
	}
	t.stats.Handed++
	return w.addr, true
}

// choose picks the waypoint of family f for name (see Hand).
func (t *Table) choose(f int, name string) *waypoint {
	wps := t.families[f]
	for _, w := range wps {
		if len(w.pending) > 0 && onlyPending(w, name) {
			return w
		}
	}
	for i := range wps {
		w := wps[(t.next[f]+i)%len(wps)]
		if len(w.pending) == 0 {
			t.next[f] = (t.next[f] + i + 1) % len(wps)
			return w
		}
	}
	oldest := wps[0]
	for _, w := range wps[1:] {
		if w.pending[len(w.pending)-1].at.Before(oldest.pending[len(oldest.pending)-1].at) {
			oldest = w
		}
	}
	return oldest
}

// onlyPending reports whether every entry pending on w is for name.
func onlyPending(w *waypoint, name string) bool {
	for _, p := range w.pending {
		if p.name != name {
			return false
		}
	}
	return true
}

// Claim returns the name a connection from client to waypoint wp, port port,
// goes to: the name of the client's binding on wp if it serves the port, else
// the oldest name pending on wp within the window that serves the port, which
// is then bound to (client, wp) and no longer pending. false: nothing matched.
// serves tells whether a name publishes a port (nil: every name every port);
// it is called with the table locked, so it must be quick and must not call
// the table.
func (t *Table) Claim(client, wp netip.Addr, port uint16, serves func(name string, port uint16) bool) (string, bool) {
	if serves == nil {
		serves = func(string, uint16) bool { return true }
	}
	key := bindingKey{client.Unmap(), wp.Unmap()}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.clk.Now()
	t.expireBindings(now)
	w := t.waypoints[key.waypoint]
	if w == nil {
		t.stats.Unmatched++
		return "", false
	}
	if b := t.lookup(key, now); b != nil && serves(b.name, port) {
		b.used = now
		t.lru.MoveToFront(t.bindings[key])
		t.stats.Reused++
		return b.name, true
	}
	t.expirePending(w, now)
	i, ambiguous := oldestServing(w, port, serves)
	if i < 0 {
		t.stats.Unmatched++
		return "", false
	}
	if ambiguous {
		t.stats.Ambiguous++
	}
	name := w.pending[i].name
	w.remove(i)
	t.bind(key, name, now)
	t.stats.Claimed++
	return name, true
}

// oldestServing returns the index of the oldest entry pending on w whose name
// serves port (-1 if none), and whether another name pending serves it too.
func oldestServing(w *waypoint, port uint16, serves func(string, uint16) bool) (int, bool) {
	found := -1
	for i, p := range w.pending {
		if found >= 0 && p.name == w.pending[found].name {
			continue
		}
		if !serves(p.name, port) {
			continue
		}
		if found >= 0 {
			return found, true
		}
		found = i
	}
	return found, false
}

// Used records a connection from client to wp routed to name by its Host or
// SNI: the oldest entry of name pending on wp is consumed (no other client can
// claim it), and (client, wp) is bound to name. An unknown wp is ignored.
func (t *Table) Used(client, wp netip.Addr, name string) {
	key := bindingKey{client.Unmap(), wp.Unmap()}
	t.mu.Lock()
	defer t.mu.Unlock()
	w := t.waypoints[key.waypoint]
	if w == nil {
		return
	}
	now := t.clk.Now()
	t.expireBindings(now)
	t.expirePending(w, now)
	for i, p := range w.pending {
		if p.name == name {
			w.remove(i)
			break
		}
	}
	t.bind(key, name, now)
}

// Forget drops the pending entries and the bindings of name (withdrawn).
func (t *Table) Forget(name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, w := range t.waypoints {
		kept := w.pending[:0]
		for _, p := range w.pending {
			if p.name != name {
				kept = append(kept, p)
			}
		}
		clear(w.pending[len(kept):])
		w.pending = kept
	}
	for e := t.lru.Front(); e != nil; {
		next := e.Next()
		if b := e.Value.(*binding); b.name == name {
			t.unbind(e)
		}
		e = next
	}
}

// remove drops the pending entry at i.
func (w *waypoint) remove(i int) {
	copy(w.pending[i:], w.pending[i+1:])
	w.pending[len(w.pending)-1] = pending{}
	w.pending = w.pending[:len(w.pending)-1]
}

// expirePending drops the entries of w older than the window.
func (t *Table) expirePending(w *waypoint, now time.Time) {
	n := 0
	for n < len(w.pending) && now.Sub(w.pending[n].at) > t.window {
		n++
	}
	if n == 0 {
		return
	}
	kept := copy(w.pending, w.pending[n:])
	clear(w.pending[kept:])
	w.pending = w.pending[:kept]
	t.stats.Expired += uint64(n)
}
