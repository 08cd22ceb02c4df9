// Package testrun runs a component whose Run blocks until Close (a server, a
// proxy) in the background of a test, and stops it at the end of the test,
// failing the test if Run returned an error or did not return.
package testrun

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/i3net/i3net/internal/testwait"
)

// Runner is what Start runs: Run blocks until Close.
type Runner interface {
	Run(context.Context) error
	Close() error
}

// Running is a Runner running in the background.
type Running struct {
	name    string
	r       Runner
	done    chan error
	once    sync.Once
	err     error
	stopped atomic.Bool
}

// Start runs r in the background until Stop or the end of the test; name
// names it in failure messages.
func Start(t testing.TB, name string, r Runner) *Running {
	b := &Running{name: name, r: r, done: make(chan error, 1)}
	go func() { b.done <- r.Run(context.Background()) }()
	t.Cleanup(func() {
		if err := b.Stop(); err != nil {
			t.Error(err)
		}
	})
	return b
}

// Stop closes the runner and returns what Run returned, or an error if it
// did not return within testwait.Timeout. Only the first call stops; later
// ones return the same.
func (b *Running) Stop() error {
	b.once.Do(func() {
		b.stopped.Store(true)
		b.r.Close()
		select {
		case err := <-b.done:
			if err != nil {
				b.err = fmt.Errorf("%s: Run: %w", b.name, err)
			}
		case <-time.After(testwait.Timeout):
			b.err = errors.New(b.name + ": Run did not return after Close")
		}
	})
	return b.err
}

// Stopped reports whether Stop was called.
func (b *Running) Stopped() bool { return b.stopped.Load() }
