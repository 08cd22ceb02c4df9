package netlab

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"
)

const (
	// DefaultWait bounds Poll, WaitTCP and WaitListen when their context has
	// no deadline.
	DefaultWait = 10 * time.Second

	// pollEvery is the default interval between two tries.
	pollEvery = 50 * time.Millisecond

	// dialTimeout bounds one connection attempt of WaitTCP.
	dialTimeout = 250 * time.Millisecond
)

// Poll calls cond every interval (50 ms if zero) until it returns nil, and
// returns nil then. It gives up when ctx ends, after DefaultWait if ctx has no
// deadline, or after as many tries as fit in that time, and returns an error
// holding cond's last error.
func Poll(ctx context.Context, every time.Duration, cond func() error) error {
	if every <= 0 {
		every = pollEvery
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultWait)
		defer cancel()
	}
	deadline, _ := ctx.Deadline()
	tries := int(time.Until(deadline)/every) + 2
	timer := time.NewTimer(every)
	defer timer.Stop()
	var last error
	for try := 1; try <= tries; try++ {
		if last = cond(); last == nil {
			return nil
		}
		timer.Reset(every)
		select {
		case <-ctx.Done():
			return fmt.Errorf("netlab: gave up after %d tries (%v): %w", try, ctx.Err(), last)
		case <-timer.C:
		}
	}
	return fmt.Errorf("netlab: gave up after %d tries: %w", tries, last)
}

// WaitTCP waits until a TCP connection from inside host from to to succeeds
// (a server has come up and is reachable), bounded as Poll is.
func WaitTCP(ctx context.Context, from *Host, to netip.AddrPort) error {
	err := Poll(ctx, 0, func() error {
		dctx, cancel := context.WithTimeout(ctx, dialTimeout)
		defer cancel()
		c, err := from.Dial(dctx, "tcp", to)
		if err != nil {
			return err
		}
		return c.Close()
	})
	if err != nil {
		return fmt.Errorf("netlab: %s: waiting for TCP %v: %w", from.name, to, err)
	}
	return nil
}

// WaitUDP waits until a UDP socket bound to port exists in host on (a UDP
// server has come up), bounded as Poll is. UDP cannot be probed from afar, so
// this looks at the host's sockets.
func WaitUDP(ctx context.Context, on *Host, port uint16) error {
	return WaitListen(ctx, on, "udp", port)
}

// WaitListen waits until host on has a socket listening on port: network
// "tcp" for a listening TCP socket, "udp" for a bound UDP socket, IPv4 or
// IPv6. It is bounded as Poll is.
func WaitListen(ctx context.Context, on *Host, network string, port uint16) error {
	if network != "tcp" && network != "udp" {
		return fmt.Errorf("netlab: WaitListen: network %q, want tcp or udp", network)
	}
	err := Poll(ctx, 0, func() error {
		found := false
		err := on.Do(func() error {
			for _, v := range []string{"", "6"} {
				// thread-self: this thread's namespace, not the process's.
				b, err := os.ReadFile("/proc/thread-self/net/" + network + v)
				if err != nil {
					continue // no IPv6
				}
				if hasPort(b, port, network == "tcp") {
					found = true
					return nil
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("no %s socket on port %d", network, port)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("netlab: %s: waiting for %s port %d: %w", on.name, network, port, err)
	}
	return nil
}

// tcpListen is the state of a listening socket in /proc/net/tcp.
const tcpListen = "0A"

// hasPort reports whether a /proc/net/{tcp,udp}[6] table has a socket bound
// to local port port (listening, if listen).
func hasPort(table []byte, port uint16, listen bool) bool {
	sc := bufio.NewScanner(bytes.NewReader(table))
	sc.Scan() // header
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 {
			continue
		}
		_, hexPort, ok := strings.Cut(f[1], ":")
		if !ok {
			continue
		}
		p, err := strconv.ParseUint(hexPort, 16, 16)
		if err != nil || uint16(p) != port {
			continue
		}
		if !listen || f[3] == tcpListen {
			return true
		}
	}
	return false
}
