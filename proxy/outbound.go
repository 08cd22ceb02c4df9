package proxy

// The outbound path, from the programs of this host to the overlay:
//
//  1. read a batch of IP packets from the tun device (offloads split by tun)
//  2. per packet: parse once; DNS for the service address goes to dnsio.go
//  3. look the destination up once: the peer whose virtual address it is
//  4. rewrite the destination to the peer's canonical address after a
//     collision (§3.3), so the tunnel always carries derived addresses
//  5. seal it in the peer's session, or queue it and start the handshake;
//     to a peer reached anonymously (anon.go), rotate a session due for it
//     and rewrite this host's own source address to the session's
//  6. send the batch to the peers' private ids with one sendmmsg, allowing a
//     shortcut (§5.2) for the peers the address book marks so; a read of one
//     packet (small packets: no offload batches them) is held while the
//     device has more to read, so that a burst goes out in one sendmmsg

import (
	"errors"
	"os"

	"golang.zx2c4.com/wireguard/tun"

	"github.com/i3net/i3net/client"
	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/proxy/packet"
	"github.com/i3net/i3net/proxy/session"
)

// tunOffset is the headroom in front of every packet buffer: tun devices with
// offloads need 10 bytes for the virtio header.
const tunOffset = 16

func (px *Proxy) readTun() {
	if px.raw != nil {
		px.readTunRaw()
		return
	}
	batch := px.tun.BatchSize()
	bufs := make([][]byte, batch)
	sizes := make([]int, batch)
	// Room for a batch gathered from single reads (readable) and one more
	// read's worth.
	frames := make([][]byte, 2*batch)
	stacks := make([][2]id.ID, 2*batch)
	msgs := make([]client.Message, 0, 2*batch)
	// Packets read from the tun device are at most its MTU (tun splits the
	// kernel's large offloaded segments), so buffers of the MTU suffice.
	size := px.cfg.MTU + 256
	for i := range bufs {
		bufs[i] = make([]byte, tunOffset+size)
	}
	for i := range frames {
		frames[i] = make([]byte, 0, size+session.Overhead)
	}
	readable := tunReadable(px.tun)
	var pp packet.Parsed
	var now int64
	for {
		n, err := px.tun.Read(bufs, sizes, tunOffset)
		if len(msgs) == 0 { // one clock read per batch sent, gathered or not
			now = px.clk.Now().UnixNano()
		}
		for i := 0; i < n; i++ {
			frame, stack, f, ok := px.outboundPacket(bufs[i][tunOffset:tunOffset+sizes[i]], &pp, frames[len(msgs)][:0], &stacks[len(msgs)], now)
			if !ok {
				continue
			}
			msgs = append(msgs, client.Message{Stack: stack, Payload: frame, Flags: f})
		}
		// A read of one packet (no offload made it a batch) while more wait
		// in the device: read on and send them together, one sendmmsg for
		// many small packets instead of one each.
		if err == nil && n == 1 && len(msgs) > 0 && len(msgs) < batch && readable() {
			continue
		}
		px.sendOut(msgs)
		msgs = msgs[:0]
		if err != nil {
			if errors.Is(err, os.ErrClosed) || px.ctx.Err() != nil {
				return
			}
			if errors.Is(err, tun.ErrTooManySegments) {
				px.stats.dropMalformed.Add(1)
				continue
			}
			px.log.Error("tun read failed; outbound path stopped", "err", err)
			px.cancel()
			return
		}
	}
}

// sendOut is stage 6: msgs to the overlay in one batch, counted.
func (px *Proxy) sendOut(msgs []client.Message) {
	if len(msgs) == 0 {
		return
	}
	sent, _ := px.client.SendBatch(msgs)
	px.stats.overlayOut.Add(uint64(sent))
	if sent < len(msgs) {
		px.stats.dropSend.Add(uint64(len(msgs) - sent))
	}
}

// outboundPacket is stages 2–5 for one packet read from the tun device: it
// returns the frame to send to the stack (the peer's private id, after its
// middlebox if the session has one; held in st) with the options f, sealed
// into frame's capacity, or ok=false when the packet was handled otherwise
// (DNS, queued for a handshake) or dropped (counted).
func (px *Proxy) outboundPacket(pkt []byte, pp *packet.Parsed, frame []byte, st *[2]id.ID, now int64) (_ []byte, stack []id.ID, f client.SendFlags, ok bool) {
	px.stats.tunIn.Add(1)
	if err := pp.Decode(pkt); err != nil {
		px.stats.dropMalformed.Add(1)
		return nil, nil, 0, false
	}
	dst := pp.Dst.Addr()
	if dst == px.dns4 || dst == px.dns6 {
		px.handleDNS(pkt, pp)
		return nil, nil, 0, false
	}
	p := px.peers.byAddress(dst)
	if p == nil {
		px.stats.dropNoMapping.Add(1)
		return nil, nil, 0, false
	}
	if len(pkt) > px.cfg.MTU {
		px.tooBig(pkt, pp)
		return nil, nil, 0, false
	}
	p.touch(now)
	if canon := p.canonicalFor(dst); canon != dst {
		if pp.SetDstAddr(pkt, canon) != nil {
			px.stats.dropMalformed.Add(1)
			return nil, nil, 0, false
		}
	}
	if p.via != nil { // a host behind a gateway: the gateway's session carries it
		p.txPackets.Add(1)
		p = p.via
		p.touch(now)
	}
	var anon *anonState
	if p.anonymous {
		px.checkRotate(p, now)
		anon = p.anon.Load()
	}
	s := p.sendSession()
	r, known := p.remote()
	if s == nil || !known || (p.anonymous && anon == nil) {
		p.enqueue(pkt)
		px.connect(p)
		return nil, nil, 0, false
	}
	if anon != nil && !px.anonSource(anon, pkt, pp) {
		p.drops.Add(1)
		return nil, nil, 0, false
	}
	frame, err := s.Seal(frame, pkt)
	if err != nil {
		px.stats.dropSeal.Add(1)
		if errors.Is(err, session.ErrExhausted) {
			p.sess.Store(nil)
			px.connect(p)
		}
		return nil, nil, 0, false
	}
	p.txPackets.Add(1)
	p.txBytes.Add(uint64(len(pkt)))
	p.lastTx.Store(now)
	return frame, p.stack(r, st), p.sendFlags(), true
}

// sendNow seals and sends pkt to p at once (queued packets, once the session
// is up). It runs outside the tun goroutine, so it uses its own buffer.
func (px *Proxy) sendNow(p *peer, s *session.Session, r id.ID, pkt []byte) {
	if p.anonymous && !isControl(pkt) {
		var pp packet.Parsed
		st := p.anon.Load()
		if st == nil || pp.Decode(pkt) != nil || !px.anonSource(st, pkt, &pp) {
			p.drops.Add(1)
			return
		}
	}
	frame, err := s.Seal(make([]byte, 0, len(pkt)+session.Overhead), pkt)
	if err != nil {
		px.stats.dropSeal.Add(1)
		return
	}
	var st [2]id.ID
	if err := px.client.SendWith(p.stack(r, &st), frame, p.sendFlags()); err != nil {
		px.stats.dropSend.Add(1)
		return
	}
	px.stats.overlayOut.Add(1)
	p.txPackets.Add(1)
	p.txBytes.Add(uint64(len(pkt)))
	p.lastTx.Store(px.clk.Now().UnixNano())
}
