package udpgso

import "golang.org/x/net/ipv4"

// readOOB is the control space of one coalesced receive: the GRO segment size
// and whatever else the socket asked for (IP_PKTINFO).
const readOOB = 128

// reader holds the coalesced datagrams of the last receive and how far their
// segments have been handed out.
type reader struct {
	ms  []ipv4.Message
	n   int // messages of ms the last receive filled
	i   int // the one being handed out
	off int // the offset of its next segment
	seg int // its segment size; 0: it holds one datagram
}

func (r *reader) init() {
	r.ms = make([]ipv4.Message, readSlots)
	for i := range r.ms {
		r.ms[i].Buffers = [][]byte{make([]byte, maxCoalesced)}
		r.ms[i].OOB = make([]byte, readOOB)
	}
}

// ReadBatch receives like the wrapped Batch does, into ms[i].Buffers[0], one
// datagram per message, with the source in Addr, the socket's other control
// messages in OOB (as far as they fit) and MSG_TRUNC in Flags for a datagram
// cut to fit. With GRO, it calls the kernel only when the datagrams of its
// last receive have all been handed out. It must not be called concurrently.
func (c *Conn) ReadBatch(ms []ipv4.Message, flags int) (int, error) {
	if !c.gro {
		return c.b.ReadBatch(ms, flags)
	}
	r := &c.rd
	if r.i >= r.n {
		n, err := c.b.ReadBatch(r.ms, flags)
		if n <= 0 {
			return 0, err
		}
		r.n, r.i, r.off = n, 0, 0
		r.seg = groSize(r.ms[0].OOB[:r.ms[0].NN])
	}
	out := 0
	for out < len(ms) && r.i < r.n {
		m := &r.ms[r.i]
		end := m.N
		if r.seg > 0 {
			end = min(r.off+r.seg, m.N)
			c.split.Add(1)
		}
		d := &ms[out]
		k := copy(d.Buffers[0], m.Buffers[0][r.off:end])
		d.N, d.Addr, d.Flags = k, m.Addr, m.Flags
		if k < end-r.off {
			d.Flags |= MsgTrunc
		}
		d.NN = copy(d.OOB, m.OOB[:m.NN])
		out++
		r.off = end
		if r.off >= m.N {
			r.i, r.off = r.i+1, 0
			if r.i < r.n {
				r.seg = groSize(r.ms[r.i].OOB[:r.ms[r.i].NN])
			}
		}
	}
	return out, nil
}
