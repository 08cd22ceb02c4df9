package soak

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The kernel's neighbour (ARP) table is shared by every network namespace
// of the machine (gc_thresh3, 1,024 entries by default, counts them all):
// another program with many namespaces on one bridge can fill it, and then
// new neighbours fail everywhere, this run's hosts included. kernelWatch
// counts the kernel's "neighbor table overflow" lines during the run, per
// minute, so a gap they cause is not blamed on i3net.

var dmesgLineRE = regexp.MustCompile(`^\[\s*(\d+\.\d+)\]`)

// uptime returns the seconds since boot, the clock of dmesg's stamps.
func uptime() float64 {
	b, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	s, _ := strconv.ParseFloat(f[0], 64)
	return s
}

// kernelWatch reads the kernel log every 20 s until ctx ends and adds one
// event of kind "kernel" per neighbour-table overflow line since the last
// read (the ring buffer may wrap between reads: the counts are a floor).
func kernelWatch(ctx context.Context, rec *recorder) {
	boot := time.Now().Add(-time.Duration(uptime() * float64(time.Second)))
	since := uptime()
	for {
		sleepCtx(ctx, 20*time.Second)
		out, err := exec.Command("dmesg").Output()
		if err != nil {
			return
		}
		last := since
		for _, line := range strings.Split(string(out), "\n") {
			m := dmesgLineRE.FindStringSubmatch(line)
			if m == nil || !strings.Contains(line, "neighbor table overflow") {
				continue
			}
			t, _ := strconv.ParseFloat(m[1], 64)
			if t <= since {
				continue
			}
			last = max(last, t)
			rec.add(event{Kind: kindKernel, At: boot.Add(time.Duration(t * float64(time.Second)))})
		}
		since = last
		if ctx.Err() != nil {
			return
		}
	}
}
