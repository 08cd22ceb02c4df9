package ingress

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metricHelp describes each counter of Counters; gauges are listed in
// metricGauges. Each is exported as i3net_ingress_NAME(_total).
var metricHelp = map[string]string{
	"conns_accepted":        "Client connections accepted on the waypoints.",
	"conns_rate_limited":    "Client connections refused by the per-client rate limit (client_rate, client_burst).",
	"conns_unrouted":        "Client connections that neither their protocol nor the heuristic tied to a name.",
	"conns_not_published":   "Client connections to a name and port nobody publishes.",
	"conns_dial_failed":     "Client connections whose overlay host could not be reached.",
	"conns_active":          "Client connections being carried now.",
	"conns_over_max":        "Client connections refused because max_conns were open.",
	"routed_http_host":      "Connections routed by their HTTP Host header.",
	"routed_tls_sni":        "Connections routed by their TLS server name.",
	"routed_heuristic":      "Connections routed by the heuristic (a binding or a pending name).",
	"sniff_failed":          "Connections on an HTTP or TLS port whose first bytes named nothing.",
	"names_outside_zone":    "Connections whose Host or server name is outside the zone.",
	"waypoints_handed":      "Waypoints handed out in DNS answers.",
	"bytes_to_hosts":        "Bytes carried from clients to overlay hosts.",
	"bytes_to_clients":      "Bytes carried from overlay hosts to clients.",
	"heuristic_claimed":     "Pending names claimed by a first connection.",
	"heuristic_ambiguous":   "Claims where more than one pending name served the port.",
	"heuristic_unmatched":   "Connections the heuristic found nothing pending for.",
	"heuristic_expired":     "Pending names that no connection claimed in the window.",
	"heuristic_evicted":     "Bindings dropped because the table was full.",
	"dns_queries":           "DNS queries received.",
	"dns_answered":          "DNS queries answered with records.",
	"dns_nxdomain":          "DNS queries answered NXDOMAIN.",
	"dns_nodata":            "DNS queries answered with no record of the type.",
	"dns_refused":           "DNS queries refused (outside the zone, transfers).",
	"dns_rate_limited":      "DNS queries dropped by the per-source rate limit (dns_rate, dns_burst).",
	"dns_malformed":         "DNS messages that were not a valid query.",
	"limit_clients_tracked": "Client addresses whose connection rate is tracked.",
}

var metricGauges = map[string]bool{"conns_active": true, "limit_clients_tracked": true}

// collector exports the ingress's counters.
type collector struct {
	g     *Ingress
	descs map[string]*prometheus.Desc
}

// Collector returns a prometheus.Collector of the ingress's counters
// (i3net_ingress_conns_rate_limited_total, …); each scrape reads them once.
func (g *Ingress) Collector() prometheus.Collector {
	c := &collector{g: g, descs: make(map[string]*prometheus.Desc)}
	for name, help := range metricHelp {
		full := name
		if !metricGauges[name] {
			full += "_total"
		}
		c.descs[name] = prometheus.NewDesc(prometheus.BuildFQName("i3net_ingress", "", full), help, nil, nil)
	}
	return c
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	for name, v := range c.g.Counters() {
		d, ok := c.descs[name]
		if !ok {
			continue
		}
		t := prometheus.CounterValue
		if metricGauges[name] {
			t = prometheus.GaugeValue
		}
		ch <- prometheus.MustNewConstMetric(d, t, float64(v))
	}
}
