package proxy

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/i3net/i3net/client"
	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/identity"
	"github.com/i3net/i3net/proxy/session"
	"github.com/i3net/i3net/proxy/vaddr"
)

// peer is everything the proxy knows of one remote host: its key and ids, the
// virtual addresses the programs use for it, the private trigger it was given
// and the session with it. The fields read per packet are atomics; the rest
// sits under mu and is changed by the handshake goroutine.
type peer struct {
	key   identity.PublicKey
	pubID id.ID
	name  string // address book name, "" for a host not in the book

	// Addresses: local are what programs here use for the peer; canonical
	// (derived from its public id) are what travels inside the tunnel. They
	// differ only after a collision (§3.3), and then packets are rewritten.
	local4, local6         netip.Addr
	canonical4, canonical6 netip.Addr

	// localPriv is the private id this host gave the peer (its trigger points
	// here; read it with local): it changes only when an anonymous session
	// picks its relay (anon.go), under the registry's lock. remotePriv is the
	// one the peer gave this host (nil until known).
	localPriv  atomic.Pointer[id.ID]
	remotePriv atomic.Pointer[id.ID]

	// A target (a host reached through a gateway, target.go) has via, its
	// gateway's peer, and real, its address in the gateway's network; it has
	// no session or private id of its own. A gateway's peer has targets.
	via     *peer
	real    netip.Addr
	targets targetSet
	// gateway: this peer is used as an i3-to-IP gateway (a name rule names
	// it): message 1s go to its anycast prefix and its silence is probed.
	gateway atomic.Bool
	probeAt atomic.Int64 // when a probe went to this gateway (gwwatch.go); 0: none
	spread  atomic.Bool  // the gateway died: message 1 goes to several members (copiesOfMessage1)

	// Middlebox (middlebox.go): mbIn is the one this host imposes on the
	// peer (its tags are checked), route the id frames to the peer go
	// through first (nil: straight).
	mbIn  atomic.Pointer[middlebox]
	route atomic.Pointer[id.ID]

	sess     atomic.Pointer[session.Session] // current session, nil before the first handshake
	prevSess atomic.Pointer[session.Session] // the session it replaced, until the new one is confirmed

	lastUse atomic.Int64 // unix nanoseconds of the last packet or DNS answer (touch)
	lastTx  atomic.Int64
	lastRx  atomic.Int64

	txPackets, txBytes atomic.Uint64
	rxPackets, rxBytes atomic.Uint64
	drops              atomic.Uint64

	trigMu sync.Mutex // held while the private trigger is inserted

	mu        sync.Mutex
	trig      *client.Handle     // the private trigger, once inserted
	init      *session.Initiator // pending handshake this side started
	initStart time.Time          // when the pending handshake started
	badAnswer int                // message 2s of the pending handshake not from the peer's key
	queue     [][]byte           // packets waiting for the session (bounded)
	state     peerState          // where the peer is in its life
	lastErr   string             // why the last handshake failed, for status
	failedAt  time.Time          // when it failed; a new attempt waits a little
	lastReset time.Time          // when a reset was last sent to the peer
	kick      chan struct{}      // wakes the peer's handshake goroutine
	plaintext bool               // book: no encryption for this peer
	shortcut  bool               // book: a direct path is allowed

	// Anonymity (anon.go): anonymous, this host reaches the peer with an
	// ephemeral key per session (anon its state, nil between sessions;
	// relay holds its private trigger, prevRelay the last session's, avoided
	// the servers the relay was not to be, all under mu); anonymousIn, the
	// peer reached this host with one.
	anonymous, anonymousIn bool
	anon                   atomic.Pointer[anonState]
	relay, prevRelay       netip.AddrPort
	avoided                []netip.AddrPort
}

type peerState uint8

const (
	peerIdle        peerState = iota // mapping only: nothing sent yet
	peerConnecting                   // private trigger and handshake under way
	peerEstablished                  // a session exists
	peerFailed                       // the last handshake timed out
	peerRefused                      // the peer said it refuses this host (a gateway's allowlist)
)

func (s peerState) String() string {
	switch s {
	case peerIdle:
		return "idle"
	case peerConnecting:
		return "connecting"
	case peerEstablished:
		return "active"
	case peerFailed:
		return "unreachable"
	case peerRefused:
		return "refused"
	}
	return "?"
}

// maxQueue bounds the packets kept for a peer while its session is set up.
const maxQueue = 64

// sendSession returns the session packets to the peer go out on: the newest,
// unless it is an unconfirmed replacement while the previous one still works.
func (p *peer) sendSession() *session.Session {
	s := p.sess.Load()
	if s == nil {
		return nil
	}
	if !s.Confirmed() && !s.Initiator() {
		if prev := p.prevSess.Load(); prev != nil {
			return prev
		}
	}
	return s
}

// touchEvery is the resolution of a peer's last use: touch writes the shared
// timestamp only when it moved by this much, so steady traffic reads it but
// rarely writes it.
const touchEvery = int64(100 * time.Millisecond)

// touch records a use of p at now (unix nanoseconds): a packet either way or
// a DNS answer. It takes no lock and allocates nothing.
func (p *peer) touch(now int64) {
	if now-p.lastUse.Load() >= touchEvery {
		p.lastUse.Store(now)
	}
}

// newPeer returns the peer of key with the addresses of m, given the private
// id localPriv.
func newPeer(key identity.PublicKey, m vaddr.Mapping, localPriv id.ID) *peer {
	p := &peer{key: key, pubID: key.ID(), name: m.Name, local4: m.V4, local6: m.V6,
		canonical4: m.Derived4, canonical6: m.Derived6, kick: make(chan struct{}, 1)}
	p.localPriv.Store(&localPriv)
	return p
}

// local returns the private id this host gave p (zero for a target, which
// has none). It takes no lock and allocates nothing.
func (p *peer) local() id.ID {
	if x := p.localPriv.Load(); x != nil {
		return *x
	}
	return id.ID{}
}

// mapping returns p's addresses as the state file keeps them.
func (p *peer) mapping() vaddr.Mapping {
	return vaddr.Mapping{Peer: p.pubID, Name: p.name, V4: p.local4, V6: p.local6,
		Derived4: p.canonical4, Derived6: p.canonical6, LastUse: time.Unix(0, p.lastUse.Load()).UTC()}
}

// sendFlags returns the options of the packets sent to p: a shortcut is
// allowed when the address book marks p so (paper §5.2; the peer's own book
// decides whether its trigger allows one too).
func (p *peer) sendFlags() client.SendFlags {
	if p.shortcut {
		return client.SendShortcut
	}
	return 0
}

// triggerFlags returns the flags of the private trigger given to p.
func (p *peer) triggerFlags() client.TriggerFlags {
	if p.shortcut {
		return client.ShortcutAllowed
	}
	return 0
}

// remote returns the peer's private id, or false when it is not known yet.
func (p *peer) remote() (id.ID, bool) {
	if r := p.remotePriv.Load(); r != nil {
		return *r, true
	}
	return id.ID{}, false
}

// enqueue keeps a copy of pkt until the session is up; the oldest packet is
// dropped when the queue is full.
func (p *peer) enqueue(pkt []byte) {
	c := make([]byte, len(pkt))
	copy(c, pkt)
	p.mu.Lock()
	if len(p.queue) >= maxQueue {
		p.queue = p.queue[1:]
		p.drops.Add(1)
	}
	p.queue = append(p.queue, c)
	p.mu.Unlock()
}

// takeQueue returns and clears the queued packets.
func (p *peer) takeQueue() [][]byte {
	p.mu.Lock()
	q := p.queue
	p.queue = nil
	p.mu.Unlock()
	return q
}

// wake asks the peer's handshake goroutine to look at the peer again.
func (p *peer) wake() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// canonicalFor returns the address that travels in the tunnel for the local
// virtual address a of p.
func (p *peer) canonicalFor(a netip.Addr) netip.Addr {
	if a.Is4() {
		return p.canonical4
	}
	return p.canonical6
}

// localFor returns the local virtual address programs here use for the
// canonical address a of p.
func (p *peer) localFor(a netip.Addr) netip.Addr {
	if a.Is4() {
		return p.local4
	}
	return p.local6
}

// describe names p for logs and errors: its book name, or its key.
func (p *peer) describe() string {
	if p.name != "" {
		return p.name
	}
	return p.key.String()
}
