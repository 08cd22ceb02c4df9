package soak

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/i3net/i3net/internal/netlab"
)

// Options says how long and how hard to soak.
type Options struct {
	Self        string        // the i3net executable
	Dir         string        // state, ring key and process logs (kept)
	Duration    time.Duration // of the run, after the world is up
	DropPercent int           // overlay datagrams dropped at every host
	Seed        uint64        // of the kills' randomness
	KillMin     time.Duration // between two kills, at least
	KillMax     time.Duration // and at most
	DownMin     time.Duration // a killed daemon stays down at least
	DownMax     time.Duration // and at most
	SampleEvery time.Duration // memory and goroutines
	TCPRate     int           // bytes a second of the TCP stream
}

// DefaultOptions is a 10-minute run with 2 % loss and a kill every 20–60 s.
func DefaultOptions() Options {
	return Options{Duration: 10 * time.Minute, DropPercent: 2, Seed: 1,
		KillMin: 20 * time.Second, KillMax: 60 * time.Second, DownMin: time.Second, DownMax: 5 * time.Second,
		SampleEvery: 10 * time.Second, TCPRate: 64 << 10}
}

// Run builds the world, soaks it for opt.Duration and returns the report;
// the world is removed before it returns. An error means the world could
// not be built; what broke during the run is in the report.
func Run(ctx context.Context, opt Options) (*Report, error) {
	if err := netlab.Check(); err != nil {
		return nil, err
	}
	if opt.Self == "" || opt.Dir == "" || opt.Duration <= 0 || opt.KillMax < opt.KillMin {
		return nil, errors.New("soak: Self, Dir, a positive Duration and KillMin ≤ KillMax are needed")
	}
	w, err := newWorld(ctx, opt.Self, opt.Dir, opt.DropPercent)
	if err != nil {
		return nil, fmt.Errorf("soak: building the world: %w", err)
	}
	defer w.lab.Close()
	if err := w.waitName(ctx); err != nil {
		return nil, err
	}
	r := &Report{DropPct: opt.DropPercent, Load: loadavg()}
	soak(ctx, w, opt, r)
	r.Load += " → " + loadavg()
	r.Drops = w.nftCounts(ctx)
	r.LogLines = w.logLines()
	return r, nil
}

// soak runs the traffic, the sampler and the kills for opt.Duration and
// fills in r's figures.
func soak(ctx context.Context, w *world, opt Options, r *Report) {
	rec, dg := &recorder{}, &diag{}
	var tcp tcpStats
	r.Start = time.Now()
	run, cancel := context.WithTimeout(ctx, opt.Duration)
	defer cancel()
	if err := tcpReceiver(run, w.home, rec); err != nil {
		r.FailedTo = "TCP receiver on home: " + err.Error()
	}
	var wg sync.WaitGroup
	wg.Go(func() { pingLoop(run, w.laptop, "home.i3", rec) })
	wg.Go(func() { kernelWatch(run, rec) })
	wg.Go(func() { digLoop(run, w.laptop, "home.i3", w.homeV4, rec, dg) })
	wg.Go(func() { tcpSender(run, w.laptop, w.homeV4, opt.TCPRate, &tcp, dg) })
	kills := make(chan Kill, 64)
	wg.Go(func() {
		chaos(run, w, chaosOptions{opt.KillMin, opt.KillMax, opt.DownMin, opt.DownMax}, rand.New(rand.NewPCG(opt.Seed, 17)), kills)
	})
	wg.Go(func() {
		t := time.NewTicker(opt.SampleEvery)
		defer t.Stop()
		for i := 0; ; i++ {
			r.Samples = append(r.Samples, sampleAll(run, w, dg)...)
			if i%3 == 0 {
				snapshotStatus(run, w, r.Start)
			}
			select {
			case <-run.Done():
				return
			case <-t.C:
			}
		}
	})
	for k := range kills {
		r.Kills = append(r.Kills, k)
	}
	wg.Wait()
	end := time.Now()
	r.Duration = end.Sub(r.Start)
	es := rec.all()
	r.Minutes = minutes(r.Start, r.Duration, es, r.Kills)
	for _, k := range []string{kindPing, kindDNS, kindTCP} {
		r.Gaps = append(r.Gaps, longestGap(r.Start, end, es, k))
	}
	r.TCP = TCPTotals{tcp.connects.Load(), tcp.failedDials.Load(), tcp.broken.Load()}
	r.Problems = dg.all()
}

// waitName waits (bounded) until laptop resolves home.i3 to home's address.
func (w *world) waitName(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return netlab.Poll(ctx, 200*time.Millisecond, func() error {
		out, err := w.laptop.Run(ctx, "dig", "+time=1", "+tries=1", "+short", "home.i3", "A")
		if err != nil {
			return err
		}
		if strings.TrimSpace(string(out)) != w.homeV4.String() {
			return fmt.Errorf("home.i3 is %q, want %v", out, w.homeV4)
		}
		return nil
	})
}

var counterRE = regexp.MustCompile(`counter (overlay|dropped) \{\s*packets (\d+)`)

// nftCounts reads each host's overlay and drop counters.
func (w *world) nftCounts(ctx context.Context) []NftCount {
	var out []NftCount
	for _, d := range w.daemons() {
		b, err := d.host.Run(ctx, "nft", "list", "counters", "table", "inet", "soak")
		if err != nil {
			continue
		}
		c := NftCount{Host: d.name}
		for _, m := range counterRE.FindAllStringSubmatch(string(b), -1) {
			n, _ := strconv.ParseInt(m[2], 10, 64)
			if m[1] == "overlay" {
				c.Overlay = n
			} else {
				c.Dropped = n
			}
		}
		out = append(out, c)
	}
	return out
}

// logLines gathers the warnings and errors of every i3net process the run
// started (restarts included).
func (w *world) logLines() []LogLine {
	counts := map[LogLine]int{}
	for _, p := range w.lab.Procs() {
		name, line, _ := strings.Cut(p.String(), ": ")
		if strings.HasPrefix(line, w.self) {
			logLines(name, p.Output(), counts)
		}
	}
	var out []LogLine
	for l, n := range counts {
		l.Count = n
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Name+out[i].Msg < out[j].Name+out[j].Msg
	})
	return out
}

// loadavg is the machine's load average (1, 5, 15 minutes).
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
