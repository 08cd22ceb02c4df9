package dns

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	mdns "github.com/miekg/dns"
)

// MaxChain is the longest CNAME chain an answer from a gateway may hold
// (resolvers follow about as many: BIND 16, Unbound 11).
const MaxChain = 16

// ErrBadGatewayAnswer is returned (wrapped) by RewriteGatewayAnswer for a
// gateway's answer that does not parse, is not a response, or answers another
// question.
var ErrBadGatewayAnswer = errors.New("bad gateway answer")

// Chain is the part of an answer section that answers a question: the CNAME
// records leading from the question's name, in order, and the address records
// of the question's type and class IN owned by a name on that chain. The
// gateway (gateway/names) and RewriteGatewayAnswer read answers so.
type Chain struct {
	CNAMEs []*mdns.CNAME
	Addrs  []mdns.RR // *mdns.A or *mdns.AAAA
	Names  []string  // the question's name, then each CNAME target
}

// FollowChain returns the Chain of answers for q, a question for A or AAAA
// (for other types Addrs stays empty). Names compare without regard to ASCII
// case. A CNAME loop, or a chain longer than MaxChain, is an error.
func FollowChain(q mdns.Question, answers []mdns.RR) (Chain, error) {
	c := Chain{Names: []string{q.Name}}
	for current := q.Name; ; {
		next := findCNAME(answers, current)
		if next == nil {
			break
		}
		if inNames(c.Names, next.Target) {
			return Chain{}, fmt.Errorf("CNAME loop at %s", current)
		}
		if len(c.CNAMEs) == MaxChain {
			return Chain{}, fmt.Errorf("CNAME chain from %s longer than %d", q.Name, MaxChain)
		}
		c.CNAMEs = append(c.CNAMEs, next)
		c.Names = append(c.Names, next.Target)
		current = next.Target
	}
	for _, rr := range answers {
		h := rr.Header()
		if h.Rrtype != q.Qtype || h.Class != mdns.ClassINET || !inNames(c.Names, h.Name) {
			continue
		}
		switch rr.(type) {
		case *mdns.A, *mdns.AAAA:
			c.Addrs = append(c.Addrs, rr)
		}
	}
	return c, nil
}

// findCNAME returns the first CNAME record of class IN owned by name.
func findCNAME(answers []mdns.RR, name string) *mdns.CNAME {
	for _, rr := range answers {
		if c, ok := rr.(*mdns.CNAME); ok && c.Hdr.Class == mdns.ClassINET && strings.EqualFold(c.Hdr.Name, name) {
			return c
		}
	}
	return nil
}

// inNames reports whether name is one of names, without regard to case.
func inNames(names []string, name string) bool {
	for _, n := range names {
		if strings.EqualFold(n, name) {
			return true
		}
	}
	return false
}

// RecordAddr returns the address of an A or AAAA record (an A record's as an
// IPv4 address); false for other records and malformed addresses.
func RecordAddr(rr mdns.RR) (netip.Addr, bool) {
	switch r := rr.(type) {
	case *mdns.A:
		a, ok := netip.AddrFromSlice(r.A)
		if !ok || !a.Unmap().Is4() {
			return netip.Addr{}, false
		}
		return a.Unmap(), true
	case *mdns.AAAA:
		if len(r.AAAA) != 16 {
			return netip.Addr{}, false
		}
		return netip.AddrFrom16([16]byte(r.AAAA)), true
	}
	return netip.Addr{}, false
}

// RewriteGatewayAnswer checks that resp, a gateway's answer (untrusted),
// answers query, the program's query (the same question, name compared
// without regard to case; resp's id is ignored), and appends to dst the
// answer to give the program:
//
//   - the program's id, opcode, RD and CD, with RA set, and its question as it
//     asked it; an EDNS0 record when it sent one;
//   - for NOERROR, the CNAME chain from the question's name and the address
//     records of the question's type on it (FollowChain), every other record
//     dropped; each address R replaced by mapAddr(R), which must be of R's
//     family; a record for which mapAddr says false, or gives the other
//     family, is dropped. If the gateway gave addresses and none could be
//     mapped, the answer is SERVFAIL (a temporary failure, not "no address");
//   - every TTL capped at maxTTL;
//   - NXDOMAIN, SERVFAIL, REFUSED, NOTIMP and FORMERR passed on with no
//     records, any other code as SERVFAIL.
//
// The answer may exceed what the program accepts over UDP: pass it through
// FitUDP. A query that does not parse, is a response, or asks other than one
// question is an error wrapping ErrMalformed or ErrNotQuery; a bad answer, one
// wrapping ErrBadGatewayAnswer. On error dst is returned unchanged.
func RewriteGatewayAnswer(query, resp []byte, mapAddr func(netip.Addr) (netip.Addr, bool), maxTTL uint32, dst []byte) ([]byte, error) {
	var q, r mdns.Msg
	if err := q.Unpack(query); err != nil {
		return dst, fmt.Errorf("dns: gateway answer: query: %w: %v", ErrMalformed, err)
	}
	if q.Response {
		return dst, fmt.Errorf("dns: gateway answer: query: %w: QR bit set", ErrNotQuery)
	}
	if len(q.Question) != 1 {
		return dst, fmt.Errorf("dns: gateway answer: query: %w: %d questions", ErrMalformed, len(q.Question))
	}
	question := q.Question[0]
	if err := r.Unpack(resp); err != nil {
		return dst, fmt.Errorf("dns: gateway answer: %w: %v", ErrBadGatewayAnswer, err)
	}
	if !r.Response || len(r.Question) != 1 || !sameQuestion(question, r.Question[0]) {
		return dst, fmt.Errorf("dns: gateway answer: %w: response %v to %v does not answer %v",
			ErrBadGatewayAnswer, r.Response, r.Question, question)
	}
	out := gatewayReply(&q)
	switch r.Rcode {
	case mdns.RcodeSuccess:
		chain, err := FollowChain(question, r.Answer)
		if err != nil {
			return dst, fmt.Errorf("dns: gateway answer: %w: %v", ErrBadGatewayAnswer, err)
		}
		out.Answer, out.Rcode = rewriteChain(chain, mapAddr, maxTTL)
	case mdns.RcodeNameError, mdns.RcodeServerFailure, mdns.RcodeRefused, mdns.RcodeNotImplemented, mdns.RcodeFormatError:
		out.Rcode = r.Rcode
	default:
		out.Rcode = mdns.RcodeServerFailure
	}
	return appendPacked(out, dst)
}

// sameQuestion reports whether a and b ask the same thing.
func sameQuestion(a, b mdns.Question) bool {
	return a.Qtype == b.Qtype && a.Qclass == b.Qclass && strings.EqualFold(a.Name, b.Name)
}

// gatewayReply returns the frame of the answer to q: header, question, EDNS0.
func gatewayReply(q *mdns.Msg) *mdns.Msg {
	m := &mdns.Msg{
		MsgHdr: mdns.MsgHdr{
			Id:                 q.Id,
			Response:           true,
			Opcode:             q.Opcode,
			RecursionDesired:   q.RecursionDesired,
			CheckingDisabled:   q.CheckingDisabled,
			RecursionAvailable: true,
		},
		Question: q.Question,
	}
	if q.IsEdns0() != nil {
		m.SetEdns0(ednsUDPSize, false)
	}
	return m
}

// rewriteChain returns the records of the answer to give the program for
// chain, and its rcode: NOERROR, or SERVFAIL if no address could be mapped.
func rewriteChain(chain Chain, mapAddr func(netip.Addr) (netip.Addr, bool), maxTTL uint32) ([]mdns.RR, int) {
	out := make([]mdns.RR, 0, len(chain.CNAMEs)+len(chain.Addrs))
	for _, c := range chain.CNAMEs {
		c := *c
		c.Hdr.Ttl = min(c.Hdr.Ttl, maxTTL)
		out = append(out, &c)
	}
	mapped := 0
	for _, rr := range chain.Addrs {
		addr, ok := RecordAddr(rr)
		if !ok {
			continue
		}
		virt, ok := mapAddr(addr)
		if !ok {
			continue
		}
		hdr := *rr.Header()
		hdr.Ttl = min(hdr.Ttl, maxTTL)
		switch {
		case addr.Is4() && virt.Unmap().Is4():
			v4 := virt.Unmap().As4()
			out = append(out, &mdns.A{Hdr: hdr, A: v4[:]})
		case addr.Is6() && virt.Is6():
			v6 := virt.As16()
			out = append(out, &mdns.AAAA{Hdr: hdr, AAAA: v6[:]})
		default:
			continue
		}
		mapped++
	}
	if len(chain.Addrs) > 0 && mapped == 0 {
		return nil, mdns.RcodeServerFailure
	}
	return out, mdns.RcodeSuccess
}

// appendPacked packs m into dst's spare capacity when it fits, else into a new
// buffer, and returns dst with the message appended.
func appendPacked(m *mdns.Msg, dst []byte) ([]byte, error) {
	spare := dst[len(dst):cap(dst)]
	out, err := m.PackBuffer(spare)
	if err != nil {
		return dst, fmt.Errorf("dns: gateway answer: pack: %v", err)
	}
	if len(out) > 0 && len(spare) > 0 && &out[0] == &spare[0] {
		return dst[:len(dst)+len(out)], nil
	}
	return append(dst, out...), nil
}
