package cli

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/i3net/i3net/server"
)

// pingServer starts an in-process overlay server for the test.
func pingServer(t *testing.T) netip.AddrPort {
	t.Helper()
	s, err := server.New(server.TestConfig())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		s.Close()
		<-done
	})
	return s.Addr()
}

func TestPing(t *testing.T) {
	noLeftovers(t)
	addr := pingServer(t).String()
	// A bound socket that never answers, listed first: ping goes through the
	// server that answers.
	silent, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	tests := []struct {
		name  string
		args  []string
		lines []string // substrings that must appear, in order
	}{
		{
			name: "through a trigger",
			args: []string{"ping", "--server", addr, "-c", "3", "-i", "10ms", "--size", "40"},
			lines: []string{
				"PING " + addr + " through trigger ",
				"40 bytes via " + addr + " id=", "seq=1 time=",
				"seq=2 time=", "seq=3 time=",
				"--- " + addr + " ping statistics ---",
				"3 sent, 3 received, 0% loss",
				"rtt min/avg/max = ",
			},
		},
		{
			name: "several servers",
			args: []string{"ping", "--server", silent.LocalAddr().String(), "--server", addr, "-c", "2", "-i", "10ms", "--timeout", "2s"},
			lines: []string{
				"PING " + addr + " through trigger ",
				"2 sent, 2 received, 0% loss",
			},
		},
		{
			// Only the original protocol: an i3net server answers it too.
			name: "no extensions",
			args: []string{"ping", "--server", addr, "--no-extensions", "-c", "2", "-i", "10ms"},
			lines: []string{
				"PING " + addr + " through trigger ",
				"2 sent, 2 received, 0% loss",
			},
		},
		{
			// The largest payload that fits is sent and comes back whole.
			name:  "largest payload",
			args:  []string{"ping", "--server", addr, "-c", "1", "--size", strconv.Itoa(maxPingSize)},
			lines: []string{strconv.Itoa(maxPingSize) + " bytes via " + addr, "1 sent, 1 received, 0% loss"},
		},
		{
			name:  "smallest payload",
			args:  []string{"ping", "--server", addr, "-c", "1", "--size", strconv.Itoa(minPingSize)},
			lines: []string{strconv.Itoa(minPingSize) + " bytes via " + addr, "1 sent, 1 received, 0% loss"},
		},
		{
			name:  "largest server echo",
			args:  []string{"ping", "--server", addr, "--server-only", "-c", "1", "--size", strconv.Itoa(maxEchoSize)},
			lines: []string{strconv.Itoa(maxEchoSize) + " bytes from " + addr, "1 sent, 1 received, 0% loss"},
		},
		{
			name: "server only",
			args: []string{"ping", "--server", addr, "--server-only", "-c", "2", "-i", "10ms"},
			lines: []string{
				"PING " + addr + " (server echo, 32 bytes)",
				"32 bytes from " + addr + " seq=1 time=",
				"seq=2 time=",
				"2 sent, 2 received, 0% loss",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			captureOutput(t, &out)
			if code := Run(tt.args); code != 0 {
				t.Fatalf("exit %d:\n%s", code, out.String())
			}
			rest := out.String()
			for _, l := range tt.lines {
				i := strings.Index(rest, l)
				if i < 0 {
					t.Fatalf("output lacks %q (in order):\n%s", l, out.String())
				}
				rest = rest[i+len(l):]
			}
			t.Logf("\n%s", out.String())
		})
	}
}

// TestPingBounds is a regression test (issue 9): --size outside what fits
// and -i 0 are usage errors that name the bounds; --size 5 used to send 16
// bytes, and --size 65478 to fail on every packet ("message too long").
func TestPingBounds(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--size", "5"}, "--size 5: want 16 to 65462 bytes\n"},
		{[]string{"--size", "65478"}, "--size 65478: want 16 to 65462 bytes\n"},
		{[]string{"--size", "65463"}, "--size 65463: want 16 to 65462 bytes\n"},
		{[]string{"--server-only", "--size", "5"}, "--size 5: want 9 to 65507 bytes with --server-only\n"},
		{[]string{"--server-only", "--size", "65508"}, "--size 65508: want 9 to 65507 bytes with --server-only\n"},
		{[]string{"-i", "0s"}, "-i 0s: want at least 10ms\n"},
		{[]string{"-i", "0"}, `invalid value "0" for flag -i: needs a unit`},
		{[]string{"-c", "-1"}, "-c -1: want 0 (until interrupted) or more\n"},
		{[]string{"--timeout", "0s"}, "--timeout 0s: want a positive duration"},
	}
	for _, tt := range tests {
		args := append([]string{"ping", "--server", "127.0.0.1:9"}, tt.args...)
		code, out, errOut := runCmd(t, args...)
		if code != 2 || out != "" || !strings.Contains(errOut, "i3net ping: "+tt.want) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2 and %q", args, code, out, errOut, tt.want)
		}
	}
	_, help, _ := runCmd(t, "ping", "--help")
	if !strings.Contains(help, "16 to 65462 (9 to 65507 with --server-only)") || !strings.Contains(help, "(at least 10ms)") {
		t.Errorf("ping --help does not give the bounds:\n%s", help)
	}
}

// TestPingNoServer: nothing answers at the address: exit 1 and an error that
// says what to check.
func TestPingNoServer(t *testing.T) {
	noLeftovers(t)
	// A bound socket that never answers: no ICMP, the insertion just times out.
	silent, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	addr := silent.LocalAddr().String()
	var out bytes.Buffer
	captureOutput(t, &out)
	if code := Run([]string{"ping", "--server", addr, "--timeout", "200ms", "-c", "1"}); code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, out.String())
	}
	want := "i3net ping: no answer from " + addr + " within 200ms: is `i3net server` running there?"
	if !strings.Contains(out.String(), want) {
		t.Fatalf("output %q, want %q", out.String(), want)
	}

	out.Reset()
	if code := Run([]string{"ping", "--server", addr, "--server-only", "--timeout", "100ms", "-c", "2", "-i", "10ms"}); code != 1 {
		t.Fatalf("--server-only: exit %d, want 1:\n%s", code, out.String())
	}
	for _, l := range []string{"no reply seq=1 within 100ms", "2 sent, 0 received, 100% loss", "i3net ping: no reply from " + addr} {
		if !strings.Contains(out.String(), l) {
			t.Fatalf("--server-only output lacks %q:\n%s", l, out.String())
		}
	}
}

// noLeftovers fails the test if a goroutine of the client or server package
// outlives it (checked after the other cleanups, with a bounded retry).
func noLeftovers(t *testing.T) {
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for {
			buf := make([]byte, 1<<20)
			stacks := string(buf[:runtime.Stack(buf, true)])
			left := false
			for _, g := range strings.Split(stacks, "\n\n") {
				if !strings.Contains(g, "testing.tRunner") &&
					(strings.Contains(g, "i3net/i3net/client.") || strings.Contains(g, "i3net/i3net/server.")) {
					left = true
				}
			}
			if !left {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("goroutines left behind:\n%s", stacks)
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
}
