package proxy

// The outbound path on a tun device with offloads, read directly (not
// through wireguard-go's Read, which splits every large packet and computes
// every segment's checksum): each read is one packet behind a virtio-net
// header, either an ordinary packet, whose checksum the kernel may have
// left for us to complete, or a super-packet of up to 64 KB that the kernel
// meant to be segmented (TSO, USO).
//
// A TCP super-packet to a peer whose session takes chunk frames crosses whole:
// sealed in pieces (session.SealChunks) straight from the read buffer, put
// back together by the peer (reasm.go), which hands it to its kernel whole
// with the same header. Neither side segments, checksums or coalesces it. A
// super-packet to any other peer (a proxy without a tun device, a session
// through a middlebox or in clear, an anonymous one), one that needs its
// destination rewritten, and a UDP one (USO) are split in software into
// ordinary packets with their checksums, which take the usual path
// (outbound.go).

import (
	"errors"

	"github.com/i3net/i3net/client"
	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/proxy/packet"
	"github.com/i3net/i3net/proxy/session"
)

// minWholeSegment is the smallest segment size of a large packet that
// crosses whole. A receiving gateway's kernel cuts what it forwards into
// segments of that size: a smaller one would let a peer turn one chunk into
// hundreds of packets on the gateway's network. The sender splits such
// packets (a program whose peer announced a tiny MSS), the receiver drops
// them.
const minWholeSegment = 512

// maxSplit is how many ordinary packets a super-packet split in software may
// give; one that would give more is dropped (counted as malformed), as
// wireguard-go's tun does.
const maxSplit = 128

// rawReader is the raw outbound path's state, owned by the tun goroutine.
type rawReader struct {
	buf    []byte // a virtio-net header at [tunOffset-VirtioHdrLen:tunOffset], the packet after
	split  [][]byte
	sizes  []int
	frames [][]byte
	stacks [][2]id.ID
	msgs   []client.Message
	pp     packet.Parsed
	now    int64
}

func (px *Proxy) newRawReader(batch int) *rawReader {
	perRead := max(session.MaxChunks, maxSplit)
	size := px.cfg.MTU + 256
	r := &rawReader{
		buf:    make([]byte, tunOffset+session.MaxChunkedLen),
		split:  make([][]byte, maxSplit),
		sizes:  make([]int, maxSplit),
		frames: make([][]byte, batch+perRead),
		stacks: make([][2]id.ID, batch+perRead),
		msgs:   make([]client.Message, 0, batch+perRead),
	}
	for i := range r.split {
		r.split[i] = make([]byte, size)
	}
	for i := range r.frames {
		r.frames[i] = make([]byte, 0, size+session.ChunkOverhead)
	}
	return r
}

// chunkStride is the piece of a super-packet each chunk frame carries: a
// chunk frame is then no larger than the frame of a packet of the MTU.
func (px *Proxy) chunkStride() int {
	return px.cfg.MTU + session.Overhead - session.ChunkOverhead
}

// readTunRaw is readTun for a device read directly (px.raw): one packet per
// read, and while the device has more to read (a read that does not wait),
// up to a batch of them into one sendmmsg.
func (px *Proxy) readTunRaw() {
	batch := px.tun.BatchSize()
	r := px.newRawReader(batch)
	dev := newDevReader(px.raw)
	in := r.buf[tunOffset-packet.VirtioHdrLen:]
	for {
		n, err := dev.wait(in)
		if err != nil {
			if tunClosed(err) || px.ctx.Err() != nil {
				return
			}
			px.log.Error("tun read failed; outbound path stopped", "err", err)
			px.cancel()
			return
		}
		r.now = px.clk.Now().UnixNano() // one clock read per batch
		px.outboundRaw(r, in[:n])
		for len(r.msgs) < batch {
			n, ok := dev.try(in)
			if !ok {
				break
			}
			px.outboundRaw(r, in[:n])
		}
		px.sendOut(r.msgs)
		r.msgs = r.msgs[:0]
	}
}

// outboundRaw handles b, a virtio-net header and the packet after it, adding
// what is to be sent to r.msgs.
func (px *Proxy) outboundRaw(r *rawReader, b []byte) {
	g, err := packet.ParseVirtioHdr(b)
	if err != nil {
		px.stats.tunIn.Add(1)
		px.stats.dropMalformed.Add(1)
		return
	}
	pkt := b[packet.VirtioHdrLen:]
	if g.Type == packet.GSONone {
		if g.NeedsCsum && packet.CompleteChecksum(pkt, g) != nil {
			px.stats.tunIn.Add(1)
			px.stats.dropMalformed.Add(1)
			return
		}
		px.appendOutbound(r, pkt)
		return
	}
	// The kernel's hdr_len is a hint; the headers are measured here, and
	// what crosses whole is checked again by the receiver.
	if r.pp.Decode(pkt) == nil {
		g.SetHdrLen(&r.pp)
	}
	if r.pp.IPVersion == 0 || g.Check(pkt, &r.pp) != nil {
		px.stats.tunIn.Add(1)
		px.stats.dropMalformed.Add(1)
		return
	}
	if px.sendWhole(r, pkt, g) {
		return
	}
	n, err := packet.Segment(pkt, g, r.split, r.sizes, 0)
	if err != nil {
		px.stats.tunIn.Add(1)
		px.stats.dropMalformed.Add(1)
		return
	}
	px.stats.splitOut.Add(1)
	for i := range n {
		px.appendOutbound(r, r.split[i][:r.sizes[i]])
	}
}

// appendOutbound is the usual path (outboundPacket) for ordinary packet pkt.
func (px *Proxy) appendOutbound(r *rawReader, pkt []byte) {
	i := len(r.msgs)
	frame, stack, f, ok := px.outboundPacket(pkt, &r.pp, r.frames[i][:0], &r.stacks[i], r.now)
	if ok {
		r.msgs = append(r.msgs, client.Message{Stack: stack, Payload: frame, Flags: f})
	}
}

// takesWhole reports whether s, a session with p, carries large packets
// whole: both sides take chunk frames, no middlebox reads the session (it
// reads ordinary packets), and p is not reached anonymously.
func (p *peer) takesWhole(s *session.Session) bool {
	mb, _ := s.Via()
	return s.Chunks() && mb.IsZero() && !p.anonymous
}

// sendWhole seals super-packet pkt (offloads g, checked; decoded in r.pp)
// into chunk frames for its peer and reports true, or reports false, having
// done nothing, when the packet must be split instead (see the top of this
// file) or is not for a peer (the usual path then says what becomes of it).
func (px *Proxy) sendWhole(r *rawReader, pkt []byte, g packet.GSO) bool {
	if g.Type == packet.GSOUDPL4 || g.Size < minWholeSegment {
		// A UDP super-packet (a program's UDP_SEGMENT) is written whole only
		// into a tun device of Linux 6.2 or later, which the peer does not
		// announce: split it. So is one of tiny segments (minWholeSegment).
		return false
	}
	dst := r.pp.Dst.Addr()
	if dst == px.dns4 || dst == px.dns6 {
		return false
	}
	p := px.peers.byAddress(dst)
	if p == nil || p.canonicalFor(dst) != dst || p.anonymous {
		return false
	}
	via := p
	if p.via != nil {
		via = p.via
	}
	s := via.sendSession()
	rem, known := via.remote()
	if s == nil || !known || !via.takesWhole(s) || via.route.Load() != nil {
		return false
	}
	var meta [session.ChunkMetaLen]byte
	g.PutWire(meta[:])
	i := len(r.msgs)
	k, err := s.SealChunks(r.frames[i:], &meta, pkt, px.chunkStride())
	if err != nil {
		px.stats.tunIn.Add(1)
		px.stats.dropSeal.Add(1)
		if errors.Is(err, session.ErrExhausted) {
			via.sess.Store(nil)
			px.connect(via)
		}
		return true
	}
	px.stats.tunIn.Add(1)
	px.stats.wholeOut.Add(1)
	p.touch(r.now)
	if via != p {
		p.txPackets.Add(1)
		via.touch(r.now)
	}
	via.txPackets.Add(1)
	via.txBytes.Add(uint64(len(pkt)))
	via.lastTx.Store(r.now)
	stack, flags := via.stack(rem, &r.stacks[i]), via.sendFlags()
	for j := range k {
		r.msgs = append(r.msgs, client.Message{Stack: stack, Payload: r.frames[i+j], Flags: flags})
	}
	return true
}
