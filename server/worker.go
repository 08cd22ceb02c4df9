package server

import (
	"hash/maphash"
	"net/netip"
	"strconv"
	"sync"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/ring"
	"github.com/i3net/i3net/wire"
)

// packetBuf holds one datagram with headroom in front of it (see headroom).
type packetBuf [bufSize]byte

// bufPool holds the buffers of extra copies of a received datagram (a multicast
// branch whose header differs from the one written in place). A buffer is taken
// while a batch is handled and put back once the batch is written.
var bufPool = sync.Pool{New: func() any { return new(packetBuf) }}

// worker runs the data path over one socket: it owns the receive buffers, the
// send queue, the reply arena, the rate limiters and the challenge MAC state,
// none of which is locked. The trigger table and the counters it publishes are
// the server's, shared with the sweeper.
type worker struct {
	s    *Server
	conn batchConn

	// Fixed at start.
	ttl          int64 // Config.TriggerTTL, nanoseconds
	skew         int64 // Config.SignatureSkew, nanoseconds
	maxFanout    int
	maxHops      int
	requireSig   bool
	replicas     int    // Config.Replicas
	rateLimitMsg string // EXT_ERROR message for RefusedRateLimited

	now    int64          // Unix nanoseconds, read once per batch
	budget int            // reply bytes left for the datagram being handled (control.go)
	view   *ring.Snapshot // the ring, read once per batch; nil for a server alone

	pkt   wire.Packet
	in    []message    // receive slots, one buffer each
	bufs  []*packetBuf // their buffers
	out   []message    // datagrams queued for the next WriteBatch
	arena []byte       // bytes of queued control replies
	extra []*packetBuf // pooled copies referenced by out

	data, inserts, replies *limiter
	ch                     *challenger
	auth                   *ringAuth // nil without a ring key
	sigs                   *sigCache // signatures used, and from where (sigcache.go)

	ctr counters // counted since the last publish

	// Scratch of the forwarding path: lookup results and expanded stacks per
	// expansion depth, and the datagram being forwarded.
	targets  [maxHopsLimit + 1][]target
	stacks   [maxHopsLimit + 1][wire.MaxStack]id.ID
	hdr      [wire.MaxDataHeader]byte // a delivered copy's header, to compare
	hdrStack [wire.MaxStack]id.ID     // its stack
	fw       forwarding

	// Scratch of the control path.
	reply      wire.Packet
	sigTrig    wire.Trigger
	errBody    [wire.ErrorBodyLen + errorMsgMax]byte
	listBody   []byte      // EXT_SERVER_LIST answer
	listAddrs  []wire.Addr // its addresses
	deferCache bool        // REQUEST_FOR_CACHE on a shortcut data packet: answered after forwarding

	// The ring: recent hints (hop.go), replication datagrams being filled
	// for this batch (replicate.go).
	hintSeed maphash.Seed
	hints    *[hintSlots]hintSlot
	repl     []replicaOut
	replica  wire.Replica
}

// forwarding is the state of the data packet being forwarded.
type forwarding struct {
	buf      *packetBuf
	pay      int            // offset of the payload in buf
	end      int            // offset of the end of the datagram in buf
	flags    uint8          // flags of delivered copies: FlagData and the low nibble
	inplace  []byte         // the copy written in place in buf, once there is one
	hdrLen   int            // length of its header
	budget   int            // copies and expansions left (MaxFanout)
	sender   netip.AddrPort // SENDER of a packet that allows a shortcut, else invalid
	shortcut bool           // a copy was delivered with SENDER (a shortcut)
}

// request is what the server knows of a datagram's sender.
type request struct {
	src      netip.AddrPort // observed UDP source
	dst      netip.Addr     // local address it arrived at, when known
	replyTo  netip.AddrPort // where control replies go: SENDER (after NAT handling) or src
	origin   netip.AddrPort // the host it comes from: src, or SENDER when a peer sent it on
	sender   bool           // the packet carried an IP SENDER
	stated   netip.AddrPort // SENDER as the host stated it
	nat      bool           // SENDER differed from src on a first-hop packet (§5.1)
	hello    bool           // the packet announced EXT_HELLO: errors may be sent
	firstHop bool           // the packet is on its first hop: FIRST_HOP set, or not from a peer
	peer     bool           // it comes from another server of the ring
	authed   bool           // it ends with a valid EXT_RING_AUTH (checked only for a peer's EXT_REPLICATE)
}

func newWorker(s *Server) *worker {
	cfg := &s.cfg
	w := &worker{
		s:          s,
		conn:       s.conn,
		ttl:        int64(cfg.TriggerTTL),
		skew:       int64(cfg.SignatureSkew),
		maxFanout:  cfg.MaxFanout,
		maxHops:    cfg.MaxHops,
		requireSig: cfg.RequireSignedPublic,
		replicas:   cfg.Replicas,
		hintSeed:   maphash.MakeSeed(),
		hints:      new([hintSlots]hintSlot),
		auth:       newRingAuth(s.ringKey),
		in:         make([]message, cfg.BatchSize),
		bufs:       make([]*packetBuf, cfg.BatchSize),
		out:        make([]message, 0, cfg.BatchSize*outPerIn),
		arena:      make([]byte, 0, arenaSize),
		data:       newLimiter(cfg.DataRate, cfg.DataBurst),
		inserts:    newLimiter(cfg.InsertRate, cfg.InsertBurst),
		replies:    newLimiter(cfg.ReplyRate, cfg.ReplyBurst),
		ch:         newChallenger(&s.master, int64(cfg.SecretRotation)),
		sigs:       newSigCache(int64(cfg.SignatureSkew), sigCacheSize),
	}
	w.rateLimitMsg = "insertions over this server's limit of " + strconv.FormatFloat(cfg.InsertRate, 'g', -1, 64) + " per second per source"
	for i := range w.in {
		w.bufs[i] = new(packetBuf)
		w.in[i].buf = w.bufs[i][headroom:]
	}
	w.pkt.Options = make([]wire.Option, 0, 8)
	w.reply.Options = make([]wire.Option, 0, 4)
	for i := range w.targets {
		w.targets[i] = make([]target, 0, 16)
	}
	return w
}
