package server

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/ring"
)

// A server in a ring (Config.Ring): package ring says who owns which ids;
// this file starts it, follows its changes, and joins the overlay. What the
// data path does with the ring is in hop.go, replication in replicate.go,
// and what moves when the membership changes in handover.go.

// startRing creates the server's ring member: gossip starts listening, and
// the ring holds this server alone until Run joins Config.Join (or another
// server joins it).
func (s *Server) startRing() error {
	cfg := &s.cfg
	rc, _ := ringPreset(cfg.RingPreset)
	rc.DataAddr = s.public
	if cfg.RingPosition != "" {
		rc.Position, _ = ring.ParsePosition(cfg.RingPosition)
	}
	if cfg.GossipAddr != "" {
		rc.BindAddr, _ = cfg.gossipAddr()
	} else {
		if s.local.Port() == 65535 {
			return &ConfigError{"gossip_addr", "unset", "data port 65535 leaves no next port for gossip: set gossip_addr (--gossip)"}
		}
		rc.BindAddr = netip.AddrPortFrom(s.local.Addr(), s.local.Port()+1)
	}
	rc.AdvertiseAddr = cfg.GossipAdvertise
	if s.ringKey != nil {
		rc.SecretKey = deriveKey(s.ringKey, "i3net gossip v1")
	}
	rc.Logger = s.log
	rc.OnChange = s.ringChanged
	r, err := ring.New(rc)
	if err != nil {
		return fmt.Errorf("server: %w (change gossip_addr, --gossip)", err)
	}
	s.ring = r
	s.view.CompareAndSwap(nil, r.Snapshot())
	return nil
}

// Ring returns the server's ring member, or nil for a server alone.
func (s *Server) Ring() *ring.Ring { return s.ring }

// ringChanged is the ring's OnChange: it publishes the new view to the data
// path (workers read it once per batch) and wakes the handover. It runs on
// memberlist's event path and does not block.
func (s *Server) ringChanged(old, next *ring.Snapshot) {
	s.view.Store(next)
	s.handover.kick()
	if f := s.ringWatch.Load(); f != nil && (old == nil || old.Len() != next.Len()) {
		(*f)(next.Len())
	}
}

// WatchRing makes the server call f with the number of servers in the ring
// each time it changes, from the ring's event path: f must not block. Set
// it before Run; it replaces an earlier one. A server alone never calls it.
func (s *Server) WatchRing(f func(servers int)) { s.ringWatch.Store(&f) }

// setView makes the data path use view; tests run a server with a fixed ring
// this way, without gossip.
func (s *Server) setView(view *ring.Snapshot) {
	s.view.Store(view)
	s.handover.kick()
}

// joinLoop joins Config.Join, trying again every joinRetry until a server
// answers or the server closes.
func (s *Server) joinLoop() {
	defer s.bg.Done()
	for attempt := 1; ; attempt++ {
		n, err := s.ring.Join(s.cfg.Join)
		if err == nil {
			s.log.Info("joined the overlay", "reached", n, "servers", s.ring.Snapshot().Len())
			return
		}
		if attempt == 1 || attempt%30 == 0 {
			s.log.Warn("cannot join the overlay yet; retrying", "err", err, "every", joinRetry)
		}
		select {
		case <-s.stopBg:
			return
		case <-time.After(joinRetry):
		}
	}
}

// owner returns the member responsible for x in view and whether it is this
// server. Without a ring every id is this server's.
func owner(view *ring.Snapshot, x id.ID) (ring.Member, bool) {
	if view == nil {
		return ring.Member{}, true
	}
	k := x.Key()
	if view.Owns(k) {
		return ring.Member{}, true
	}
	return view.Responsible(k), false
}
