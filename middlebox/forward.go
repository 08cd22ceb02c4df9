package middlebox

// The forward path. The overlay client calls forward serially from its
// receive goroutine, one delivery at a time, and flush when its received
// batch ends:
//
//  1. the trigger the frame came on names the host that imposed the
//     middlebox (one map lookup); an unknown one is dropped and counted
//  2. a frame with nothing left on its stack goes nowhere: dropped, counted
//  3. the frame and the pass tag of the host's key are written into a slot
//     of the batch, with a copy of the rest of the stack
//  4. a plaintext frame's IP packet is copied into the IDS batch, and its
//     address pair noted as the host's (for the alerts)
//  5. flush: one SendBatch for the frames, one write into the IDS device for
//     the packets; what fails is counted, nothing waits

import (
	"net/netip"

	"github.com/i3net/i3net/client"
	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/middlebox/pass"
	"github.com/i3net/i3net/proxy/session"
	"github.com/i3net/i3net/wire"
)

const (
	// forwardBatch is how many frames are sent, and packets written into
	// the IDS device, at once at most.
	forwardBatch = 64
	// idsOffset is the headroom in front of each packet written into the
	// IDS device: tun devices with offloads need 10 bytes for the virtio
	// header.
	idsOffset = 16
	// idsBufLen is an IDS slot's size: the headroom and the largest IP
	// packet (the tun device may coalesce TCP segments into it).
	idsBufLen = idsOffset + 65535
)

// forwardState is owned by the client's receive goroutine.
type forwardState struct {
	bufs   [][]byte                   // forwardBatch buffers for tagged frames
	stacks [][wire.MaxStack - 1]id.ID // the rest of each frame's stack
	hosts  []*host                    // whose trigger each frame came on
	msgs   []client.Message           // the frames of this batch

	idsBufs [][]byte // forwardBatch buffers of idsBufLen bytes
	idsOut  [][]byte // the packets of this batch, each idsBufs[i][:idsOffset+len]
	idsHost []*host

	lastA, lastB netip.Addr // the last address pair noted, and its host
	lastHost     *host
}

func newForwardState() forwardState {
	f := forwardState{
		bufs:   make([][]byte, forwardBatch),
		stacks: make([][wire.MaxStack - 1]id.ID, forwardBatch),
		hosts:  make([]*host, forwardBatch),
		msgs:   make([]client.Message, 0, forwardBatch),
	}
	for i := range f.bufs {
		f.bufs[i] = make([]byte, 0, client.MaxPayload+pass.TagLen)
	}
	return f
}

// needIDSBufs allocates the IDS batch, once, when there is an IDS device.
func (f *forwardState) needIDSBufs() {
	f.idsBufs = make([][]byte, forwardBatch)
	for i := range f.idsBufs {
		f.idsBufs[i] = make([]byte, idsBufLen)
	}
	f.idsOut = make([][]byte, 0, forwardBatch)
	f.idsHost = make([]*host, forwardBatch)
}

// forward is stages 1–4 for one delivery.
func (m *Middlebox) forward(d client.Delivery) {
	h := m.hostOf(d.ID)
	if h == nil {
		m.stats.dropUnknownHost.Add(1)
		return
	}
	if len(d.Rest) == 0 || len(d.Rest) >= wire.MaxStack || len(d.Payload) == 0 {
		m.stats.dropMalformed.Add(1)
		return
	}
	f := &m.fwd
	if len(f.msgs) == forwardBatch {
		m.sendFrames()
	}
	i := len(f.msgs)
	n := copy(f.stacks[i][:], d.Rest)
	f.bufs[i] = h.fwd.Append(f.bufs[i][:0], d.Payload)
	f.hosts[i] = h
	f.msgs = append(f.msgs, client.Message{Stack: f.stacks[i][:n], Payload: f.bufs[i]})
	if session.TypeOf(d.Payload) == session.TypePlaintext {
		m.inspect(h, d.Payload)
	}
}

// inspect is stage 4: the IP packet of plaintext frame b goes to the IDS.
func (m *Middlebox) inspect(h *host, b []byte) {
	fr, err := session.ParseFrame(b)
	if err != nil || len(fr.Body) == 0 {
		m.stats.idsMalformed.Add(1)
		return
	}
	pkt := fr.Body
	if pkt[0]>>4 == 1 {
		return // the hosts' control messages (proxy/control.go), not IP packets
	}
	if !m.noteFlow(h, pkt) || m.ids == nil {
		return
	}
	f := &m.fwd
	if len(f.idsOut) == forwardBatch {
		m.writeIDS()
	}
	i := len(f.idsOut)
	n := copy(f.idsBufs[i][idsOffset:], pkt)
	f.idsOut = append(f.idsOut, f.idsBufs[i][:idsOffset+n])
	f.idsHost[i] = h
}

// noteFlow remembers that pkt's address pair belongs to h, skipping the
// table when it is the pair of the previous packet. It reports false (and
// counts) for a body that is no IP packet: the IDS does not get it.
func (m *Middlebox) noteFlow(h *host, pkt []byte) bool {
	a, b, ok := addrPair(pkt)
	if !ok {
		m.stats.idsMalformed.Add(1)
		return false
	}
	f := &m.fwd
	if a == f.lastA && b == f.lastB && h == f.lastHost {
		return true
	}
	f.lastA, f.lastB, f.lastHost = a, b, h
	m.flows.note(a, b, h)
	return true
}

// flush is stage 5, at the end of the client's received batch.
func (m *Middlebox) flush() {
	m.sendFrames()
	m.writeIDS()
}

// sendFrames sends the batch of tagged frames, skipping one the client
// refuses and going on with the rest.
func (m *Middlebox) sendFrames() {
	f := &m.fwd
	for off := 0; off < len(f.msgs); {
		n, err := m.client.SendBatch(f.msgs[off:])
		m.credit(off, n)
		off += n
		if err != nil {
			m.stats.dropSend.Add(1)
			off++
		}
	}
	clear(f.hosts[:len(f.msgs)])
	clear(f.msgs)
	f.msgs = f.msgs[:0]
}

// credit counts the frames off..off+n as forwarded.
func (m *Middlebox) credit(off, n int) {
	f := &m.fwd
	for i := off; i < off+n; i++ {
		f.hosts[i].forwarded.Add(1)
		f.hosts[i].forwardedBytes.Add(uint64(len(f.msgs[i].Payload)))
	}
	m.stats.forwarded.Add(uint64(n))
}

// writeIDS writes the batch of IP packets into the IDS device; a failure is
// counted, never waited on. (A tun device's Write returns bytes, not
// packets, and may coalesce: a batch counts whole, as written or failed.)
func (m *Middlebox) writeIDS() {
	f := &m.fwd
	if len(f.idsOut) == 0 {
		return
	}
	k := len(f.idsOut)
	if _, err := m.ids.Write(f.idsOut, idsOffset); err != nil {
		m.stats.idsWriteErrors.Add(uint64(k))
	} else {
		for _, h := range f.idsHost[:k] {
			h.toIDS.Add(1)
		}
		m.stats.toIDS.Add(uint64(k))
	}
	clear(f.idsHost[:k])
	clear(f.idsOut)
	f.idsOut = f.idsOut[:0]
}
