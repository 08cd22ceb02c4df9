package dns

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	mdns "github.com/miekg/dns"
)

// Errors of Answer, for counting drops.
var (
	// ErrMalformed: the bytes are not a DNS message.
	ErrMalformed = errors.New("malformed query")
	// ErrNotQuery: the message is a response.
	ErrNotQuery = errors.New("not a query")
)

// Resolver resolves overlay names; the proxy implements it over its address
// book and virtual address table.
type Resolver interface {
	// ResolveOverlay returns the virtual addresses of an overlay name: name is
	// in lower case, without the suffix and the trailing dot ("home" for
	// "Home.i3."; it may hold dots). It assigns or refreshes the peer's
	// mapping, since an answer is a use. ok is false when the address book has
	// no such name; a family without an address is the zero Addr. It is called
	// on the goroutine that reads the tun device, and concurrently for queries
	// over TCP, so it must be safe for concurrent use and not block on the
	// network.
	ResolveOverlay(name string) (v4, v6 netip.Addr, ok bool)
}

// Config configures a Responder. Start from DefaultConfig; New copies it.
type Config struct {
	// Suffix is the overlay suffix, without dots ("i3"). Default DefaultSuffix.
	Suffix string
	// TTL is the TTL of overlay answers, whole seconds from 0 to MaxTTL.
	// Default 0, the paper's: programs ask again at each connection.
	TTL time.Duration
	// SearchDomains are the host's search domains (resolv.conf's search line):
	// NAME.SUFFIX.DOMAIN gets NXDOMAIN at once instead of going upstream.
	SearchDomains []string
	// Resolver resolves overlay names. Required.
	Resolver Resolver
	// Zones are other overlays answered here too (proxy/overlays): a name
	// under a zone's suffix is resolved by the zone's Resolver, a reverse
	// name of an address its ReverseResolver owns is answered with the
	// zone's suffix, and the search domains apply to every zone. Suffixes
	// must differ from Suffix and each other.
	Zones []Zone
}

// Zone is another overlay's suffix (without dots) and the resolver of its
// names.
type Zone struct {
	Suffix   string
	Resolver Resolver
}

// zone is one suffix the responder answers for.
type zone struct {
	suffix string   // ".i3." (lower case)
	apex   string   // "i3."
	search []string // ".i3.example.com." per search domain
	res    Resolver
}

// DefaultConfig returns the default configuration with resolver r.
func DefaultConfig(r Resolver) Config {
	return Config{Suffix: DefaultSuffix, Resolver: r}
}

// Responder answers DNS queries for overlay names. It is safe for concurrent
// use.
type Responder struct {
	zones  []zone // Config.Suffix's first, then Config.Zones
	ttl    uint32
	pool   sync.Pool // of *state
	labels labels    // the fast path's known names (fast.go)
}

// state holds the messages one Answer call works on, reused across calls.
type state struct {
	q, r  mdns.Msg
	qs    [1]mdns.Question
	rrs   [2]mdns.RR
	a     mdns.A
	aaaa  mdns.AAAA
	opt   mdns.OPT
	extra [1]mdns.RR
	ip4   [4]byte
	ip6   [16]byte
}

// New returns a Responder for cfg.
func New(cfg Config) (*Responder, error) {
	if cfg.TTL < 0 || cfg.TTL > MaxTTL || cfg.TTL%time.Second != 0 {
		return nil, fmt.Errorf("dns: config: TTL %v: want whole seconds from 0 to %v", cfg.TTL, MaxTTL)
	}
	r := &Responder{ttl: uint32(cfg.TTL / time.Second)}
	seen := make(map[string]bool)
	for _, zc := range append([]Zone{{Suffix: cfg.Suffix, Resolver: cfg.Resolver}}, cfg.Zones...) {
		z, err := newZone(zc, cfg.SearchDomains)
		if err != nil {
			return nil, err
		}
		if seen[z.apex] {
			return nil, fmt.Errorf("dns: config: suffix %q twice: give each zone its own", zc.Suffix)
		}
		seen[z.apex] = true
		r.zones = append(r.zones, z)
	}
	r.pool.New = func() any {
		s := new(state)
		s.a.A = s.ip4[:]
		s.aaaa.AAAA = s.ip6[:]
		s.opt.Hdr = mdns.RR_Header{Name: ".", Rrtype: mdns.TypeOPT}
		s.opt.SetUDPSize(ednsUDPSize)
		s.extra[0] = &s.opt
		return s
	}
	return r, nil
}

// newZone checks zc and makes its zone with the search domains.
func newZone(zc Zone, searchDomains []string) (zone, error) {
	suffix := strings.ToLower(strings.Trim(zc.Suffix, "."))
	if _, ok := mdns.IsDomainName(suffix); !ok || suffix == "" {
		return zone{}, fmt.Errorf("dns: config: suffix %q is not a domain name", zc.Suffix)
	}
	if zc.Resolver == nil {
		return zone{}, fmt.Errorf("dns: config: no Resolver for suffix %q", suffix)
	}
	z := zone{suffix: "." + suffix + ".", apex: suffix + ".", res: zc.Resolver}
	for _, d := range searchDomains {
		d = strings.ToLower(strings.Trim(d, "."))
		if d == "" {
			continue
		}
		if _, ok := mdns.IsDomainName(d); !ok {
			return zone{}, fmt.Errorf("dns: config: search domain %q is not a domain name", d)
		}
		z.search = append(z.search, z.suffix+d+".")
	}
	return z, nil
}

// Answer reads the DNS query in query (a UDP payload) and either writes the
// answer into dst's capacity and returns it (resp aliases dst when the answer
// fits, else it is new), or returns forward=true: the query is not for the
// overlay and the caller sends it to the upstream servers unchanged. A query
// that does not parse, or a response, is an error wrapping ErrMalformed or
// ErrNotQuery; a query with other than one question gets FORMERR. Answer keeps
// no reference to query or dst.
func (r *Responder) Answer(query []byte, dst []byte) (resp []byte, forward bool, err error) {
	if resp, ok := r.answerFast(query, dst); ok {
		return resp, false, nil
	}
	return r.answerGeneral(query, dst)
}

// answerGeneral is Answer through miekg/dns, for every query.
func (r *Responder) answerGeneral(query []byte, dst []byte) (resp []byte, forward bool, err error) {
	if len(query) < headerLen {
		return nil, false, fmt.Errorf("dns: answer: %w: %d bytes", ErrMalformed, len(query))
	}
	s := r.pool.Get().(*state)
	defer r.put(s)
	q := &s.q
	if err := q.Unpack(query); err != nil {
		return nil, false, fmt.Errorf("dns: answer: %w: %v", ErrMalformed, err)
	}
	if q.Response {
		return nil, false, fmt.Errorf("dns: answer: %w: QR bit set", ErrNotQuery)
	}
	m := r.reply(s)
	if len(q.Question) != 1 {
		m.Rcode = mdns.RcodeFormatError
		return r.pack(m, dst)
	}
	question := q.Question[0]
	name := strings.ToLower(question.Name)
	z, label, overlay := r.overlayLabel(name)
	if !overlay {
		if resp, ok, err := r.answerPTR(s, m, question, name, dst); ok {
			return resp, false, err
		}
		if r.underSearch(name) {
			m.Rcode = mdns.RcodeNameError
			return r.pack(m, dst)
		}
		return nil, true, nil
	}
	m.Authoritative = true
	switch {
	case m.Rcode != mdns.RcodeSuccess: // BADVERS: nothing else
	case q.Opcode != mdns.OpcodeQuery:
		m.Rcode = mdns.RcodeNotImplemented
	case label == "": // the suffix itself: it exists, holds no addresses
	default:
		v4, v6, ok := z.res.ResolveOverlay(label)
		if !ok {
			m.Rcode = mdns.RcodeNameError
			break
		}
		if question.Qclass != mdns.ClassINET && question.Qclass != mdns.ClassANY {
			break
		}
		t := question.Qtype
		if (t == mdns.TypeA || t == mdns.TypeANY) && v4.Is4() {
			s.a.Hdr = mdns.RR_Header{Name: question.Name, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: r.ttl}
			s.ip4 = v4.As4()
			m.Answer = append(m.Answer, &s.a)
		}
		if (t == mdns.TypeAAAA || t == mdns.TypeANY) && v6.Is6() {
			s.aaaa.Hdr = mdns.RR_Header{Name: question.Name, Rrtype: mdns.TypeAAAA, Class: mdns.ClassINET, Ttl: r.ttl}
			s.ip6 = v6.As16()
			m.Answer = append(m.Answer, &s.aaaa)
		}
	}
	return r.pack(m, dst)
}

// reply prepares s.r as the answer to s.q: id, opcode, flags, EDNS; no
// question (the caller sets it), NOERROR.
func (r *Responder) reply(s *state) *mdns.Msg {
	q, m := &s.q, &s.r
	m.MsgHdr = mdns.MsgHdr{
		Id:                 q.Id,
		Response:           true,
		Opcode:             q.Opcode,
		RecursionDesired:   q.RecursionDesired,
		CheckingDisabled:   q.CheckingDisabled,
		RecursionAvailable: true,
	}
	m.Compress = false
	m.Question = nil
	m.Answer = s.rrs[:0]
	m.Ns = nil
	m.Extra = nil
	if len(q.Question) == 1 {
		s.qs[0] = q.Question[0]
		m.Question = s.qs[:]
	}
	if opt := q.IsEdns0(); opt != nil {
		m.Extra = s.extra[:]
		s.opt.Hdr.Ttl = 0 // extended rcode, version, flags
		s.opt.Option = nil
		if opt.Version() != 0 {
			m.Rcode = mdns.RcodeBadVers
		}
	}
	return m
}

// pack packs m into dst's capacity.
func (r *Responder) pack(m *mdns.Msg, dst []byte) ([]byte, bool, error) {
	out, err := m.PackBuffer(dst[:cap(dst)])
	if err != nil {
		return nil, false, fmt.Errorf("dns: answer: pack: %v", err)
	}
	return out, false, nil
}

// put clears what s refers to and returns it to the pool.
func (r *Responder) put(s *state) {
	s.q = mdns.Msg{}
	s.r.Question, s.r.Answer, s.r.Extra = nil, nil, nil
	s.qs[0] = mdns.Question{}
	s.rrs = [2]mdns.RR{}
	s.a.Hdr.Name, s.aaaa.Hdr.Name = "", ""
	r.pool.Put(s)
}

// overlayLabel reports whether name (lower case, fully qualified) is under an
// overlay suffix, and returns its zone and the part before the suffix (""
// for the suffix itself).
func (r *Responder) overlayLabel(name string) (*zone, string, bool) {
	for i := range r.zones {
		z := &r.zones[i]
		if name == z.apex {
			return z, "", true
		}
		if strings.HasSuffix(name, z.suffix) && len(name) > len(z.suffix) {
			return z, name[:len(name)-len(z.suffix)], true
		}
	}
	return nil, "", false
}

// underSearch reports whether name is NAME.SUFFIX.DOMAIN for a search domain
// and an overlay suffix.
func (r *Responder) underSearch(name string) bool {
	for _, z := range r.zones {
		for _, s := range z.search {
			if len(name) > len(s) && strings.HasSuffix(name, s) {
				return true
			}
		}
	}
	return false
}
