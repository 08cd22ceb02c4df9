package front

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"testing"
)

func TestReadRequest(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		cmd  byte
		dst  socksDest
		code byte // of the requestError, 0 for none
	}{
		{"IPv4", []byte{5, 1, 0, 1, 10, 0, 0, 1, 0, 80}, 1, socksDest{addr: netip.MustParseAddr("10.0.0.1"), port: 80}, 0},
		{"name", append([]byte{5, 1, 0, 3, 7}, "home.i3\x01\xbb"...), 1, socksDest{name: "home.i3", port: 443}, 0},
		{"IPv6", append(append([]byte{5, 3, 0, 4}, netip.MustParseAddr("fd00::1").AsSlice()...), 0, 53), 3,
			socksDest{addr: netip.MustParseAddr("fd00::1"), port: 53}, 0},
		{"bad version", []byte{4, 1, 0, 1, 10, 0, 0, 1, 0, 80}, 0, socksDest{}, repGeneralFailure},
		{"bad address type", []byte{5, 1, 0, 2, 10, 0, 0, 1, 0, 80}, 0, socksDest{}, repAddrTypeUnsupported},
		{"empty name", []byte{5, 1, 0, 3, 0, 0, 80}, 0, socksDest{}, repGeneralFailure},
	} {
		cmd, dst, err := readRequest(bytes.NewReader(tc.in))
		var re *requestError
		switch {
		case tc.code != 0 && (!errors.As(err, &re) || re.code != tc.code):
			t.Errorf("%s: error %v, want code %#x", tc.name, err, tc.code)
		case tc.code == 0 && (err != nil || cmd != tc.cmd || dst != tc.dst):
			t.Errorf("%s: %d %v %v, want %d %v", tc.name, cmd, dst, err, tc.cmd, tc.dst)
		}
	}
}

func TestReadRequestTruncated(t *testing.T) {
	full := append([]byte{5, 1, 0, 3, 7}, "home.i3\x00\x50"...)
	for n := range len(full) {
		var re *requestError
		if _, _, err := readRequest(bytes.NewReader(full[:n])); err == nil || errors.As(err, &re) {
			t.Errorf("request cut at %d bytes: %v, want an I/O error", n, err)
		}
	}
}

// FuzzReadRequest: the greeting and request of any bytes parse without
// panicking, and a request that parses writes back to the bytes it read.
func FuzzReadRequest(f *testing.F) {
	f.Add([]byte{1, 0, 5, 1, 0, 1, 127, 0, 0, 1, 0, 80})
	f.Add(append([]byte{2, 2, 0, 5, 1, 0, 3, 7}, "home.i3\x00\x50"...))
	f.Add(append([]byte{1, 0, 5, 3, 0, 4}, make([]byte, 18)...))
	f.Add([]byte{0})
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bytes.NewReader(b)
		if _, err := readGreeting(r); err != nil {
			return
		}
		start := len(b) - r.Len()
		cmd, dst, err := readRequest(r)
		if err != nil {
			return
		}
		want := b[start : len(b)-r.Len()]
		if got := appendDest([]byte{5, cmd, want[2]}, dst); !bytes.Equal(got, want) {
			t.Errorf("request %x parsed as %d %v, which writes %x", want, cmd, dst, got)
		}
	})
}

// FuzzParseDatagram: any datagram parses without panicking; one that
// parses is its header and payload again.
func FuzzParseDatagram(f *testing.F) {
	f.Add(append(appendDest([]byte{0, 0, 0}, socksDest{name: "echo.i3", port: 7}), "ping"...))
	f.Add(appendAddr([]byte{0, 0, 0}, netip.MustParseAddrPort("[fd00::1]:53")))
	f.Add([]byte{0, 0, 1, 1, 1, 2, 3, 4, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		dst, payload, err := parseDatagram(b)
		if err != nil {
			return
		}
		got := append(appendDest(b[:3:3], dst), payload...)
		if !bytes.Equal(got, b) {
			t.Errorf("datagram %x parsed as %v %x, which writes %x", b, dst, payload, got)
		}
		if len(b)-len(payload) > udpHeaderMax {
			t.Errorf("header of %d bytes, over udpHeaderMax %d", len(b)-len(payload), udpHeaderMax)
		}
	})
}

func TestReplyBytes(t *testing.T) {
	if got := replyBytes(repHostUnreachable, netip.AddrPort{}); !bytes.Equal(got, []byte{5, 4, 0, 1, 0, 0, 0, 0, 0, 0}) {
		t.Errorf("failure reply %v", got)
	}
	mapped := netip.AddrPortFrom(netip.MustParseAddr("::ffff:127.0.0.1"), 1080)
	if got := replyBytes(repSucceeded, mapped); !bytes.Equal(got, []byte{5, 0, 0, 1, 127, 0, 0, 1, 4, 56}) {
		t.Errorf("success reply %v: want an IPv4-mapped address written as IPv4", got)
	}
}

func TestSOCKSCode(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want byte
	}{
		{&resolveError{"x.i3", errors.New("no such name")}, repHostUnreachable},
		{&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, repConnectionRefused},
		{fmt.Errorf("dial: %w", syscall.ENETUNREACH), repNetworkUnreachable},
		{context.DeadlineExceeded, repHostUnreachable},
		// gonet's errors: tcpip's text only
		{&net.OpError{Op: "connect", Err: errors.New("connection was refused")}, repConnectionRefused},
		{&net.OpError{Op: "connect", Err: errors.New("no route to host")}, repHostUnreachable},
		{&net.OpError{Op: "connect", Err: errors.New("network is unreachable")}, repNetworkUnreachable},
		{errors.New("something else"), repGeneralFailure},
	} {
		if got := socksCode(tc.err); got != tc.want {
			t.Errorf("socksCode(%v) = %#x, want %#x", tc.err, got, tc.want)
		}
	}
}
