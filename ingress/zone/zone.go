// Package zone is the ingress's authoritative DNS server for its delegated
// zone (github.com/miekg/dns): SOA and NS at the apex with glue for in-zone
// nameservers, their addresses, and for each published name an address from
// Names.Resolve (a waypoint) with TTL 0, so that every resolution is a fresh
// hand-out (the paper's appendix).
//
// Answers are what a validating recursive resolver (unbound) expects of a
// delegated server: AA on every in-zone answer; NXDOMAIN or NODATA with the SOA
// (TTL NegativeTTL) in the authority section; an empty non-terminal is NODATA
// (RFC 8020) when Names tells (Existence); REFUSED outside the zone and for
// zone transfers; the question echoed as asked (0x20); EDNS0 answered with an
// OPT of 1232 bytes, BADVERS for a version above 0; UDP answers cut to the
// client's size (512 without EDNS, at most 1232) with TC set, TCP whole; more
// or fewer than one question: FORMERR; an opcode other than QUERY: NOTIMP.
// ANY gets a minimal answer (RFC 8482): the SOA at the apex, a synthesized
// HINFO "RFC8482" elsewhere, NXDOMAIN for a name that does not exist.
//
// Config.Allow is asked for each message before it is parsed; a refused one is
// dropped unanswered and counted. Stats partition Queries: each query is
// counted once as Answered, NXDomain, NoData, Refused, RateLimited or Malformed.
//
// It knows nothing of waypoints or publications: those are behind Names. A
// query costs one Allow call, one Names call (two for a name Names does not
// publish) and a few allocations; there is no cache to bound.
package zone

import (
	"log/slog"
	"net/netip"
	"sync/atomic"
)

// NS is one nameserver of the zone. A name inside the zone needs its addresses
// (they are served as glue); a name outside it must have none.
type NS struct {
	Name  string
	Addrs []netip.Addr
}

// Names is what the zone publishes below its origin.
type Names interface {
	// Resolve is asked for a name under the origin, as labels relative to it, lower
	// case, without the final dot ("home", "www.home"). published false: NXDOMAIN.
	// A zero addr with published true: no record of that family (NODATA).
	Resolve(rel string, v6 bool) (addr netip.Addr, published bool)
}

// Existence is an optional interface of Names: when Names has it, the zone asks
// Exists, and not Resolve, whether a name exists for queries of types other than
// A and AAAA (so that they hand out no address) and before it answers NXDOMAIN
// to an A or AAAA query.
type Existence interface {
	// Exists reports whether rel (as in Resolve) is published or has a
	// published name below it (an empty non-terminal).
	Exists(rel string) bool
}

// Config describes the zone.
type Config struct {
	Origin      string                    // "i3.example.net" (a final dot optional)
	Nameservers []NS                      // at least one
	Hostmaster  string                    // SOA RNAME as a name; default "hostmaster." + Origin
	NegativeTTL uint32                    // SOA minimum and TTL of the SOA in negative answers; default 5
	TTL         uint32                    // TTL of SOA, NS and glue records; default 3600
	Names       Names                     // nil: nothing published
	Allow       func(src netip.Addr) bool // nil: all; false: the query is dropped and counted
	Logger      *slog.Logger              // nil: slog.Default()
}

// Stats are the zone's counters since New; each query is counted in Queries
// and in exactly one of the others.
type Stats struct {
	Queries     uint64 // messages received (or given to Answer)
	Answered    uint64 // NOERROR with records in the answer section
	NXDomain    uint64 // names that do not exist
	NoData      uint64 // NOERROR without answer records
	Refused     uint64 // outside the zone, other classes, zone transfers
	RateLimited uint64 // dropped: Allow said no
	Malformed   uint64 // unparsable, responses, FORMERR, NOTIMP, BADVERS
}

// counters are the atomic Stats.
type counters struct {
	queries, answered, nxdomain, nodata, refused, rateLimited, malformed atomic.Uint64
}

// Stats returns the counters.
func (z *Zone) Stats() Stats {
	c := &z.stats
	return Stats{
		Queries: c.queries.Load(), Answered: c.answered.Load(), NXDomain: c.nxdomain.Load(),
		NoData: c.nodata.Load(), Refused: c.refused.Load(), RateLimited: c.rateLimited.Load(),
		Malformed: c.malformed.Load(),
	}
}
