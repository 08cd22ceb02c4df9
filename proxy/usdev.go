package proxy

import (
	"context"
	"os"
	"sync"

	"golang.zx2c4.com/wireguard/tun"
)

// stackDevice is a tun.Device whose other side is a userspace stack
// (userspace mode): what the proxy writes is handed to the stack, and the
// packets the stack sends are what the proxy reads, many per Read (the
// outbound path then sends them in one batch).
type stackDevice struct {
	ns     *netstack
	mtu    int
	events chan tun.Event
	ctx    context.Context
	cancel context.CancelFunc
	once   sync.Once
}

// stackDeviceBatch is how many packets one Read returns at most.
const stackDeviceBatch = 64

func newStackDevice(ns *netstack, mtu int) *stackDevice {
	d := &stackDevice{ns: ns, mtu: mtu, events: make(chan tun.Event, 1)}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	d.events <- tun.EventUp
	return d
}

func (d *stackDevice) File() *os.File           { return nil }
func (d *stackDevice) MTU() (int, error)        { return d.mtu, nil }
func (d *stackDevice) Name() (string, error)    { return "userspace", nil }
func (d *stackDevice) Events() <-chan tun.Event { return d.events }
func (d *stackDevice) BatchSize() int           { return stackDeviceBatch }

// Read waits for the stack's next packet and returns it with those queued
// behind it, up to len(bufs).
func (d *stackDevice) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	pkb := d.ns.ep.ReadContext(d.ctx)
	if pkb == nil {
		return 0, os.ErrClosed
	}
	n := 0
	for pkb != nil {
		v := pkb.ToView()
		sizes[n] = copy(bufs[n][offset:], v.AsSlice())
		v.Release()
		pkb.DecRef()
		if n++; n == len(bufs) {
			break
		}
		pkb = d.ns.ep.Read()
	}
	return n, nil
}

// Write hands each packet to the stack.
func (d *stackDevice) Write(bufs [][]byte, offset int) (int, error) {
	if d.ctx.Err() != nil {
		return 0, os.ErrClosed
	}
	for _, b := range bufs {
		d.ns.inject(b[offset:])
	}
	return len(bufs), nil
}

// Close stops the stack; Read returns os.ErrClosed.
func (d *stackDevice) Close() error {
	d.once.Do(func() {
		d.cancel()
		d.ns.close()
		close(d.events)
	})
	return nil
}
