package proxy

// Putting super-packets back together (the other end of outraw.go). Chunk
// frames arrive on the client's receive goroutine, each opened in place into
// the buffer of its packet; a complete packet is checked like any other
// (inbound.go) and written into the tun device whole, behind the virtio-net
// header its sender's kernel gave it, so this kernel takes it as one large
// segment (or segments it itself when it forwards it).
//
// A few packets are put together at once (reasmSlots: the chunks of one
// packet arrive back to back, so more are rarely under way). A chunk of a
// new packet is opened into a spare buffer first and takes a slot only once
// it authenticated, so forged chunks cannot evict anything; when every slot
// is busy, the least recently used gives way, its packet lost (counted as
// drop_incomplete: a chunk was lost on the way, and the sender's transport
// will resend).

import (
	"time"

	"github.com/i3net/i3net/proxy/packet"
	"github.com/i3net/i3net/proxy/session"
)

// reasmSlots is how many packets are put together at once.
const reasmSlots = 8

// reassembly is owned by the client's receive goroutine.
type reassembly struct {
	slots [reasmSlots]reasmSlot
	spare []byte // where a new packet's first chunk is opened
	tick  uint64 // counts chunks, for least recently used
}

// reasmSlot holds one packet being put together.
type reasmSlot struct {
	sess  *session.Session // nil: the slot is free
	first uint64           // the counter of the packet's first chunk
	hdr   session.ChunkHeader
	have  [(session.MaxChunks + 63) / 64]uint64 // the chunks received
	got   int                                   // bytes received
	used  uint64                                // reassembly.tick when last added to
	buf   []byte                                // tunOffset of headroom, then the packet
}

func newReasmBuf() []byte { return make([]byte, tunOffset+session.MaxChunkedLen) }

// find returns the slot of packet first of session s, or nil.
func (r *reassembly) find(s *session.Session, first uint64) *reasmSlot {
	if s == nil {
		return nil
	}
	for i := range r.slots {
		if sl := &r.slots[i]; sl.sess == s && sl.first == first {
			return sl
		}
	}
	return nil
}

// take returns a slot for a new packet whose first chunk was opened into the
// spare buffer: a free slot, or the least recently used one, whose incomplete
// packet is lost (evicted reports so). The spare buffer becomes the slot's.
func (r *reassembly) take(s *session.Session, h *session.ChunkHeader) (sl *reasmSlot, evicted bool) {
	sl = &r.slots[0]
	for i := range r.slots {
		c := &r.slots[i]
		if c.sess == nil {
			sl = c
			break
		}
		if c.used < sl.used {
			sl = c
		}
	}
	evicted = sl.sess != nil
	buf := sl.buf
	*sl = reasmSlot{sess: s, first: h.First(), hdr: *h, buf: r.spare}
	if buf == nil {
		buf = newReasmBuf()
	}
	r.spare = buf
	return sl, evicted
}

// has reports whether chunk i was received.
func (sl *reasmSlot) has(i int) bool { return sl.have[i/64]&(1<<(i%64)) != 0 }

// add records chunk i of n bytes and reports whether the packet is complete.
func (sl *reasmSlot) add(i, n int, tick uint64) bool {
	sl.have[i/64] |= 1 << (i % 64)
	sl.got += n
	sl.used = tick
	return sl.got == sl.hdr.Total
}

// inboundChunk is the inbound path for chunk frame b from p, whose current
// session is s (the one it replaced is tried too), queued in the socket for
// queued.
func (px *Proxy) inboundChunk(p *peer, s *session.Session, b []byte, queued time.Duration) {
	h, err := session.ParseChunk(b)
	if err != nil {
		px.stats.dropMalformed.Add(1)
		return
	}
	r := &px.in.reasm
	r.tick++
	prev := p.prevSess.Load()
	sl := r.find(s, h.First())
	if sl == nil {
		sl = r.find(prev, h.First())
	}
	if sl != nil {
		if !sl.hdr.SameAs(&h) {
			px.stats.dropMalformed.Add(1)
			return
		}
		if sl.has(h.Index) {
			px.stats.dropReplay.Add(1)
			return
		}
		if _, err := sl.sess.OpenChunk(sl.buf[:tunOffset+h.Offset()], b, &h); err != nil {
			px.countOpenError(err)
			return
		}
	} else {
		if r.spare == nil {
			r.spare = newReasmBuf()
		}
		opened := s
		_, err := s.OpenChunk(r.spare[:tunOffset+h.Offset()], b, &h)
		if err != nil && prev != nil {
			opened = prev
			_, err = prev.OpenChunk(r.spare[:tunOffset+h.Offset()], b, &h)
		}
		if err != nil {
			px.countOpenError(err)
			return
		}
		var evicted bool
		if sl, evicted = r.take(opened, &h); evicted {
			px.stats.dropIncomplete.Add(1)
		}
	}
	if sl.sess == s && prev != nil && s.Confirmed() { // as inbound does
		p.prevSess.CompareAndSwap(prev, nil)
	}
	now := px.in.clock(px)
	p.lastRx.Store(now)
	if !sl.add(h.Index, h.Len(), r.tick) {
		return
	}
	px.deliverWhole(p, sl, queued, now)
	sl.sess = nil
}

// deliverWhole checks the complete packet of slot sl from p, as inbound does
// an ordinary one, and writes it into the tun device whole.
func (px *Proxy) deliverWhole(p *peer, sl *reasmSlot, queued time.Duration, now int64) {
	in := &px.in
	pkt := sl.buf[tunOffset : tunOffset+sl.hdr.Total]
	g, err := packet.ParseGSOWire(sl.hdr.Meta[:])
	if err != nil || in.pp.Decode(pkt) != nil {
		px.stats.dropMalformed.Add(1)
		return
	}
	in.pp.SetPartialChecksum(g.NeedsCsum)
	if g.Type == packet.GSONone || g.Type == packet.GSOUDPL4 || g.Size < minWholeSegment || g.Check(pkt, &in.pp) != nil {
		px.stats.dropMalformed.Add(1)
		return
	}
	if !px.checkInbound(p, pkt, now) || !px.limitQueue(pkt, queued, now) {
		return
	}
	p.touch(now)
	p.rxPackets.Add(1)
	p.rxBytes.Add(uint64(len(pkt)))
	if px.raw == nil { // not announced without a device to write it whole
		px.stats.dropTunWrite.Add(1)
		return
	}
	px.flushInbound() // the packets before it go first
	hdr := sl.buf[tunOffset-packet.VirtioHdrLen : tunOffset]
	g.PutVirtioHdr(hdr)
	if _, err := px.raw.Write(sl.buf[tunOffset-packet.VirtioHdrLen : tunOffset+len(pkt)]); err != nil {
		px.stats.dropTunWrite.Add(1)
		return
	}
	px.stats.tunOut.Add(1)
	px.stats.wholeIn.Add(1)
}
