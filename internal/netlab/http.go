package netlab

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// HTTPClient returns an HTTP client whose connections start inside the
// host: a test or the demo reads a daemon's HTTP endpoint (Prometheus
// metrics, say) as another host of the lab would. URLs must hold literal
// addresses (no name lookups, as for Dial). Keep-alives are off, so no
// connection outlives its request; timeout bounds each request.
func (h *Host) HTTPClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			DisableKeepAlives: true,
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				to, err := netip.ParseAddrPort(addr)
				if err != nil {
					return nil, fmt.Errorf("netlab: %s: dial %q: want a literal IP:PORT", h.name, addr)
				}
				return h.Dial(ctx, network, to)
			},
		},
	}
}

// Metrics reads the Prometheus endpoint at http://addr/metrics from inside
// the host and returns every sample by its name with its labels, as the text
// format writes them ("i3net_server_triggers",
// `i3net_server_drops_total{reason="family"}`).
func (h *Host) Metrics(ctx context.Context, addr netip.AddrPort) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr.String()+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := h.HTTPClient(2 * time.Second).Do(req)
	if err != nil {
		return nil, fmt.Errorf("netlab: %s: metrics: %w", h.name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("netlab: %s: metrics: %s", h.name, resp.Status)
	}
	return ParseMetrics(resp.Body)
}

// ParseMetrics reads Prometheus's text format: "NAME[{LABELS}] VALUE" lines
// and # comments.
func ParseMetrics(r io.Reader) (map[string]float64, error) {
	m := make(map[string]float64)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			return nil, fmt.Errorf("metrics: line %q", line)
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			return nil, fmt.Errorf("metrics: line %q: %w", line, err)
		}
		m[line[:i]] = v
	}
	return m, sc.Err()
}
