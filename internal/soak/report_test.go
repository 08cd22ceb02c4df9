package soak

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestParsePingCountsAnsweredAndLost(t *testing.T) {
	out := `PING home.i3 (100.64.1.2) 56(84) bytes of data.
64 bytes from 100.64.1.2: icmp_seq=1 ttl=64 time=0.5 ms
no answer yet for icmp_seq=2
ping: sendmsg: Network is unreachable
no answer yet for icmp_seq=3
64 bytes from 100.64.1.2: icmp_seq=4 ttl=64 time=0.5 ms
64 bytes from 100.64.1.2: icmp_seq=3 ttl=64 time=1200 ms
64 bytes from 100.64.1.2: icmp_seq=4 ttl=64 time=0.5 ms (DUP!)
`
	replied, maxSeq := parsePing(strings.NewReader(out))
	if maxSeq != 4 || len(replied) != 3 {
		t.Fatalf("max seq %d, %d answered; want 4 and 3 (1, 3 late, 4)", maxSeq, len(replied))
	}
	start := time.Unix(1000, 0)
	es := pingEvents(start, replied, maxSeq)
	ok, lost := 0, 0
	for _, e := range es {
		if e.OK {
			ok++
		} else {
			lost++
			if want := start.Add(pingInterval); !e.At.Equal(want) {
				t.Errorf("lost seq 2 at %v, want its send time %v", e.At, want)
			}
		}
	}
	if ok != 3 || lost != 1 {
		t.Fatalf("%d answered, %d lost; want 3 and 1", ok, lost)
	}
}

func TestMinutesAndGaps(t *testing.T) {
	start := time.Unix(0, 0)
	at := func(d time.Duration) time.Time { return start.Add(d) }
	es := []event{
		{Kind: kindPing, At: at(10 * time.Second), OK: true},
		{Kind: kindPing, At: at(20 * time.Second)},
		{Kind: kindPing, At: at(70 * time.Second), OK: true},
		{Kind: kindDNS, At: at(61 * time.Second), OK: true},
		{Kind: kindTCP, At: at(5 * time.Second), OK: true, Bytes: 2048},
	}
	kills := []Kill{{At: at(65 * time.Second), Name: "srv2"}}
	ms := minutes(start, 2*time.Minute+500*time.Millisecond, es, kills)
	if len(ms) != 2 {
		t.Fatalf("%d minutes for a run of 2m0.5s, want 2", len(ms))
	}
	if ms[0].PingOK != 1 || ms[0].PingLost != 1 || ms[0].TCPKiB != 2 || ms[1].PingOK != 1 || ms[1].DNSOK != 1 {
		t.Fatalf("minutes %+v", ms)
	}
	if len(ms[1].Kills) != 1 || ms[1].Kills[0] != "srv2" {
		t.Fatalf("kills in minute 2: %v", ms[1].Kills)
	}
	g := longestGap(start, at(2*time.Minute), es, kindPing)
	if g.Length != 60*time.Second || g.From != 10*time.Second {
		t.Fatalf("ping gap %+v, want 60s from 10s (the lost one is no success)", g)
	}
	g = longestGap(start, at(2*time.Minute), es, kindDNS)
	if g.Length != 61*time.Second || g.From != 0 {
		t.Fatalf("dns gap %+v, want 61s from the start", g)
	}
}

func TestLogLinesGroupsWarningsAndErrors(t *testing.T) {
	out := []byte(`time=2026-12-02T05:56:50Z level=WARN msg="server not answering: not used until it answers again" server=198.18.0.3:5610
time=2026-12-02T05:56:51Z level=INFO msg=up
time=2026-12-02T05:56:52Z level=WARN msg="server not answering: not used until it answers again" server=198.18.0.2:5610
time=2026-12-02T05:56:53Z level=ERROR msg=boom err=x
panic: runtime error: index out of range
`)
	counts := map[LogLine]int{}
	logLines("laptop", out, counts)
	want := map[LogLine]int{
		{Name: "laptop", Level: "WARN", Msg: "server not answering: not used until it answers again"}: 2,
		{Name: "laptop", Level: "ERROR", Msg: "boom"}:                                                 1,
		{Name: "laptop", Level: "PANIC", Msg: "panic: runtime error: index out of range"}:             1,
	}
	if len(counts) != len(want) {
		t.Fatalf("got %v", counts)
	}
	for l, n := range want {
		if counts[l] != n {
			t.Errorf("%+v: %d, want %d", l, counts[l], n)
		}
	}
}

func TestTableShowsEveryPart(t *testing.T) {
	start := time.Unix(0, 0)
	r := &Report{Start: start, Duration: time.Minute, DropPct: 2,
		Minutes: []Minute{{Index: 1, PingOK: 290, PingLost: 10, Kills: []string{"home"}}},
		Gaps:    []Gap{{Kind: kindPing, Length: 3 * time.Second}},
		Kills:   []Kill{{At: start.Add(30 * time.Second), Name: "home", PID: 10, NewPID: 11}},
		Samples: []Sample{{At: start.Add(time.Second), Name: "srv1", PID: 5, RSSKiB: 20480, Goroutines: 19},
			{At: start.Add(time.Second), Name: "home", PID: 6, RSSKiB: 10240, Threads: 7, Goroutines: -1}},
		Drops: []NftCount{{Host: "srv1", Overlay: 1000, Dropped: 20}},
	}
	var b bytes.Buffer
	r.Table(&b)
	for _, s := range []string{"290/10", "longest ping gap: 3s", "home   pid 10", "20.0 g19", "10.0 t7", "(2.00%)"} {
		if !strings.Contains(b.String(), s) {
			t.Errorf("table lacks %q:\n%s", s, b.String())
		}
	}
}
