package server

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metricNamespace prefixes every metric: i3net_server_….
const metricNamespace = "i3net_server"

// metric describes one Stats counter as a Prometheus metric.
type metric struct {
	name, help string
	gauge      bool
	value      func(*Stats) uint64
}

var metrics = []metric{
	{"packets_in_total", "Datagrams received.", false, func(s *Stats) uint64 { return s.PacketsIn }},
	{"bytes_in_total", "Bytes received (UDP payload).", false, func(s *Stats) uint64 { return s.BytesIn }},
	{"packets_out_total", "Datagrams sent.", false, func(s *Stats) uint64 { return s.PacketsOut }},
	{"bytes_out_total", "Bytes sent (UDP payload).", false, func(s *Stats) uint64 { return s.BytesOut }},
	{"handled_total", "Datagrams that decoded and were within their source's rate.", false, func(s *Stats) uint64 { return s.Handled }},
	{"pings_total", "Pings echoed.", false, func(s *Stats) uint64 { return s.Pings }},
	{"forwarded_total", "Data packets that matched at least one trigger.", false, func(s *Stats) uint64 { return s.Forwarded }},
	{"delivered_total", "Copies of data packets sent to IP targets.", false, func(s *Stats) uint64 { return s.Delivered }},
	{"expanded_total", "Ids replaced by a trigger's stack.", false, func(s *Stats) uint64 { return s.Expanded }},
	{"popped_total", "Unmatched ids popped to route on the next one.", false, func(s *Stats) uint64 { return s.Popped }},
	{"not_present_total", "Data packets that matched no trigger.", false, func(s *Stats) uint64 { return s.NotPresent }},
	{"cache_replies_total", "CACHE_ADDR replies to REQUEST_FOR_CACHE.", false, func(s *Stats) uint64 { return s.CacheReplies }},
	{"nat_rewrites_total", "First-hop packets whose SENDER differed from their source.", false, func(s *Stats) uint64 { return s.NATRewrites }},
	{"inserts_total", "TRIGGER_INSERT options received.", false, func(s *Stats) uint64 { return s.Inserts }},
	{"challenges_total", "TRIGGER_CHALLENGE replies sent.", false, func(s *Stats) uint64 { return s.Challenges }},
	{"stale_nonces_total", "Insertions whose non-zero nonce did not verify.", false, func(s *Stats) uint64 { return s.StaleNonces }},
	{"acks_total", "TRIGGER_ACK replies sent.", false, func(s *Stats) uint64 { return s.Acks }},
	{"installed_total", "Triggers added to the table.", false, func(s *Stats) uint64 { return s.Installed }},
	{"refreshed_total", "Triggers refreshed.", false, func(s *Stats) uint64 { return s.Refreshed }},
	{"removals_total", "Triggers removed by TRIGGER_REMOVE.", false, func(s *Stats) uint64 { return s.Removals }},
	{"removals_refused_total", "TRIGGER_REMOVE with a wrong nonce or signature.", false, func(s *Stats) uint64 { return s.RemovalsRefused }},
	{"expired_total", "Triggers removed for want of a refresh.", false, func(s *Stats) uint64 { return s.Expired }},
	{"errors_sent_total", "EXT_ERROR replies sent.", false, func(s *Stats) uint64 { return s.ErrorsSent }},
	{"triggers", "Triggers in the table (expired ones count until swept).", true, func(s *Stats) uint64 { return s.Triggers }},
	{"shortcuts_total", "Copies delivered with SENDER because trigger and packet allow a shortcut.", false, func(s *Stats) uint64 { return s.Shortcuts }},
	{"server_lists_total", "EXT_SERVER_LIST answers.", false, func(s *Stats) uint64 { return s.ServerLists }},
	{"ring_hops_total", "Packets sent on, in one hop, to the server responsible for their id.", false, func(s *Stats) uint64 { return s.Hops }},
	{"ring_hops_received_total", "Packets received from another server of the ring.", false, func(s *Stats) uint64 { return s.HopsIn }},
	{"ring_misrouted_total", "Packets from another server for ids this one does not own in its view, handled here.", false, func(s *Stats) uint64 { return s.Misrouted }},
	{"ring_hints_total", "CACHE_ADDR hints naming another server.", false, func(s *Stats) uint64 { return s.Hints }},
	{"replicas_sent_total", "Triggers sent to other servers (replication and handover).", false, func(s *Stats) uint64 { return s.ReplicasSent }},
	{"replicas_received_total", "Triggers received from other servers and applied.", false, func(s *Stats) uint64 { return s.ReplicasReceived }},
	{"replicas_refused_total", "Triggers received from other servers that the table refused.", false, func(s *Stats) uint64 { return s.ReplicasRefused }},
	{"replica_takeovers_total", "Triggers this server began to serve because their ids moved to it.", false, func(s *Stats) uint64 { return s.ReplicaTakeovers }},
	{"ring_members", "Servers in the ring, this one included (0 without a ring).", true, func(s *Stats) uint64 { return s.RingMembers }},
}

// collector exports a server's Stats.
type collector struct {
	s       *Server
	descs   []*prometheus.Desc
	drops   *prometheus.Desc
	refused *prometheus.Desc
}

// Collector returns a prometheus.Collector of the server's Stats: one metric
// per counter (i3net_server_packets_in_total, …, the gauge
// i3net_server_triggers), and i3net_server_drops_total and
// i3net_server_refused_total with a "reason" label (DropReason and Refusal
// names). Each scrape reads Stats once.
func (s *Server) Collector() prometheus.Collector {
	c := &collector{
		s: s,
		drops: prometheus.NewDesc(prometheus.BuildFQName(metricNamespace, "", "drops_total"),
			"Datagrams or copies dropped, by reason.", []string{"reason"}, nil),
		refused: prometheus.NewDesc(prometheus.BuildFQName(metricNamespace, "", "refused_total"),
			"Insertions and removals refused, by reason.", []string{"reason"}, nil),
	}
	for _, m := range metrics {
		c.descs = append(c.descs, prometheus.NewDesc(prometheus.BuildFQName(metricNamespace, "", m.name), m.help, nil, nil))
	}
	return c
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
	ch <- c.drops
	ch <- c.refused
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.Stats()
	for i, m := range metrics {
		t := prometheus.CounterValue
		if m.gauge {
			t = prometheus.GaugeValue
		}
		ch <- prometheus.MustNewConstMetric(c.descs[i], t, float64(m.value(&st)))
	}
	for r := range NumDropReasons {
		ch <- prometheus.MustNewConstMetric(c.drops, prometheus.CounterValue, float64(st.Drops[r]), r.String())
	}
	for r := range NumRefusals {
		ch <- prometheus.MustNewConstMetric(c.refused, prometheus.CounterValue, float64(st.Refused[r]), r.String())
	}
}
