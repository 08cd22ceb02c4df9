package wire

import (
	"encoding/binary"

	"github.com/i3net/i3net/id"
)

// HeaderLen returns the encoded size of p without its payload.
func (p *Packet) HeaderLen() int {
	n := StackHeaderLen(int(p.Stack.N))
	if p.Flags&FlagOptions != 0 {
		n += listLenSize
		for i := range p.Options {
			n += p.Options[i].encodedLen()
		}
	}
	return n
}

// AppendTo appends the encoding of p to b. FlagOptions in p.Flags decides whether
// the option list is written; the payload is written when FlagData is set.
func (p *Packet) AppendTo(b []byte) []byte {
	b = AppendHeader(b, p.Flags, p.Stack.Slice())
	if p.Flags&FlagOptions != 0 {
		var list int
		b, list = StartOptions(b)
		for i := range p.Options {
			b = p.Options[i].appendTo(b)
		}
		EndOptions(b, list)
	}
	if p.Flags&FlagData != 0 {
		b = append(b, p.Payload...)
	}
	return b
}

func (o *Option) encodedLen() int {
	switch optBody(o.Type) {
	case bodyAddr:
		return 1 + o.Addr.encodedLen()
	case bodyTrigger:
		return 1 + o.Trigger.encodedLen()
	case bodyID:
		return 1 + id.Len
	case bodyExt:
		return ExtHeaderLen + len(o.Body)
	}
	return 1
}

func (o *Option) appendTo(b []byte) []byte {
	b = append(b, byte(o.Type))
	switch optBody(o.Type) {
	case bodyAddr:
		return o.Addr.AppendTo(b)
	case bodyTrigger:
		return o.Trigger.AppendTo(b)
	case bodyID:
		return append(b, o.ID[:]...)
	case bodyExt:
		b = binary.BigEndian.AppendUint16(b, uint16(len(o.Body)))
		return append(b, o.Body...)
	}
	return b
}

// EncodedLen returns the size of a's encoding.
func (a *Addr) EncodedLen() int { return a.encodedLen() }

func (a *Addr) encodedLen() int {
	switch a.Kind {
	case AddrIPv4:
		return 7
	case AddrIPv6:
		return 19
	case AddrStack:
		return 2 + int(a.Stack.N)*id.Len
	}
	return 1
}

// AppendTo appends the encoding of a to b.
func (a *Addr) AppendTo(b []byte) []byte {
	b = append(b, byte(a.Kind))
	switch a.Kind {
	case AddrIPv4:
		ip := a.IP.Addr().Unmap().As4()
		b = append(b, ip[:]...)
		return binary.BigEndian.AppendUint16(b, a.IP.Port())
	case AddrIPv6:
		ip := a.IP.Addr().As16()
		b = append(b, ip[:]...)
		return binary.BigEndian.AppendUint16(b, a.IP.Port())
	case AddrStack:
		b = append(b, a.Stack.N&0x0f)
		for i := 0; i < int(a.Stack.N); i++ {
			b = append(b, a.Stack.IDs[i][:]...)
		}
	}
	return b
}

func (t *Trigger) encodedLen() int {
	n := 1 + id.Len + 2 + NonceLen + t.Target.encodedLen()
	if t.Target.Kind != AddrStack {
		n += KeyLen
	}
	return n
}

// AppendTo appends the encoding of t to b.
func (t *Trigger) AppendTo(b []byte) []byte {
	b = append(b, t.Flags)
	b = append(b, t.ID[:]...)
	b = binary.BigEndian.AppendUint16(b, t.PrefixLen)
	b = append(b, t.Nonce[:]...)
	b = t.Target.AppendTo(b)
	if t.Target.Kind != AddrStack {
		b = append(b, t.Key[:]...)
	}
	return b
}
