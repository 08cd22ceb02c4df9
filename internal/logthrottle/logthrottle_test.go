package logthrottle

import (
	"testing"
	"time"

	"github.com/i3net/i3net/internal/clock"
)

func TestLimiter(t *testing.T) {
	clk := clock.NewFake()
	l := New(clk, 2, 1, 3)
	logged := 0
	for range 1000 {
		if ok, _ := l.Allow(0); ok {
			logged++
		}
	}
	if logged != 3 || l.Suppressed() != 997 {
		t.Fatalf("burst: %d logged, %d suppressed; want 3 and 997", logged, l.Suppressed())
	}
	if ok, n := l.Allow(1); !ok || n != 0 {
		t.Fatalf("another kind is not limited by the first: ok %v skipped %d", ok, n)
	}
	clk.Advance(time.Second)
	ok, n := l.Allow(0)
	if !ok || n != 997 {
		t.Fatalf("after a second: ok %v, skipped %d; want true and 997", ok, n)
	}
	if ok, _ := l.Allow(0); ok {
		t.Fatal("a second line within the same second was allowed")
	}
	clk.Advance(time.Hour) // refills to the burst, no more
	logged = 0
	for range 10 {
		if ok, _ := l.Allow(0); ok {
			logged++
		}
	}
	if logged != 3 {
		t.Fatalf("after an hour: %d logged, want the burst of 3", logged)
	}
}
