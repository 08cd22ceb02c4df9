package zone

import (
	"net/netip"

	"github.com/miekg/dns"
)

// ednsSize is the UDP payload size the zone advertises and the most it sends
// over UDP (the 2020 DNS flag day's value: no fragmentation).
const ednsSize = 1232

// Answer returns the response to req from src, or nil when it must be dropped
// (Allow said no, or req is itself a response). The caller truncates it for UDP
// (UDPSize).
func (z *Zone) Answer(req *dns.Msg, src netip.Addr) *dns.Msg {
	z.stats.queries.Add(1)
	if !z.allowed(src) {
		return nil
	}
	return z.respond(req)
}

// allowed asks Config.Allow, counting a refusal.
func (z *Zone) allowed(src netip.Addr) bool {
	if z.allow == nil || z.allow(src) {
		return true
	}
	z.stats.rateLimited.Add(1)
	return false
}

// UDPSize is the largest response to req that may go over UDP: the client's
// EDNS0 size, at least 512 and at most 1232; 512 without EDNS0.
func UDPSize(req *dns.Msg) int {
	opt := req.IsEdns0()
	if opt == nil {
		return dns.MinMsgSize
	}
	return min(max(int(opt.UDPSize()), dns.MinMsgSize), ednsSize)
}

// respond answers an allowed query and counts the outcome.
func (z *Zone) respond(req *dns.Msg) *dns.Msg {
	if req == nil || req.Response {
		z.stats.malformed.Add(1)
		return nil
	}
	if resp := refuseForm(req); resp != nil {
		z.stats.malformed.Add(1)
		return resp
	}
	resp := new(dns.Msg)
	resp.SetReply(req) // the question as asked, 0x20 and all
	if req.IsEdns0() != nil {
		resp.SetEdns0(ednsSize, false)
	}
	z.lookup(resp, req.Question[0])
	z.count(resp)
	q := req.Question[0]
	z.log.Debug("dns query", "name", q.Name, "type", dns.TypeToString[q.Qtype],
		"rcode", dns.RcodeToString[resp.Rcode], "answers", len(resp.Answer))
	return resp
}

// refuseForm returns the error response to a query of the wrong form: NOTIMP
// for an opcode other than QUERY, FORMERR for other than one question or more
// than one OPT, BADVERS for an EDNS version above 0; nil for a good query.
func refuseForm(req *dns.Msg) *dns.Msg {
	resp := new(dns.Msg)
	switch {
	case req.Opcode != dns.OpcodeQuery:
		resp.SetRcode(req, dns.RcodeNotImplemented)
	case len(req.Question) != 1 || countOPT(req) > 1:
		resp.SetRcodeFormatError(req)
	case req.IsEdns0() != nil && req.IsEdns0().Version() != 0:
		resp.SetRcode(req, dns.RcodeBadVers)
		resp.SetEdns0(ednsSize, false)
	default:
		return nil
	}
	return resp
}

func countOPT(m *dns.Msg) int {
	n := 0
	for _, rr := range m.Extra {
		if rr.Header().Rrtype == dns.TypeOPT {
			n++
		}
	}
	return n
}

// count adds resp's outcome to the counters.
func (z *Zone) count(resp *dns.Msg) {
	c := &z.stats
	switch {
	case resp.Rcode == dns.RcodeNameError:
		c.nxdomain.Add(1)
	case resp.Rcode == dns.RcodeRefused:
		c.refused.Add(1)
	case resp.Rcode != dns.RcodeSuccess:
		c.malformed.Add(1)
	case len(resp.Answer) > 0:
		c.answered.Add(1)
	default:
		c.nodata.Add(1)
	}
}
