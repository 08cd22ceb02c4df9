package client

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/internal/testwait"
	"github.com/i3net/i3net/wire"
)

// originalServer stands in for an original 2004 i3_server, as its source
// behaves (i3_server/i3_server.c process_packet_initial, i3/i3_header.c
// check_i3_header, i3/i3_trigger.c check_constraint): it drops without a word
// a datagram whose first byte is not 0x10 (so every ping) or whose flags byte
// is above 0x70, and one carrying an option type it does not know (every
// i3net extension: "Invalid packet: -7"); it answers an insertion whose key
// breaks the l- and r-constraints with CONSTRAINT_FAILED, one without the
// right nonce with a challenge, and the rest with an ACK, at SENDER.
type originalServer struct {
	conn *net.UDPConn
	addr netip.AddrPort
	t    *testing.T

	mu       sync.Mutex
	extended []*wire.Packet // datagrams dropped for an extension option
	pings    int            // datagrams dropped for their first byte
	acked    int
	failed   int
	// first and last data packet received
	dataFirst, dataLast time.Time
}

func startOriginalServer(t *testing.T) *originalServer {
	s := &originalServer{conn: listenLoopback(t), t: t}
	s.addr = addrOf(s.conn)
	done := make(chan struct{})
	go s.serve(done)
	t.Cleanup(func() { s.conn.Close(); <-done })
	return s
}

func (s *originalServer) serve(done chan struct{}) {
	defer close(done)
	buf := make([]byte, wire.MaxPacket)
	for {
		n, from, err := s.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return // closed
		}
		s.handle(buf[:n], from)
	}
}

func (s *originalServer) handle(b []byte, from netip.AddrPort) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(b) < 3 || b[0] != wire.Version || b[1] > 0x70 {
		s.pings++
		return
	}
	p := new(wire.Packet)
	if err := p.Decode(b); err != nil {
		return
	}
	if p.Flags&wire.FlagData != 0 {
		if s.dataFirst.IsZero() {
			s.dataFirst = time.Now()
		}
		s.dataLast = time.Now()
	}
	for _, o := range p.Options {
		if o.Type >= 0x40 {
			s.extended = append(s.extended, p)
			return
		}
	}
	to := from
	if o := p.Option(wire.OptSender); o != nil {
		to = o.Addr.IP
	}
	if o := p.Option(wire.OptTriggerInsert); o != nil {
		s.reply(s.answerInsert(o.Trigger), to)
	}
}

// answerInsert is the original's answer to an insertion of t.
func (s *originalServer) answerInsert(t wire.Trigger) wire.Option {
	ok := false
	if t.Target.IsIP() {
		ok = id.SatisfiesConstraintIP(t.ID, id.ConstraintKey(t.Key))
	} else if st := t.Target.Stack.Slice(); len(st) > 0 {
		ok = id.SatisfiesConstraintStack(t.ID, st[0])
	}
	if !ok {
		s.failed++
		return wire.Option{Type: wire.OptConstraintFailed, Trigger: t}
	}
	nonce := [wire.NonceLen]byte{0x10, 0x0d} // the original's was the target itself
	if t.Nonce != nonce {
		t.Nonce = nonce
		return wire.Option{Type: wire.OptTriggerChallenge, Trigger: t}
	}
	s.acked++
	return wire.Option{Type: wire.OptTriggerAck, Trigger: t}
}

func (s *originalServer) reply(o wire.Option, to netip.AddrPort) {
	p := wire.Packet{}
	p.AddOption(o)
	_, _ = s.conn.WriteToUDPAddrPort(p.AppendTo(nil), to)
}

// requestsWithExtensions returns how many dropped datagrams were more than
// the client's questions whether the server speaks the extensions: server
// list requests, and the twins with extensions of hint requests (each goes
// without them too).
func (s *originalServer) requestsWithExtensions() (n int, dropped int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.extended {
		if p.Option(wire.ExtServerList) == nil && p.Option(wire.OptRequestForCache) == nil {
			n++
			s.t.Logf("dropped: %s", describeOpts(p))
		}
	}
	return n, len(s.extended)
}

// TestOriginalServerInsert: against an original server, a client with the
// default settings inserts a private trigger on its own address (its key
// satisfies the r-constraint) and then refreshes it, sending no extension
// but the questions whether the server speaks them, which it drops.
func TestOriginalServerInsert(t *testing.T) {
	checkLeaks(t)
	srv := startOriginalServer(t)
	c, _ := newClient(t, srv.addr, nil)
	insert(t, c, Trigger{ID: id.Random().WithPublic(false)})
	before := c.Stats().Acks
	testwait.For(t, "a refresh acknowledged", func() bool { return c.Stats().Acks > before })
	if n, all := srv.requestsWithExtensions(); n > 0 || all == 0 {
		t.Errorf("the original server dropped %d requests with extensions other than list requests (%d in all; want 0 and some)", n, all)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.failed > 0 || srv.acked < 2 {
		t.Errorf("%d insertions failed the constraints, %d acknowledged; want 0 and at least 2", srv.failed, srv.acked)
	}
}

// TestOriginalServerRefusal: a trigger whose key breaks the original's
// constraints (a stack target on an id not tied to it) comes back refused,
// CONSTRAINT_FAILED, as a *RefusedError, with extensions on or forced off;
// the same trigger on an id tied to its target (l-constraint) is inserted.
func TestOriginalServerRefusal(t *testing.T) {
	for _, noExt := range []bool{false, true} {
		srv := startOriginalServer(t)
		c, _ := newClient(t, srv.addr, func(cfg *Config) { cfg.NoExtensions = noExt })
		first := id.Random()
		x := id.Random().WithPublic(false)
		ctx, cancel := context.WithTimeout(context.Background(), waitLong)
		_, err := c.Insert(ctx, Trigger{ID: x, Target: []id.ID{first}})
		cancel()
		var re *RefusedError
		if !errors.As(err, &re) || re.Message != msgConstraintFailed || re.ID != x {
			t.Errorf("no extensions %v: insertion breaking the constraints: %v; want a refusal, constraint failed", noExt, err)
		}
		insert(t, c, Trigger{ID: x.WithConstraintKey(id.HashIDL(first)), Target: []id.ID{first}})
		pctx, pcancel := context.WithTimeout(context.Background(), probeTimeout)
		_, err = c.Ping(pctx, srv.addr)
		pcancel()
		if err == nil {
			t.Errorf("no extensions %v: the original server answered a ping", noExt)
		}
	}
}

// TestOriginalServerNotFailedOver: an original server echoes no ping, so a
// client sending through it must not take its silence to pings for death:
// once it has answered an insertion, it stays the first hop while the client
// sends for several FailoverAfter.
func TestOriginalServerNotFailedOver(t *testing.T) {
	checkLeaks(t)
	srv := startOriginalServer(t)
	c, _ := newClient(t, srv.addr, nil)
	insert(t, c, Trigger{ID: id.Random()})
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tk := time.NewTicker(10 * time.Millisecond)
		defer tk.Stop()
		for range 10000 {
			select {
			case <-stop:
				return
			case <-tk.C:
				c.SendTo(id.Random(), payload("x"))
			}
		}
	}()
	span := 3 * c.cfg.FailoverAfter
	testwait.For(t, "the server receiving data for 3×FailoverAfter", func() bool {
		srv.mu.Lock()
		defer srv.mu.Unlock()
		return !srv.dataFirst.IsZero() && srv.dataLast.Sub(srv.dataFirst) >= span
	})
	close(stop)
	<-done
	if st := c.Stats(); st.Failovers != 0 || st.LivePings != 0 {
		t.Errorf("%d failovers, %d liveness pings to an original server that answers insertions; want 0", st.Failovers, st.LivePings)
	}
	if c.FirstHop() != srv.addr {
		t.Errorf("first hop %v, want the original server %v", c.FirstHop(), srv.addr)
	}
}
