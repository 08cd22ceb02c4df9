package proxy

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/identity"
	"github.com/i3net/i3net/proxy/session"
)

// Hooks for the scale test (scale_test.go): many peers with real sessions,
// made in memory, and a timed expiry sweep.

// FakePeer is a peer of a proxy whose session was made in memory: Seal
// makes its frames to the proxy, which go to To; Local4 is the address the
// proxy's programs use for it and Canonical4 the one its packets carry.
type FakePeer struct {
	Local4, Canonical4 netip.Addr
	To                 id.ID
	Remote             *session.Session
}

// Establish gives px a session with the host of identity x through a real
// Noise handshake run in memory (px initiates, a responder of x's answers),
// as if x's proxy had answered over the overlay.
func Establish(px *Proxy, x *identity.Identity) (FakePeer, error) {
	p, err := px.peerFor(x.Public(), nil)
	if err != nil {
		return FakePeer{}, err
	}
	now := px.clk.Now()
	init, err := session.NewInitiator(px.ident, x.Public(), p.local(), session.Options{Flags: px.localFlags(p)}, now)
	if err != nil {
		return FakePeer{}, err
	}
	resp, err := session.NewResponder(x, session.Options{MaxHandshakeAge: time.Hour})
	if err != nil {
		return FakePeer{}, err
	}
	accept := func(session.Hello) (session.Reply, error) {
		return session.Reply{PrivID: id.Random(), Flags: session.FlagPreserveHeaders}, nil
	}
	acc, err := resp.Handle(init.Message1(), accept, now)
	if err != nil {
		return FakePeer{}, fmt.Errorf("responder: %w", err)
	}
	s, err := init.Finish(acc.Message2)
	if err != nil {
		return FakePeer{}, fmt.Errorf("initiator: %w", err)
	}
	p.mu.Lock()
	p.state = peerEstablished
	p.mu.Unlock()
	px.peers.setRemote(p, s.PeerPrivateID())
	p.sess.Store(s)
	return FakePeer{Local4: p.local4, Canonical4: p.canonical4, To: p.local(), Remote: acc.Session}, nil
}

// StopSweep stops px's expiry timer, so that a test runs the sweeps itself
// (Sweep).
func StopSweep(px *Proxy) { px.stopSweep() }

// Sweep runs one expiry sweep of px now, as its timer does, and returns how
// long it took.
func Sweep(px *Proxy) time.Duration {
	start := time.Now()
	px.expire()
	return time.Since(start)
}

// Peers returns how many peers px holds.
func Peers(px *Proxy) int { return px.peers.len() }

// StopReceiving closes px's overlay client and waits for its receive
// goroutine to end, so that a test may call Inbound and FlushInbound itself
// (the inbound path belongs to one goroutine at a time).
func StopReceiving(px *Proxy) { px.client.Close() }
