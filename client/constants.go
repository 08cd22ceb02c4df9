package client

import (
	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/wire"
)

// Sizes of what the client puts on the wire, in bytes.
const (
	// maxDatagram is the size of every receive and send buffer.
	maxDatagram = wire.MaxPacket

	// senderOptMax is the largest SENDER option: type byte and an IPv6 address.
	senderOptMax = 1 + 1 + 16 + 2

	// maxDataHeader is the largest data header the client writes: 15 ids, the
	// option list length and a SENDER option.
	maxDataHeader = 3 + wire.MaxStack*id.Len + 2 + senderOptMax

	// MaxPayload is the largest payload Send and SendTo accept with a one-id
	// stack (IPv6 SENDER); deeper stacks leave 32 bytes less per extra id.
	MaxPayload = maxDatagram - (3 + id.Len + 2 + senderOptMax)

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
