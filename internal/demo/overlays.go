package demo

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/i3net/i3net/internal/netlab"
)

// The several-overlays chapter (docs/overlays.md, the paper's §10): a second
// overlay, .lab, with its own server labsrv and a host build in it alone.
// laptop's proxy restarts with an [[overlay]] for it in its proxy.toml: one
// process and one tun device then serve .i3 and .lab, curl reaches
// home.i3 and build.lab, and killing labsrv leaves the .i3 session alone.

// labPool4 is the lab overlay's IPv4 pool, on laptop beside .i3's default
// 100.64.0.0/10, and on build (the hosts of an overlay share its pool, so
// that IP headers pass unchanged).
const labPool4 = "10.99.0.0/16"

// secondOverlay runs the chapter.
func (d *labDemo) secondOverlay(ctx context.Context) error {
	d.n.chapter("laptop joins a second overlay, .lab, in the same proxy")
	labsrv, build, err := d.startLabOverlay(ctx)
	if err != nil {
		return err
	}
	conf, err := d.writeLaptopOverlay(netip.AddrPortFrom(labsrv.Addr4(), serverPort))
	if err != nil {
		return err
	}
	if err := d.restartLaptop(ctx, conf); err != nil {
		return err
	}
	for _, url := range []string{"http://build.lab/", "http://home.i3/"} {
		out, err := d.laptop.Run(ctx, "curl", "-sS", "-m", "10", url)
		if err != nil {
			return fmt.Errorf("curl %s with both overlays: %w", url, err)
		}
		d.n.say("$ curl %s   %s", url, strings.TrimSpace(string(out)))
	}
	if err := d.sayOverlays(ctx); err != nil {
		return err
	}
	return d.killLabServer(ctx, labsrv, build)
}

// startLabOverlay starts labsrv, the lab overlay's one server, and build, a
// host whose proxy is in that overlay alone and serves a web page; build's
// book names laptop, and laptop's lab book names build.
func (d *labDemo) startLabOverlay(ctx context.Context) (labsrv, build *netlab.Host, err error) {
	if labsrv, err = d.lab.Host("labsrv"); err != nil {
		return nil, nil, err
	}
	if build, err = d.lab.Host("build"); err != nil {
		return nil, nil, err
	}
	srv := netip.AddrPortFrom(labsrv.Addr4(), serverPort)
	if _, err := labsrv.Start(d.self, "server", "--listen", srv.String(), "--log-level", "warn"); err != nil {
		return nil, nil, err
	}
	if err := netlab.WaitUDP(ctx, labsrv, serverPort); err != nil {
		return nil, nil, err
	}
	if err := d.newIdentity(ctx, build.Name()); err != nil {
		return nil, nil, err
	}
	if err := d.bookAdd(ctx, build.Name(), "laptop"); err != nil {
		return nil, nil, err
	}
	labBook := filepath.Join(d.stateDir("laptop"), "book.lab")
	if out, err := d.laptop.Run(ctx, d.self, "book", "add", "build", d.keys["build"], "--book", labBook); err != nil {
		return nil, nil, fmt.Errorf("i3net book add build on laptop: %v: %s", err, out)
	}
	if _, err := build.Start(d.self, "proxy", "--server", srv.String(), "--state-dir", d.stateDir(build.Name()),
		"--pool4", labPool4, "--pool6", "off", "--log-level", "warn"); err != nil {
		return nil, nil, err
	}
	if err := d.waitStatus(ctx, build, func(string) bool { return true }); err != nil {
		return nil, nil, fmt.Errorf("the proxy on build did not come up: %w", err)
	}
	if err := d.serveOn(build, "hello from build, in the lab overlay"); err != nil {
		return nil, nil, err
	}
	d.n.say("labsrv %v runs the lab overlay's server (a ring of its own); build %v runs a proxy in it alone and serves http",
		labsrv.Addr4(), build.Addr4())
	d.n.say("$ i3net book --book STATE-DIR/book.lab add build KEY   (on laptop: the lab overlay's own address book)")
	return labsrv, build, nil
}

// serveOn serves a one-line page on h:80 until the demo ends.
func (d *labDemo) serveOn(h *netlab.Host, text string) error {
	ln, err := h.Listen("tcp4", netip.AddrPortFrom(netip.IPv4Unspecified(), 80))
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s, you are %s\n", text, r.RemoteAddr)
	}), ReadHeaderTimeout: 5 * time.Second}
	d.extraWeb = append(d.extraWeb, srv)
	go srv.Serve(ln)
	return nil
}

// writeLaptopOverlay writes laptop's proxy.toml again with an [[overlay]]
// for lab, and returns its path.
func (d *labDemo) writeLaptopOverlay(server netip.AddrPort) (string, error) {
	text := fmt.Sprintf("%s\n[[overlay]]\nsuffix = \"lab\"\nservers = [%q]\npool4 = %q\n", laptopRules, server.String(), labPool4)
	path := filepath.Join(d.dir, "laptop-proxy.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		return "", err
	}
	d.n.say("laptop's proxy.toml gets an overlay of its own for .lab:")
	for _, l := range strings.Split(strings.TrimSpace(text[len(laptopRules):]), "\n") {
		d.n.say("    %s", l)
	}
	return path, nil
}

// restartLaptop restarts laptop's proxy with conf.
func (d *labDemo) restartLaptop(ctx context.Context, conf string) error {
	start := time.Now()
	if err := d.laptopProxy.Stop(); err != nil {
		return err
	}
	args := []string{"proxy", "--server", d.ring.servers[0].data.String(), "--state-dir", d.stateDir("laptop"), "--log-level", "warn", "--config", conf}
	p, err := d.laptop.Start(d.self, args...)
	if err != nil {
		return err
	}
	d.laptopProxy = p
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-p.Done(): // exited: no use waiting for its status
			cancel()
		case <-wctx.Done():
		}
	}()
	if err := d.waitStatus(wctx, d.laptop, func(s string) bool { return strings.Contains(s, "overlay lab") }); err != nil {
		return fmt.Errorf("laptop's proxy did not come back with the lab overlay: %w\n%s", err, p.Report(procTail))
	}
	d.n.say("laptop's proxy restarted in %v: one process, one tun device, two overlays", time.Since(start).Round(time.Millisecond))
	return nil
}

// sayOverlays shows the overlay headings of laptop's "i3net status".
func (d *labDemo) sayOverlays(ctx context.Context) error {
	out, err := d.laptop.Run(ctx, d.self, "status", "--state-dir", d.stateDir("laptop"))
	if err != nil {
		return err
	}
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "overlay ") {
			d.n.say("laptop's i3net status: %s", strings.TrimSpace(l))
		}
	}
	return nil
}

// killLabServer kills labsrv: build.lab stops answering, home.i3 does not
// notice.
func (d *labDemo) killLabServer(ctx context.Context, labsrv, build *netlab.Host) error {
	for _, p := range d.lab.Procs() {
		if strings.HasPrefix(p.String(), labsrv.Name()+":") {
			if err := p.Stop(); err != nil {
				return err
			}
		}
	}
	d.n.say("labsrv killed: the lab overlay has no server left")
	start := time.Now()
	out, err := d.laptop.Run(ctx, "curl", "-sS", "-m", "10", "http://home.i3/")
	if err != nil {
		return fmt.Errorf("curl http://home.i3/ after the lab overlay's server died: %w", err)
	}
	d.n.say("$ curl http://home.i3/   (%v) %s: the .i3 overlay did not notice", time.Since(start).Round(time.Millisecond), strings.TrimSpace(string(out)))
	return nil
}
