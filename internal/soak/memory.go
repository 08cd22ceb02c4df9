package soak

import (
	"fmt"
	"io"
	"time"
)

// memoryTable writes, per minute, each daemon's RSS (MiB) and, for servers,
// goroutines (g), for proxies, which do not report goroutines, OS threads
// (t), from the minute's last sample; a "*" marks a new process (a restart).
func (r *Report) memoryTable(w io.Writer) {
	names := sampleNames(r.Samples)
	fmt.Fprintf(w, "\nmemory (RSS MiB), goroutines (g, servers) or threads (t, proxies), last sample of each minute; * new pid\n")
	fmt.Fprintf(w, "min ")
	for _, n := range names {
		fmt.Fprintf(w, " %-16s", n)
	}
	fmt.Fprintln(w)
	last := map[string]int{}
	for i := range r.Minutes {
		fmt.Fprintf(w, "%3d ", i+1)
		for _, n := range names {
			s, ok := lastSample(r.Samples, n, r.Start.Add(time.Duration(i)*time.Minute), r.Start.Add(time.Duration(i+1)*time.Minute))
			cell := "-"
			if ok {
				mark := ""
				if p, seen := last[n]; seen && p != s.PID {
					mark = "*"
				}
				last[n] = s.PID
				cell = fmt.Sprintf("%.1f%s", float64(s.RSSKiB)/1024, mark)
				if s.Goroutines >= 0 {
					cell += fmt.Sprintf(" g%d", s.Goroutines)
				} else {
					cell += fmt.Sprintf(" t%d", s.Threads)
				}
			}
			fmt.Fprintf(w, " %-16s", cell)
		}
		fmt.Fprintln(w)
	}
	r.instanceTable(w)
}

// instanceTable writes, per process (pid), its first, last and largest RSS
// and goroutines: flat figures over a process's life are the point.
func (r *Report) instanceTable(w io.Writer) {
	fmt.Fprintf(w, "\nper process: life, RSS MiB first → last (max), goroutines first → last (max)\n")
	type life struct {
		name                  string
		first, last           Sample
		maxRSS, maxG, maxT, n int
	}
	var order []int
	lives := map[int]*life{}
	for _, s := range r.Samples {
		l := lives[s.PID]
		if l == nil {
			l = &life{name: s.Name, first: s}
			lives[s.PID] = l
			order = append(order, s.PID)
		}
		l.last, l.n = s, l.n+1
		l.maxRSS, l.maxG, l.maxT = max(l.maxRSS, s.RSSKiB), max(l.maxG, s.Goroutines), max(l.maxT, s.Threads)
	}
	for _, pid := range order {
		l := lives[pid]
		g := fmt.Sprintf("-, threads %d → %d (%d)", l.first.Threads, l.last.Threads, l.maxT)
		if l.first.Goroutines >= 0 {
			g = fmt.Sprintf("%d → %d (%d)", l.first.Goroutines, l.last.Goroutines, l.maxG)
		}
		fmt.Fprintf(w, "  %-6s pid %-7d %6v  RSS %5.1f → %5.1f (%5.1f)  goroutines %s\n", l.name, pid,
			l.last.At.Sub(l.first.At).Round(time.Second), mib(l.first.RSSKiB), mib(l.last.RSSKiB), mib(l.maxRSS), g)
	}
}

func mib(kib int) float64 { return float64(kib) / 1024 }

func sampleNames(ss []Sample) []string {
	var names []string
	seen := map[string]bool{}
	for _, s := range ss {
		if !seen[s.Name] {
			seen[s.Name] = true
			names = append(names, s.Name)
		}
	}
	return names
}

// lastSample is n's last sample in [from, to).
func lastSample(ss []Sample, n string, from, to time.Time) (Sample, bool) {
	var out Sample
	ok := false
	for _, s := range ss {
		if s.Name == n && !s.At.Before(from) && s.At.Before(to) {
			out, ok = s, true
		}
	}
	return out, ok
}
