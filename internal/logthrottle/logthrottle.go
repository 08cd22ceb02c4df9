// Package logthrottle rate-limits log lines that a remote party can cause
// (refusals arriving from a server's address, docs/security.md): a token
// bucket per kind of line, the first line logged at once, the rest counted;
// the next line logged says how many were left out.
//
// It knows nothing of loggers or of what the lines say: callers ask Allow
// before logging. Allow reads the clock and takes one lock: it is for lines
// that are already rare, never for a per-packet path (count there).
package logthrottle

import (
	"sync"
	"time"

	"github.com/i3net/i3net/internal/clock"
)

// Defaults: one line per second per kind, after a burst of five.
const (
	DefaultRate  = 1.0
	DefaultBurst = 5
)

// Limiter decides which lines of each of a fixed number of kinds are logged.
// It is safe for concurrent use.
type Limiter struct {
	clk   clock.Clock
	rate  float64 // tokens per second
	burst float64

	mu         sync.Mutex
	kinds      []bucket
	suppressed uint64 // total, all kinds
}

type bucket struct {
	tokens  float64
	last    time.Time
	skipped uint64 // since the last line logged
}

// New returns a limiter of kinds kinds, each allowed rate lines per second
// after a burst of burst. A nil clk is the system clock.
func New(clk clock.Clock, kinds int, rate float64, burst int) *Limiter {
	l := &Limiter{clk: clock.OrReal(clk), rate: rate, burst: float64(burst), kinds: make([]bucket, kinds)}
	for i := range l.kinds {
		l.kinds[i].tokens = l.burst
	}
	return l
}

// Allow reports whether a line of kind k (0 ≤ k < kinds) may be logged now.
// When it may, skipped is how many lines of that kind were left out since
// the last one logged (to say so in this line); when it may not, the line
// is counted.
func (l *Limiter) Allow(k int) (ok bool, skipped uint64) {
	now := l.clk.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := &l.kinds[k]
	if !b.last.IsZero() {
		if d := now.Sub(b.last).Seconds(); d > 0 {
			b.tokens = min(l.burst, b.tokens+d*l.rate)
		}
	}
	b.last = now
	if b.tokens < 1 {
		b.skipped++
		l.suppressed++
		return false, 0
	}
	b.tokens--
	skipped, b.skipped = b.skipped, 0
	return true, skipped
}

// Suppressed returns how many lines were left out in all, every kind.
func (l *Limiter) Suppressed() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.suppressed
}
