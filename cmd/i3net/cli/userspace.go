package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/i3net/i3net/proxy"
	"github.com/i3net/i3net/proxy/front"
)

// defaultFront is where the userspace mode's SOCKS5 and HTTP proxy listens.
const defaultFront = "127.0.0.1:1080"

// runUserspace runs px in userspace mode with its front door: a SOCKS5 and
// HTTP proxy on --front.
func (a *proxyArgs) runUserspace(ctx context.Context, px *proxy.Proxy, cfg proxy.Config) error {
	ln, err := net.Listen("tcp", a.front)
	if err != nil {
		px.Close()
		return fmt.Errorf("proxy: --front %s: %w (give another ADDR:PORT)", a.front, err)
	}
	srv, err := front.New(front.Config{Router: px.Router(), Logger: cfg.Logger})
	if err != nil {
		ln.Close()
		px.Close()
		return err
	}
	go srv.Serve(ln)
	defer srv.Close()
	st := px.Status()
	fmt.Fprintf(Stdout, "i3net proxy up in userspace mode: this host is %s (%s); programs: SOCKS5 and HTTP proxy on %s "+
		"(curl --socks5-hostname %s http://NAME.%s/, or http_proxy=http://%s); status: i3net status --state-dir %s\n",
		st.Self.Addr4, st.Self.ID[:8], ln.Addr(), ln.Addr(), cfg.Suffix, ln.Addr(), a.state.dir)
	return px.Run(ctx)
}

// portList is a comma-separated list of TCP ports.
type portList []uint16

func (l *portList) String() string {
	var s []string
	for _, p := range *l {
		s = append(s, strconv.Itoa(int(p)))
	}
	return strings.Join(s, ",")
}

func (l *portList) Set(v string) error {
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.ParseUint(strings.TrimSpace(f), 10, 16)
		if err != nil || n == 0 {
			return errors.New("want TCP ports 1-65535, comma-separated, e.g. 22,80")
		}
		*l = append(*l, uint16(n))
	}
	return nil
}
