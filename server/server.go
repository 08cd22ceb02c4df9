package server

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/i3net/i3net/internal/clock"
	"github.com/i3net/i3net/ring"
)

// Server is one overlay server. Create it with New, serve with Run, stop it with
// Close (or by cancelling Run's context).
type Server struct {
	cfg    Config
	clock  clock.Clock
	log    *slog.Logger
	conn   batchConn
	local  netip.AddrPort // the bound address
	public netip.AddrPort // the advertised address, when fixed (else per request)
	is6    bool           // the socket serves IPv6 (else IPv4)

	table  *table
	master [32]byte // challenge secrets derive from it; random per server
	ctr    sharedCounters
	worker *worker

	// The ring (Config.Ring); all nil for a server alone.
	ring      *ring.Ring
	ringKey   []byte                        // Config.RingKey decoded; nil: members trusted by address
	view      atomic.Pointer[ring.Snapshot] // who owns what; the data path reads it per batch
	handover  *handover                     // moves triggers when the membership changes
	ringWatch atomic.Pointer[func(int)]     // WatchRing
	stopBg    chan struct{}                 // closed by Close: stops the join loop
	bg        sync.WaitGroup                // the join loop and the handover

	mu      sync.Mutex
	running bool
	closed  bool
	done    chan struct{} // closed when Run returns
	sweep   clock.Timer
}

// New validates cfg, binds the UDP socket and prepares the server; it serves
// nothing until Run. Configuration errors are *ConfigError values naming the
// configuration key.
func New(cfg Config) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	ap, _ := cfg.listenAddr()
	pktinfo := !cfg.PublicAddr.IsValid() && ap.Addr().IsUnspecified()
	c, err := listenUDP(ap, cfg.BatchSize, cfg.SocketBuffer, pktinfo)
	if err != nil {
		return nil, err
	}
	s := newServer(cfg, c, c.localAddr())
	if cfg.ringEnabled() {
		if err := s.startRing(); err != nil {
			c.Close()
			return nil, err
		}
	}
	return s, nil
}

// newServer builds a server over conn, bound at local; tests and benchmarks
// pass an in-memory conn.
func newServer(cfg Config, conn batchConn, local netip.AddrPort) *Server {
	s := &Server{
		cfg:    cfg,
		clock:  clock.OrReal(cfg.Clock),
		conn:   conn,
		local:  local,
		is6:    local.Addr().Is6(),
		table:  newTable(cfg.MaxTriggers, cfg.MaxTriggersPerSource),
		done:   make(chan struct{}),
		stopBg: make(chan struct{}),
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	s.log = log.With("role", "server", "addr", local.String())
	switch {
	case cfg.PublicAddr.IsValid():
		s.public = cfg.PublicAddr
	case !local.Addr().IsUnspecified():
		s.public = local
	}
	if _, err := rand.Read(s.master[:]); err != nil {
		panic("server: crypto/rand failed: " + err.Error())
	}
	s.ringKey, _ = cfg.ringKey() // validate checked it
	s.worker = newWorker(s)
	s.handover = newHandover(s)
	return s
}

// Addr returns the address the socket is bound to (with the real port when
// Config.ListenAddr asked for port 0).
func (s *Server) Addr() netip.AddrPort { return s.local }

// advertised returns the address to put in CACHE_ADDR replies for a request
// that arrived at local address dst (invalid when unknown).
func (s *Server) advertised(dst netip.Addr) netip.AddrPort {
	if s.public.IsValid() {
		return s.public
	}
	if dst.IsValid() {
		return netip.AddrPortFrom(dst, s.local.Port())
	}
	return s.local
}

// Run serves until ctx is done or Close is called, then returns nil. It returns
// an error if the socket fails otherwise, or if Run was already called.
func (s *Server) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.running {
		s.mu.Unlock()
		return errors.New("server: Run called twice")
	}
	s.running = true
	if s.closed {
		s.mu.Unlock()
		close(s.done)
		return nil
	}
	s.sweep = s.clock.AfterFunc(s.cfg.SweepInterval, s.sweepExpired)
	if s.ring != nil {
		s.bg.Add(1)
		go s.handover.run()
		if len(s.cfg.Join) > 0 {
			s.bg.Add(1)
			go s.joinLoop()
		}
	}
	s.mu.Unlock()

	stop := context.AfterFunc(ctx, func() { s.Close() })
	defer stop()
	defer close(s.done)

	if s.ring != nil {
		s.log.Info("serving", "advertise", s.advertisedString(), "trigger_ttl", s.cfg.TriggerTTL,
			"require_signed_public", s.cfg.RequireSignedPublic, "gossip", s.ring.GossipAddr(),
			"ring_position", ring.FormatPosition(s.ring.Local().Position), "replicas", s.cfg.Replicas)
	} else {
		s.log.Info("serving", "advertise", s.advertisedString(), "trigger_ttl", s.cfg.TriggerTTL,
			"require_signed_public", s.cfg.RequireSignedPublic)
	}
	err := s.worker.run()
	if s.isClosed() {
		s.log.Info("stopped")
		return nil
	}
	s.log.Error("receive failed; stopping", "err", err)
	s.shutdown()
	return err
}

func (s *Server) advertisedString() string {
	if s.public.IsValid() {
		return s.public.String()
	}
	return "each request's destination address"
}

// Close stops the server: in a ring it first tells the other servers that it
// leaves (so that its successor serves its ids at once), then it closes the
// socket, stops the sweeper and the ring, and waits for Run to return. It may
// be called more than once, and before Run.
func (s *Server) Close() error {
	if s.ring != nil && !s.isClosed() {
		if err := s.ring.Leave(0); err != nil {
			s.log.Warn("leaving the ring", "err", err)
		}
	}
	running, err := s.shutdown()
	if running {
		<-s.done
	}
	return err
}

// shutdown marks the server closed, stops the sweeper, the background
// goroutines, the ring and the socket (once); it reports whether Run was
// called.
func (s *Server) shutdown() (running bool, err error) {
	s.mu.Lock()
	first := !s.closed
	if first {
		s.closed = true
		if s.sweep != nil {
			s.sweep.Stop()
		}
		close(s.stopBg)
	}
	running = s.running
	s.mu.Unlock()
	if !first {
		return running, nil
	}
	s.bg.Wait()
	if s.ring != nil {
		if rerr := s.ring.Shutdown(); rerr != nil {
			s.log.Warn("stopping the ring", "err", rerr)
		}
	}
	return running, s.conn.Close()
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// sweepExpired removes the triggers past their time and re-arms itself.
func (s *Server) sweepExpired() {
	n := s.table.expire(s.clock.Now().UnixNano())
	if n > 0 {
		s.ctr[cExpired].Add(uint64(n))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.sweep.Reset(s.cfg.SweepInterval)
	}
}

// Stats returns the server's counters.
func (s *Server) Stats() Stats {
	c := s.ctr.snapshot()
	st := c.stats()
	st.Triggers = uint64(s.table.len())
	if v := s.view.Load(); v != nil {
		st.RingMembers = uint64(v.Len())
	}
	return st
}
