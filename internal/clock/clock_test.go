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
