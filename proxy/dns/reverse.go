package dns

import (
	"fmt"
	"net/netip"
	"strings"

	mdns "github.com/miekg/dns"
)

// ReverseResolver is implemented by Resolvers that also name virtual
// addresses, so that programs which look their peer's address up (ping, ssh's
// logs, servers' access logs) get NAME.i3 at once instead of waiting for an
// upstream that cannot know.
type ReverseResolver interface {
	// ReverseOverlay returns the overlay name (without the suffix) of a
	// virtual address, or a fully qualified name (ending in a dot: a host
	// reached through a gateway), which is answered as it is. owned reports
	// whether addr is in the proxy's pools at all: an owned address without a
	// name gets NXDOMAIN, one not owned goes upstream.
	ReverseOverlay(addr netip.Addr) (name string, owned bool)
}

// answerPTR answers a PTR query for a virtual address; ok is false when the
// query is not one (the caller goes on as for any other name).
func (r *Responder) answerPTR(s *state, m *mdns.Msg, question mdns.Question, name string, dst []byte) (resp []byte, ok bool, err error) {
	if question.Qtype != mdns.TypePTR {
		return nil, false, nil
	}
	addr, parsed := parseReverse(name)
	if !parsed {
		return nil, false, nil
	}
	label, suffix, owned := r.reverse(addr)
	if !owned {
		return nil, false, nil
	}
	m.Authoritative = true
	if label == "" {
		m.Rcode = mdns.RcodeNameError
	} else {
		ptr := label + suffix
		if strings.HasSuffix(label, ".") {
			ptr = label
		}
		m.Answer = append(m.Answer, &mdns.PTR{
			Hdr: mdns.RR_Header{Name: question.Name, Rrtype: mdns.TypePTR, Class: mdns.ClassINET, Ttl: r.ttl},
			Ptr: ptr,
		})
	}
	resp, _, err = r.pack(m, dst)
	return resp, true, err
}

// reverse asks each zone's ReverseResolver for addr: the first that owns
// it names it, with its zone's suffix (".i3.").
func (r *Responder) reverse(addr netip.Addr) (label, suffix string, owned bool) {
	for _, z := range r.zones {
		rr, ok := z.res.(ReverseResolver)
		if !ok {
			continue
		}
		if label, owned := rr.ReverseOverlay(addr); owned {
			return label, z.suffix, true
		}
	}
	return "", "", false
}

// parseReverse reads the address of a reverse name (lower case, fully
// qualified): d.c.b.a.in-addr.arpa. or the 32 nibbles of ip6.arpa.
func parseReverse(name string) (netip.Addr, bool) {
	if rest, ok := strings.CutSuffix(name, ".in-addr.arpa."); ok {
		parts := strings.Split(rest, ".")
		if len(parts) != 4 {
			return netip.Addr{}, false
		}
		a, err := netip.ParseAddr(parts[3] + "." + parts[2] + "." + parts[1] + "." + parts[0])
		return a, err == nil
	}
	if rest, ok := strings.CutSuffix(name, ".ip6.arpa."); ok {
		nib := strings.Split(rest, ".")
		if len(nib) != 32 {
			return netip.Addr{}, false
		}
		var b [16]byte
		for i := 0; i < 32; i++ {
			var v byte
			if _, err := fmt.Sscanf(nib[31-i], "%x", &v); err != nil || len(nib[31-i]) != 1 {
				return netip.Addr{}, false
			}
			if i%2 == 0 {
				b[i/2] = v << 4
			} else {
				b[i/2] |= v
			}
		}
		return netip.AddrFrom16(b), true
	}
	return netip.Addr{}, false
}

// Fail answers query with rcode (e.g. SERVFAIL when no upstream is
// configured), so the program gets an answer at once instead of a timeout.
func (r *Responder) Fail(query, dst []byte, rcode int) ([]byte, error) {
	s := r.pool.Get().(*state)
	defer r.put(s)
	if err := s.q.Unpack(query); err != nil {
		return nil, fmt.Errorf("dns: fail: %w: %v", ErrMalformed, err)
	}
	if s.q.Response {
		return nil, fmt.Errorf("dns: fail: %w", ErrNotQuery)
	}
	m := r.reply(s)
	m.Rcode = rcode
	resp, _, err := r.pack(m, dst)
	return resp, err
}
