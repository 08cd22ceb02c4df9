package bench

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/internal/netlab"
	"github.com/i3net/i3net/internal/netlab/netlabtest"
)

// BenchmarkScaleServers runs a ring of real "i3net server" processes (50 by
// default, each on its own address, the servers' default settings: the
// "default" failure detector, one replica) and measures how long every
// server takes to see the same membership after one server joins, after a
// fifth of them are killed at once (SIGKILL, by PID; every fifth in ring
// order, so that no trigger loses its owner and its one replica together),
// and after a partition of the survivors into two halves (nft drop rules
// between the two hosts the servers run in, scalelab_test.go) heals. Before and after each event it counts the
// triggers the servers hold and sends one packet to each of the client's
// triggers through a server that does not own it: every packet must arrive
// (no trigger lost, one-hop forwarding) and every sender get a CACHE_ADDR
// hint naming the owner. Triggers are inserted once and never refreshed.
//
//	go test -run '^$' -bench ScaleServers -benchtime 1x -timeout 30m ./bench/
//
// I3NET_SCALE_SERVERS (default 50), I3NET_SCALE_TRIGGERS (2000) and
// I3NET_SCALE_PARTITION (how long the partition lasts, default 45s: longer
// than the 30 s after which memberlist stops gossiping to dead members)
// change the sizes. Needs root; skips otherwise. Figures: docs/scale.md.
func BenchmarkScaleServers(b *testing.B) {
	n := scaleEnvInt(b, "I3NET_SCALE_SERVERS", 50)
	nTriggers := scaleEnvInt(b, "I3NET_SCALE_TRIGGERS", 2000)
	hold := 45 * time.Second
	if v := os.Getenv("I3NET_SCALE_PARTITION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			b.Fatalf("I3NET_SCALE_PARTITION=%q: %v", v, err)
		}
		hold = d
	}
	lab, bin, _ := setUp(b)
	rep := &scaleReport{tb: b, metric: b.ReportMetric}
	runScale(b, lab, bin, rep, scaleRun{servers: n, triggers: nTriggers, hold: hold})
	rep.print(n, nTriggers, hold)
}

// TestScaleRing is BenchmarkScaleServers made small enough for the regular
// test run: 12 servers with the "lan" failure detector, 300 triggers, a
// partition of 10 s (longer than the 3 s after which memberlist stops
// gossiping to a member it declared dead, with that preset, so that only
// the ring's reconnect can heal it). It checks that the ring converges after
// each event, that no trigger is lost, and that one hop and the hints hold.
// Needs root.
func TestScaleRing(t *testing.T) {
	if testing.Short() {
		t.Skip("a minute of real servers; not with -short")
	}
	lab := netlabtest.New(t)
	runScale(t, lab, buildI3net(t), &scaleReport{tb: t}, scaleRun{servers: 12, triggers: 300, hold: 10 * time.Second, preset: "lan"})
}

// scaleRun is what runScale does: how many servers with which failure
// detector preset (the servers' default when empty), how many triggers, and
// how long the partition lasts (at least until each half sees only itself).
type scaleRun struct {
	servers, triggers int
	hold              time.Duration
	preset            string
}

// runScale is the experiment of BenchmarkScaleServers.
func runScale(tb testing.TB, lab *netlabtest.Lab, bin string, rep *scaleReport, run scaleRun) {
	b, n, nTriggers, hold := tb, run.servers, run.triggers, run.hold
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	l := newScaleLab(b, lab, bin)
	l.preset = run.preset

	start := time.Now()
	for range n - 1 {
		l.addServer(ctx)
	}
	d, err := l.waitMembers(ctx, nil, n-1, 3*time.Minute)
	rep.must(err, "start")
	rep.add("start-%d-s", n-1, time.Since(start))
	l.addServer(ctx)
	d, err = l.waitMembers(ctx, nil, n, 2*time.Minute)
	rep.must(err, "join")
	rep.add("join-converge-s", 0, d)

	c := newScaleClient(b, l.client)
	ids := make([]id.ID, nTriggers)
	for i := range ids {
		ids[i] = id.Random().WithPublic(false)
	}
	if got := c.insertAll(l.addrs(), ids); got != nTriggers {
		b.Fatalf("%d of %d triggers acknowledged", got, nTriggers)
	}
	l.check(ctx, rep, c, ids, 1, "after join")

	victims := l.everyFifth()
	l.kill(victims)
	d, err = l.waitMembers(ctx, nil, n-len(victims), 2*time.Minute)
	rep.must(err, "kill")
	rep.add("kill-%d-converge-s", len(victims), d)
	l.check(ctx, rep, c, ids, 2, "after the kill")

	live := l.live()
	a, bside := l.side(0), l.side(1)
	l.partition()
	cut := time.Now()
	d1, err1 := l.waitMembers(ctx, a, len(a), 2*time.Minute)
	d2, err2 := l.waitMembers(ctx, bside, len(bside), 2*time.Minute)
	rep.must(err1, "partition, first half")
	rep.must(err2, "partition, second half")
	rep.add("split-seen-s", 0, max(d1, d2))
	time.Sleep(time.Until(cut.Add(hold))) // the partition's length is the experiment's parameter
	l.heal()
	d, err = l.waitMembers(ctx, nil, len(live), 3*time.Minute)
	rep.must(err, fmt.Sprintf("heal after a partition of %v", hold))
	rep.add("heal-converge-s", 0, d)
	l.check(ctx, rep, c, ids, 3, "after the heal")
}

// addrs returns the live servers' data addresses.
func (l *scaleLab) addrs() []netip.AddrPort {
	var a []netip.AddrPort
	for _, s := range l.live() {
		a = append(a, s.data)
	}
	return a
}

// everyFifth returns every fifth live server in ring order: no two are
// neighbours, so each trigger keeps its owner or its replica.
func (l *scaleLab) everyFifth() []*scaleServer {
	byName := map[string]*scaleServer{}
	for _, s := range l.live() {
		byName[s.name] = s
	}
	var v []*scaleServer
	for i, m := range l.snapshot().Members() {
		if i%5 == 0 {
			v = append(v, byName[m.Name])
		}
	}
	return v
}

// check waits, bounded, until the servers hold two copies of each trigger
// (owner and replica), then sends one round of packets and records what
// arrived and what the servers counted.
func (l *scaleLab) check(ctx context.Context, rep *scaleReport, c *scaleClient, ids []id.ID, round uint32, when string) {
	start := time.Now()
	var held float64
	err := pollFor(ctx, time.Minute, func() error {
		ms, err := l.scrape(ctx)
		if err != nil {
			return err
		}
		if held = sum(ms, "triggers"); held < float64(2*len(ids)) {
			return fmt.Errorf("the servers hold %v triggers, want %d", held, 2*len(ids))
		}
		return nil
	})
	if err != nil {
		rep.notes = append(rep.notes, fmt.Sprintf("%s: %v", when, err))
	}
	rep.add("copies-%d-s", int(round), time.Since(start))
	snap := l.snapshot()
	owners := make([]netip.AddrPort, len(ids))
	for i, x := range ids {
		owners[i] = snap.Responsible(x.Key()).Data
	}
	before, _ := l.scrape(ctx)
	r := c.sendRound(round, l.addrs(), ids, owners)
	after, _ := l.scrape(ctx)
	rep.rows = append(rep.rows, fmt.Sprintf("%-15s %7d %9.0f %9d %6d %6d %6.0f %6.0f %6d", when, len(snap.Members()), held, r.delivered,
		r.hinted, r.wrongHint, sum(after, "ring_hops_total")-sum(before, "ring_hops_total"), sum(after, "ring_hints_total")-sum(before, "ring_hints_total"), r.resent))
	b := l.b
	b.Log(rep.rows[len(rep.rows)-1])
	if r.delivered != len(ids) {
		rep.notes = append(rep.notes, fmt.Sprintf("%s: %d of %d triggers lost", when, len(ids)-r.delivered, len(ids)))
	}
	if rep.metric != nil {
		rep.metric(float64(len(ids)-r.delivered), "lost-"+strconv.Itoa(int(round)))
	}
	if r.delivered != len(ids) || r.wrongHint > 0 || r.hinted != len(ids) {
		b.Errorf("%s: %d of %d packets delivered, %d hints naming the owner, %d naming another server", when, r.delivered, len(ids), r.hinted, r.wrongHint)
	}
}

// scaleReport gathers the figures of one run.
type scaleReport struct {
	tb     testing.TB
	metric func(float64, string) // b.ReportMetric; nil in a test
	times  []string
	rows   []string
	notes  []string
}

func (r *scaleReport) add(unit string, n int, d time.Duration) {
	if strings.Contains(unit, "%d") {
		unit = fmt.Sprintf(unit, n)
	}
	if r.metric != nil {
		r.metric(d.Seconds(), unit)
	}
	r.times = append(r.times, fmt.Sprintf("%-22s %8.2f s", unit, d.Seconds()))
	r.tb.Log(r.times[len(r.times)-1])
}

func (r *scaleReport) must(err error, what string) {
	if err != nil {
		r.tb.Fatalf("%s: %v", what, err)
	}
}

func (r *scaleReport) print(n, triggers int, hold time.Duration) {
	fmt.Fprintf(os.Stderr, "\n%d servers, %d triggers (inserted once, one replica), partition held %v\n", n, triggers, hold)
	for _, t := range r.times {
		fmt.Fprintln(os.Stderr, t)
	}
	fmt.Fprintf(os.Stderr, "%-15s %7s %9s %9s %6s %6s %6s %6s %6s\n", "when", "servers", "held", "delivered", "hinted", "wrong", "hops", "hints", "resent")
	for _, row := range r.rows {
		fmt.Fprintln(os.Stderr, row)
	}
	for _, note := range r.notes {
		fmt.Fprintln(os.Stderr, "note:", note)
	}
}

func scaleEnvInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 4 {
		b.Fatalf("%s=%q: want a number of at least 4", name, v)
	}
	return n
}

// pollFor polls cond until it returns nil, bounded by d.
func pollFor(ctx context.Context, d time.Duration, cond func() error) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return netlab.Poll(ctx, scalePoll, cond)
}
