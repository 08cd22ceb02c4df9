//go:build linux

package proxytest

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"golang.zx2c4.com/wireguard/tun"
)

// RawTun is a Tun with offloads, as a real tun device with virtio-net
// headers looks to the proxy: its File is one end of a SOCK_SEQPACKET socket
// pair (one packet per read and write, like a tun device), which the proxy
// reads and writes directly; the test plays the kernel at the other end
// (Inject, NextRaw). Ordinary packets the proxy writes through the device
// (wireguard-go's path) land in the embedded Tun as usual.
type RawTun struct {
	*Tun
	file   *os.File // the proxy's end
	kernel *os.File // the test's end
}

var _ tun.Device = (*RawTun)(nil)

// NewRawTun returns an open RawTun.
func NewRawTun(t testing.TB) *RawTun {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("socketpair: %v", err)
	}
	for _, fd := range fds { // room for a burst of 64 KB packets
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 4<<20)
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20)
	}
	r := &RawTun{Tun: NewTun(), file: os.NewFile(uintptr(fds[0]), "rawtun"), kernel: os.NewFile(uintptr(fds[1]), "rawtun-kernel")}
	t.Cleanup(func() { r.kernel.Close() })
	return r
}

func (r *RawTun) File() *os.File { return r.file }
func (r *RawTun) BatchSize() int { return 128 }
func (r *RawTun) Close() error {
	r.Tun.Close()
	return r.file.Close()
}

// Inject hands the proxy b, a virtio-net header and a packet, as the kernel
// does when a program sends.
func (r *RawTun) Inject(t testing.TB, b []byte) {
	t.Helper()
	r.kernel.SetWriteDeadline(time.Now().Add(waitTimeout))
	if _, err := r.kernel.Write(b); err != nil {
		t.Fatalf("rawtun: inject: %v", err)
	}
}

// NextRaw returns the next packet the proxy wrote directly, with its
// virtio-net header, failing t after a while without one.
func (r *RawTun) NextRaw(t testing.TB) []byte {
	t.Helper()
	b, err := r.NextRawContext(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// NextRawContext is NextRaw bounded by ctx as well as by the harness's wait.
func (r *RawTun) NextRawContext(ctx context.Context) ([]byte, error) {
	deadline := time.Now().Add(waitTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	r.kernel.SetReadDeadline(deadline)
	buf := make([]byte, 128<<10)
	n, err := r.kernel.Read(buf)
	if err != nil {
		return nil, fmt.Errorf("rawtun: no packet written directly within %v: %w", time.Until(deadline).Round(time.Millisecond), err)
	}
	return buf[:n], nil
}
