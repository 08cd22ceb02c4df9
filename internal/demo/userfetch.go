package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"os/exec"
	"strings"
	"time"

	"golang.org/x/net/proxy"
)

// How laptop's programs fetch a page through its front door: real curl, or,
// where curl is not installed, a Go client doing what curl would.

// fetchTimeout bounds one fetch.
const fetchTimeout = 10 * time.Second

// fetcher fetches a URL through a SOCKS5 proxy (names resolved by the proxy,
// socks5h) or an HTTP proxy.
type fetcher interface {
	// fetch returns the body at target through the proxy at front, SOCKS5
	// if socks, else HTTP.
	fetch(ctx context.Context, socks bool, front netip.AddrPort, target string) (string, error)
	// command is the command line fetch stands for.
	command(socks bool, front netip.AddrPort, target string) string
	// note is what to say about the fetcher before its first use ("" for
	// curl).
	note() string
}

// newFetcher returns curl if it is installed, else the Go client.
func newFetcher() fetcher {
	if path, err := exec.LookPath("curl"); err == nil {
		return curlFetcher{path: path}
	}
	return goFetcher{}
}

// curlFetcher runs curl.
type curlFetcher struct{ path string }

func (c curlFetcher) fetch(ctx context.Context, socks bool, front netip.AddrPort, target string) (string, error) {
	args := []string{"-sS", "-m", fmt.Sprint(fetchTimeout.Seconds()), "-x", "http://" + front.String(), target}
	if socks {
		args = []string{"-sS", "-m", fmt.Sprint(fetchTimeout.Seconds()), "--socks5-hostname", front.String(), target}
	}
	cmd := exec.CommandContext(ctx, c.path, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if msg := strings.TrimSpace(stderr.String()); err != nil && msg != "" {
		return string(out), errors.New(msg) // curl's own words, e.g. "curl: (97) Can't complete SOCKS5 connection …"
	}
	return string(out), err
}

func (curlFetcher) command(socks bool, front netip.AddrPort, target string) string {
	if socks {
		return fmt.Sprintf("curl --socks5-hostname %v %s", front, target)
	}
	return fmt.Sprintf("curl -x http://%v %s", front, target)
}

func (curlFetcher) note() string { return "" }

// goFetcher is a Go HTTP client through golang.org/x/net/proxy's SOCKS5
// dialer (which sends names to the proxy, as socks5h) or net/http's HTTP
// proxy support.
type goFetcher struct{}

func (goFetcher) fetch(ctx context.Context, socks bool, front netip.AddrPort, target string) (string, error) {
	tr := &http.Transport{Proxy: http.ProxyURL(&url.URL{Scheme: "http", Host: front.String()}), DisableKeepAlives: true}
	if socks {
		d, err := proxy.SOCKS5("tcp", front.String(), nil, proxy.Direct)
		if err != nil {
			return "", err
		}
		tr = &http.Transport{DialContext: d.(proxy.ContextDialer).DialContext, DisableKeepAlives: true}
	}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return "", err
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return string(body), err
}

func (goFetcher) command(socks bool, front netip.AddrPort, target string) string {
	if socks {
		return fmt.Sprintf("GET %s through SOCKS5 %v (the Go client, as curl --socks5-hostname)", target, front)
	}
	return fmt.Sprintf("GET %s through the HTTP proxy %v (the Go client, as curl -x)", target, front)
}

func (goFetcher) note() string {
	return "curl is not installed here: a Go client (golang.org/x/net/proxy's SOCKS5 dialer, net/http's HTTP proxy support) does what curl would"
}
