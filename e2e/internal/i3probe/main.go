// Command i3probe is a test program of the end-to-end tests (e2e/ring_test.go):
// a receiver that inserts a trigger and records every packet it gets, and a
// sender that sends numbered packets to an id at a fixed rate. Both are the
// client package's native API over real sockets, so gaps and losses are
// measured exactly, packet by packet, without a proxy or a tun in the way.
//
//	i3probe recv --server ADDR[,ADDR...] --id HEX --rx FILE [--shortcut]
//	i3probe send --server ADDR[,ADDR...] --id HEX [--rate N] [--count N] [--size N] [--shortcut]
//
// recv prints "ready LOCAL-ADDR" once the trigger is acknowledged and writes
// one line per packet to FILE: "rx SEQ UNIX-NANOS FROM" (FROM is the server,
// or the sender on a shortcut); at the end it prints "done delivered=N
// overflow=N". send prints "start UNIX-NANOS" before its first
// packet and, when its count is done or it gets SIGTERM, "sent LAST
// failed=N": packets 1 to LAST were sent, N of them refused by the socket
// (counted as lost by the tests). Both log
// the client's warnings to stderr and exit 0 on SIGTERM or SIGINT.
package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/i3net/i3net/client"
	"github.com/i3net/i3net/id"
)

// headerLen is the probe's own header in each payload: the sequence number
// and the send time in Unix nanoseconds, big-endian.
const headerLen = 16

func main() {
	if len(os.Args) < 2 || (os.Args[1] != "recv" && os.Args[1] != "send") {
		fmt.Fprintln(os.Stderr, "usage: i3probe recv|send --server ADDR[,ADDR...] --id HEX [flags]")
		os.Exit(2)
	}
	mode := os.Args[1]
	fs := flag.NewFlagSet("i3probe "+mode, flag.ExitOnError)
	servers := fs.String("server", "", "overlay servers, comma-separated ADDR:PORT (the first is the first hop)")
	idText := fs.String("id", "", "the trigger's id (recv) or the destination id (send), 64 hex digits")
	shortcut := fs.Bool("shortcut", false, "recv: the trigger allows shortcuts; send: the packets do (§5.2)")
	rxPath := fs.String("rx", "", "recv: write a line per packet received to this file")
	rate := fs.Int("rate", 200, "send: packets per second")
	count := fs.Int("count", 0, "send: packets to send (0: until SIGTERM)")
	size := fs.Int("size", 64, "send: payload bytes (at least 16)")
	fs.Parse(os.Args[2:])

	cfg := client.DefaultConfig()
	for _, s := range strings.Split(*servers, ",") {
		ap, err := netip.ParseAddrPort(strings.TrimSpace(s))
		if err != nil {
			fail("--server %q: %v", s, err)
		}
		cfg.Servers = append(cfg.Servers, ap)
	}
	x, err := id.Parse(*idText)
	if err != nil {
		fail("--id: %v", err)
	}
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if mode == "recv" {
		err = recv(ctx, cfg, x, *rxPath, *shortcut)
	} else {
		err = send(ctx, cfg, x, *rate, *count, max(*size, headerLen), *shortcut)
	}
	if err != nil {
		fail("%v", err)
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "i3probe: "+format+"\n", args...)
	os.Exit(1)
}

// rx is one packet received.
type rx struct {
	seq  uint64
	at   int64
	from netip.AddrPort
}

// recv inserts a trigger for x pointing at itself and prints each packet.
// The handler must not block, so it hands packets to a writer goroutine
// through a channel; a full channel counts a packet as dropped by the probe,
// printed at the end (never seen at the rates the tests use).
func recv(ctx context.Context, cfg client.Config, x id.ID, rxPath string, shortcut bool) error {
	f, err := os.Create(rxPath)
	if err != nil {
		return err
	}
	defer f.Close()
	out := bufio.NewWriter(f)
	ch := make(chan rx, 1<<16)
	var overflow int
	cfg.Handler = func(d client.Delivery) {
		if len(d.Payload) < headerLen {
			return
		}
		select {
		case ch <- rx{binary.BigEndian.Uint64(d.Payload), time.Now().UnixNano(), d.From}:
		default:
			overflow++
		}
	}
	c, err := client.New(cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	t := client.Trigger{ID: x}
	if shortcut {
		t.Flags = client.ShortcutAllowed
	}
	ictx, cancel := context.WithTimeout(ctx, 20*time.Second)
	_, err = c.Insert(ictx, t)
	cancel()
	if err != nil {
		return err
	}
	fmt.Printf("ready %v\n", c.LocalAddr())
	flush := time.NewTicker(20 * time.Millisecond)
	defer flush.Stop()
	for {
		select {
		case r := <-ch:
			fmt.Fprintf(out, "rx %d %d %v\n", r.seq, r.at, r.from)
		case <-flush.C:
			out.Flush()
		case <-ctx.Done():
			for len(ch) > 0 {
				r := <-ch
				fmt.Fprintf(out, "rx %d %d %v\n", r.seq, r.at, r.from)
			}
			c.Close() // the handler runs no more
			fmt.Printf("done delivered=%d overflow=%d\n", c.Stats().Delivered, overflow)
			return out.Flush()
		}
	}
}

// send sends count packets (0: until ctx ends) to x, rate per second, each
// carrying its sequence number from 1, allowing a shortcut if asked.
func send(ctx context.Context, cfg client.Config, x id.ID, rate, count, size int, shortcut bool) error {
	if rate <= 0 {
		return errors.New("--rate must be positive")
	}
	c, err := client.New(cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	payload := make([]byte, size)
	stack := []id.ID{x}
	var flags client.SendFlags
	if shortcut {
		flags = client.SendShortcut
	}
	interval := time.Second / time.Duration(rate)
	start := time.Now()
	fmt.Printf("start %d\n", start.UnixNano())
	var last, failed uint64
	for seq := uint64(1); count == 0 || seq <= uint64(count); seq++ {
		// Keep to the schedule rather than to the interval: a late packet
		// does not delay the ones after it.
		if d := time.Until(start.Add(time.Duration(seq-1) * interval)); d > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(d):
			}
		}
		if ctx.Err() != nil {
			break
		}
		last = seq
		binary.BigEndian.PutUint64(payload, seq)
		binary.BigEndian.PutUint64(payload[8:], uint64(time.Now().UnixNano()))
		if err := c.SendWith(stack, payload, flags); err != nil {
			failed++
		}
	}
	fmt.Printf("sent %d failed=%d\n", last, failed)
	return nil
}
