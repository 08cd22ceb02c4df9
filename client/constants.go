package client

import (
	"time"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/wire"
)

// Sizes of what the client puts on the wire, in bytes.
const (
	// maxDatagram is the size of every receive and send buffer.
	maxDatagram = wire.MaxPacket

	// maxDataHeader is the largest data header the client writes: 15 ids, the
	// option list length and an IPv6 SENDER.
	maxDataHeader = wire.MaxDataHeader

	// MaxPayload is the largest payload Send and SendTo accept with a one-id
	// stack (IPv6 SENDER); deeper stacks leave 32 bytes less per extra id.
	MaxPayload = maxDatagram - (maxDataHeader - (wire.MaxStack-1)*id.Len)

	// socketBuffer is the receive and send buffer asked of the kernel for the
	// client's socket (capped by net.core.rmem_max / wmem_max).
	socketBuffer = 4 << 20
)

// Pings.
const (
	// pingKind is the first byte of the client's server pings: bit 0x01 marks a
	// ping (wire.PingBit), which servers echo unchanged.
	pingKind = wire.PingBit

	// pingHeader is the size of a server ping: kind byte and a 64-bit token.
	pingHeader = 1 + 8

	// idPingMagic opens the payload of a ping sent through a trigger
	// (PingID); the 64-bit token follows.
	idPingMagic = "i3netPNG"

	// idPingHeader is the size of a PingID payload's magic and token.
	idPingHeader = len(idPingMagic) + 8
)

// challengeBudget is how many challenges a trigger answers between two of its
// timer events (refresh or retry): a server that challenges every answer cannot
// make the client ping-pong at wire speed.
const challengeBudget = 4

// Servers: lists, round trips and failover (servers.go, discovery.go,
// liveness.go). The intervals themselves are Config fields.
const (
	// listFanout is how many servers one list round asks: the first hop and
	// the next best.
	listFanout = 3

	// listWait is how long a list round waits for answers before the round
	// trips are measured, so that the servers just learned are measured too.
	listWait = 300 * time.Millisecond

	// probeTimeout is how long one round-trip ping waits; a server gets
	// probeAttempts of them per round before it counts as unreachable.
	probeTimeout  = 500 * time.Millisecond
	probeAttempts = 2

	// probeParallel bounds the pings of one round in flight at once.
	probeParallel = 8

	// switchMinGain: a measured server replaces the first hop only when its
	// round trip is below 4/5 of the first hop's and at least this much
	// shorter, so that noise does not move the first hop back and forth.
	switchMinGain = 200 * time.Microsecond

	// livePingKind is the first byte of a liveness ping: PingBit (servers echo
	// it) and 0x02, which tells it from a round-trip ping (pingKind). It
	// carries no token: any echo from the server proves it alive.
	livePingKind = wire.PingBit | 0x02

	// reflectPingKind is the first byte of the liveness pings and of the NAT
	// checks: a liveness ping with wire.PingReflect, wire.ReflectLen bytes in
	// all, whose echo from our servers names the address the server sees
	// (zeros from servers that do not reflect).
	reflectPingKind = livePingKind | wire.PingReflect

	// maxWatched bounds the servers the liveness check watches per tick.
	maxWatched = 16

	// livePingsBeforeDown is how many liveness pings a silent server must have
	// left unanswered before it is declared down.
	livePingsBeforeDown = 2
)

// NAT (nat.go): hintWaitMax bounds how long an insertion waits for the hint
// it asked for before going to the first hop anyway (it waits
// RetryInterval/4 at most).
const hintWaitMax = 500 * time.Millisecond

// Shortcuts (shortcut.go, paper §5.2).
const (
	// probeMagic opens the payload of a shortcut probe: a data packet with the
	// shortcut flag that the receiver's client answers with an offer instead
	// of handing it to the handler. The 16-byte token follows, then zeros.
	probeMagic = "i3netSCP"

	// probeLen is the size of a probe's payload: magic, token and 24 zeros,
	// so that a probe (93 bytes over IPv4, 105 over IPv6, with SENDER) is
	// never smaller than the offer it asks for (80 and 92): no
	// amplification.
	probeLen = 48

	// maxShortcuts bounds the destinations the client keeps shortcut state
	// for; beyond it, packets to new ids go through the overlay.
	maxShortcuts = 4096

	// shortcutIdle is how long shortcut state for an id nobody sends to is
	// kept.
	shortcutIdle = 2 * time.Minute

	// maxProbeGap bounds the backoff between probes through the overlay to a
	// receiver that does not answer (its trigger allows no shortcut).
	maxProbeGap = 30 * time.Second

	// offerRate and offerBurst bound the offers a receiver sends, per second
	// and at once: a probe costs its sender as much as the offer.
	offerRate  = 200
	offerBurst = 50
)
