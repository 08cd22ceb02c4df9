package ingress

import (
	"sync/atomic"

	"github.com/i3net/i3net/proxy"
)

// counters are the ingress's own statistics (the proxy keeps its own).
type counters struct {
	accepted, rateLimited, unrouted, notPublished, dialFailed atomic.Uint64
	routedHost, routedSNI, routedHeuristic                    atomic.Uint64
	sniffFailed, foreignName, handed                          atomic.Uint64
	bytesToHosts, bytesToClients                              atomic.Uint64
	overMax                                                   atomic.Uint64
	active, open                                              atomic.Int64 // carried; accepted and not yet closed
}

func (g *Ingress) countRoute(how route) {
	switch how {
	case byHost:
		g.stats.routedHost.Add(1)
	case bySNI:
		g.stats.routedSNI.Add(1)
	default:
		g.stats.routedHeuristic.Add(1)
	}
}

// Counters returns the ingress's counters by name: its connections, the
// heuristic's table, the rate limits and the DNS server's.
func (g *Ingress) Counters() map[string]uint64 {
	s := &g.stats
	m := map[string]uint64{
		"conns_accepted": s.accepted.Load(), "conns_rate_limited": s.rateLimited.Load(),
		"conns_unrouted": s.unrouted.Load(), "conns_not_published": s.notPublished.Load(),
		"conns_dial_failed": s.dialFailed.Load(), "conns_active": uint64(max(s.active.Load(), 0)),
		"conns_over_max":   s.overMax.Load(),
		"routed_http_host": s.routedHost.Load(), "routed_tls_sni": s.routedSNI.Load(),
		"routed_heuristic": s.routedHeuristic.Load(), "sniff_failed": s.sniffFailed.Load(),
		"names_outside_zone": s.foreignName.Load(), "waypoints_handed": s.handed.Load(),
		"bytes_to_hosts": s.bytesToHosts.Load(), "bytes_to_clients": s.bytesToClients.Load(),
	}
	h := g.table.Stats()
	m["heuristic_claimed"], m["heuristic_ambiguous"], m["heuristic_unmatched"] = h.Claimed, h.Ambiguous, h.Unmatched
	m["heuristic_expired"], m["heuristic_evicted"] = h.Expired, h.Evicted
	d := g.zone.Stats()
	m["dns_queries"], m["dns_answered"], m["dns_nxdomain"], m["dns_nodata"] = d.Queries, d.Answered, d.NXDomain, d.NoData
	m["dns_refused"], m["dns_rate_limited"], m["dns_malformed"] = d.Refused, d.RateLimited, d.Malformed
	c := g.conns.Stats()
	m["limit_clients_tracked"] = uint64(c.Tracked)
	return m
}

// describe is the ingress's part of "i3net status".
func (g *Ingress) describe() *proxy.IngressStatus {
	st := &proxy.IngressStatus{Zone: g.cfg.Zone, Published: g.pubs.status(), Counters: g.Counters()}
	for _, a := range g.cfg.DNSListen {
		st.DNS = append(st.DNS, a.String())
	}
	for _, a := range g.cfg.Waypoints {
		st.Waypoints = append(st.Waypoints, a.String())
	}
	for _, a := range g.ls.addrs() {
		st.Listening = append(st.Listening, a.String())
	}
	h := g.table.Stats()
	st.Bindings, st.Pending = h.Bindings, h.Pending
	return st
}
