package soak

import (
	"sync"
	"time"
)

// Kinds of traffic.
const (
	kindPing = "ping"
	kindTCP  = "tcp"
	kindDNS  = "dns"
	// kindKernel: the kernel logged that its neighbour table overflowed
	// (kernel.go), which breaks new neighbours in every namespace.
	kindKernel = "kernel"
)

// event is one probe's outcome: a ping answered or not, a DNS query
// answered right or not, bytes of the TCP stream received.
type event struct {
	Kind  string
	At    time.Time
	OK    bool
	Bytes int // TCP only
}

// recorder collects events from the traffic goroutines.
type recorder struct {
	mu     sync.Mutex
	events []event
}

func (r *recorder) add(e event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

func (r *recorder) all() []event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]event(nil), r.events...)
}
