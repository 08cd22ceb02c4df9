package wire

import (
	"fmt"
	"net/netip"

	"github.com/i3net/i3net/id"
)

// AddrKind is the type byte of an address.
type AddrKind uint8

// OptType is the type byte of an option.
type OptType uint8

// Stack is a stack of up to MaxStack ids, stored inline.
type Stack struct {
	N   uint8
	IDs [MaxStack]id.ID
}

// StackOf returns a stack holding ids; it panics with more than MaxStack ids.
func StackOf(ids ...id.ID) Stack {
	var s Stack
	if len(ids) > MaxStack {
		panic("wire: stack of more than 15 ids")
	}
	s.N = uint8(copy(s.IDs[:], ids))
	return s
}

// Slice returns the ids of s; it aliases s.
func (s *Stack) Slice() []id.ID { return s.IDs[:s.N] }

// Push appends x at the bottom of s; it reports false when s is full.
func (s *Stack) Push(x id.ID) bool {
	if s.N >= MaxStack {
		return false
	}
	s.IDs[s.N] = x
	s.N++
	return true
}

// Addr is an address: either an IP address and port or a stack of ids.
type Addr struct {
	Kind  AddrKind
	IP    netip.AddrPort // for AddrIPv4 and AddrIPv6
	Stack Stack          // for AddrStack
}

// IPAddr returns the address of ap, AddrIPv4 for IPv4 (and IPv4-mapped IPv6)
// addresses, AddrIPv6 otherwise.
func IPAddr(ap netip.AddrPort) Addr {
	a := ap.Addr().Unmap()
	if a.Is4() {
		return Addr{Kind: AddrIPv4, IP: netip.AddrPortFrom(a, ap.Port())}
	}
	return Addr{Kind: AddrIPv6, IP: ap}
}

// StackAddr returns the address made of the stack ids.
func StackAddr(ids ...id.ID) Addr { return Addr{Kind: AddrStack, Stack: StackOf(ids...)} }

// IsIP reports whether a is an IP address (not a stack).
func (a Addr) IsIP() bool { return a.Kind == AddrIPv4 || a.Kind == AddrIPv6 }

func (a Addr) String() string {
	switch a.Kind {
	case AddrIPv4, AddrIPv6:
		return a.IP.String()
	case AddrStack:
		s := "stack["
		for i, x := range a.Stack.Slice() {
			if i > 0 {
				s += " "
			}
			s += x.Short()
		}
		return s + "]"
	}
	return fmt.Sprintf("addr(kind %#x)", uint8(a.Kind))
}

// Trigger is a trigger as it travels in options: id → target.
type Trigger struct {
	Flags     uint8
	ID        id.ID
	PrefixLen uint16 // bits a packet id must share with ID (at least 128 apply)
	Nonce     [NonceLen]byte
	Target    Addr
	Key       [KeyLen]byte // present on the wire only when Target is not a stack
}

// Option is one option of a packet's option list. Which fields are meaningful
// depends on Type: Addr for OptSender; Trigger for the trigger options; ID for
// OptTriggerNotPresent and OptTriggerRateLimit; Body for extensions.
type Option struct {
	Type    OptType
	Addr    Addr
	Trigger Trigger
	ID      id.ID
	Body    []byte // extension body; aliases the decoded datagram
}

// IsExtension reports whether t is in the extension range.
func (t OptType) IsExtension() bool { return t >= ExtFirst && t <= ExtLast }

// Packet is a decoded datagram. Decode reuses Options' capacity, and Payload
// aliases the decoded buffer.
type Packet struct {
	Flags   uint8
	Stack   Stack
	Options []Option
	Payload []byte
}

// Reset clears p, keeping the capacity of its option slice.
func (p *Packet) Reset() {
	p.Flags = 0
	p.Stack.N = 0
	p.Options = p.Options[:0]
	p.Payload = nil
}

// Option returns the first option of type t, or nil.
func (p *Packet) Option(t OptType) *Option {
	for i := range p.Options {
		if p.Options[i].Type == t {
			return &p.Options[i]
		}
	}
	return nil
}

// AddOption appends o and sets FlagOptions.
func (p *Packet) AddOption(o Option) {
	p.Options = append(p.Options, o)
	p.Flags |= FlagOptions
}

// IsPing reports whether datagram b is a ping (bit 0x01 of its first byte set).
func IsPing(b []byte) bool { return len(b) > 0 && b[0]&PingBit != 0 }

var optNames = map[OptType]string{
	OptSender: "SENDER", OptTriggerInsert: "TRIGGER_INSERT", OptTriggerChallenge: "TRIGGER_CHALLENGE",
	OptTriggerAck: "TRIGGER_ACK", OptTriggerRemove: "TRIGGER_REMOVE", OptTriggerNotPresent: "TRIGGER_NOT_PRESENT",
	OptRequestForCache: "REQUEST_FOR_CACHE", OptCacheAddr: "CACHE_ADDR", OptForceCacheAddr: "FORCE_CACHE_ADDR",
	OptLogPacket: "LOG_PACKET", OptAppendTS: "APPEND_TS", OptConstraintFailed: "CONSTRAINT_FAILED",
	OptRouteBroken: "ROUTE_BROKEN", OptRequestForCacheShortcut: "REQUEST_FOR_CACHE_SHORTCUT",
	OptCacheShortcutAddr: "CACHE_SHORTCUT_ADDR", OptCacheDestAddr: "CACHE_DEST_ADDR",
	OptRequestForCacheShortcutInd: "REQUEST_FOR_CACHE_SHORTCUT_INDIR", OptTriggerRateLimit: "TRIGGER_RATELIMIT",
	ExtHello: "EXT_HELLO", ExtSignature: "EXT_SIGNATURE", ExtError: "EXT_ERROR",
	ExtServerList: "EXT_SERVER_LIST", ExtReplicate: "EXT_REPLICATE", ExtPadding: "EXT_PADDING",
	ExtRingAuth: "EXT_RING_AUTH", ExtSigChecked: "EXT_SIG_CHECKED",
}

func (t OptType) String() string {
	if s, ok := optNames[t]; ok {
		return s
	}
	return fmt.Sprintf("OPT(%#02x)", uint8(t))
}

// bodyKind says how an option's body is laid out on the wire.
type bodyKind uint8

const (
	bodyNone bodyKind = iota + 1
	bodyAddr
	bodyTrigger
	bodyID
	bodyExt
)

func optBody(t OptType) bodyKind {
	switch t {
	case OptSender:
		return bodyAddr
	case OptTriggerInsert, OptTriggerChallenge, OptTriggerAck, OptTriggerRemove, OptCacheAddr,
		OptForceCacheAddr, OptConstraintFailed, OptRouteBroken, OptCacheShortcutAddr, OptCacheDestAddr:
		return bodyTrigger
	case OptTriggerNotPresent, OptTriggerRateLimit:
		return bodyID
	case OptRequestForCache, OptLogPacket, OptAppendTS, OptRequestForCacheShortcut, OptRequestForCacheShortcutInd:
		return bodyNone
	}
	if t.IsExtension() {
		return bodyExt
	}
	return 0
}
