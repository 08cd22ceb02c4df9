// Package clock is the seam between time and the code that waits on it: servers,
// clients and proxies take a Clock so that expiry and refresh tests advance a
// fake clock instead of sleeping. Real is the system clock (a nil Clock means
// it, OrReal); Fake moves only when a test advances it.
//
// It knows nothing of its users. Fake takes a lock on every call and is for
// tests only.
package clock

import (
	"sort"
	"sync"
	"time"
)

// Clock tells the time and runs functions later.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine after d.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc call.
type Timer interface {
	// Stop prevents the call if it has not happened; it reports whether it did.
	Stop() bool
	// Reset makes the call happen d from now (again); it reports whether the
	// timer was pending.
	Reset(d time.Duration) bool
}

// Real is the system clock.
type Real struct{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// AfterFunc wraps time.AfterFunc.
func (Real) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// OrReal returns c, or Real when c is nil.
func OrReal(c Clock) Clock {
	if c == nil {
		return Real{}
	}
	return c
}

// Fake is a manual clock for tests: time moves only with Advance, which runs the
// functions that fall due, in order, each in its own goroutine.
type Fake struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

// NewFake returns a fake clock set to a fixed instant.
func NewFake() *Fake { return &Fake{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

// Now returns the fake time.
func (c *Fake) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc schedules f at Now()+d.
func (c *Fake) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, f: f, when: c.now.Add(d), pending: true}
	c.timers = append(c.timers, t)
	return t
}

// Advance moves the clock forward by d and starts every function that fell due.
func (c *Fake) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []*fakeTimer
	kept := c.timers[:0]
	for _, t := range c.timers {
		if t.pending && !t.when.After(c.now) {
			t.pending = false
			due = append(due, t)
		} else if t.pending {
			kept = append(kept, t)
		}
	}
	c.timers = kept
	// Ordered under the lock: a due timer may be Reset (its when written)
	// as soon as the lock is let go.
	sort.Slice(due, func(i, j int) bool { return due[i].when.Before(due[j].when) })
	c.mu.Unlock()
	for _, t := range due {
		go t.f()
	}
}

type fakeTimer struct {
	c       *Fake
	f       func()
	when    time.Time
	pending bool
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.pending
	t.pending = false
	return was
}

func (t *fakeTimer) Reset(d time.Duration) bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.pending
	t.when = t.c.now.Add(d)
	if !t.pending {
		t.pending = true
		t.c.timers = append(t.c.timers, t)
	}
	return was
}
