package clock

import (
	"testing"
	"time"
)

func TestFakeRunsDueTimersOnly(t *testing.T) {
	c := NewFake()
	fired := make(chan int, 3)
	c.AfterFunc(time.Second, func() { fired <- 1 })
	c.AfterFunc(3*time.Second, func() { fired <- 3 })
	stopped := c.AfterFunc(2*time.Second, func() { fired <- 2 })
	if !stopped.Stop() {
		t.Fatal("Stop on a pending timer returned false")
	}
	c.Advance(2 * time.Second)
	select {
	case v := <-fired:
		if v != 1 {
			t.Fatalf("fired %d, want 1", v)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("timer due at 1s did not fire")
	}
	select {
	case v := <-fired:
		t.Fatalf("timer %d fired early", v)
	case <-time.After(20 * time.Millisecond):
	}
	c.Advance(time.Second)
	if v := <-fired; v != 3 {
		t.Fatalf("fired %d, want 3", v)
	}
}

func TestFakeReset(t *testing.T) {
	c := NewFake()
	fired := make(chan struct{}, 2)
	tm := c.AfterFunc(time.Second, func() { fired <- struct{}{} })
	c.Advance(time.Second)
	<-fired
	if tm.Reset(time.Second) {
		t.Fatal("Reset of a fired timer reported pending")
	}
	c.Advance(time.Second)
	select {
	case <-fired:
	case <-time.After(5 * time.Second):
		t.Fatal("reset timer did not fire")
	}
}

// TestFakeAdvanceWhileReset: a timer that fell due may be reset at once
// (its function, or another goroutine, rearms it) while Advance is still
// ordering what fell due: run with -race, which saw Advance read a timer's
// time after letting go of the clock's lock.
func TestFakeAdvanceWhileReset(t *testing.T) {
	c := NewFake()
	var timers []Timer
	for i := range 8 {
		timers = append(timers, c.AfterFunc(time.Duration(i)*time.Millisecond, func() {}))
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 2000 {
			for _, tm := range timers {
				tm.Reset(time.Millisecond)
			}
		}
	}()
	for range 2000 {
		c.Advance(10 * time.Millisecond)
	}
	<-done
}
