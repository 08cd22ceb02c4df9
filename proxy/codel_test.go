package proxy

import (
	"testing"
	"time"
)

const ms = int64(time.Millisecond)

func TestCodelBelowTargetNeverSignals(t *testing.T) {
	c := newCodel(time.Millisecond, 20*time.Millisecond)
	for now := int64(1); now < 10_000*ms; now += ms / 10 {
		if c.signal(ms-1, now) {
			t.Fatalf("signalled at %v for a wait below target", time.Duration(now))
		}
	}
}

func TestCodelOff(t *testing.T) {
	for _, c := range []codel{newCodel(-1, 20*time.Millisecond), newCodel(time.Millisecond, 0), {}} {
		for now := int64(1); now < 1000*ms; now += ms {
			if c.signal(int64(time.Second), now) {
				t.Fatal("a codel that is off signalled")
			}
		}
	}
}

// TestCodelStandingQueue: a wait above target for a whole interval gets a
// first signal, then signals at interval/√count, until the wait falls below
// target; a queue back soon after resumes near the rate it stopped at.
func TestCodelStandingQueue(t *testing.T) {
	c := newCodel(time.Millisecond, 20*time.Millisecond)
	var at []int64 // when it signalled
	const step = ms / 10
	run := func(from, to, queued int64) {
		for now := from; now < to; now += step {
			if c.signal(queued, now) {
				at = append(at, now)
			}
		}
	}
	run(step, 200*ms, 5*ms)
	if len(at) < 2 {
		t.Fatalf("%d signals in 200 ms of a 5 ms standing queue; want several", len(at))
	}
	if first := at[0] - step; first < 20*ms || first > 20*ms+step {
		t.Errorf("first signal after %v above target; want the 20 ms interval", time.Duration(first))
	}
	for i := 1; i < len(at); i++ {
		want := float64(20*ms) / sqrt(float64(i))
		if gap := float64(at[i] - at[i-1]); gap < want-float64(step) || gap > want+float64(step) {
			t.Errorf("gap %d: %v, want %v (interval/√%d)", i, time.Duration(gap), time.Duration(want), i)
		}
	}
	signals := len(at)
	run(200*ms, 300*ms, 0)
	if len(at) != signals {
		t.Fatalf("signalled while the queue was empty")
	}
	// Back 100 ms later (< 16 intervals): the count restarts near where
	// it was, so the gaps start short.
	at = at[:0]
	run(300*ms, 400*ms, 5*ms)
	if len(at) < 3 {
		t.Fatalf("%d signals after the queue came back; want several", len(at))
	}
	if gap := at[1] - at[0]; float64(gap) > float64(20*ms)/sqrt(float64(signals-1))+float64(step) {
		t.Errorf("after re-entry the first gap is %v: the count restarted from 1", time.Duration(gap))
	}
}

func sqrt(x float64) float64 {
	z := x
	for range 50 {
		z = (z + x/z) / 2
	}
	return z
}
