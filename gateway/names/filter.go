package names

import (
	"net/netip"
	"strings"

	mdns "github.com/miekg/dns"

	"github.com/i3net/i3net/proxy/dns"
)

// Bytes an address record takes in a compressed answer: a pointer to its
// name, type, class, TTL, length, address.
const (
	aRecordLen    = 2 + 10 + 4
	aaaaRecordLen = 2 + 10 + 16
)

// filter returns the answer to q from up, the resolvers' answer: what of it
// the gateway may pass on (see Answer).
func (a *Answerer) filter(q *mdns.Msg, up []byte) []byte {
	question := q.Question[0]
	var r mdns.Msg
	if r.Unpack(up) != nil || !r.Response || len(r.Question) != 1 || !answersQuestion(r.Question[0], question) {
		return a.fail(q, mdns.RcodeServerFailure, &a.stats.servFail)
	}
	switch r.Rcode {
	case mdns.RcodeSuccess:
	case mdns.RcodeNameError:
		return a.fail(q, mdns.RcodeNameError, &a.stats.nxDomain)
	default:
		return a.fail(q, mdns.RcodeServerFailure, &a.stats.servFail)
	}
	chain, err := dns.FollowChain(question, r.Answer)
	if err != nil {
		return a.fail(q, mdns.RcodeServerFailure, &a.stats.servFail)
	}
	m := reply(q, mdns.RcodeSuccess)
	for _, c := range chain.CNAMEs {
		m.Answer = append(m.Answer, c)
	}
	cnames := len(m.Answer)
	for _, rr := range chain.Addrs {
		if addr, ok := dns.RecordAddr(rr); ok && a.serves(addr) {
			m.Answer = append(m.Answer, rr)
		}
	}
	if len(chain.Addrs) > 0 && len(m.Answer) == cnames {
		return a.fail(q, mdns.RcodeRefused, &a.stats.refusedAddr)
	}
	b, ok := a.packWithin(m, cnames)
	if !ok {
		return a.fail(q, mdns.RcodeServerFailure, &a.stats.servFail)
	}
	a.stats.answered.Add(1)
	return b
}

// answersQuestion reports whether got, the question of the resolvers'
// answer, is the question asked.
func answersQuestion(got, asked mdns.Question) bool {
	return got.Qtype == asked.Qtype && got.Qclass == mdns.ClassINET && strings.EqualFold(got.Name, asked.Name)
}

// serves reports whether the gateway serves addr.
func (a *Answerer) serves(addr netip.Addr) bool {
	for _, p := range a.serve {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// packWithin packs m, compressed, in at most MaxAnswer bytes, leaving out
// address records from the end (those after the first keep records, which
// are the CNAME chain); false if the chain and one address do not fit.
func (a *Answerer) packWithin(m *mdns.Msg, keep int) ([]byte, bool) {
	m.Compress = true
	all := m.Answer
	m.Answer = all[:keep]
	b, err := m.Pack()
	if err != nil || len(b) > a.maxAnswer {
		return nil, false
	}
	if len(all) == keep {
		return b, true
	}
	per := aRecordLen // the least an address record takes
	if all[keep].Header().Rrtype == mdns.TypeAAAA {
		per = aaaaRecordLen
	}
	// Binary search for the most addresses that fit: at most hi, more than
	// lo (none fit when lo stays 0).
	lo, hi := 0, min(len(all)-keep, (a.maxAnswer-len(b))/per)
	m.Answer = all[:keep+hi]
	if p, err := m.Pack(); err == nil && len(p) <= a.maxAnswer { // the usual case
		return p, hi > 0
	}
	var best []byte
	for lo < hi {
		n := (lo + hi + 1) / 2
		m.Answer = all[:keep+n]
		if p, err := m.Pack(); err == nil && len(p) <= a.maxAnswer {
			lo, best = n, p
		} else {
			hi = n - 1
		}
	}
	return best, lo > 0
}
