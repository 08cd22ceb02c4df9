package proxy

// Middleboxes (paper §6.4): a host may send a session's frames through a
// middlebox (i3net middlebox) whose IDS reads them. The host that imposes
// it — this one for every session (Config.Middlebox), or for one peer (the
// book entry's middlebox) — names it in its handshake (session.Hello.Via,
// Reply.Via): the middlebox's trigger for this host (middlebox/pass
// HostTrigger). Both ends then send every frame to [that id, the peer's id],
// in clear (the IDS must read it; the session's tag still protects it), and
// the middlebox appends a pass tag made with the key it shares with the
// imposing host. The imposing host accepts a data frame only with a valid
// tag: a peer that sends straight to its private id is dropped and counted
// (drop_bypassed). The other end strips the tag. The middlebox's IDS alerts
// come back to the imposing host as alert frames on its public id.

import (
	"crypto/rand"
	"fmt"
	"sync"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/identity"
	"github.com/i3net/i3net/middlebox/pass"
	"github.com/i3net/i3net/proxy/session"
)

// middlebox is one middlebox this host imposes: its key, and the tagger that
// checks its pass tags on the client's receive goroutine (the only user).
type middlebox struct {
	name  string
	key   identity.PublicKey
	pub   id.ID
	tagIn *pass.Tagger
}

// middleboxes are the middleboxes this host imposes, by key.
type middleboxes struct {
	mu sync.Mutex
	m  map[identity.PublicKey]*middlebox
}

// imposedFor returns the middlebox this host imposes on its sessions with
// p (p's book entry, else Config.Middlebox), or nil. A middlebox the book
// does not name is logged and ignored.
func (px *Proxy) imposedFor(p *peer) *middlebox {
	name := px.cfg.Middlebox
	b := px.book.Book()
	if names := b.Names(p.key); len(names) > 0 {
		if e, ok := b.Lookup(names[0]); ok && e.Middlebox != "" {
			name = e.Middlebox
		}
	}
	if name == "" {
		return nil
	}
	e, ok := b.Lookup(name)
	if !ok {
		px.log.Warn("the middlebox is not in the address book: sessions go without it", "middlebox", name,
			"add", "i3net book add "+name+" KEY")
		return nil
	}
	return px.middlebox(name, e.Key)
}

// middlebox returns the state of the middlebox of key, made once.
func (px *Proxy) middlebox(name string, key identity.PublicKey) *middlebox {
	px.mbs.mu.Lock()
	defer px.mbs.mu.Unlock()
	if mb := px.mbs.m[key]; mb != nil {
		return mb
	}
	k, err := pass.NewKey(px.ident, key)
	if err != nil {
		px.log.Warn("middlebox key unusable", "middlebox", name, "err", err)
		return nil
	}
	if px.mbs.m == nil {
		px.mbs.m = make(map[identity.PublicKey]*middlebox)
	}
	mb := &middlebox{name: name, key: key, pub: key.ID(), tagIn: pass.NewTagger(k)}
	px.mbs.m[key] = mb
	return mb
}

// all returns the middleboxes known so far.
func (m *middleboxes) all() []*middlebox {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*middlebox, 0, len(m.m))
	for _, mb := range m.m {
		out = append(out, mb)
	}
	return out
}

// viaFor returns the id this host asks p to send through (its middlebox's
// trigger for this host, at a random member of its anycast group), or zero;
// it records the middlebox on p, whose frames must then pass it.
func (px *Proxy) viaFor(p *peer) id.ID {
	mb := px.imposedFor(p)
	if mb == nil {
		p.mbIn.Store(nil)
		return id.ID{}
	}
	p.mbIn.Store(mb)
	return pass.HostTrigger(mb.pub, px.ident.Public(), randomByte())
}

// viaStack returns [via, x], or [x] when via is zero.
func viaStack(via, x id.ID) []id.ID {
	if via.IsZero() {
		return []id.ID{x}
	}
	return []id.ID{via, x}
}

func randomByte() byte {
	var b [1]byte
	rand.Read(b[:])
	return b[0]
}

// useRoute makes p's frames go through the middlebox of session s, if it
// has one.
func (p *peer) useRoute(s *session.Session) {
	via, _ := s.Via()
	if via.IsZero() {
		p.route.Store(nil)
		return
	}
	p.route.Store(&via)
}

// stack returns the stack a frame to p's id r goes to: [middlebox, r] for a
// session through one, else [r]; buf holds it.
func (p *peer) stack(r id.ID, buf *[2]id.ID) []id.ID {
	if rt := p.route.Load(); rt != nil {
		buf[0], buf[1] = *rt, r
		return buf[:2]
	}
	buf[0] = r
	return buf[:1]
}

// reroute sends p's frames to another member of its middlebox's anycast
// group (the one in use stopped answering): the member byte's top bit
// flipped the first time, a random byte after that.
func (p *peer) reroute() {
	rt := p.route.Load()
	if rt == nil {
		return
	}
	next := *rt
	if p.rerouted.Add(1) == 1 {
		next[id.Len-1] ^= 0x80
	} else {
		next[id.Len-1] = randomByte()
	}
	p.route.Store(&next)
}

// passed returns a data frame of p's session s without its middlebox tag,
// checked when this host imposes the middlebox, or false for a frame that
// did not pass it (counted). Frames of sessions without a middlebox are
// returned as they are. It runs on the client's receive goroutine.
func (px *Proxy) passed(p *peer, s *session.Session, frame []byte) ([]byte, bool) {
	via, local := s.Via()
	if via.IsZero() {
		return frame, true
	}
	if !local {
		return pass.Strip(frame)
	}
	mb := p.mbIn.Load()
	if mb == nil {
		px.stats.dropBypassed.Add(1)
		return nil, false
	}
	out, err := mb.tagIn.Check(frame)
	if err != nil {
		px.stats.dropBypassed.Add(1)
		return nil, false
	}
	return out, true
}

// untag strips a middlebox's tag from a fixed-size frame (handshake, reset)
// that came through a middlebox: its length says so.
func untag(frame []byte, size int) []byte {
	if len(frame) == size+pass.TagLen {
		return frame[:size]
	}
	return frame
}

// describeVia names the middlebox a session goes through, for status.
func (px *Proxy) describeVia(s *session.Session) string {
	via, local := s.Via()
	if via.IsZero() {
		return ""
	}
	for _, mb := range px.mbs.all() {
		if id.CommonPrefixLen(mb.pub, via) >= id.Bits/2 {
			return mb.name
		}
	}
	if local {
		return fmt.Sprintf("%s…", via.Short())
	}
	return fmt.Sprintf("%s… (the peer's)", via.Short())
}
