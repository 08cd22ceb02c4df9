package udpgso

import (
	"net"

	"golang.org/x/net/ipv4"
)

// cmsgSegmentSpace holds a UDP_SEGMENT control message (CMSG_SPACE of a
// uint16: 16 bytes on 32-bit systems, 24 on 64-bit ones).
const cmsgSegmentSpace = 24

// writeScratch is one WriteBatch call's coalesced messages, pooled.
type writeScratch struct {
	ms    []ipv4.Message // the messages handed to the kernel
	count []int          // how many of the caller's messages each one carries
	size  []int          // their segment size (0: not coalesced)
	iov   [][]byte       // the coalesced messages' iovecs, back to back
	oob   [][cmsgSegmentSpace]byte
}

// WriteBatch sends ms like the wrapped Batch does and returns how many of ms
// were sent; on an error, ms[n] is the first message that was not. Runs of
// messages to one address with equal lengths go out as one coalesced send.
func (c *Conn) WriteBatch(ms []ipv4.Message, flags int) (int, error) {
	if len(ms) < 2 || !c.gso.Load() {
		return c.write(ms, flags)
	}
	s := c.writes.Get().(*writeScratch)
	defer c.putScratch(s)
	if !s.build(ms, int(c.maxSeg.Load())) {
		return c.write(ms, flags)
	}
	sent := 0 // of ms
	for off := 0; off < len(s.ms); {
		k, err := c.write(s.ms[off:], flags)
		for i := off; i < off+k; i++ {
			sent += s.count[i]
			if s.count[i] > 1 {
				c.sends.Add(1)
				c.coalesced.Add(uint64(s.count[i]))
			}
		}
		off += k
		if err == nil {
			continue
		}
		if off >= len(s.ms) || s.count[off] < 2 || !c.refused(err, s.size[off]) {
			return sent, err
		}
		// The kernel would not take this run coalesced: send it as it came.
		run := ms[sent : sent+s.count[off]]
		n, err := c.write(run, flags)
		sent += n
		if err != nil {
			return sent, err
		}
		off++
	}
	return sent, nil
}

// write is the wrapped WriteBatch, with the count 0 where x/net's is -1 (on
// Linux, sendmmsg failing before it sent anything): callers slice by it.
func (c *Conn) write(ms []ipv4.Message, flags int) (int, error) {
	n, err := c.b.WriteBatch(ms, flags)
	return max(n, 0), err
}

// putScratch drops s's references to the caller's buffers and pools it.
func (c *Conn) putScratch(s *writeScratch) {
	clear(s.iov)
	for i := range s.ms {
		s.ms[i] = ipv4.Message{}
	}
	c.writes.Put(s)
}

// build fills s with ms's runs and reports whether any run was coalesced.
func (s *writeScratch) build(ms []ipv4.Message, maxSeg int) bool {
	iovs := 0
	for i := range ms {
		iovs += len(ms[i].Buffers)
	}
	if cap(s.iov) < iovs {
		s.iov = make([][]byte, 0, iovs)
	}
	s.iov = s.iov[:0]
	s.ms, s.count, s.size = s.ms[:0], s.count[:0], s.size[:0]
	any := false
	for i := 0; i < len(ms); {
		n, seg := run(ms[i:], maxSeg)
		if n < 2 {
			s.ms = append(s.ms, ms[i])
			s.count = append(s.count, 1)
			s.size = append(s.size, 0)
			i++
			continue
		}
		any = true
		start := len(s.iov)
		for j := i; j < i+n; j++ {
			s.iov = append(s.iov, ms[j].Buffers...)
		}
		k := len(s.ms)
		for k >= len(s.oob) {
			s.oob = append(s.oob, [cmsgSegmentSpace]byte{})
		}
		s.ms = append(s.ms, ipv4.Message{
			Buffers: s.iov[start:len(s.iov):len(s.iov)],
			OOB:     putSegmentSize(s.oob[k][:], uint16(seg)),
			Addr:    ms[i].Addr,
		})
		s.count = append(s.count, n)
		s.size = append(s.size, seg)
		i += n
	}
	return any
}

// run returns how many messages from ms[0] can go out as one coalesced send,
// and their segment size: all to one address, none with control data, all
// of ms[0]'s length but the last, which may be shorter, within the kernel's
// limits.
func run(ms []ipv4.Message, maxSeg int) (n, seg int) {
	first := &ms[0]
	to, ok := first.Addr.(*net.UDPAddr)
	seg = msgLen(first)
	if !ok || len(first.OOB) > 0 || seg == 0 || seg > maxSeg {
		return 1, seg
	}
	total := seg
	n = 1
	for n < len(ms) && n < maxSegments {
		m := &ms[n]
		l := msgLen(m)
		a, ok := m.Addr.(*net.UDPAddr)
		if !ok || len(m.OOB) > 0 || l == 0 || l > seg || total+l > maxCoalesced ||
			a.Port != to.Port || !a.IP.Equal(to.IP) {
			break
		}
		total += l
		n++
		if l < seg {
			break // a shorter datagram ends a run
		}
	}
	return n, seg
}

// msgLen is the length of the datagram m holds.
func msgLen(m *ipv4.Message) int {
	n := 0
	for _, b := range m.Buffers {
		n += len(b)
	}
	return n
}
