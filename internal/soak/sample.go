package soak

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Sample is one reading of a daemon's process.
type Sample struct {
	At         time.Time `json:"at"`
	Name       string    `json:"name"`
	PID        int       `json:"pid"`
	RSSKiB     int       `json:"rss_kib"`
	Threads    int       `json:"threads"`
	Goroutines int       `json:"goroutines"` // -1: the process does not export it (proxies)
	Triggers   int       `json:"triggers"`   // servers: triggers held; -1 for proxies
}

// sampleAll reads every live daemon once.
func sampleAll(ctx context.Context, w *world, dg *diag) []Sample {
	var out []Sample
	for _, d := range w.daemons() {
		p := d.current()
		select {
		case <-p.Done():
			continue // killed, not yet restarted
		default:
		}
		s := Sample{At: time.Now(), Name: d.name, PID: p.PID(), Goroutines: -1, Triggers: -1}
		var err error
		if s.RSSKiB, s.Threads, err = procStatus(s.PID); err != nil {
			continue
		}
		if d.server {
			mctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			m, err := d.host.Metrics(mctx, w.metricsAddr(d))
			cancel()
			if err == nil {
				s.Goroutines = int(m["go_goroutines"])
				s.Triggers = int(m["i3net_server_triggers"])
			} else if ctx.Err() == nil {
				dg.add("metrics", err.Error())
			}
		}
		out = append(out, s)
	}
	return out
}

// procStatus reads VmRSS (KiB) and Threads from /proc/PID/status.
func procStatus(pid int) (rssKiB, threads int, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(v)
		if len(fields) == 0 {
			continue
		}
		switch k {
		case "VmRSS":
			rssKiB, _ = strconv.Atoi(fields[0])
		case "Threads":
			threads, _ = strconv.Atoi(fields[0])
		}
	}
	return rssKiB, threads, sc.Err()
}
