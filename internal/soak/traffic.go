package soak

import (
	"bufio"
	"context"
	"io"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/i3net/i3net/internal/netlab"
)

// pingInterval is the time between two pings.
const pingInterval = 200 * time.Millisecond

// pingLoop runs "ping home.i3" from laptop until ctx ends, restarting it
// when it exits (e.g. the name did not resolve while laptop's proxy was
// down), and records each sequence number as answered or lost.
func pingLoop(ctx context.Context, from *netlab.Host, target string, rec *recorder) {
	for ctx.Err() == nil {
		start := time.Now()
		cmd := from.Exec(ctx, "ping", "-n", "-O", "-i", "0.2", "-W", "1", target)
		out, err := cmd.StdoutPipe()
		if err == nil && cmd.Start() == nil {
			replied, maxSeq := parsePing(out)
			cmd.Wait()
			for _, e := range pingEvents(start, replied, maxSeq) {
				rec.add(e)
			}
		}
		sleepCtx(ctx, time.Second)
	}
}

var seqRE = regexp.MustCompile(`icmp_seq=(\d+)`)

// parsePing reads ping's output: the sequence numbers answered (with when
// the answer was read) and the highest one seen (answered or reported
// missing with -O).
func parsePing(r io.Reader) (replied map[int]time.Time, maxSeq int) {
	replied = make(map[int]time.Time)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		m := seqRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		seq, _ := strconv.Atoi(m[1])
		maxSeq = max(maxSeq, seq)
		if strings.Contains(line, "bytes from") {
			if _, dup := replied[seq]; !dup {
				replied[seq] = time.Now()
			}
		}
	}
	return replied, maxSeq
}

// pingEvents turns one ping run into events: every sequence number up to
// maxSeq, answered (at the answer's time) or lost (at its send time).
func pingEvents(start time.Time, replied map[int]time.Time, maxSeq int) []event {
	es := make([]event, 0, maxSeq)
	for seq := 1; seq <= maxSeq; seq++ {
		if at, ok := replied[seq]; ok {
			es = append(es, event{Kind: kindPing, At: at, OK: true})
		} else {
			es = append(es, event{Kind: kindPing, At: start.Add(time.Duration(seq-1) * pingInterval)})
		}
	}
	return es
}

// digLoop asks laptop's resolver for home.i3 every second with dig and
// records whether the answer is want.
func digLoop(ctx context.Context, from *netlab.Host, name string, want netip.Addr, rec *recorder, dg *diag) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		at := time.Now()
		qctx, cancel := context.WithTimeout(ctx, 4*time.Second)
		out, err := from.Run(qctx, "dig", "+time=2", "+tries=1", "+short", name, "A")
		cancel()
		if ctx.Err() != nil {
			return
		}
		ok := err == nil && strings.TrimSpace(string(out)) == want.String()
		rec.add(event{Kind: kindDNS, At: at, OK: ok})
		switch {
		case err != nil:
			dg.add(kindDNS, err.Error())
		case !ok:
			dg.add(kindDNS, "answer "+string(out))
		}
	}
}

// streamPort is the TCP port of home's stream receiver.
const streamPort = 7000

// tcpStats counts the stream's connections.
type tcpStats struct {
	connects, failedDials, broken atomic.Int64
}

// tcpReceiver accepts streams on home and records the bytes read.
func tcpReceiver(ctx context.Context, on *netlab.Host, rec *recorder) error {
	ln, err := on.Listen("tcp4", netip.AddrPortFrom(netip.IPv4Unspecified(), streamPort))
	if err != nil {
		return err
	}
	go func() { <-ctx.Done(); ln.Close() }()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				go func() { <-ctx.Done(); c.Close() }()
				buf := make([]byte, 64<<10)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						rec.add(event{Kind: kindTCP, At: time.Now(), OK: true, Bytes: n})
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return nil
}

// tcpSender keeps a stream from laptop to home's virtual address at about
// rate bytes a second, in 1 KiB writes, dialling again when the connection
// breaks (a write blocked for 20 s counts as broken).
func tcpSender(ctx context.Context, from *netlab.Host, to netip.Addr, rate int, st *tcpStats, dg *diag) {
	chunk := make([]byte, 1024)
	every := time.Second * time.Duration(len(chunk)) / time.Duration(rate)
	for ctx.Err() == nil {
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		c, err := from.Dial(dctx, "tcp4", netip.AddrPortFrom(to, streamPort))
		cancel()
		if err != nil {
			st.failedDials.Add(1)
			dg.add(kindTCP, err.Error())
			sleepCtx(ctx, time.Second)
			continue
		}
		st.connects.Add(1)
		go func() { <-ctx.Done(); c.Close() }()
		t := time.NewTicker(every)
		for ctx.Err() == nil {
			<-t.C
			c.SetWriteDeadline(time.Now().Add(20 * time.Second))
			if _, err := c.Write(chunk); err != nil {
				if ctx.Err() == nil {
					st.broken.Add(1)
					dg.add(kindTCP, err.Error())
				}
				break
			}
		}
		t.Stop()
		c.Close()
	}
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
