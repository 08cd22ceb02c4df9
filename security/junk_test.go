package security

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/proxy/packet"
	"github.com/i3net/i3net/proxy/session"
	"github.com/i3net/i3net/wire"
)

// junk makes hostile input for garbage_test.go: random bytes, and datagrams
// and IP packets that look valid (well-formed headers and options with random
// contents, real frames with bytes changed) and so get past the first checks.
// It is deterministic for a seed. Every wire datagram it returns names no IP
// address but those of safe (the tests' own sockets): nothing it makes a
// server or a client send can reach a socket the test does not own.
type junk struct {
	src    *rand.ChaCha8
	r      *rand.Rand
	safe   []netip.AddrPort // the only addresses a datagram may name
	ids    []id.ID          // ids worth aiming at, besides random ones
	frames [][]byte         // real payloads (frames, DNS queries), to change
}

func newJunk(seed uint64, safe []netip.AddrPort, ids []id.ID, frames [][]byte) *junk {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	src := rand.NewChaCha8(s)
	return &junk{src: src, r: rand.New(src), safe: safe, ids: ids, frames: frames}
}

func (j *junk) random(n int) []byte {
	b := make([]byte, n)
	j.src.Read(b)
	return b
}

func (j *junk) id() id.ID {
	if len(j.ids) > 0 && j.r.IntN(2) == 0 {
		return j.ids[j.r.IntN(len(j.ids))]
	}
	var x id.ID
	j.src.Read(x[:])
	return x
}

func (j *junk) ipAddr() netip.AddrPort { return j.safe[j.r.IntN(len(j.safe))] }

func (j *junk) addr() wire.Addr {
	if j.r.IntN(4) == 0 {
		ids := make([]id.ID, 1+j.r.IntN(3))
		for i := range ids {
			ids[i] = j.id()
		}
		return wire.StackAddr(ids...)
	}
	return wire.IPAddr(j.ipAddr())
}

func (j *junk) trigger() wire.Trigger {
	t := wire.Trigger{Flags: uint8(j.r.IntN(4)), ID: j.id(), PrefixLen: uint16(j.r.IntN(300)), Target: j.addr()}
	if j.r.IntN(2) == 0 {
		j.src.Read(t.Nonce[:])
	}
	if j.r.IntN(2) == 0 {
		j.src.Read(t.Key[:])
	}
	return t
}

var (
	triggerOpts = []wire.OptType{wire.OptTriggerInsert, wire.OptTriggerChallenge, wire.OptTriggerAck,
		wire.OptTriggerRemove, wire.OptCacheAddr, wire.OptForceCacheAddr, wire.OptConstraintFailed,
		wire.OptRouteBroken, wire.OptCacheShortcutAddr, wire.OptCacheDestAddr}
	bareOpts = []wire.OptType{wire.OptRequestForCache, wire.OptLogPacket, wire.OptAppendTS,
		wire.OptRequestForCacheShortcut, wire.OptRequestForCacheShortcutInd}
)

func (j *junk) option() wire.Option {
	switch j.r.IntN(10) {
	case 0:
		return wire.Option{Type: wire.OptSender, Addr: j.addr()}
	case 1, 2, 3:
		return wire.Option{Type: triggerOpts[j.r.IntN(len(triggerOpts))], Trigger: j.trigger()}
	case 4:
		if j.r.IntN(2) == 0 {
			return wire.Option{Type: wire.OptTriggerNotPresent, ID: j.id()}
		}
		return wire.Option{Type: wire.OptTriggerRateLimit, ID: j.id()}
	case 5:
		return wire.Option{Type: bareOpts[j.r.IntN(len(bareOpts))]}
	case 6:
		switch j.r.IntN(4) {
		case 0:
			return wire.Option{Type: wire.ExtHello, Body: j.random(j.r.IntN(3))}
		case 1:
			return wire.Option{Type: wire.ExtSignature, Body: j.random(wire.SignatureLen - 1 + j.r.IntN(3))}
		case 2:
			return wire.Option{Type: wire.ExtError, Body: j.random(30 + j.r.IntN(60))}
		}
		return wire.PaddingOption(j.r.IntN(40))
	case 7:
		if j.r.IntN(2) == 0 { // a request (zeros) or an answer
			return wire.Option{Type: wire.ExtServerList, Body: make([]byte, j.r.IntN(30))}
		}
		addrs := make([]wire.Addr, 1+j.r.IntN(5))
		for i := range addrs {
			addrs[i] = wire.IPAddr(j.ipAddr())
		}
		return wire.ServerListOption(addrs)
	case 8:
		if j.r.IntN(2) == 0 {
			r := wire.Replica{Op: uint8(j.r.IntN(4)), Lifetime: j.r.Uint32(), Trigger: j.trigger(), Inserter: j.ipAddr()}
			return wire.ReplicateOption(&r)
		}
		return wire.Option{Type: wire.ExtReplicate, Body: j.random(j.r.IntN(120))}
	}
	return wire.Option{Type: wire.OptType(0x46 + j.r.IntN(0x3a)), Body: j.random(j.r.IntN(40))}
}

// packet returns a well-formed wire datagram with random contents.
func (j *junk) packet() []byte {
	p := &wire.Packet{Flags: []uint8{0, wire.FlagData, wire.FlagOptions, wire.FlagData | wire.FlagOptions}[j.r.IntN(4)]}
	if j.r.IntN(2) == 0 {
		p.Flags |= wire.FlagFirstHop
	}
	p.Flags |= uint8(j.r.IntN(16)) & 0x0f
	for range j.r.IntN(4) {
		p.Stack.Push(j.id())
	}
	if p.Flags&wire.FlagOptions != 0 {
		for range j.r.IntN(5) {
			p.Options = append(p.Options, j.option())
		}
	}
	if p.Flags&wire.FlagData != 0 {
		p.Payload = j.payload()
	}
	return p.AppendTo(nil)
}

// payload returns what a host's proxy may receive: random bytes, a frame
// type byte with random contents of a length that type has, or a real frame
// with bytes changed.
func (j *junk) payload() []byte {
	switch j.r.IntN(4) {
	case 0:
		return j.random(j.r.IntN(300))
	case 1:
		n := []int{session.Handshake1Len, session.Handshake2Len, session.ResetLen, session.Overhead,
			session.Overhead + j.r.IntN(200)}[j.r.IntN(5)]
		b := j.random(n)
		b[0] = byte(1 + j.r.IntN(8))
		return b
	}
	if len(j.frames) == 0 {
		return j.random(j.r.IntN(300))
	}
	return j.mutate(append([]byte(nil), j.frames[j.r.IntN(len(j.frames))]...))
}

// mutate changes one to three bytes of b, and cuts it short one time in four.
func (j *junk) mutate(b []byte) []byte {
	if len(b) == 0 {
		return b
	}
	for range 1 + j.r.IntN(3) {
		b[j.r.IntN(len(b))] ^= byte(1 + j.r.IntN(255))
	}
	if j.r.IntN(4) == 0 {
		b = b[:j.r.IntN(len(b)+1)]
	}
	return b
}

// datagram returns the next hostile wire datagram.
func (j *junk) datagram() []byte {
	for {
		var b []byte
		switch j.r.IntN(6) {
		case 0: // random bytes
			b = j.random(j.r.IntN(600))
		case 1: // random bytes after a version byte
			b = j.random(1 + j.r.IntN(600))
			b[0] = wire.Version
		case 2:
			b = j.packet()
		case 3:
			b = j.mutate(j.packet())
		case 4: // a data packet to an id worth aiming at, as a host sends it
			p := &wire.Packet{Flags: wire.FlagData | wire.FlagFirstHop, Stack: wire.StackOf(j.id()), Payload: j.payload()}
			if j.r.IntN(2) == 0 {
				p.AddOption(wire.Option{Type: wire.OptSender, Addr: wire.IPAddr(j.ipAddr())})
			}
			b = p.AppendTo(nil)
		case 5: // a ping, echoed to its source
			b = j.random(1 + j.r.IntN(100))
			b[0] |= wire.PingBit
		}
		if j.isSafe(b) {
			return b
		}
	}
}

// isSafe reports whether b, as a server or a client decodes it, names no IP
// address outside j.safe.
func (j *junk) isSafe(b []byte) bool {
	var p wire.Packet
	if wire.IsPing(b) || p.Decode(b) != nil {
		return true
	}
	for i := range p.Options {
		o := &p.Options[i]
		if o.Addr.IsIP() && !j.isSafeAddr(o.Addr.IP) || o.Trigger.Target.IsIP() && !j.isSafeAddr(o.Trigger.Target.IP) {
			return false
		}
		switch o.Type {
		case wire.ExtServerList:
			addrs, err := wire.ParseServerList(nil, o.Body)
			for _, a := range addrs {
				if err == nil && a.IsIP() && !j.isSafeAddr(a.IP) {
					return false
				}
			}
		case wire.ExtReplicate:
			var r wire.Replica
			if wire.ParseReplicate(o.Body, &r) == nil &&
				(!j.isSafeAddr(r.Inserter) || r.Trigger.Target.IsIP() && !j.isSafeAddr(r.Trigger.Target.IP)) {
				return false
			}
		}
	}
	return true
}

func (j *junk) isSafeAddr(a netip.AddrPort) bool {
	for _, s := range j.safe {
		if a == s {
			return true
		}
	}
	return false
}

// tunPacket returns a packet a program might write into a proxy's tun:
// random bytes, or an IPv4 or IPv6 packet (TCP, UDP, ICMP, other) from own
// or elsewhere to one of dsts or a random address, possibly changed; to a
// DNS address (dns) on port 53 it carries a query, real or changed.
func (j *junk) tunPacket(own []netip.Addr, dsts []netip.Addr, dns []netip.Addr) []byte {
	if j.r.IntN(5) == 0 {
		b := j.random(j.r.IntN(1300))
		if len(b) > 0 && j.r.IntN(2) == 0 {
			b[0] = b[0]&0x0f | []byte{0x40, 0x60}[j.r.IntN(2)]
		}
		return b
	}
	v6 := j.r.IntN(3) == 0
	pick := func(as []netip.Addr) netip.Addr {
		var fam []netip.Addr
		for _, a := range as {
			if a.IsValid() && a.Is6() == v6 {
				fam = append(fam, a)
			}
		}
		if len(fam) == 0 || j.r.IntN(5) == 0 {
			if v6 {
				return netip.AddrFrom16([16]byte(j.random(16)))
			}
			return netip.AddrFrom4([4]byte(j.random(4)))
		}
		return fam[j.r.IntN(len(fam))]
	}
	h := packet.Header{Src: netip.AddrPortFrom(pick(own), uint16(j.r.Uint32())), Dst: netip.AddrPortFrom(pick(dsts), uint16(j.r.Uint32()))}
	h.Proto = []packet.IPProto{packet.ProtoTCP, packet.ProtoUDP, packet.ProtoICMPv4, 132}[j.r.IntN(4)]
	if v6 && h.Proto == packet.ProtoICMPv4 {
		h.Proto = packet.ProtoICMPv6
	}
	h.TCPFlags = packet.TCPFlag(j.r.Uint32())
	h.ICMPType = uint8(j.r.Uint32())
	payload := j.random(j.r.IntN(1200))
	if j.r.IntN(3) == 0 {
		h.Dst = netip.AddrPortFrom(pick(dns), 53)
		h.Proto = packet.ProtoUDP
		if len(j.frames) > 0 && j.r.IntN(2) == 0 {
			payload = j.mutate(append([]byte(nil), j.frames[j.r.IntN(len(j.frames))]...))
		}
	}
	b, err := packet.Build(h, payload)
	if err != nil {
		return j.random(40)
	}
	if j.r.IntN(4) == 0 {
		b = j.mutate(b)
	}
	return b
}
