package proxy

import (
	"os"
	"sync"
	"sync/atomic"

	"golang.zx2c4.com/wireguard/tun"
)

// fakeTun is an in-memory tun device: what a test sends on toProxy the proxy
// reads as packets from programs, and what the proxy writes arrives on
// fromProxy (dropped, counted, when the test does not read it).
type fakeTun struct {
	toProxy   chan []byte
	fromProxy chan []byte
	closed    chan struct{}
	once      sync.Once
	written   atomic.Uint64
	keep      bool // copy written packets to fromProxy (off in benchmarks)
	events    chan tun.Event
}

var _ tun.Device = (*fakeTun)(nil)

func newFakeTun() *fakeTun {
	return &fakeTun{
		toProxy: make(chan []byte, 64), fromProxy: make(chan []byte, 1024),
		closed: make(chan struct{}), keep: true, events: make(chan tun.Event),
	}
}

func (f *fakeTun) File() *os.File { return nil }

func (f *fakeTun) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	select {
	case <-f.closed:
		return 0, os.ErrClosed
	case p := <-f.toProxy:
		sizes[0] = copy(bufs[0][offset:], p)
		return 1, nil
	}
}

func (f *fakeTun) Write(bufs [][]byte, offset int) (int, error) {
	for _, b := range bufs {
		f.written.Add(1)
		if !f.keep {
			continue
		}
		select {
		case f.fromProxy <- append([]byte(nil), b[offset:]...):
		default:
		}
	}
	return len(bufs), nil
}

func (f *fakeTun) MTU() (int, error)        { return 1360, nil }
func (f *fakeTun) Name() (string, error)    { return "fake0", nil }
func (f *fakeTun) Events() <-chan tun.Event { return f.events }
func (f *fakeTun) BatchSize() int           { return 1 }
func (f *fakeTun) Close() error             { f.once.Do(func() { close(f.closed) }); return nil }
