package proxy

import (
	"math"
	"time"
)

// The defaults of Config.QueueTarget and QueueInterval: RFC 8289's. The
// interval is on the order of the round trips of the streams through the
// proxy (wide-area ones included), so a stream is not told to slow down more
// often than it can react; a proxy on a fast local path can take a shorter
// target (--queue-target 1ms: the interval is then 20 ms), docs/benchmarks.md
// has what each did here.
const (
	DefaultQueueTarget   = 5 * time.Millisecond
	DefaultQueueInterval = 100 * time.Millisecond
)

// newCodel returns the limit for Config.QueueTarget and QueueInterval; off
// when either is not positive.
func newCodel(target, interval time.Duration) codel {
	if target <= 0 || interval <= 0 {
		return codel{}
	}
	return codel{target: int64(target), interval: int64(interval)}
}

// codel is CoDel (RFC 8289) on the time an inbound datagram waited in this
// host's overlay socket before the proxy read it (client.Delivery.Queued):
// when the receiving proxy is the slowest stage of a path (opening, writing
// into the tun device and the kernel's TCP receive path all run here), the
// socket's receive queue is where a bulk transfer's standing queue builds,
// and every packet behind it (an ssh keystroke, a ping) waits as long. Once
// the wait has stayed above target for a whole interval, packets are marked
// CE (ECN-capable ones) or dropped, at a rate that grows with the square root
// of the marks, until the wait falls below target: the senders' congestion
// control then keeps the queue short. It belongs to the inbound goroutine.
type codel struct {
	target, interval int64 // ns; target 0: off

	firstAbove int64  // when the wait will have been above target for an interval; 0: below
	dropNext   int64  // when the next mark is due while dropping
	count      uint32 // marks since dropping began
	lastCount  uint32 // count when the last dropping state ended
	dropping   bool
}

// signal reports whether the packet that waited queued ns, read at now
// (ns), is to be marked or dropped.
func (c *codel) signal(queued, now int64) bool {
	if c.target <= 0 {
		return false
	}
	okToDrop := c.above(queued, now)
	if c.dropping {
		if !okToDrop {
			c.dropping = false
			return false
		}
		if now < c.dropNext {
			return false
		}
		c.count++
		c.dropNext = c.controlLaw(c.dropNext)
		return true
	}
	if !okToDrop {
		return false
	}
	// Enter dropping; start from the last count when the queue came back
	// soon (RFC 8289 §5.6), so a persistent queue is not let grow again.
	c.dropping = true
	delta := c.count - c.lastCount
	c.count = 1
	if delta > 1 && now-c.dropNext < 16*c.interval {
		c.count = delta
	}
	c.dropNext = c.controlLaw(now)
	c.lastCount = c.count
	return true
}

// above tracks how long the wait has been above target and reports whether
// it has been for an interval.
func (c *codel) above(queued, now int64) bool {
	if queued < c.target {
		c.firstAbove = 0
		return false
	}
	if c.firstAbove == 0 {
		c.firstAbove = now + c.interval
		return false
	}
	return now >= c.firstAbove
}

// controlLaw returns when the next mark is due after t: interval/√count.
func (c *codel) controlLaw(t int64) int64 {
	return t + int64(float64(c.interval)/math.Sqrt(float64(c.count)))
}
