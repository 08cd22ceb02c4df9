package overlays

import (
	"errors"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"

	"golang.zx2c4.com/wireguard/tun"
)

// DefaultQueueLen is how many packets wait for one overlay's proxy before
// the dispatcher drops that overlay's packets (the others' go on).
const DefaultQueueLen = 512

// readOffset is the headroom the dispatcher leaves before each packet it
// reads (the virtio header of Linux tun devices fits in it).
const readOffset = 16

// Route is where an overlay's packets go: the destinations in its pools (a
// zero Pool6: no IPv6).
type Route struct {
	Pool4, Pool6 netip.Prefix
}

// contains reports whether dst is in r's pools.
func (r Route) contains(dst netip.Addr) bool {
	if dst.Is4() {
		return r.Pool4.IsValid() && r.Pool4.Contains(dst)
	}
	return r.Pool6.IsValid() && r.Pool6.Contains(dst)
}

// Dispatcher reads one tun device and hands each packet to the Port whose
// route holds the packet's destination. A port's full queue drops that
// port's packets (counted) and never holds up the others; a destination in
// no route is dropped and counted.
type Dispatcher struct {
	dev   tun.Device
	ports []*Port
	size  int // the largest packet a buffer holds

	bufs  [][]byte
	sizes []int

	noRoute   atomic.Uint64
	malformed atomic.Uint64

	done chan struct{} // closed when Run returns
	err  error         // why Run returned; read after done
}

// NewDispatcher returns a dispatcher of dev with one port per route, in the
// order of routes; each port queues up to queueLen packets (0:
// DefaultQueueLen) of at most mtu bytes (and a little more, as the proxy
// reads).
func NewDispatcher(dev tun.Device, mtu int, routes []Route, queueLen int) *Dispatcher {
	if queueLen <= 0 {
		queueLen = DefaultQueueLen
	}
	batch := max(1, dev.BatchSize())
	d := &Dispatcher{dev: dev, size: mtu + 256, bufs: make([][]byte, batch), sizes: make([]int, batch), done: make(chan struct{})}
	for i := range d.bufs {
		d.bufs[i] = make([]byte, readOffset+d.size)
	}
	for _, r := range routes {
		d.ports = append(d.ports, newPort(d, r, queueLen))
	}
	return d
}

// Ports returns the ports, in the order of the routes.
func (d *Dispatcher) Ports() []*Port { return d.ports }

// Run reads the device until it fails or is closed, and dispatches every
// packet. It returns nil when the device was closed.
func (d *Dispatcher) Run() error {
	defer close(d.done)
	for {
		n, err := d.dev.Read(d.bufs, d.sizes, readOffset)
		for i := 0; i < n; i++ {
			d.dispatch(d.bufs[i][readOffset : readOffset+d.sizes[i]])
		}
		switch {
		case err == nil:
		case errors.Is(err, tun.ErrTooManySegments):
			d.malformed.Add(1)
		case errors.Is(err, os.ErrClosed):
			d.err = os.ErrClosed
			return nil
		default:
			d.err = err
			return err
		}
	}
}

// dispatch hands pkt (an IP packet) to the port of its destination; it
// does not allocate.
func (d *Dispatcher) dispatch(pkt []byte) {
	dst, ok := destination(pkt)
	if !ok || len(pkt) > d.size {
		d.malformed.Add(1)
		return
	}
	for _, p := range d.ports {
		if p.route.contains(dst) {
			p.enqueue(pkt)
			return
		}
	}
	d.noRoute.Add(1)
}

// destination reads the destination address of an IPv4 or IPv6 packet.
func destination(pkt []byte) (netip.Addr, bool) {
	if len(pkt) == 0 {
		return netip.Addr{}, false
	}
	switch pkt[0] >> 4 {
	case 4:
		if len(pkt) >= 20 {
			return netip.AddrFrom4([4]byte(pkt[16:20])), true
		}
	case 6:
		if len(pkt) >= 40 {
			return netip.AddrFrom16([16]byte(pkt[24:40])), true
		}
	}
	return netip.Addr{}, false
}

// Stats are the dispatcher's drops.
type Stats struct {
	// NoRoute counts packets to a destination in no overlay's pools,
	// Malformed those without an IP header.
	NoRoute, Malformed uint64
	// QueueFull counts, per port, the packets dropped because its proxy
	// had not read the ones before.
	QueueFull []uint64
}

// Stats returns the drops so far.
func (d *Dispatcher) Stats() Stats {
	s := Stats{NoRoute: d.noRoute.Load(), Malformed: d.malformed.Load()}
	for _, p := range d.ports {
		s.QueueFull = append(s.QueueFull, p.full.Load())
	}
	return s
}

// packetBuf is one queued packet.
type packetBuf struct {
	b []byte
	n int
}

// Port is one overlay's view of the shared device: a tun.Device whose Read
// returns the packets the dispatcher routed to it and whose Write writes to
// the device.
type Port struct {
	d     *Dispatcher
	route Route
	free  chan *packetBuf // buffers to fill
	queue chan *packetBuf // packets to read
	full  atomic.Uint64

	closeOnce sync.Once
	closed    chan struct{}
}

var _ tun.Device = (*Port)(nil)

func newPort(d *Dispatcher, r Route, queueLen int) *Port {
	p := &Port{d: d, route: r, free: make(chan *packetBuf, queueLen), queue: make(chan *packetBuf, queueLen), closed: make(chan struct{})}
	for range queueLen {
		p.free <- &packetBuf{b: make([]byte, d.size)}
	}
	return p
}

// enqueue copies pkt into a free buffer and queues it, or drops it when
// none is free.
func (p *Port) enqueue(pkt []byte) {
	select {
	case b := <-p.free:
		b.n = copy(b.b, pkt)
		p.queue <- b // never blocks: there are as many slots as buffers
	default:
		p.full.Add(1)
	}
}

// Read waits for at least one packet and returns as many as are queued, up
// to len(bufs), each at bufs[i][offset:]. It returns os.ErrClosed once the
// port or the device is closed, or the device's read error.
func (p *Port) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	var first *packetBuf
	select {
	case first = <-p.queue:
	case <-p.closed:
		return 0, os.ErrClosed
	case <-p.d.done:
		return 0, p.d.err
	}
	n := p.take(first, bufs, sizes, offset, 0)
	for n < len(bufs) {
		select {
		case b := <-p.queue:
			n = p.take(b, bufs, sizes, offset, n)
		default:
			return n, nil
		}
	}
	return n, nil
}

// take copies b into bufs[n] and frees it; a packet larger than the
// caller's buffer is dropped (the caller's buffers hold the MTU).
func (p *Port) take(b *packetBuf, bufs [][]byte, sizes []int, offset, n int) int {
	if offset+b.n <= len(bufs[n]) {
		sizes[n] = copy(bufs[n][offset:], b.b[:b.n])
		n++
	} else {
		p.d.malformed.Add(1)
	}
	p.free <- b
	return n
}

// Write writes packets to the shared device (which serialises concurrent
// writers); offset is passed through, for the device's headroom.
func (p *Port) Write(bufs [][]byte, offset int) (int, error) {
	select {
	case <-p.closed:
		return 0, os.ErrClosed
	default:
	}
	return p.d.dev.Write(bufs, offset)
}

// File returns nil: a port has no file of its own.
func (p *Port) File() *os.File { return nil }

// MTU returns the device's MTU.
func (p *Port) MTU() (int, error) { return p.d.dev.MTU() }

// Name returns the device's name.
func (p *Port) Name() (string, error) { return p.d.dev.Name() }

// Events returns the device's events.
func (p *Port) Events() <-chan tun.Event { return p.d.dev.Events() }

// BatchSize returns the device's batch size.
func (p *Port) BatchSize() int { return p.d.dev.BatchSize() }

// Close closes the port only: its Read returns os.ErrClosed, its packets
// are dropped from then on.
func (p *Port) Close() error {
	p.closeOnce.Do(func() { close(p.closed) })
	return nil
}
