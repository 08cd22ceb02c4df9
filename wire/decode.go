package wire

import (
	"encoding/binary"
	"errors"
	"net/netip"

	"github.com/i3net/i3net/id"
)

// Reasons a datagram is rejected. Errors returned by the decoders wrap or equal one
// of these, so that callers can count drops by reason.
var (
	ErrTruncated     = errors.New("wire: truncated")
	ErrVersion       = errors.New("wire: unknown version")
	ErrOptionList    = errors.New("wire: bad option list length")
	ErrUnknownOption = errors.New("wire: unknown option type")
	ErrAddrKind      = errors.New("wire: unknown address type")
	ErrTrailing      = errors.New("wire: bytes after a packet without data")
	ErrNoIDs         = errors.New("wire: data packet with an empty stack")
	ErrPing          = errors.New("wire: datagram is a ping")
)

// Decode parses datagram b into p. p.Payload aliases b. On error p is left
// partially filled and must not be used.
func (p *Packet) Decode(b []byte) error {
	p.Reset()
	if len(b) < 3 {
		return ErrTruncated
	}
	if IsPing(b) {
		return ErrPing
	}
	if b[0] != Version {
		return ErrVersion
	}
	p.Flags = b[1]
	n := int(b[2] & 0x0f)
	off := 3
	if len(b) < off+n*id.Len {
		return ErrTruncated
	}
	for i := 0; i < n; i++ {
		copy(p.Stack.IDs[i][:], b[off:off+id.Len])
		off += id.Len
	}
	p.Stack.N = uint8(n)
	if p.Flags&FlagOptions != 0 {
		if len(b) < off+2 {
			return ErrTruncated
		}
		l := int(binary.BigEndian.Uint16(b[off:]))
		if l < 2 || off+l > len(b) {
			return ErrOptionList
		}
		if err := p.decodeOptions(b[off+2 : off+l]); err != nil {
			return err
		}
		off += l
	}
	if p.Flags&FlagData != 0 {
		if n == 0 {
			return ErrNoIDs
		}
		p.Payload = b[off:]
	} else if off != len(b) {
		return ErrTrailing
	}
	return nil
}

func (p *Packet) decodeOptions(b []byte) error {
	for len(b) > 0 {
		if len(p.Options) < cap(p.Options) {
			p.Options = p.Options[:len(p.Options)+1]
		} else {
			p.Options = append(p.Options, Option{})
		}
		o := &p.Options[len(p.Options)-1]
		rest, err := o.decode(b)
		if err != nil {
			p.Options = p.Options[:len(p.Options)-1]
			return err
		}
		b = rest
	}
	return nil
}

// decode parses one option from the front of b and returns what follows it.
func (o *Option) decode(b []byte) ([]byte, error) {
	o.Type = OptType(b[0])
	o.Body = nil
	b = b[1:]
	switch optBody(o.Type) {
	case bodyNone:
		return b, nil
	case bodyAddr:
		return decodeAddr(b, &o.Addr)
	case bodyTrigger:
		return decodeTrigger(b, &o.Trigger)
	case bodyID:
		if len(b) < id.Len {
			return nil, ErrTruncated
		}
		copy(o.ID[:], b)
		return b[id.Len:], nil
	case bodyExt:
		if len(b) < 2 {
			return nil, ErrTruncated
		}
		l := int(binary.BigEndian.Uint16(b))
		if len(b) < 2+l {
			return nil, ErrTruncated
		}
		o.Body = b[2 : 2+l : 2+l]
		return b[2+l:], nil
	}
	return nil, ErrUnknownOption
}

func decodeAddr(b []byte, a *Addr) ([]byte, error) {
	if len(b) < 1 {
		return nil, ErrTruncated
	}
	a.Kind = AddrKind(b[0])
	b = b[1:]
	switch a.Kind {
	case AddrIPv4:
		if len(b) < 6 {
			return nil, ErrTruncated
		}
		a.IP = netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[:4])), binary.BigEndian.Uint16(b[4:]))
		a.Stack.N = 0
		return b[6:], nil
	case AddrIPv6:
		if len(b) < 18 {
			return nil, ErrTruncated
		}
		a.IP = netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[:16])), binary.BigEndian.Uint16(b[16:]))
		a.Stack.N = 0
		return b[18:], nil
	case AddrStack:
		if len(b) < 1 {
			return nil, ErrTruncated
		}
		n := int(b[0] & 0x0f)
		b = b[1:]
		if len(b) < n*id.Len {
			return nil, ErrTruncated
		}
		for i := 0; i < n; i++ {
			copy(a.Stack.IDs[i][:], b[i*id.Len:])
		}
		a.Stack.N = uint8(n)
		a.IP = netip.AddrPort{}
		return b[n*id.Len:], nil
	}
	return nil, ErrAddrKind
}

func decodeTrigger(b []byte, t *Trigger) ([]byte, error) {
	const fixed = 1 + id.Len + 2 + NonceLen
	if len(b) < fixed {
		return nil, ErrTruncated
	}
	t.Flags = b[0]
	copy(t.ID[:], b[1:])
	t.PrefixLen = binary.BigEndian.Uint16(b[1+id.Len:])
	copy(t.Nonce[:], b[3+id.Len:])
	rest, err := decodeAddr(b[fixed:], &t.Target)
	if err != nil {
		return nil, err
	}
	if t.Target.Kind == AddrStack {
		t.Key = [KeyLen]byte{}
		return rest, nil
	}
	if len(rest) < KeyLen {
		return nil, ErrTruncated
	}
	copy(t.Key[:], rest)
	return rest[KeyLen:], nil
}

// DecodeAddr parses one address from the front of b (as in an option body) and
// returns what follows it.
func DecodeAddr(b []byte, a *Addr) ([]byte, error) { return decodeAddr(b, a) }

// DecodeTrigger parses one trigger from the front of b and returns what follows.
func DecodeTrigger(b []byte, t *Trigger) ([]byte, error) { return decodeTrigger(b, t) }
