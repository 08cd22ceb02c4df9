package demo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/internal/netlab"
	"github.com/i3net/i3net/server"
)

// The userspace part stands for the lab where the demo may not make network
// namespaces (it needs no privilege at all): an overlay server on 127.0.0.1,
// two hosts, laptop and home, as two "i3net proxy --userspace" processes
// with their own state directories, a web server on home's loopback that
// home exposes to its peers, and curl on laptop reaching it by name through
// laptop's SOCKS5 and HTTP proxy (its front door). Both hosts share this
// machine's loopback here; what crosses from one to the other goes through
// the overlay, encrypted, as between two machines.

// proxyUpTimeout bounds the wait for a proxy to answer "i3net status".
const proxyUpTimeout = 20 * time.Second

// userDemo is the state the userspace phases share.
type userDemo struct {
	n     *narrator
	ids   *labDemo // the state directories' helpers: identities and books (lab.go)
	srv   *server.Server
	web   *http.Server
	port  uint16 // home's web server's, on 127.0.0.1
	procs map[string]*userProc
	front map[string]netip.AddrPort // each host's SOCKS5 and HTTP proxy
	fetch fetcher                   // curl, or a Go client where curl is missing
}

// runUserspace runs the userspace part; whatever happens, it stops every
// process and server it started and removes its directory before it returns.
func runUserspace(ctx context.Context, n *narrator, self string) (err error) {
	ctx, cancel := context.WithTimeout(ctx, userspaceTimeout)
	defer cancel()
	dir, err := os.MkdirTemp("", "i3net-demo-")
	if err != nil {
		return fmt.Errorf("a temporary directory for the demo's state: %w", err)
	}
	defer os.RemoveAll(dir)
	u := &userDemo{
		n:     n,
		ids:   &labDemo{n: n, self: self, dir: dir, ids: map[string]id.ID{}, keys: map[string]string{}},
		procs: map[string]*userProc{},
		front: map[string]netip.AddrPort{},
		fetch: newFetcher(),
	}
	defer func() {
		showOutput := err != nil && !errors.Is(ctx.Err(), context.Canceled) // failed, not interrupted
		err = errors.Join(err, u.cleanup(showOutput))
	}()
	return runPhases(ctx, u.startServer, u.identities, u.serveWeb, u.startProxies,
		u.reachHome, u.unknownName, u.proxyStatus)
}

// cleanup stops the proxies, the web server and the overlay server, then,
// if showOutput (the demo failed), shows what the proxies wrote.
func (u *userDemo) cleanup(showOutput bool) error {
	u.n.say("cleaning up: stopping both proxies and the servers, removing the state directories")
	var errs []error
	for _, host := range []string{"laptop", "home"} {
		if p := u.procs[host]; p != nil {
			errs = append(errs, p.stop())
		}
	}
	if u.web != nil {
		u.web.Close()
	}
	if u.srv != nil {
		u.srv.Close()
	}
	if showOutput {
		for _, host := range []string{"laptop", "home"} {
			if p := u.procs[host]; p != nil {
				fmt.Fprintf(u.n.w, "output of %s\n", p.report(procTail))
			}
		}
	}
	return errors.Join(errs...)
}

// startServer starts an overlay server on 127.0.0.1, in this process.
func (u *userDemo) startServer(ctx context.Context) error {
	u.n.chapter("Without root, the userspace mode: an overlay server on 127.0.0.1 for two proxies")
	cfg := server.DefaultConfig()
	cfg.ListenAddr = "127.0.0.1:0"
	cfg.Logger = slog.New(slog.DiscardHandler)
	srv, err := server.New(cfg)
	if err != nil {
		return fmt.Errorf("the overlay server on 127.0.0.1: %w", err)
	}
	u.srv = srv
	go srv.Run(ctx)
	u.n.say("server listening on %v, in this process (i3net server --listen %v runs the same)", srv.Addr(), srv.Addr())
	return nil
}

// identities gives laptop and home an identity each, in their own state
// directories, and an address book naming the other.
func (u *userDemo) identities(ctx context.Context) error {
	u.n.chapter("laptop and home: identities and address books in their own state directories")
	for _, h := range []string{"home", "laptop"} {
		if err := u.ids.newIdentity(ctx, h); err != nil {
			return err
		}
	}
	for _, c := range [][2]string{{"laptop", "home"}, {"home", "laptop"}} {
		if err := u.ids.bookAdd(ctx, c[0], c[1]); err != nil {
			return err
		}
	}
	u.n.say("laptop's book: home → home's key; home's book: laptop → laptop's key (state in %s and %s)",
		u.ids.stateDir("laptop"), u.ids.stateDir("home"))
	return nil
}

// serveWeb serves HTTP on a free port of 127.0.0.1: home's loopback.
func (u *userDemo) serveWeb(ctx context.Context) error {
	u.n.chapter("A web server on home's loopback")
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("home's web server on 127.0.0.1: %w", err)
	}
	u.port = uint16(ln.Addr().(*net.TCPAddr).Port)
	u.web = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from home's loopback, you are %s (home's proxy, which carried the request from laptop)\n", r.RemoteAddr)
	}), ReadHeaderTimeout: 5 * time.Second}
	go u.web.Serve(ln)
	u.n.say("serving http on 127.0.0.1:%d; home's proxy will expose that port to its peers (--expose %d)", u.port, u.port)
	return nil
}

// startProxies starts "i3net proxy --userspace" for home (exposing the web
// server's port) and laptop, each with its own front door on a free port,
// and waits for each to answer "i3net status".
func (u *userDemo) startProxies(ctx context.Context) error {
	u.n.chapter("Proxies without root: i3net proxy --userspace on home and laptop")
	for _, h := range []string{"home", "laptop"} {
		if err := u.startProxy(ctx, h); err != nil {
			return err
		}
	}
	u.n.say("no tun device, no route, no resolver change: each proxy's TCP/IP stack is gVisor's netstack, in its process")
	return nil
}

// startProxy starts host's proxy and waits until it answers.
func (u *userDemo) startProxy(ctx context.Context, host string) error {
	port, err := freePort()
	if err != nil {
		return fmt.Errorf("a free port for %s's front door: %w", host, err)
	}
	u.front[host] = netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), port)
	args := []string{"proxy", "--userspace", "--server", u.srv.Addr().String(), "--front", u.front[host].String()}
	if host == "home" {
		args = append(args, "--expose", strconv.Itoa(int(u.port)))
	}
	shown := strings.Join(args, " ") + " --state-dir " + host
	args = append(args, "--state-dir", u.ids.stateDir(host), "--log-level", "warn")
	start := time.Now()
	p, err := startUserProc(u.ids.dir, host, u.ids.self, args...)
	if err != nil {
		return err
	}
	u.procs[host] = p
	u.n.say("$ i3net %s   (%s)", shown, host)
	if err := u.waitProxy(ctx, host); err != nil {
		return err
	}
	for _, l := range strings.Split(string(p.output()), "\n") {
		if strings.HasPrefix(l, "i3net proxy up") {
			u.n.say("  %s", l)
		}
	}
	u.n.say("  %s's proxy answers after %v", host, time.Since(start).Round(time.Millisecond))
	return nil
}

// waitProxy waits, bounded, until host's proxy answers "i3net status", and
// fails at once if the proxy exits.
func (u *userDemo) waitProxy(ctx context.Context, host string) error {
	ctx, cancel := context.WithTimeout(ctx, proxyUpTimeout)
	defer cancel()
	var stop error
	err := netlab.Poll(ctx, 50*time.Millisecond, func() error {
		if stop = u.procs[host].exited(); stop != nil {
			return nil
		}
		_, err := u.status(ctx, host)
		return err
	})
	if stop != nil {
		return stop
	}
	if err != nil {
		return fmt.Errorf("%s's proxy did not answer i3net status within %v: %w", host, proxyUpTimeout, err)
	}
	return nil
}

// status runs "i3net status" for host.
func (u *userDemo) status(ctx context.Context, host string) ([]byte, error) {
	out, err := exec.CommandContext(ctx, u.ids.self, "status", "--state-dir", u.ids.stateDir(host)).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("i3net status of %s: %v: %s", host, err, strings.TrimSpace(string(out)))
	}
	return out, nil
}

// freePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func freePort() (uint16, error) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return uint16(ln.Addr().(*net.TCPAddr).Port), nil
}
