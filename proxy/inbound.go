package proxy

// The inbound path, from the overlay to the programs of this host. The client
// calls inbound serially from its receive goroutine, one delivery at a time:
//
//  1. the frame type (first byte) says what arrived
//  2. handshake messages go to handshake.go (message 1 off this goroutine,
//     since accepting one inserts a trigger and waits for its ACK)
//  3. data: the private id it came to names the peer (one lookup); open it
//     in the peer's session (or the one it replaced)
//  4. check the packet claims to come from the peer's own address and to go
//     to this host's (for a peer reached anonymously, to the session's
//     address, rewritten to this host's: anon.go), so a peer can speak only
//     for itself
//  5. rewrite the source to the local virtual address after a collision
//  6. add it to the batch written into the tun device when the client's
//     received batch ends (one write for many packets; tun coalesces TCP);
//     a large packet in chunks is put back together first (reasm.go)

import (
	"time"

	"github.com/i3net/i3net/client"
	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/middlebox/pass"
	"github.com/i3net/i3net/proxy/packet"
	"github.com/i3net/i3net/proxy/session"
	"github.com/i3net/i3net/wire"
)

// inboundBatch is how many opened packets are written into the tun device at
// once at most.
const inboundBatch = 64

// inboundState is owned by the client's receive goroutine: the packets opened
// since the last write into the tun device.
type inboundState struct {
	bufs  [][]byte // inboundBatch buffers of tunOffset+wire.MaxPacket bytes
	out   [][]byte // the packets of this batch, each bufs[i][:tunOffset+len]
	pp    packet.Parsed
	now   int64      // the clock (Unix ns) read once per received batch; 0: not yet
	reasm reassembly // large packets arriving in chunks (reasm.go)
}

func newInboundState() inboundState {
	in := inboundState{bufs: make([][]byte, inboundBatch), out: make([][]byte, 0, inboundBatch)}
	for i := range in.bufs {
		in.bufs[i] = make([]byte, tunOffset+wire.MaxPacket)
	}
	return in
}

// flushInbound writes the batch of opened packets into the tun device; the
// client calls it at the end of each received batch.
func (px *Proxy) flushInbound() {
	in := &px.in
	in.now = 0
	if len(in.out) == 0 {
		return
	}
	// wireguard's Linux device returns the bytes written, not the packets
	// its interface promises (and an error joins the packets' errors), so
	// the count is the batch's: all written, or all counted as lost.
	if _, err := px.tun.Write(in.out, tunOffset); err != nil {
		px.stats.dropTunWrite.Add(uint64(len(in.out)))
	} else {
		px.stats.tunOut.Add(uint64(len(in.out)))
	}
	in.out = in.out[:0]
}

func (px *Proxy) inbound(d client.Delivery) {
	px.stats.overlayIn.Add(1)
	in := &px.in
	if !px.inboundData(d) {
		return
	}
	p := px.peers.byLocalPriv(d.ID)
	if p == nil {
		px.stats.dropUnknownID.Add(1)
		return
	}
	s := p.sess.Load()
	if s == nil {
		px.stats.dropNoSession.Add(1)
		px.sendReset(p)
		return
	}
	frame, ok := px.passed(p, s, d.Payload)
	if !ok {
		return
	}
	if session.TypeOf(frame) == session.TypeChunk {
		px.inboundChunk(p, s, frame, d.Queued)
		return
	}
	buf := in.bufs[len(in.out)]
	out, err := s.Open(buf[:tunOffset], frame)
	if err != nil {
		prev := p.prevSess.Load()
		if prev == nil {
			px.countOpenError(err)
			return
		}
		if out, err = prev.Open(buf[:tunOffset], frame); err != nil {
			px.countOpenError(err)
			return
		}
	} else if prev := p.prevSess.Load(); prev != nil && s.Confirmed() {
		p.prevSess.CompareAndSwap(prev, nil)
	}
	now := in.clock(px)
	p.lastRx.Store(now)
	pkt := out[tunOffset:]
	if len(pkt) == 0 {
		return // keepalive
	}
	if isControl(pkt) {
		px.control(p, pkt)
		return
	}
	if err := in.pp.Decode(pkt); err != nil {
		px.stats.dropMalformed.Add(1)
		return
	}
	if !px.checkInbound(p, pkt, now) {
		return
	}
	if !px.limitQueue(pkt, d.Queued, now) {
		return
	}
	p.touch(now)
	p.rxPackets.Add(1)
	p.rxBytes.Add(uint64(len(pkt)))
	in.out = append(in.out, out)
	if len(in.out) == cap(in.out) {
		px.flushInbound()
	}
}

// limitQueue applies the queue limit (codel.go) to pkt, which waited queued
// in the socket, read at now: it marks pkt CE or reports false to drop it
// (counted) when the standing queue is too long.
func (px *Proxy) limitQueue(pkt []byte, queued time.Duration, now int64) bool {
	if !px.queue.signal(int64(queued), now) {
		return true
	}
	if packet.MarkCE(pkt) {
		px.stats.queueCE.Add(1)
		return true
	}
	px.stats.dropQueue.Add(1)
	return false
}

// clock returns the time of this received batch, reading the clock for its
// first packet only (one clock read per batch, not per packet).
func (in *inboundState) clock(px *Proxy) int64 {
	if in.now == 0 {
		in.now = px.clk.Now().UnixNano()
	}
	return in.now
}

// checkInbound is step 4 and 5 for an opened packet pkt (decoded in
// px.in.pp) from p: the source must be p's own address, or, from a gateway,
// the real address of one of its targets (rewritten to the target's virtual
// address here); the destination must be this host, or, on a gateway, an
// address it serves. It counts and reports false for a packet to drop.
func (px *Proxy) checkInbound(p *peer, pkt []byte, now int64) bool {
	pp := &px.in.pp
	if st := p.anon.Load(); st != nil && !px.anonDest(st, pkt, pp) {
		px.stats.dropSpoofed.Add(1)
		return false
	}
	src, dst := pp.Src.Addr(), pp.Dst.Addr()
	if dst != px.own4 && dst != px.own6 && !px.serves(dst) {
		if px.gw != nil {
			px.stats.dropNotServed.Add(1)
		} else {
			px.stats.dropSpoofed.Add(1)
		}
		return false
	}
	if px.closedToIngress(p, pp) {
		return false
	}
	from := p
	if src != p.canonicalFor(src) || !src.IsValid() {
		if from = p.targets.get(src); from == nil {
			px.stats.dropSpoofed.Add(1)
			return false
		}
		from.touch(now)
		from.rxPackets.Add(1)
	}
	if local := from.localFor(src); local != src {
		if pp.SetSrcAddr(pkt, local) != nil {
			px.stats.dropMalformed.Add(1)
			return false
		}
	}
	return true
}

// inboundData is step 1: it hands frames other than a session's data to
// their handlers (handshakes, resets, a middlebox's alerts; those that came
// through a middlebox lose its tag) and reports whether d is data for the
// rest of the inbound path.
func (px *Proxy) inboundData(d client.Delivery) bool {
	switch session.TypeOf(d.Payload) {
	case session.TypeHandshake1:
		if d.ID != px.ownID && d.ID != px.publicTriggerID() {
			px.stats.dropUnknownID.Add(1)
			return false
		}
		px.acceptLater(untag(d.Payload, session.Handshake1Len))
	case session.TypeHandshake2:
		d.Payload = untag(d.Payload, session.Handshake2Len)
		px.finish(d)
	case session.TypeReset:
		d.Payload = untag(d.Payload, session.ResetLen)
		px.reset(d)
	case pass.TypeAlert:
		if d.ID == px.ownID {
			px.alertFrame(d.Payload)
		} else {
			px.stats.dropUnknownID.Add(1)
		}
	case session.TypeData, session.TypePlaintext, session.TypeKeepalive, session.TypeChunk:
		return true
	default:
		px.stats.dropMalformed.Add(1)
	}
	return false
}

func (px *Proxy) countOpenError(err error) {
	switch err {
	case session.ErrReplay, session.ErrTooOld:
		px.stats.dropReplay.Add(1)
	case session.ErrAuth, session.ErrMode:
		px.stats.dropAuth.Add(1)
	default:
		px.stats.dropMalformed.Add(1)
	}
}

// sendReset tells a peer that sends on a session this host no longer has (it
// restarted) to handshake again, at most once a second per peer, and only when
// this side is not handshaking itself.
func (px *Proxy) sendReset(p *peer) {
	r, ok := p.remote()
	if !ok {
		return
	}
	p.mu.Lock()
	pending := p.init != nil
	now := px.clk.Now()
	if pending || now.Sub(p.lastReset) < time.Second {
		p.mu.Unlock()
		return
	}
	p.lastReset = now
	p.mu.Unlock()
	signer := px.ident
	if p.anonymous { // signed with the session's key, never this host's
		st := p.anon.Load()
		if st == nil {
			return
		}
		signer = st.ident
	}
	frame := session.AppendReset(nil, signer, p.local(), r, now)
	var st [2]id.ID
	if px.client.Send(p.stack(r, &st), frame) == nil {
		px.stats.resetsSent.Add(1)
	}
}
