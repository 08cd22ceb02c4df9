package wire

import (
	"encoding/binary"
	"net/netip"
)

// Replication between servers (ExtReplicate). A server sends every
// installation, refresh and removal of a trigger it owns to the next servers
// of the ring, which keep the trigger, inert, until they own its id; when a
// server joins, the previous owner of its range pushes the triggers of that
// range to it the same way. Servers accept these options only from the data
// addresses of ring members.
//
// Body, one trigger per option (a datagram carries as many options as fit):
//
//	op(1)          ReplicateInstall or ReplicateRemove
//	lifetime(4)    milliseconds the trigger has left (0 for a removal)
//	trigger        as in TRIGGER_INSERT; the nonce is zero (each server
//	               challenges with its own secret)
//	inserter       address (IPv4 or IPv6): the observed source of the
//	               insertion, which the trigger is charged to (port 0 when
//	               only the source's address is known)

// Replication operations.
const (
	ReplicateInstall = 1 // install, or refresh, the trigger
	ReplicateRemove  = 2 // remove the trigger with this id and target
)

// Replica is the body of an ExtReplicate option.
type Replica struct {
	Op       uint8
	Lifetime uint32 // milliseconds left; 0 for a removal
	Trigger  Trigger
	Inserter netip.AddrPort
}

// EncodedLen returns the size of r's body.
func (r *Replica) EncodedLen() int {
	a := IPAddr(r.Inserter)
	return 1 + 4 + r.Trigger.encodedLen() + a.encodedLen()
}

// AppendTo appends r's body to b. It allocates nothing when b has room.
func (r *Replica) AppendTo(b []byte) []byte {
	b = append(b, r.Op)
	b = binary.BigEndian.AppendUint32(b, r.Lifetime)
	b = r.Trigger.AppendTo(b)
	a := IPAddr(r.Inserter)
	return a.AppendTo(b)
}

// OptionLen returns the size of the ExtReplicate option carrying r, its
// type and length included.
func (r *Replica) OptionLen() int { return ExtHeaderLen + r.EncodedLen() }

// AppendOption appends the ExtReplicate option carrying r to b, an open
// option list: OptionLen bytes, no allocation when b has room.
func (r *Replica) AppendOption(b []byte) []byte {
	b, at := StartExt(b, ExtReplicate)
	b = r.AppendTo(b)
	EndExt(b, at)
	return b
}

// ReplicateOption returns an ExtReplicate option carrying r.
func ReplicateOption(r *Replica) Option {
	return Option{Type: ExtReplicate, Body: r.AppendTo(make([]byte, 0, r.EncodedLen()))}
}

// ParseReplicate decodes an ExtReplicate body into r. It allocates nothing.
func ParseReplicate(body []byte, r *Replica) error {
	if len(body) < 5 {
		return ErrExtBody
	}
	r.Op = body[0]
	if r.Op != ReplicateInstall && r.Op != ReplicateRemove {
		return ErrExtBody
	}
	r.Lifetime = binary.BigEndian.Uint32(body[1:])
	rest, err := decodeTrigger(body[5:], &r.Trigger)
	if err != nil {
		return ErrExtBody
	}
	var a Addr
	rest, err = decodeAddr(rest, &a)
	if err != nil || !a.IsIP() || len(rest) != 0 {
		return ErrExtBody
	}
	r.Inserter = a.IP
	return nil
}

// ServerListRequest returns the option that asks a server for the overlay's
// servers: an ExtServerList with an empty body. The server answers a host
// that sent ExtHello with an ExtServerList of every live server's data
// address.
func ServerListRequest() Option { return Option{Type: ExtServerList} }
