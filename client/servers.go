package client

import (
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// The servers a client knows: Config.Servers, then those the server lists
// name (discovery.go), at most Config.MaxServers. Each has a measured round
// trip (discovery.go) and a liveness state (liveness.go); the nearest one
// that answers is the first hop, where packets and insertions go that no
// cache hint routes. The receive path looks servers up without a lock (an
// immutable map behind an atomic pointer); changes take serverSet.mu.

// serverState is what the client knows of one server.
type serverState struct {
	addr       netip.AddrPort
	configured bool // from Config.Servers: never forgotten

	heard atomic.Int64 // clock time (Unix ns) of the last datagram from it
	rtt   atomic.Int64 // smoothed round trip, ns; 0 until measured
	down  atomic.Bool  // declared dead (liveness.go); unused until it answers
	// echoes: it has echoed a ping. An original 2004 server never does
	// (docs/wire.md), so its silence to pings says nothing (liveness.go).
	echoes atomic.Bool

	// Guarded by serverSet.mu.
	unreachable bool  // the last round-trip measurement got no answer
	listed      int   // the last list round whose answers named it
	pinged      int64 // clock time of the last liveness ping
	pings       int   // liveness pings since heard last moved
	mark        int64 // the value of heard when pings was last reset
	suspect     bool  // an insertion or refresh sent to it went unanswered
}

// serverSet holds the known servers and the first hop.
type serverSet struct {
	c     *Client
	first atomic.Pointer[serverState]
	byAdr atomic.Pointer[map[netip.AddrPort]*serverState]

	mu    sync.Mutex
	list  []*serverState // Config.Servers in order, then learned ones
	round int            // list rounds so far
}

func (s *serverSet) init(c *Client) {
	s.c = c
	for _, a := range c.cfg.Servers {
		if s.find(a) == nil {
			s.list = append(s.list, &serverState{addr: a, configured: true})
		}
	}
	s.first.Store(s.list[0])
	s.publishLocked()
}

// find returns the state of a from the list; s.mu held (or init).
func (s *serverSet) find(a netip.AddrPort) *serverState {
	for _, st := range s.list {
		if st.addr == a {
			return st
		}
	}
	return nil
}

// publishLocked makes the receive path see the list as it is now.
func (s *serverSet) publishLocked() {
	m := make(map[netip.AddrPort]*serverState, len(s.list))
	for _, st := range s.list {
		m[st.addr] = st
	}
	s.byAdr.Store(&m)
}

// lookup returns the state of server a, or nil for an address that is not a
// known server. It takes no lock and allocates nothing.
func (s *serverSet) lookup(a netip.AddrPort) *serverState {
	return (*s.byAdr.Load())[a]
}

// firstHop returns the current first hop.
func (s *serverSet) firstHop() netip.AddrPort { return s.first.Load().addr }

// heardFrom records that a datagram came from a at now (Unix ns); it reports
// whether a is a known server. A server declared down that speaks again is
// used again.
func (s *serverSet) heardFrom(a netip.AddrPort, now int64) bool {
	st := s.lookup(a)
	if st == nil {
		return false
	}
	st.heard.Store(now)
	if st.down.Load() {
		s.revive(st)
	}
	return true
}

// revive puts a server declared down back among the candidates.
func (s *serverSet) revive(st *serverState) {
	s.mu.Lock()
	if !st.down.Swap(false) {
		s.mu.Unlock()
		return
	}
	st.suspect, st.unreachable = false, false
	changed := s.chooseLocked(false)
	first := s.first.Load()
	s.mu.Unlock()
	s.c.log.Info("server answers again", "server", st.addr)
	if changed {
		s.c.log.Info("first hop changed", "server", first.addr, "rtt", time.Duration(first.rtt.Load()))
	}
}

// learn adds the servers a list named, as far as MaxServers allows: only
// addresses of the client's family. It reports how many were new.
func (s *serverSet) learn(addrs []netip.AddrPort) int {
	is4 := s.c.self().Addr().Is4()
	s.mu.Lock()
	defer s.mu.Unlock()
	added := 0
	for _, a := range addrs {
		a = unmap(a)
		if !a.IsValid() || a.Port() == 0 || a.Addr().IsUnspecified() || a.Addr().Is4() != is4 {
			continue
		}
		if st := s.find(a); st != nil {
			st.listed = s.round
			continue
		}
		if len(s.list) >= s.c.cfg.MaxServers {
			continue
		}
		s.list = append(s.list, &serverState{addr: a, listed: s.round})
		added++
	}
	if added > 0 {
		s.publishLocked()
	}
	return added
}

// forgetUnlisted starts a list round: it drops the learned servers that the
// answers of the last listForget rounds did not name and that are not in use.
func (s *serverSet) forgetUnlisted(inUse func(netip.AddrPort) bool) {
	const listForget = 3
	s.mu.Lock()
	defer s.mu.Unlock()
	s.round++
	first := s.first.Load()
	kept := s.list[:0]
	for _, st := range s.list {
		if st.configured || st == first || s.round-st.listed <= listForget || inUse(st.addr) {
			kept = append(kept, st)
		}
	}
	if len(kept) != len(s.list) {
		clear(s.list[len(kept):])
		s.list = kept
		s.publishLocked()
	}
}

// snapshot returns the known servers.
func (s *serverSet) snapshot() []*serverState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.list)
}

// ranked returns up to n servers to ask things of: the first hop, then the
// others that are not down, nearest first, unmeasured ones last.
func (s *serverSet) ranked(n int) []netip.AddrPort {
	s.mu.Lock()
	defer s.mu.Unlock()
	first := s.first.Load()
	out := []netip.AddrPort{first.addr}
	for _, st := range s.byRTTLocked() {
		if len(out) >= n {
			break
		}
		if st != first && !st.down.Load() {
			out = append(out, st.addr)
		}
	}
	return out
}

// byRTTLocked returns the list sorted by round trip, unmeasured or
// unreachable servers last, in list order.
func (s *serverSet) byRTTLocked() []*serverState {
	l := slices.Clone(s.list)
	key := func(st *serverState) int64 {
		r := st.rtt.Load()
		if r <= 0 || st.unreachable {
			return 1 << 62
		}
		return r
	}
	slices.SortStableFunc(l, func(a, b *serverState) int {
		ka, kb := key(a), key(b)
		switch {
		case ka < kb:
			return -1
		case ka > kb:
			return 1
		}
		return 0
	})
	return l
}

// chooseLocked picks the first hop: the nearest server that is neither down
// nor unreachable, replacing the current one only when that is down or
// clearly farther (switchMinGain and a fifth). With force, the current one
// is left whatever it measures (it was just declared down). It reports
// whether the first hop changed.
func (s *serverSet) chooseLocked(force bool) bool {
	cur := s.first.Load()
	var best *serverState
	for _, st := range s.byRTTLocked() {
		if !st.down.Load() && !st.unreachable && (!force || st != cur) {
			best = st
			break
		}
	}
	if best == nil {
		// Nothing measured answers: any server not down, in list order.
		for _, st := range s.list {
			if !st.down.Load() && st != cur {
				best = st
				break
			}
		}
	}
	if best == nil || best == cur {
		return false
	}
	curOK := !force && !cur.down.Load() && !cur.unreachable
	if curOK {
		cr, br := cur.rtt.Load(), best.rtt.Load()
		if br <= 0 || (cr > 0 && (br*5 >= cr*4 || time.Duration(cr-br) < switchMinGain)) {
			return false
		}
	}
	s.first.Store(best)
	return true
}

// ServerInfo is what the client knows of one overlay server (Servers).
type ServerInfo struct {
	Addr netip.AddrPort `json:"addr"`
	// RTT is the smoothed round trip of the last measurements; 0 until one
	// answered.
	RTT time.Duration `json:"rtt_ns"`
	// FirstHop marks the server packets and insertions go to when no cache
	// hint routes them.
	FirstHop bool `json:"first_hop,omitempty"`
	// Configured marks Config.Servers; the others came from server lists.
	Configured bool `json:"configured,omitempty"`
	// Unreachable: the last round-trip measurement got no answer.
	Unreachable bool `json:"unreachable,omitempty"`
	// Down: the server stopped answering while in use; it is not used until
	// it answers again.
	Down bool `json:"down,omitempty"`
}

// Servers returns the servers the client knows, first hop first, then by
// round trip.
func (c *Client) Servers() []ServerInfo {
	s := &c.servers
	s.mu.Lock()
	l := s.byRTTLocked()
	first := s.first.Load()
	out := make([]ServerInfo, 0, len(l))
	for _, st := range l {
		out = append(out, ServerInfo{
			Addr: st.addr, RTT: time.Duration(st.rtt.Load()), FirstHop: st == first,
			Configured: st.configured, Unreachable: st.unreachable, Down: st.down.Load(),
		})
	}
	s.mu.Unlock()
	slices.SortStableFunc(out, func(a, b ServerInfo) int {
		switch {
		case a.FirstHop == b.FirstHop:
			return 0
		case a.FirstHop:
			return -1
		}
		return 1
	})
	return out
}

// FirstHop returns the server packets and insertions go to when no cache hint
// routes them: Config.Servers[0] until round trips are measured, then the
// nearest server that answers.
func (c *Client) FirstHop() netip.AddrPort { return c.servers.firstHop() }

// noteEcho records that the known server at a echoed a ping.
func (s *serverSet) noteEcho(a netip.AddrPort) {
	if st := s.lookup(a); st != nil && !st.echoes.Load() {
		st.echoes.Store(true)
	}
}
