package soak

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Report is what a soak run measured.
type Report struct {
	Start    time.Time     `json:"start"`
	Duration time.Duration `json:"duration_ns"`
	DropPct  int           `json:"drop_percent"`
	Minutes  []Minute      `json:"minutes"`
	Gaps     []Gap         `json:"gaps"` // the longest gap of each kind of traffic
	TCP      TCPTotals     `json:"tcp"`
	Kills    []Kill        `json:"kills"`
	Samples  []Sample      `json:"samples"`
	Drops    []NftCount    `json:"nft"`
	LogLines []LogLine     `json:"log_lines"`
	Problems []Problem     `json:"probe_failures"` // why probes failed, by message
	Load     string        `json:"load"`           // /proc/loadavg at the start and the end
	FailedTo string        `json:"failed,omitempty"`
}

// Minute is one minute of the run.
type Minute struct {
	Index         int      `json:"minute"`
	PingOK        int      `json:"ping_ok"`
	PingLost      int      `json:"ping_lost"`
	DNSOK         int      `json:"dns_ok"`
	DNSFail       int      `json:"dns_failed"`
	TCPKiB        float64  `json:"tcp_kib"`
	NeighOverflow int      `json:"neigh_overflow"` // kernel lines: neighbour table full (machine-wide)
	Kills         []string `json:"kills"`
}

// Gap is the longest time without a success of one kind of traffic.
type Gap struct {
	Kind   string        `json:"kind"`
	Length time.Duration `json:"length_ns"`
	From   time.Duration `json:"from_ns"` // since the start
}

// TCPTotals counts the stream's connections.
type TCPTotals struct {
	Connects    int64 `json:"connects"`
	FailedDials int64 `json:"failed_dials"`
	Broken      int64 `json:"broken"`
}

// NftCount is a host's overlay datagrams received and dropped by the rule.
type NftCount struct {
	Host    string `json:"host"`
	Overlay int64  `json:"overlay"`
	Dropped int64  `json:"dropped"`
}

// LogLine is a warning or error a daemon logged, with how often.
type LogLine struct {
	Name  string `json:"name"`
	Level string `json:"level"`
	Msg   string `json:"msg"`
	Count int    `json:"count"`
}

// minutes buckets events and kills by minute since start.
func minutes(start time.Time, d time.Duration, es []event, kills []Kill) []Minute {
	n := max(1, int((d-time.Second+time.Minute-1)/time.Minute)) // a last second alone makes no row
	ms := make([]Minute, n)
	for i := range ms {
		ms[i].Index = i + 1
	}
	at := func(t time.Time) int { return min(n-1, max(0, int(t.Sub(start)/time.Minute))) }
	for _, e := range es {
		m := &ms[at(e.At)]
		switch {
		case e.Kind == kindPing && e.OK:
			m.PingOK++
		case e.Kind == kindPing:
			m.PingLost++
		case e.Kind == kindDNS && e.OK:
			m.DNSOK++
		case e.Kind == kindDNS:
			m.DNSFail++
		case e.Kind == kindTCP:
			m.TCPKiB += float64(e.Bytes) / 1024
		case e.Kind == kindKernel:
			m.NeighOverflow++
		}
	}
	for _, k := range kills {
		m := &ms[at(k.At)]
		m.Kills = append(m.Kills, k.Name)
	}
	return ms
}

// longestGap is the longest time between two successes of kind (the start
// and end of the run count as successes).
func longestGap(start, end time.Time, es []event, kind string) Gap {
	var ts []time.Time
	for _, e := range es {
		if e.Kind == kind && e.OK {
			ts = append(ts, e.At)
		}
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	g := Gap{Kind: kind}
	prev := start
	for _, t := range append(ts, end) {
		if d := t.Sub(prev); d > g.Length {
			g.Length, g.From = d, prev.Sub(start)
		}
		prev = t
	}
	return g
}

var levelRE = regexp.MustCompile(`level=(WARN|ERROR)`)
var msgRE = regexp.MustCompile(`msg=("(?:[^"\\]|\\.)*"|\S+)`)

// logLines counts the warnings and errors in a daemon's output.
func logLines(name string, out []byte, into map[LogLine]int) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		lv := levelRE.FindStringSubmatch(line)
		if lv == nil {
			if strings.Contains(line, "panic") || strings.Contains(line, "fatal") {
				into[LogLine{Name: name, Level: "PANIC", Msg: line}]++
			}
			continue
		}
		msg := ""
		if m := msgRE.FindStringSubmatch(line); m != nil {
			msg = strings.Trim(m[1], `"`)
		}
		into[LogLine{Name: name, Level: lv[1], Msg: msg}]++
	}
}

// Table writes the report for people.
func (r *Report) Table(w io.Writer) {
	fmt.Fprintf(w, "soak run of %v from %s, %d %% of overlay datagrams dropped; load %s\n\n",
		r.Duration, r.Start.UTC().Format(time.RFC3339), r.DropPct, r.Load)
	fmt.Fprintln(w, "min  ping ok/lost (loss)   dns ok/failed   tcp KiB  neigh-full  killed")
	for _, m := range r.Minutes {
		loss := 0.0
		if t := m.PingOK + m.PingLost; t > 0 {
			loss = 100 * float64(m.PingLost) / float64(t)
		}
		fmt.Fprintf(w, "%3d  %5d/%-4d (%5.1f%%)   %5d/%-4d      %7.0f  %10d  %s\n",
			m.Index, m.PingOK, m.PingLost, loss, m.DNSOK, m.DNSFail, m.TCPKiB, m.NeighOverflow, strings.Join(m.Kills, " "))
	}
	fmt.Fprintln(w)
	for _, g := range r.Gaps {
		fmt.Fprintf(w, "longest %s gap: %v, from %v\n", g.Kind, g.Length.Round(time.Millisecond), g.From.Round(time.Second))
	}
	fmt.Fprintf(w, "tcp stream: %d connections, %d failed dials, %d broken\n", r.TCP.Connects, r.TCP.FailedDials, r.TCP.Broken)
	r.killTable(w)
	r.memoryTable(w)
	for _, c := range r.Drops {
		fmt.Fprintf(w, "nft on %s: %d overlay datagrams in, %d dropped (%.2f%%)\n", c.Host, c.Overlay, c.Dropped, pct(c.Dropped, c.Overlay))
	}
	fmt.Fprintf(w, "\nwarnings and errors logged (%d kinds):\n", len(r.LogLines))
	for _, l := range r.LogLines {
		fmt.Fprintf(w, "  %-7s %-5s ×%-5d %s\n", l.Name, l.Level, l.Count, l.Msg)
	}
	fmt.Fprintf(w, "\nprobe failures (%d kinds):\n", len(r.Problems))
	for _, p := range r.Problems {
		fmt.Fprintf(w, "  %-7s ×%-5d %s\n", p.Kind, p.Count, p.Msg)
	}
	if r.FailedTo != "" {
		fmt.Fprintf(w, "\nFAILED: %s\n", r.FailedTo)
	}
}

func pct(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}

func (r *Report) killTable(w io.Writer) {
	fmt.Fprintf(w, "\n%d kills (SIGKILL by pid):\n", len(r.Kills))
	for _, k := range r.Kills {
		fmt.Fprintf(w, "  at %7v %-6s pid %-7d down %-7v answering %v after restart (pid %d) %s\n",
			k.At.Sub(r.Start).Round(time.Second), k.Name, k.PID, k.Down.Round(100*time.Millisecond),
			k.UpAfter.Round(10*time.Millisecond), k.NewPID, k.StartErr)
	}
}
