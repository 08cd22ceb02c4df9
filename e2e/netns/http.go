package netns

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
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
					return nil, fmt.Errorf("netns: %s: dial %q: want a literal IP:PORT", h.name, addr)
				}
				return h.Dial(ctx, network, to)
			},
		},
	}
}
