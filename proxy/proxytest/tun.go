package proxytest

import (
	"bytes"
	"context"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/tun"
)

// maxKept bounds the written packets a Tun keeps.
const maxKept = 100000

// Tun is an in-memory tun device: what a test passes to Send the proxy reads
// as a packet from a program; what the proxy writes is counted and kept (a
// copy), for Next and Packets, unless KeepNone.
type Tun struct {
	in      chan []byte
	closed  chan struct{}
	once    sync.Once
	events  chan tun.Event
	written atomic.Uint64
	wrote   chan struct{} // signalled (without blocking) on every write

	mu   sync.Mutex
	out  [][]byte
	next int  // the first packet Next has not returned
	keep bool // keep written packets
}

var _ tun.Device = (*Tun)(nil)

// NewTun returns an open Tun that keeps what the proxy writes.
func NewTun() *Tun {
	return &Tun{in: make(chan []byte, 256), closed: make(chan struct{}), events: make(chan tun.Event),
		wrote: make(chan struct{}, 1), keep: true}
}

// Send hands pkt to the proxy as a packet a program sent; it blocks while
// 256 packets wait to be read.
func (m *Tun) Send(pkt []byte) { m.in <- pkt }

// KeepNone makes m count what the proxy writes without keeping it (for
// benchmarks).
func (m *Tun) KeepNone() {
	m.mu.Lock()
	m.keep = false
	m.mu.Unlock()
}

// Written returns how many packets the proxy wrote.
func (m *Tun) Written() uint64 { return m.written.Load() }

// Packets returns a copy of the list of the packets the proxy wrote (kept).
func (m *Tun) Packets() [][]byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([][]byte(nil), m.out...)
}

// TryNext returns the oldest written packet Next and TryNext have not yet
// returned, or false when there is none.
func (m *Tun) TryNext() ([]byte, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.next == len(m.out) {
		return nil, false
	}
	m.next++
	return m.out[m.next-1], true
}

// Next is TryNext waiting up to 5 s; it fails the test when nothing comes.
func (m *Tun) Next(t testing.TB) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p, err := m.NextContext(ctx)
	if err != nil {
		t.Fatal("no packet from the proxy within 5s")
	}
	return p
}

// NextContext is TryNext waiting until ctx ends (for goroutines, which must
// not fail the test themselves).
func (m *Tun) NextContext(ctx context.Context) ([]byte, error) {
	for {
		if p, ok := m.TryNext(); ok {
			return p, nil
		}
		select {
		case <-m.wrote:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// IsClosed reports whether the proxy closed the device.
func (m *Tun) IsClosed() bool {
	select {
	case <-m.closed:
		return true
	default:
		return false
	}
}

func (m *Tun) File() *os.File { return nil }

func (m *Tun) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	select {
	case <-m.closed:
		return 0, os.ErrClosed
	case p := <-m.in:
		sizes[0] = copy(bufs[0][offset:], p)
		return 1, nil
	}
}

func (m *Tun) Write(bufs [][]byte, offset int) (int, error) {
	m.written.Add(uint64(len(bufs)))
	m.mu.Lock()
	for _, b := range bufs {
		if m.keep && len(m.out) < maxKept {
			m.out = append(m.out, bytes.Clone(b[offset:]))
		}
	}
	m.mu.Unlock()
	select {
	case m.wrote <- struct{}{}:
	default:
	}
	return len(bufs), nil
}

func (m *Tun) MTU() (int, error)        { return 1360, nil }
func (m *Tun) Name() (string, error)    { return "mem0", nil }
func (m *Tun) Events() <-chan tun.Event { return m.events }
func (m *Tun) BatchSize() int           { return 1 }
func (m *Tun) Close() error             { m.once.Do(func() { close(m.closed) }); return nil }
