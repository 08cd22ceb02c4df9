package zone

import (
	"net/netip"

	"github.com/miekg/dns"
)

// lookup fills resp, a reply to the one question q.
func (z *Zone) lookup(resp *dns.Msg, q dns.Question) {
	if q.Qclass != dns.ClassINET && q.Qclass != dns.ClassANY {
		resp.Rcode = dns.RcodeRefused
		return
	}
	rel, inZone := z.relative(lowerASCII(q.Name))
	if !inZone || q.Qtype == dns.TypeAXFR || q.Qtype == dns.TypeIXFR {
		resp.Rcode = dns.RcodeRefused
		return
	}
	resp.Authoritative = true
	if ns := z.hosts[rel]; ns != nil && (q.Qtype == dns.TypeA || q.Qtype == dns.TypeAAAA) {
		z.hostAddrs(resp, q, ns)
		return
	}
	switch {
	case rel == "":
		z.apex(resp, q)
	case z.hosts[rel] != nil || z.ents[rel]:
		z.existing(resp, q)
	default:
		z.published(resp, q, rel)
	}
}

// apex answers at the origin: SOA, NS (with glue) and ANY (the SOA alone).
func (z *Zone) apex(resp *dns.Msg, q dns.Question) {
	switch q.Qtype {
	case dns.TypeSOA, dns.TypeANY:
		resp.Answer = append(resp.Answer, z.soaRR(q.Name, z.ttl))
	case dns.TypeNS:
		for _, ns := range z.ns {
			resp.Answer = append(resp.Answer, &dns.NS{Hdr: z.hdr(q.Name, dns.TypeNS, z.ttl), Ns: ns.name})
		}
		for _, ns := range z.ns {
			resp.Extra = append(resp.Extra, z.glue(ns.name, ns.v4, ns.v6)...)
		}
	default:
		z.negative(resp, dns.RcodeSuccess)
	}
}

// hostAddrs answers an A or AAAA query for an in-zone nameserver.
func (z *Zone) hostAddrs(resp *dns.Msg, q dns.Question, ns *nameserver) {
	addrs := ns.v4
	if q.Qtype == dns.TypeAAAA {
		addrs = ns.v6
	}
	for _, a := range addrs {
		resp.Answer = append(resp.Answer, z.addrRR(q.Name, a, z.ttl))
	}
	if len(addrs) == 0 {
		z.negative(resp, dns.RcodeSuccess)
	}
}

// existing answers a name that exists but has no records of q's type (or is
// published and asked for ANY): NODATA, or the RFC 8482 HINFO for ANY.
func (z *Zone) existing(resp *dns.Msg, q dns.Question) {
	if q.Qtype == dns.TypeANY {
		resp.Answer = append(resp.Answer, &dns.HINFO{Hdr: z.hdr(q.Name, dns.TypeHINFO, z.ttl), Cpu: "RFC8482"})
		return
	}
	z.negative(resp, dns.RcodeSuccess)
}

// published answers a name that only Names can know.
func (z *Zone) published(resp *dns.Msg, q dns.Question, rel string) {
	if z.names == nil || !plainName(rel) {
		z.negative(resp, dns.RcodeNameError)
		return
	}
	if q.Qtype != dns.TypeA && q.Qtype != dns.TypeAAAA {
		if z.exists(rel) {
			z.existing(resp, q)
		} else {
			z.negative(resp, dns.RcodeNameError)
		}
		return
	}
	v6 := q.Qtype == dns.TypeAAAA
	addr, ok := z.names.Resolve(rel, v6)
	addr = addr.Unmap()
	switch {
	case ok && addr.IsValid() && addr.Is6() == v6:
		resp.Answer = append(resp.Answer, z.addrRR(q.Name, addr.WithZone(""), 0))
	case ok, z.existsBelow(rel):
		z.negative(resp, dns.RcodeSuccess)
	default:
		z.negative(resp, dns.RcodeNameError)
	}
}

// exists tells whether rel exists, by Existence if Names has it, else by Resolve.
func (z *Zone) exists(rel string) bool {
	if e, ok := z.names.(Existence); ok {
		return e.Exists(rel)
	}
	_, ok := z.names.Resolve(rel, false)
	return ok
}

// existsBelow tells whether rel, which Names does not publish, is an empty
// non-terminal; only Existence can say so.
func (z *Zone) existsBelow(rel string) bool {
	e, ok := z.names.(Existence)
	return ok && e.Exists(rel)
}

// negative makes resp NXDOMAIN or NODATA, with the SOA for negative caching.
func (z *Zone) negative(resp *dns.Msg, rcode int) {
	resp.Rcode = rcode
	resp.Ns = append(resp.Ns, z.soaRR(z.origin, z.negTTL))
}

// glue returns the address records of an in-zone nameserver (none for others).
func (z *Zone) glue(name string, v4, v6 []netip.Addr) []dns.RR {
	var rrs []dns.RR
	for _, a := range append(append([]netip.Addr{}, v4...), v6...) {
		rrs = append(rrs, z.addrRR(name, a, z.ttl))
	}
	return rrs
}

func (z *Zone) soaRR(owner string, ttl uint32) dns.RR {
	soa := z.soa
	soa.Hdr = z.hdr(owner, dns.TypeSOA, ttl)
	return &soa
}

// addrRR is an A or AAAA record, by a's family.
func (z *Zone) addrRR(owner string, a netip.Addr, ttl uint32) dns.RR {
	if a.Is4() {
		return &dns.A{Hdr: z.hdr(owner, dns.TypeA, ttl), A: a.AsSlice()}
	}
	return &dns.AAAA{Hdr: z.hdr(owner, dns.TypeAAAA, ttl), AAAA: a.AsSlice()}
}

func (z *Zone) hdr(owner string, rrtype uint16, ttl uint32) dns.RR_Header {
	return dns.RR_Header{Name: owner, Rrtype: rrtype, Class: dns.ClassINET, Ttl: ttl}
}

// lowerASCII lowers A-Z only: names in presentation form escape other bytes.
func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}

// plainName reports whether rel is dot-separated non-empty labels of lower-case
// letters, digits, '-' and '_': the only names Names can publish.
func plainName(rel string) bool {
	prev := byte('.')
	for i := 0; i < len(rel); i++ {
		c := rel[i]
		ok := 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' && prev != '.'
		if !ok {
			return false
		}
		prev = c
	}
	return prev != '.'
}
