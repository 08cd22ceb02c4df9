package bench

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/i3net/i3net/internal/netlab"
	"github.com/i3net/i3net/internal/netlab/netlabtest"
	"github.com/i3net/i3net/ring"
)

// The lab of BenchmarkScaleServers: many "i3net server" processes in two
// hosts on the lab's internet bridge, "ringa" and "ringb", each server on
// an address of its own (added to its host's uplink: 198.19.1.x in ringa,
// 198.19.2.x in ringb), joined into one ring with the servers' default
// failure detector; and a "client" host that inserts triggers, sends packets
// and reads every server's metrics. A partition is an nft rule set in each
// of the two hosts dropping what comes from or goes to the other.
//
// Why two hosts and not one namespace per server: the kernel's ARP table is
// one for all namespaces, 1024 entries by default (gc_thresh3); fifty
// namespaces talking to each other need 2,500 and overflow it ("neighbor
// table overflow"), so that ARP fails, packets are dropped and the ring
// flaps, here and in every other lab on the machine. Two hosts need about
// a hundred. And why not one namespace: memberlist's TCP dials are not
// bound, so their source would not tell which half sent them.

const (
	scaleDataPort    = 5610
	scaleGossipPort  = scaleDataPort + 1
	scaleMetricsPort = 9610
	// scaleScrapers is how many servers' metrics are read at once.
	scaleScrapers = 8
	// scalePoll is the pause between two rounds of scrapes.
	scalePoll = 100 * time.Millisecond
)

// scaleConfig is the servers' configuration file: triggers that outlive the
// benchmark without refreshes (so that a trigger lost by the ring stays
// lost, instead of being inserted again by its host's next refresh), and no
// insertion rate limit for the one client that inserts them all.
const scaleConfig = `trigger_ttl = "20m"
insert_rate = 0
`

// scaleLab is the ring of servers and the client host.
type scaleLab struct {
	b       testing.TB
	lab     *netlabtest.Lab
	bin     string
	conf    string
	preset  string // the servers' --ring-preset; empty: their default
	client  *netlab.Host
	sides   [2]*netlab.Host
	servers []*scaleServer
}

// scaleServer is one server process.
type scaleServer struct {
	name   string
	side   int // 0: ringa, 1: ringb
	data   netip.AddrPort
	proc   *netlab.Proc
	killed bool
}

func newScaleLab(b testing.TB, lab *netlabtest.Lab, bin string) *scaleLab {
	conf := filepath.Join(b.TempDir(), "server.toml")
	if err := os.WriteFile(conf, []byte(scaleConfig), 0o644); err != nil {
		b.Fatal(err)
	}
	return &scaleLab{b: b, lab: lab, bin: bin, conf: conf, client: lab.Host("client"),
		sides: [2]*netlab.Host{lab.Host("ringa"), lab.Host("ringb")}}
}

// sidePrefix is where the servers of side i have their addresses.
func sidePrefix(i int) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 19, byte(1 + i), 0}), 24)
}

// addServer starts one more server, joining the first (unless it is the
// first), and returns once its data socket is bound.
func (l *scaleLab) addServer(ctx context.Context) *scaleServer {
	n := len(l.servers) + 1
	if n > 250 {
		l.b.Fatalf("at most 250 servers")
	}
	side := n % 2
	h := l.sides[side]
	a := sidePrefix(side).Addr().As4()
	a[3] = byte(n)
	ip := netip.AddrFrom4(a)
	if out, err := h.Run(ctx, "ip", "addr", "add", netip.PrefixFrom(ip, 32).String(), "dev", netlab.Uplink); err != nil {
		l.b.Fatalf("%s: address %v: %v\n%s", h, ip, err, out)
	}
	name := fmt.Sprintf("s%d", n)
	s := &scaleServer{name: name, side: side, data: netip.AddrPortFrom(ip, scaleDataPort)}
	args := []string{"server", "--config", l.conf, "--listen", s.data.String(), "--ring",
		"--metrics", netip.AddrPortFrom(ip, scaleMetricsPort).String()}
	if l.preset != "" {
		args = append(args, "--ring-preset", l.preset)
	}
	if len(l.servers) > 0 {
		args = append(args, "--join", netip.AddrPortFrom(l.servers[0].data.Addr(), scaleGossipPort).String())
	}
	p, err := h.Start(l.bin, args...)
	if err != nil {
		l.b.Fatal(err)
	}
	s.proc = p
	l.servers = append(l.servers, s)
	up, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	err = netlab.Poll(up, 20*time.Millisecond, func() error {
		select {
		case <-p.Done():
			return fmt.Errorf("exited")
		default:
		}
		_, err := l.client.Metrics(up, netip.AddrPortFrom(ip, scaleMetricsPort))
		return err
	})
	if err != nil {
		l.b.Fatalf("%s did not start: %v\n%s", name, err, p.Report(2048))
	}
	return s
}

// live returns the servers not killed.
func (l *scaleLab) live() []*scaleServer {
	return slices.DeleteFunc(slices.Clone(l.servers), func(s *scaleServer) bool { return s.killed })
}

// snapshot is the ring of the live servers, as the servers compute it
// (default positions), seen from outside.
func (l *scaleLab) snapshot() *ring.Snapshot {
	var ms []ring.Member
	for _, s := range l.live() {
		ms = append(ms, ring.Member{Name: s.name, Data: s.data, Position: ring.DefaultPosition(s.data)})
	}
	return ring.NewSnapshot(ring.Member{}, ms, 1)
}

// kill sends SIGKILL to each server (by PID) at once, and waits for them to
// be gone.
func (l *scaleLab) kill(victims []*scaleServer) {
	for _, s := range victims {
		s.killed = true
		if err := s.proc.Signal(syscall.SIGKILL); err != nil {
			l.b.Fatal(err)
		}
	}
	for _, s := range victims {
		select {
		case <-s.proc.Done():
		case <-time.After(netlab.StopGrace):
			l.b.Fatalf("%s still running after SIGKILL", s.name)
		}
	}
}

// scrape reads every live server's metrics, scaleScrapers at a time.
func (l *scaleLab) scrape(ctx context.Context) (map[string]map[string]float64, error) {
	live := l.live()
	out := make(map[string]map[string]float64, len(live))
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		errs []string
	)
	sem := make(chan struct{}, scaleScrapers)
	for _, s := range live {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			m, err := l.client.Metrics(ctx, netip.AddrPortFrom(s.data.Addr(), scaleMetricsPort))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, s.name+": "+err.Error())
				return
			}
			out[s.name] = m
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return out, fmt.Errorf("metrics: %s", strings.Join(errs, "; "))
	}
	return out, nil
}

// sum adds up metric i3net_server_<name> over the servers.
func sum(ms map[string]map[string]float64, name string) float64 {
	var n float64
	for _, m := range ms {
		n += m["i3net_server_"+name]
	}
	return n
}

// waitMembers waits, bounded by d, until every server of group (the live
// ones when nil) counts want members, and returns the time it took.
func (l *scaleLab) waitMembers(ctx context.Context, group []*scaleServer, want int, d time.Duration) (time.Duration, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	names := map[string]bool{}
	for _, s := range group {
		names[s.name] = true
	}
	var last error // the last answer about the members, for the failure
	err := netlab.Poll(ctx, scalePoll, func() error {
		ms, err := l.scrape(ctx)
		if err != nil {
			return err
		}
		var wrong []string
		for name, m := range ms {
			if got := m["i3net_server_ring_members"]; (len(names) == 0 || names[name]) && got != float64(want) {
				wrong = append(wrong, name+"="+strconv.Itoa(int(got)))
			}
		}
		if len(wrong) > 0 {
			slices.Sort(wrong)
			last = fmt.Errorf("%d servers do not count %d members: %s", len(wrong), want, strings.Join(wrong, " "))
			return last
		}
		return nil
	})
	if err != nil && last != nil {
		err = fmt.Errorf("%w; last: %w", err, last)
	}
	return time.Since(start), err
}

// partition loads, in each of the two hosts, rules dropping every packet to
// or from the other (its uplink address and its servers'); heal removes
// them.
func (l *scaleLab) partition() {
	for i, h := range l.sides {
		other := l.sides[1-i]
		rules := fmt.Sprintf(`table inet i3scale {
	set others { type ipv4_addr; flags interval; elements = { %v, %v } }
	chain in { type filter hook input priority 0; ip saddr @others drop; }
	chain out { type filter hook output priority 0; ip daddr @others drop; }
}
`, other.Addr4(), sidePrefix(1-i))
		if err := h.Nft(rules); err != nil {
			l.b.Fatal(err)
		}
	}
}

func (l *scaleLab) heal() {
	for _, h := range l.sides {
		if err := h.Nft("delete table inet i3scale\n"); err != nil {
			l.b.Fatal(err)
		}
	}
}

// side returns the live servers of side i.
func (l *scaleLab) side(i int) []*scaleServer {
	return slices.DeleteFunc(l.live(), func(s *scaleServer) bool { return s.side != i })
}
