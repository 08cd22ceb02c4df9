package udpgso

import (
	"net"
	"sync"
	"sync/atomic"

	"github.com/i3net/i3net/internal/mmsg"
)

// Batch is a socket's batch calls (internal/mmsg's, or x/net's PacketConn),
// which a Conn wraps.
type Batch = mmsg.Batch

const (
	// maxSegments is the most datagrams the kernel accepts in one
	// UDP_SEGMENT send (UDP_MAX_SEGMENTS).
	maxSegments = 64
	// maxCoalesced bounds the bytes of one coalesced send or receive: the
	// largest UDP payload over IPv4.
	maxCoalesced = 65507
	// readSlots is how many coalesced datagrams one receive asks for.
	readSlots = 8
)

// Conn is a Batch with segmentation offloads where the kernel has them.
// WriteBatch may be called from several goroutines at once; ReadBatch from one
// at a time.
type Conn struct {
	b   Batch
	gso atomic.Bool // UDP_SEGMENT may be used
	gro bool        // UDP_GRO is on: reads may hold several datagrams

	maxSeg atomic.Int64 // the largest segment a coalesced send may have
	writes sync.Pool    // *writeScratch

	rd reader

	coalesced atomic.Uint64 // datagrams sent in coalesced sends
	sends     atomic.Uint64 // coalesced sends
	split     atomic.Uint64 // datagrams received in coalesced reads
}

// New wraps b, the batch calls of conn, and turns on the offloads the kernel
// has for conn's socket. It never fails: without offloads, the Conn passes
// calls through.
func New(conn *net.UDPConn, b Batch) *Conn {
	c := &Conn{b: b}
	c.maxSeg.Store(maxCoalesced)
	c.writes.New = func() any { return new(writeScratch) }
	gso, gro := enable(conn)
	c.gso.Store(gso)
	c.gro = gro
	if gro {
		c.rd.init()
	}
	return c
}

// Offloads reports which offloads are in use.
func (c *Conn) Offloads() (gso, gro bool) { return c.gso.Load(), c.gro }

// Stats are the Conn's counts since it was made.
type Stats struct {
	Coalesced uint64 // datagrams sent within coalesced sends
	Sends     uint64 // coalesced sends (each one system call's message)
	Split     uint64 // datagrams received within coalesced reads
}

// Stats returns the counts.
func (c *Conn) Stats() Stats {
	return Stats{Coalesced: c.coalesced.Load(), Sends: c.sends.Load(), Split: c.split.Load()}
}
