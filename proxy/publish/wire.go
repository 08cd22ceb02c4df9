package publish

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// The bodies of the control messages (after the kind and request number):
//
//	offer  (host → ingress): version 1, count, then per service:
//	       name length, name, port (2 bytes), flags (bit 0: PROXY protocol)
//	reply  (ingress → host): version 1, zone length, zone, count, then per
//	       service: name length, name, port, code
//	flow   (ingress → host): version 1, the ingress's source port (2), the
//	       service port (2), the client's address (family 4 or 6, 4 or 16
//	       bytes, port 2), the waypoint the same way, name length, name
const wireVersion = 1

// ErrMalformed is wrapped by the errors of messages that do not parse.
var ErrMalformed = errors.New("publish: malformed message")

const flagProxyProtocol = 1

// Code is what an ingress did with a published service.
type Code uint8

// The codes of an ingress's reply.
const (
	Accepted Code = iota
	NotYours      // the name is not the host's name in the ingress's book, nor under it
	BadName       // not a valid name
	TooMany       // more services than the ingress takes from one host
)

func (c Code) String() string {
	switch c {
	case Accepted:
		return "accepted"
	case NotYours:
		return "refused: the name is not this host's name in the ingress's address book, nor under it"
	case BadName:
		return "refused: not a valid name"
	case TooMany:
		return "refused: too many services"
	}
	return fmt.Sprintf("code %d", uint8(c))
}

// Result is the ingress's answer for one service.
type Result struct {
	Name string
	Port uint16
	Code Code
}

// Reply is the ingress's answer to an offer.
type Reply struct {
	Zone    string
	Results []Result
}

// Flow tells a host where a connection the ingress brings comes from.
type Flow struct {
	From     uint16         // the ingress's source port, as the host sees the connection
	Port     uint16         // the service's port
	Client   netip.AddrPort // the legacy client
	Waypoint netip.AddrPort // the ingress address the client connected to
	Name     string         // the name the connection was routed by
}

// AppendOffer appends an offer of services s to b.
func AppendOffer(b []byte, s []Service) []byte {
	b = append(b, wireVersion, byte(len(s)))
	for _, x := range s {
		b = appendString(b, x.Name)
		b = binary.BigEndian.AppendUint16(b, x.Port)
		var f byte
		if x.ProxyProtocol {
			f |= flagProxyProtocol
		}
		b = append(b, f)
	}
	return b
}

// ParseOffer parses an offer; the services' Ingress is empty.
func ParseOffer(b []byte) ([]Service, error) {
	r := reader{b: b}
	n := r.header()
	var s []Service
	for i := 0; i < n && r.err == nil; i++ {
		x := Service{Name: r.str(), Port: r.u16()}
		x.ProxyProtocol = r.byte()&flagProxyProtocol != 0
		s = append(s, x)
	}
	return s, r.done()
}

// AppendReply appends reply r to b.
func AppendReply(b []byte, r Reply) []byte {
	b = appendString(append(b, wireVersion), r.Zone)
	b = append(b, byte(len(r.Results)))
	for _, x := range r.Results {
		b = appendString(b, x.Name)
		b = binary.BigEndian.AppendUint16(b, x.Port)
		b = append(b, byte(x.Code))
	}
	return b
}

// ParseReply parses a reply.
func ParseReply(b []byte) (Reply, error) {
	r := reader{b: b}
	if r.byte() != wireVersion {
		r.fail()
	}
	rep := Reply{Zone: r.str()}
	n := int(r.byte())
	for i := 0; i < n && r.err == nil; i++ {
		rep.Results = append(rep.Results, Result{Name: r.str(), Port: r.u16(), Code: Code(r.byte())})
	}
	return rep, r.done()
}

// AppendFlow appends flow f to b.
func AppendFlow(b []byte, f Flow) []byte {
	b = append(b, wireVersion)
	b = binary.BigEndian.AppendUint16(b, f.From)
	b = binary.BigEndian.AppendUint16(b, f.Port)
	b = appendAddrPort(b, f.Client)
	b = appendAddrPort(b, f.Waypoint)
	return appendString(b, f.Name)
}

// ParseFlow parses a flow.
func ParseFlow(b []byte) (Flow, error) {
	r := reader{b: b}
	if r.byte() != wireVersion {
		r.fail()
	}
	f := Flow{From: r.u16(), Port: r.u16()}
	f.Client, f.Waypoint = r.addrPort(), r.addrPort()
	f.Name = r.str()
	return f, r.done()
}

func appendString(b []byte, s string) []byte {
	if len(s) > 255 {
		s = s[:255]
	}
	return append(append(b, byte(len(s))), s...)
}

func appendAddrPort(b []byte, a netip.AddrPort) []byte {
	ip := a.Addr().Unmap()
	if ip.Is4() {
		b = append(b, 4)
	} else {
		b = append(b, 6)
	}
	b = append(b, ip.AsSlice()...)
	return binary.BigEndian.AppendUint16(b, a.Port())
}
