package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/i3net/i3net/client"
	"github.com/i3net/i3net/id"
)

var pingCmd = &Command{
	Name:       "ping",
	ShortUsage: "i3net ping [--server ADDR ...] [-c N] [-i INTERVAL] [--timeout D] [--size N] [--server-only]",
	ShortHelp:  "Measure the round trip through an overlay server and a trigger",
	LongHelp: `
Ping inserts a trigger on a fresh random private id that points at itself, then
sends packets to that id: each goes to the server, matches the trigger and comes
back, so one reply proves that the server takes insertions (challenge and ACK),
matches ids and forwards. It prints a line per reply and a summary, and removes
the trigger when done. With --server-only it sends ping datagrams, which the
server echoes without any trigger: that measures the network and the server's
socket alone. Given several servers, it measures the round trip to each and
pings through the nearest (the client's first hop).

The exit status is 0 when at least one reply came back, 1 otherwise.

Examples:

  # Four packets through the local server and back
  i3net ping

  # Ten packets of 1000 bytes, one every 200 ms, through a remote server
  i3net ping --server 198.18.0.1:5610 -c 10 -i 200ms --size 1000

  # Is the server's socket answering at all?
  i3net ping --server 198.18.0.1:5610 --server-only -c 1

  # Through the nearest of three servers
  i3net ping --server 198.18.0.1:5610 --server 198.18.0.2:5610 --server 198.18.0.3:5610
`,
	Order: 20,
	Flags: func() (*flag.FlagSet, func(ctx context.Context, args []string) error) {
		var a pingArgs
		fs := flag.NewFlagSet("ping", flag.ContinueOnError)
		fs.Var(&a.servers, "server", "overlay server `ADDR` (host:port; repeat for several; default 127.0.0.1:5610)")
		intVar(fs, &a.count, "c", 4, "stop after `N` pings (0: until interrupted)")
		durationVar(fs, &a.interval, "i", time.Second, fmt.Sprintf("wait `INTERVAL` between pings (at least %v)", minInterval))
		durationVar(fs, &a.timeout, "timeout", 2*time.Second, "wait at most `D` for the insertion and for each reply")
		intVar(fs, &a.size, "size", 32, fmt.Sprintf("send `N` bytes of payload: %d to %d (%d to %d with --server-only)",
			minPingSize, maxPingSize, minEchoSize, maxEchoSize))
		fs.BoolVar(&a.serverOnly, "server-only", false, "ping the server's socket (echo), without a trigger (an original 2004 server never answers)")
		fs.BoolVar(&a.noExt, "no-extensions", false, "speak only the original 2004 i3 protocol to the servers (by default i3net's extensions go only to servers that answer them)")
		return fs, noArgs(func(ctx context.Context) error { return runPing(ctx, a) })
	},
}

func init() { register(pingCmd) }

type pingArgs struct {
	servers    stringList
	count      int
	interval   time.Duration
	timeout    time.Duration
	size       int
	serverOnly bool
	noExt      bool
}

// Payload sizes of ping, in bytes. The largest UDP payload IPv4 carries is
// 65535 less the IP (20) and UDP (8) headers; a ping through a trigger also
// carries the data header the client writes: 3 bytes, the 32-byte id, the
// 2-byte option list and an 8-byte SENDER option. Over IPv6 a little more
// would fit; the IPv4 bound holds for both.
const (
	maxUDPPayload4 = 65535 - 20 - 8
	minPingSize    = 16 // client.PingID's own header: magic and token
	maxPingSize    = maxUDPPayload4 - (3 + 32 + 2 + 8)
	minEchoSize    = 9 // a server ping: kind byte and token
	maxEchoSize    = maxUDPPayload4
	minInterval    = 10 * time.Millisecond
)

// check refuses values ping cannot honour, naming the bounds.
func (a *pingArgs) check() error {
	lo, hi, what := minPingSize, maxPingSize, ""
	if a.serverOnly {
		lo, hi, what = minEchoSize, maxEchoSize, " with --server-only"
	}
	switch {
	case a.count < 0:
		return usageErrorf("-c %d: want 0 (until interrupted) or more", a.count)
	case a.interval < minInterval:
		return usageErrorf("-i %v: want at least %v", a.interval, minInterval)
	case a.timeout <= 0:
		return usageErrorf("--timeout %v: want a positive duration, e.g. 2s", a.timeout)
	case a.size < lo || a.size > hi:
		return usageErrorf("--size %d: want %d to %d bytes%s", a.size, lo, hi, what)
	}
	return nil
}

func runPing(ctx context.Context, a pingArgs) error {
	if err := a.check(); err != nil {
		return err
	}
	c, err := pingClient(ctx, a)
	if err != nil {
		return err
	}
	defer c.Close()
	server := c.FirstHop()
	ping, stop, err := newPinger(ctx, c, server, a)
	if err != nil {
		return err
	}
	defer stop()
	st := pingLoop(ctx, a, ping)
	st.print(server)
	if st.received == 0 {
		return fmt.Errorf("no reply from %s", server)
	}
	return nil
}

// pingClient returns a client of the servers a names which has measured them
// when there are several, so that its first hop is the nearest.
func pingClient(ctx context.Context, a pingArgs) (*client.Client, error) {
	if len(a.servers) == 0 {
		a.servers = stringList{"127.0.0.1:5610"}
	}
	cfg := client.DefaultConfig()
	cfg.NoExtensions = a.noExt
	for _, s := range a.servers {
		server, err := resolveServer(s)
		if err != nil {
			return nil, err
		}
		cfg.Servers = append(cfg.Servers, server)
	}
	if len(cfg.Servers) == 1 {
		// One server: ping measures that one, not another the lists name.
		cfg.ListInterval, cfg.ProbeInterval = 0, 0
	}
	cfg.Logger = slog.New(slog.DiscardHandler) // ping reports what goes wrong itself
	c, err := client.New(cfg)
	if err != nil {
		return nil, err
	}
	if len(cfg.Servers) > 1 {
		mctx, cancel := context.WithTimeout(ctx, a.timeout)
		c.Measure(mctx)
		cancel()
	}
	return c, nil
}

// pinger sends one probe and describes its reply.
type pinger func(ctx context.Context, seq int) (client.Pong, string, error)

// newPinger prints the header line and returns the pinger a asks for; stop
// removes the trigger it inserted, if any.
func newPinger(ctx context.Context, c *client.Client, server netip.AddrPort, a pingArgs) (ping pinger, stop func(), err error) {
	if a.serverOnly {
		fmt.Fprintf(Stdout, "PING %s (server echo, %d bytes)\n", server, a.size)
		return func(ctx context.Context, seq int) (client.Pong, string, error) {
			p, err := c.PingServer(ctx, server, a.size)
			return p, fmt.Sprintf("%d bytes from %s seq=%d time=%s", p.Bytes, p.From, seq, ms(p.RTT)), err
		}, func() {}, nil
	}
	x := id.Random()
	ictx, cancel := context.WithTimeout(ctx, a.timeout)
	h, err := c.Insert(ictx, client.Trigger{ID: x})
	cancel()
	if errors.Is(err, client.ErrNoAnswer) && ctx.Err() == nil {
		return nil, nil, fmt.Errorf("no answer from %s within %v: is `i3net server` running there?", server, a.timeout)
	}
	if err != nil {
		return nil, nil, err
	}
	stop = func() {
		rctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = h.Remove(rctx)
	}
	fmt.Fprintf(Stdout, "PING %s through trigger %s (%d bytes)\n", server, x.Short(), a.size)
	return func(ctx context.Context, seq int) (client.Pong, string, error) {
		p, err := c.PingID(ctx, x, a.size)
		return p, fmt.Sprintf("%d bytes via %s id=%s seq=%d time=%s", p.Bytes, p.From, x.Short(), seq, ms(p.RTT)), err
	}, stop, nil
}

// pingLoop pings a.count times (or until ctx ends), a.interval apart, and
// prints a line per probe.
func pingLoop(ctx context.Context, a pingArgs, ping pinger) pingStats {
	var st pingStats
	for seq := 1; a.count == 0 || seq <= a.count; seq++ {
		start := time.Now()
		pctx, cancel := context.WithTimeout(ctx, a.timeout)
		p, line, err := ping(pctx, seq)
		cancel()
		st.sent++
		switch {
		case err == nil:
			st.add(p.RTT)
			fmt.Fprintln(Stdout, line)
		case ctx.Err() != nil: // interrupted: this one does not count
			st.sent--
		case errors.Is(err, client.ErrNoAnswer):
			fmt.Fprintf(Stdout, "no reply seq=%d within %v\n", seq, a.timeout)
		default:
			fmt.Fprintf(Stdout, "seq=%d: %v\n", seq, err)
		}
		if ctx.Err() != nil || (a.count != 0 && seq == a.count) {
			break
		}
		if !sleepCtx(ctx, a.interval-time.Since(start)) {
			break
		}
	}
	return st
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// resolveServer accepts host:port with an IP address or a name.
func resolveServer(s string) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap, nil
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" || port == "" {
		return netip.AddrPort{}, usageErrorf("--server %q: want HOST:PORT, e.g. 198.18.0.1:5610 or i3.example.org:5610", s)
	}
	ua, err := net.ResolveUDPAddr("udp", s)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("--server %q: cannot resolve %s (check the name and the resolver)", s, host)
	}
	return ua.AddrPort(), nil
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d)/float64(time.Millisecond)) }

type pingStats struct {
	sent, received int
	min, max, sum  time.Duration
}

func (s *pingStats) add(rtt time.Duration) {
	if s.received == 0 || rtt < s.min {
		s.min = rtt
	}
	s.max = max(s.max, rtt)
	s.sum += rtt
	s.received++
}

func (s *pingStats) print(server netip.AddrPort) {
	loss := 0.0
	if s.sent > 0 {
		loss = 100 * float64(s.sent-s.received) / float64(s.sent)
	}
	fmt.Fprintf(Stdout, "--- %s ping statistics ---\n%d sent, %d received, %.0f%% loss\n", server, s.sent, s.received, loss)
	if s.received > 0 {
		avg := s.sum / time.Duration(s.received)
		fmt.Fprintf(Stdout, "rtt min/avg/max = %.3f/%.3f/%.3f ms\n",
			float64(s.min)/1e6, float64(avg)/1e6, float64(s.max)/1e6)
	}
}
