package testrun

import (
	"context"
	"errors"
	"testing"
)

// blocker is a Runner whose Run returns err after Close.
type blocker struct {
	closed chan struct{}
	err    error
}

func (b *blocker) Run(context.Context) error { <-b.closed; return b.err }
func (b *blocker) Close() error              { close(b.closed); return nil }

func TestStop(t *testing.T) {
	ok := Start(t, "ok", &blocker{closed: make(chan struct{})})
	if err := ok.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := ok.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	failing := Start(t, "failing", &blocker{closed: make(chan struct{}), err: errors.New("boom")})
	if err := failing.Stop(); err == nil || err.Error() != "failing: Run: boom" {
		t.Fatalf("Stop = %v, want failing: Run: boom", err)
	}
	// The cleanup reports the error again: take it away from this test.
	failing.err = nil
}
