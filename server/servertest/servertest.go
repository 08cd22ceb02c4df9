// Package servertest runs i3 servers for the tests of other packages (client,
// security, …): one on 127.0.0.1, port 0, with server.TestConfig, or a ring
// of them, in the background until the end of the test. The server package's
// own tests cannot import it (an import cycle) and use internal/testrun.
package servertest

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/internal/testrun"
	"github.com/i3net/i3net/internal/testwait"
	"github.com/i3net/i3net/server"
)

// Server is a server.Server running in the background.
type Server struct {
	*server.Server
	t   testing.TB
	cfg server.Config
	run *testrun.Running
}

// Start runs a server with server.TestConfig, changed by edit (may be nil),
// until Stop or the end of the test.
func Start(t testing.TB, edit func(*server.Config)) *Server {
	t.Helper()
	cfg := server.TestConfig()
	if edit != nil {
		edit(&cfg)
	}
	s := &Server{t: t, cfg: cfg}
	s.start()
	return s
}

func (s *Server) start() {
	s.t.Helper()
	srv, err := server.New(s.cfg)
	if err != nil {
		s.t.Fatalf("server.New: %v", err)
	}
	s.Server = srv
	s.run = testrun.Start(s.t, "server "+srv.Addr().String(), srv)
}

// Stop closes the server and returns what its Run returned. Only the first
// call stops; the end of the test stops a server not stopped before.
func (s *Server) Stop() error { return s.run.Stop() }

// Stopped reports whether s was stopped (Stop, Crash).
func (s *Server) Stopped() bool { return s.run.Stopped() }

// Restart stops s and starts a new server with the same configuration on the
// same address: it has lost every trigger and its challenge secret.
func (s *Server) Restart() {
	s.t.Helper()
	if err := s.Stop(); err != nil {
		s.t.Fatal(err)
	}
	s.cfg.ListenAddr = s.Addr().String()
	s.start()
}

// Crash stops s without leaving its ring, as kill -9 would: the other
// members notice through their failure detector.
func (s *Server) Crash() {
	s.t.Helper()
	s.Ring().Shutdown()
	if err := s.Stop(); err != nil {
		s.t.Fatal(err)
	}
}

// Addrs returns the data addresses of servers.
func Addrs(servers ...*Server) []netip.AddrPort {
	out := make([]netip.AddrPort, len(servers))
	for i, s := range servers {
		out[i] = s.Addr()
	}
	return out
}

// StartRing starts n servers in one ring on 127.0.0.1 (gossip on free ports,
// the "lan" failure detector), each changed by edit (may be nil), and waits
// until each sees all n.
func StartRing(t testing.TB, n int, edit func(*server.Config)) []*Server {
	t.Helper()
	var ring []*Server
	for i := range n {
		ring = append(ring, Start(t, func(c *server.Config) {
			c.Ring, c.GossipAddr, c.RingPreset = true, "127.0.0.1:0", "lan"
			if i > 0 {
				c.Join = []string{ring[0].Ring().GossipAddr().String()}
			}
			if edit != nil {
				edit(c)
			}
		}))
	}
	testwait.For(t, "the ring to converge", func() bool { return Converged(ring, n) })
	return ring
}

// Converged reports whether every server of ring sees n members.
func Converged(ring []*Server, n int) bool {
	for _, s := range ring {
		if s.Stats().RingMembers != uint64(n) {
			return false
		}
	}
	return true
}

// Owner returns the index in ring of the server that owns x, as ring[from]
// sees it.
func Owner(t testing.TB, ring []*Server, from int, x id.ID) int {
	t.Helper()
	a := ring[from].Ring().Snapshot().Responsible(x.Key()).Data
	for i, s := range ring {
		if s.Addr() == a {
			return i
		}
	}
	t.Fatalf("no server of the ring at %v", a)
	return -1
}

// IDOwnedBy returns a random private id that ring[i] owns, as the first
// server of ring still running sees it: a random one first, and if ring[i]'s
// part of the ring is too small to hit, one at its position.
func IDOwnedBy(t testing.TB, ring []*Server, i int) id.ID {
	t.Helper()
	from := slices.IndexFunc(ring, func(s *Server) bool { return !s.Stopped() })
	if from < 0 {
		t.Fatal("no server of the ring is running")
	}
	for range 1000 {
		if x := id.Random(); Owner(t, ring, from, x) == i {
			return x
		}
	}
	x := id.Random()
	pos := ring[i].Ring().Local().Position
	copy(x[:], pos[:])
	x = x.WithPublic(false)
	if Owner(t, ring, from, x) != i {
		t.Fatalf("no id owned by server %d (%v); ring %v", i, ring[i].Addr(), ring[i].Ring().Snapshot().Members())
	}
	return x
}
